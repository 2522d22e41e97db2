//! End to end: the built `bootstrap` binary, run behind a local Lambda Runtime API, fed every sample
//! in `events/`, checked in the emulator's table.

mod common;

use std::time::Duration;

use common::function::{start_function, sum, Function};
use common::runtime_api::Reply;
use common::{create_table, number, sdk_config, text};
use serde_json::Value;

async fn invoke_file(function: &Function, name: &str) -> Reply {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let payload = std::fs::read_to_string(&path).expect("sample event");
    tokio::time::timeout(Duration::from_secs(60), function.api.invoke(&payload))
        .await
        .unwrap_or_else(|_| panic!("{name}: no answer within 60 s"))
}

fn outcome(reply: &Reply) -> &str {
    match reply {
        Reply::Response(value) => value["outcome"].as_str().unwrap_or("<no outcome>"),
        Reply::Error(_) => "<error>",
    }
}

/// The message ids of an SQS sample whose bodies are unreadable or lack a version.
fn bad_message_ids(name: &str) -> Vec<String> {
    let batch = common::fixture(name);
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|record| {
            let body: Option<Value> = record["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok());
            match body {
                None => true,
                Some(event) => {
                    event["detail-type"] == "ECS Task State Change"
                        && event["detail"].get("version").is_none()
                }
            }
        })
        .map(|record| record["messageId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_function_binary_records_every_sample_as_documented() {
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = create_table(&dynamodb).await;
    let function = start_function(&table).await;

    // One task through its whole lifecycle, newest first for v8 to show reordering is harmless.
    let lifecycle = [
        ("fargate-web-v1-provisioning.json", "fresh"),
        ("fargate-web-v2-pending.json", "fresh"),
        ("fargate-web-v4-running.json", "fresh"),
        ("fargate-web-v4-running-duplicate.json", "duplicate"),
        ("fargate-web-v3-activating.json", "gap_filled"),
        ("fargate-web-v8-stopped.json", "fresh"),
        ("fargate-web-v5-deactivating.json", "gap_filled"),
        ("fargate-web-v6-stopping.json", "gap_filled"),
        ("fargate-web-v7-deprovisioning.json", "gap_filled"),
        ("fargate-web-v8-stopped.json", "duplicate"),
        ("fargate-batch-stopped-oom.json", "fresh"),
        ("fargate-failed-to-start.json", "fresh"),
        ("ec2-worker-running.json", "fresh"),
        ("unknown-enum-values.json", "fresh"),
        ("container-instance-state-change.json", "skipped"),
    ];
    for (name, expected) in lifecycle {
        let reply = invoke_file(&function, name).await;
        assert_eq!(outcome(&reply), expected, "{name}: {reply:?}");
    }
    for name in [
        "malformed-missing-version.json",
        "malformed-missing-task-arn.json",
    ] {
        match invoke_file(&function, name).await {
            Reply::Error(error) => {
                assert_eq!(error["errorType"], "NonRetryable", "{name}: {error}")
            }
            other => panic!("{name}: expected an invocation error, got {other:?}"),
        }
    }
    let mut batch_item_failures = 0;
    for name in [
        "sqs-batch.json",
        "sqs-batch-out-of-order.json",
        "sqs-batch-with-bad-records.json",
    ] {
        let reply = invoke_file(&function, name).await;
        assert_eq!(reply.batch_item_failures(), bad_message_ids(name), "{name}");
        batch_item_failures += bad_message_ids(name).len();
    }
    assert!(function.api.init_error().is_none());

    // One metrics line per invocation; the counts add up to what the replies said.
    let invocations = lifecycle.len() + 5;
    let metrics = function.metrics(invocations).await;
    assert_eq!(metrics.len(), invocations, "{metrics:?}");
    for line in &metrics {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "EcsTaskHistory");
        assert_eq!(line["FunctionName"], "ecs-task-history");
        let outcomes: f64 = [
            "Fresh",
            "Duplicate",
            "Stale",
            "GapFilled",
            "Skipped",
            "Rejected",
            "Failed",
        ]
        .iter()
        // A zero count is left out of the line.
        .map(|name| {
            line.get(*name)
                .map_or(Some(0.0), Value::as_f64)
                .unwrap_or(-1.0)
        })
        .sum();
        assert_eq!(outcomes, line["EventsReceived"].as_f64().unwrap(), "{line}");
    }
    assert_eq!(
        sum(&metrics, "BatchItemFailures"),
        batch_item_failures as f64
    );
    assert_eq!(sum(&metrics, "Failed"), 0.0);
    assert_eq!(sum(&metrics, "Throttles"), 0.0);
    let expected_gap_fills = lifecycle.iter().filter(|(_, o)| *o == "gap_filled").count();
    assert!(sum(&metrics, "GapFilled") >= expected_gap_fills as f64);
    assert!(sum(&metrics, "DynamoDbRequests") > 0.0);
    assert!(sum(&metrics, "WriteCapacityUnits") > 0.0);

    // The lifecycle task: every version once, snapshot at the newest.
    let web = common::fixture("fargate-web-v1-provisioning.json")["detail"]["taskArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let items = dynamodb
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TASK#{web}")),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let versions: Vec<u64> = items
        .iter()
        .filter_map(|item| {
            text(item, "sk").and_then(ecs_task_history::aws::dynamodb::keys::version_of)
        })
        .collect();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    let snapshot = items
        .iter()
        .find(|item| text(item, "sk") == Some("SNAPSHOT"))
        .expect("snapshot");
    assert_eq!(number(snapshot, "version"), 8);
    assert_eq!(text(snapshot, "lastStatus"), Some("STOPPED"));
    let stopped = items
        .iter()
        .find(|item| text(item, "sk") == Some("V#0000000008"))
        .unwrap();
    assert_eq!(text(stopped, "stopCode"), Some("ServiceSchedulerInitiated"));
    assert!(stopped.contains_key("stoppedAt"));
}
