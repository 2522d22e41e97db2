//! The bad-input corpus (`tests/bad-input/`): every file fed to `lambda::handle` as a direct
//! invocation payload and as the body of an SQS record, against the emulator. Each must get the
//! outcome its row in `tests/bad-input/README.md` documents, and none may panic. Also a ~1 MB
//! event (generated here rather than committed), kept and truncated, and 1 MB of garbage, rejected.

mod common;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use common::{sqs_batch, Harness};
use ecs_task_history::lambda::{handle, InvocationError};
use futures::FutureExt;
use serde_json::value::RawValue;
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bad-input");

/// The JSON log lines written so far (the function's format: `telemetry::init_json_logs`).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// The process's subscriber, installed once. (A thread-local one missed lines now and then:
    /// tracing caches per call site whether anyone listens.)
    fn global() -> &'static Logs {
        static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_target(false)
                .with_writer(logs.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
            logs
        })
    }

    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The log line a documented outcome must produce (None: the handler never runs).
fn log_marker(direct: &str, as_sqs_body: bool) -> Option<&'static str> {
    match direct {
        d if d.starts_with("fresh") => Some(r#""outcome":"fresh""#),
        d if d.starts_with("skipped") => Some(r#""outcome":"skipped""#),
        d if d.starts_with("malformed batch") => Some("malformed SQS batch"),
        d if d.starts_with("not JSON") => as_sqs_body.then_some(r#""outcome":"rejected""#),
        d if d.starts_with("no failures") => Some("invocation summary"),
        _ => Some(r#""outcome":"rejected""#),
    }
}

/// Checks that the lines logged for one input name its outcome, and a rejection its reason and
/// the task ARN the input carries, if any (what an operator greps the logs and the DLQ for).
fn check_log(
    logs: &str,
    marker: Option<&str>,
    task_arn: Option<&str>,
    what: &str,
    wrong: &mut Vec<String>,
) {
    let Some(marker) = marker else { return };
    let line = logs.lines().find(|line| line.contains(marker));
    match line {
        None => wrong.push(format!("{what}: no log line with {marker}:\n{logs}")),
        Some(line) if marker.contains("rejected") && !line.contains(r#""error":"#) => {
            wrong.push(format!("{what}: the rejection does not say why: {line}"))
        }
        Some(line) if marker.contains("rejected") => {
            if let Some(arn) = task_arn {
                if !line.contains(&format!(r#""task_arn":"{arn}""#)) {
                    wrong.push(format!("{what}: the rejection does not name {arn}: {line}"));
                }
            }
        }
        Some(_) => {}
    }
    if !logs.contains("invocation summary") {
        wrong.push(format!("{what}: no invocation summary line"));
    }
}

/// `file → (as a direct payload, as an SQS record body)` from the README's table.
fn documented() -> BTreeMap<String, (String, String)> {
    let readme = std::fs::read_to_string(format!("{CORPUS}/README.md")).expect("corpus README");
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((
                file.to_owned(),
                (cells.get(2)?.to_string(), cells.get(3)?.to_string()),
            ))
        })
        .collect()
}

fn error_name(err: &InvocationError) -> String {
    let name = match err {
        InvocationError::Rejected { .. } => "rejected",
        InvocationError::NotRecorded { .. } => "failed",
        InvocationError::MalformedBatch(_) => "malformed batch",
        InvocationError::Encode(_) => "encode error",
        InvocationError::UnreportableFailures(_) => "whole batch retried",
    };
    format!(
        "{name} ({})",
        if err.retryable() {
            "Retryable"
        } else {
            "NonRetryable"
        }
    )
}

/// What `handle` made of a payload, in the README's words.
async fn outcome(harness: &Harness, payload: &str) -> String {
    let Ok(raw) = RawValue::from_string(payload.to_owned()) else {
        return "not JSON: the runtime fails the invocation".into();
    };
    let answer = AssertUnwindSafe(handle(&harness.pipeline, &raw))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| panic!("handle panicked on {payload:.200}"));
    match answer {
        Err(err) => error_name(&err),
        Ok(value) => match value.get("batchItemFailures").and_then(Value::as_array) {
            Some(failures) if failures.is_empty() => "no failures".into(),
            Some(failures) => format!("{} batch item failure", failures.len()),
            None => value["outcome"].as_str().unwrap_or("<none>").to_owned(),
        },
    }
}

/// One test (not two in parallel), so that the log lines read after each input are its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_documented_outcome_and_log_line_and_none_panics() {
    let logs = Logs::global();
    let direct = Harness::new().await;
    let queued = Harness::new().await;
    let documented = documented();
    let mut files: Vec<String> = std::fs::read_dir(CORPUS)
        .expect("corpus")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name != "README.md")
        .collect();
    files.sort();
    assert!(files.len() >= 25, "{files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(format!("{CORPUS}/{file}")).expect("corpus file");
        let Some((as_direct, as_record)) = documented.get(file) else {
            wrong.push(format!("{file}: no row in tests/bad-input/README.md"));
            continue;
        };
        // A plain ARN the rejection's log line must carry (the corpus's over-long one is cut there).
        let task_arn = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["detail"]["taskArn"].as_str().map(str::to_owned))
            .filter(|arn| arn.starts_with("arn:") && arn.len() < 600 && arn.is_ascii());
        let task_arn = task_arn.as_deref();
        logs.take();
        let got = outcome(&direct, &text).await;
        if &got != as_direct {
            wrong.push(format!(
                "{file} direct: documented {as_direct:?}, got {got:?}"
            ));
        }
        let marker = log_marker(as_direct, false);
        check_log(&logs.take(), marker, task_arn, file, &mut wrong);
        if as_record != "n/a" {
            let got = outcome(&queued, &sqs_batch(&[text]).to_string()).await;
            if &got != as_record {
                wrong.push(format!(
                    "{file} as SQS body: documented {as_record:?}, got {got:?}"
                ));
            }
            let what = format!("{file} as SQS body");
            let marker = log_marker(as_direct, true);
            check_log(&logs.take(), marker, task_arn, &what, &mut wrong);
        }
    }
    for file in documented.keys() {
        if !files.contains(file) {
            wrong.push(format!("{file}: documented but not in the corpus"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    a_one_megabyte_event_is_kept_truncated_and_a_megabyte_of_garbage_is_rejected(&direct).await;
}

/// A ~1 MB event is kept and truncated; 1 MB of garbage is rejected.
async fn a_one_megabyte_event_is_kept_truncated_and_a_megabyte_of_garbage_is_rejected(
    harness: &Harness,
) {
    let task = "arn:aws:ecs:us-east-1:123456789012:task/demo/onemegabyte000000000000000000";
    let mut event = common::task_event(
        common::LIFECYCLE[7],
        task,
        "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
        8,
    );
    event["detail"]["stoppedReason"] = Value::String("🚀".repeat(256 * 1024));
    let payload = event.to_string();
    assert!(payload.len() > 1_000_000);

    assert_eq!(outcome(harness, &payload).await, "fresh");
    let history = harness.history(task).await;
    assert_eq!(history.len(), 1);
    assert!(common::flag(&history[0].1, "truncated"));
    assert!(common::text(&history[0].1, "stoppedReason").unwrap().len() <= 2048);

    let garbage = format!("{{\"detail\": \"{}", "x".repeat(1 << 20));
    assert_eq!(
        outcome(harness, &sqs_batch(&[garbage]).to_string()).await,
        "1 batch item failure"
    );
}
