//! The bad-input corpus (`tests/bad-input/`): every file fed to `lambda::handle` as a direct
//! invocation payload and as the body of an SQS record, against the emulator. Each must get the
//! outcome its row in `tests/bad-input/README.md` documents, and none may panic. Also a ~1 MB
//! event (generated here rather than committed), kept and truncated, and 1 MB of garbage, rejected.

mod common;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use common::{sqs_batch, Harness};
use ecs_task_history::lambda::{handle, InvocationError};
use futures::FutureExt;
use serde_json::value::RawValue;
use serde_json::Value;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bad-input");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_documented_outcome_and_none_panics() {
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
        let got = outcome(&direct, &text).await;
        if &got != as_direct {
            wrong.push(format!(
                "{file} direct: documented {as_direct:?}, got {got:?}"
            ));
        }
        if as_record != "n/a" {
            let got = outcome(&queued, &sqs_batch(&[text]).to_string()).await;
            if &got != as_record {
                wrong.push(format!(
                    "{file} as SQS body: documented {as_record:?}, got {got:?}"
                ));
            }
        }
    }
    for file in documented.keys() {
        if !files.contains(file) {
            wrong.push(format!("{file}: documented but not in the corpus"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_event_is_kept_truncated_and_a_megabyte_of_garbage_is_rejected() {
    let harness = Harness::new().await;
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

    assert_eq!(outcome(&harness, &payload).await, "fresh");
    let history = harness.history(task).await;
    assert_eq!(history.len(), 1);
    assert_eq!(common::flag(&history[0].1, "truncated"), Some(true));
    assert!(common::text(&history[0].1, "stoppedReason").unwrap().len() <= 2048);

    let garbage = format!("{{\"detail\": \"{}", "x".repeat(1 << 20));
    assert_eq!(
        outcome(&harness, &sqs_batch(&[garbage]).to_string()).await,
        "1 batch item failure"
    );
}
