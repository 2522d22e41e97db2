//! What can still be read of a payload the event parser rejected, so its log line names the event,
//! task and version an operator will search the dead-letter queue for.

use serde_json::Value;

/// Longest value copied into a log line: a rejected payload may hold megabytes in any field.
const MAX_FIELD_CHARS: usize = 600;

/// The identity fields of a rejected event, each only if it could be read; the version keeps its
/// raw JSON text (it may be negative, fractional or a string, which is often why it was rejected).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub event_id: String,
    pub task_arn: String,
    pub version: String,
}

/// Reads `id`, `detail.taskArn` and `detail.version` leniently; empty strings where absent.
pub fn identify(body: &str) -> Identity {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Identity::default();
    };
    let text = |value: Option<&Value>| match value {
        Some(Value::String(s)) => cut(s),
        _ => String::new(),
    };
    let detail = value.get("detail");
    Identity {
        event_id: text(value.get("id")),
        task_arn: text(detail.and_then(|d| d.get("taskArn"))),
        version: match detail.and_then(|d| d.get("version")) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => cut(s),
            Some(other) => cut(&other.to_string()),
        },
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_is_there_and_leaves_the_rest_empty() {
        let got = identify(
            r#"{"id":"e-1","detail":{"taskArn":"arn:aws:ecs:us-east-1:1:task/c/t","version":-3}}"#,
        );
        assert_eq!(
            got,
            Identity {
                event_id: "e-1".into(),
                task_arn: "arn:aws:ecs:us-east-1:1:task/c/t".into(),
                version: "-3".into(),
            }
        );
        let got = identify(r#"{"id":7,"detail":{"version":"eight"}}"#);
        assert_eq!(got.event_id, "");
        assert_eq!(got.task_arn, "");
        assert_eq!(got.version, "eight");
    }

    #[test]
    fn garbage_and_non_objects_give_an_empty_identity() {
        for body in ["", "not json", "[1,2]", "null", r#"{"detail":[]}"#] {
            assert_eq!(identify(body), Identity::default(), "{body}");
        }
    }

    #[test]
    fn huge_and_multibyte_values_are_cut_on_a_character_boundary() {
        let arn = "é".repeat(5_000);
        let got = identify(&format!(r#"{{"detail":{{"taskArn":"{arn}"}}}}"#));
        assert_eq!(got.task_arn.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(got.task_arn.ends_with('…'));
    }
}
