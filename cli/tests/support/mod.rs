//! What the CLI's test crates share (cli.rs, report.rs): running the built binary against the
//! emulators, golden files, seeding a table through the real pipeline, the sample events.

use std::collections::BTreeMap;
use std::process::Stdio;

use ecs_task_history::core::event::{parse_event, Parsed, TaskEvent};
use ecs_task_history::pipeline::Input;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::common::{self, fixture, Harness, LIFECYCLE};

pub const DEMO_CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/demo";
pub const WINDOW: [&str; 4] = ["--since", "2026-11-20T00:00", "--until", "2026-11-20T06:00"];

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the built binary against the emulator, with nothing from the developer's AWS set-up.
pub async fn cli(table: &str, args: &[&str], stdin: Option<&str>) -> Run {
    cli_env(table, args, stdin, &[]).await
}

pub async fn cli_env(table: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_ecs-task-history"));
    let mut child = common::cli_command(binary, table)
        .args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start ecs-task-history");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
    }
    let output = child
        .wait_with_output()
        .await
        .expect("run ecs-task-history");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn ok(run: &Run) -> &str {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    &run.stdout
}

/// Compares with tests/snapshots/NAME.txt; `UPDATE_SNAPSHOTS=1` writes it instead.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = format!("{}/tests/snapshots/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(format!("{}/tests/snapshots", env!("CARGO_MANIFEST_DIR"))).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{path} missing: run with UPDATE_SNAPSHOTS=1 and review it"));
    assert!(
        expected == actual,
        "{name} differs from {path} (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

pub fn parse(event: &Value) -> TaskEvent {
    match parse_event(&event.to_string()) {
        Ok(Parsed::Task(event)) => *event,
        other => panic!("not a task event: {other:?}"),
    }
}

/// Records events through the real pipeline, with fixed tags (so golden files are stable), as
/// reconciliation hands over tasks it has just described.
pub async fn seed(harness: &Harness, events: &[Value], tags: &[(&str, &str)]) {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let inputs = events
        .iter()
        .map(|event| Input::Described {
            event: Box::new(parse(event)),
            tags: tags.clone(),
        })
        .collect();
    let outcomes = harness.pipeline.process(inputs).await;
    assert!(
        outcomes.iter().all(|o| !o.needs_redelivery()),
        "seeding failed: {outcomes:?}"
    );
}

pub fn lifecycle() -> Vec<Value> {
    LIFECYCLE.iter().map(|name| fixture(name)).collect()
}

/// Every task sample of `events/` (all in cluster `demo`).
pub fn demo_cluster_events() -> Vec<Value> {
    let mut events = lifecycle();
    for name in [
        "fargate-batch-stopped-oom.json",
        "fargate-failed-to-start.json",
        "ec2-worker-running.json",
        "unknown-enum-values.json",
    ] {
        events.push(fixture(name));
    }
    events
}

/// Writes history records straight into the table (BatchWriteItem, 25 a request, 4 in flight), as
/// the function's mapping makes them: thousands of tasks without a pipeline run each.
pub async fn write_records<'a>(
    harness: &Harness,
    records: impl IntoIterator<Item = &'a ecs_task_history::core::history::HistoryRecord>,
) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use ecs_task_history::aws::dynamodb::items::history_item;
    use futures::stream::{self, StreamExt};
    let requests: Vec<WriteRequest> = records
        .into_iter()
        .map(|record| {
            let put = PutRequest::builder()
                .set_item(Some(history_item(record)))
                .build()
                .expect("a put request");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let writes: Vec<_> = stream::iter(requests.chunks(25))
        .map(|chunk| {
            harness
                .dynamodb
                .batch_write_item()
                .request_items(&harness.table, chunk.to_vec())
                .send()
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for output in writes {
        let output = output.expect("batch write");
        assert!(output.unprocessed_items.unwrap_or_default().is_empty());
    }
}
