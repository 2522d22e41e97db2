//! Scheduled reconciliation: the function binary, invoked with an EventBridge "Scheduled Event",
//! lists the configured clusters' tasks and records them through the version-checked pipeline.

mod common;

use std::time::Duration;

use common::function::start_function_with;
use common::runtime_api::Reply;
use common::{run_tasks, tags, task_event, text, Harness};
use ecs_task_history::reconcile::run_scheduled;
use serde_json::Value;

const SCHEDULED_EVENT: &str = r#"{
  "version": "0",
  "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  "source": "aws.events",
  "account": "123456789012",
  "time": "2026-11-20T06:00:00Z",
  "region": "us-east-1",
  "resources": ["arn:aws:events:us-east-1:123456789012:rule/ecs-task-history-reconcile"],
  "detail": {}
}"#;

#[tokio::test]
async fn the_function_reconciles_configured_clusters_on_a_scheduled_event() {
    let harness = Harness::new().await;
    let (cluster_arn, tasks) = run_tasks(&harness.ecs, 3, &[("team", "sched")]).await;
    let function = start_function_with(
        &harness.table,
        common::moto::endpoint(),
        &[(
            "RECONCILE_CLUSTERS",
            cluster_arn.rsplit('/').next().unwrap(),
        )],
    )
    .await;
    let api = &function.api;

    let reply = tokio::time::timeout(Duration::from_secs(60), api.invoke(SCHEDULED_EVENT))
        .await
        .expect("an answer within 60 s");
    let Reply::Response(answer) = reply else {
        panic!("scheduled run failed: {reply:?}")
    };
    assert_eq!(answer["outcome"], "reconcile", "{answer}");
    assert_eq!(answer["clusters"][0]["listed"], 3, "{answer}");
    assert_eq!(answer["clusters"][0]["outcomes"]["fresh"], 3, "{answer}");
    for task in &tasks {
        let history = harness.history(task).await;
        assert_eq!(history.len(), 1, "{task}");
        let (_, item) = &history[0];
        assert!(text(item, "eventId").is_some_and(|id| id.starts_with("reconciled:")));
        assert_eq!(tags(item).unwrap()["team"], "sched");
    }

    // The next tick finds nothing new.
    let Reply::Response(again) = api.invoke(SCHEDULED_EVENT).await else {
        panic!("second scheduled run failed")
    };
    assert_eq!(again["clusters"][0]["outcomes"]["duplicate"], 3, "{again}");
}

#[tokio::test]
async fn reconciliation_never_moves_a_task_back_behind_a_newer_event() {
    let harness = Harness::new().await;
    let (cluster_arn, tasks) = run_tasks(&harness.ecs, 1, &[]).await;
    let task = &tasks[0];
    // The live function already recorded version 9 of this task; moto describes it at version 0.
    let newer = task_event("fargate-web-v8-stopped.json", task, &cluster_arn, 9);
    let raw = serde_json::value::RawValue::from_string(newer.to_string()).unwrap();
    ecs_task_history::lambda::handle(&harness.pipeline, &raw)
        .await
        .expect("recorded");

    let answer: Value = run_scheduled(&harness.pipeline, &[cluster_arn]).await;
    assert_eq!(
        answer["clusters"][0]["outcomes"]["gap_filled"], 1,
        "{answer}"
    );
    let snapshot = harness.snapshot(task).await.unwrap();
    assert_eq!(
        common::number(&snapshot, "version"),
        9,
        "snapshot stays at the newest"
    );
}

#[tokio::test]
async fn an_unknown_cluster_is_reported_not_failed() {
    let harness = Harness::new().await;
    let answer = run_scheduled(&harness.pipeline, &["no-such-cluster".to_owned()]).await;
    assert_eq!(answer["outcome"], "reconcile");
    assert!(
        answer["errors"][0]
            .as_str()
            .unwrap()
            .contains("no-such-cluster"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_star_reconciles_every_cluster_ecs_lists() {
    let harness = Harness::new().await;
    let (cluster_arn, _) = run_tasks(&harness.ecs, 2, &[]).await;
    let answer = run_scheduled(&harness.pipeline, &["*".to_owned()]).await;
    let ours = answer["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|report| report["clusterArn"] == cluster_arn.as_str())
        .unwrap_or_else(|| panic!("{cluster_arn} not reconciled: {answer}"));
    assert_eq!(ours["listed"], 2, "{answer}");
}
