//! One history for an organization: tasks of several accounts and regions, their events through the
//! real function binary, each task described where it lives (its own account's role, its region),
//! one unreachable account recorded without tags and without blocking the others.

mod common;

use std::collections::BTreeMap;

use common::accounts::{Place, HOME, READER_ROLE};
use common::fault_proxy::{Fault, FaultProxy, Logged, Rule};
use common::function::{start_function_with, sum};
use common::runtime_api::Reply;
use common::{create_table, sdk_config, sqs_batch, tags, task_event, Harness};
use ecs_task_history::aws::dynamodb::items::history_from_item;
use serde_json::Value;

const MEMBER: &str = "222222222222";
const NO_ROLE: &str = "333333333333";

/// A running task somewhere, tagged with where it runs.
struct Placed {
    place: Place,
    cluster: String,
    task: String,
}

async fn placed(place: Place) -> Placed {
    let label = format!("{}/{}", place.account, place.region);
    let (cluster, tasks) = place.run_tasks(1, &[("place", label.as_str())]).await;
    Placed {
        place,
        cluster,
        task: tasks[0].clone(),
    }
}

fn batch(tasks: &[Placed], fixture: &str, version: u64) -> Value {
    let bodies: Vec<String> = tasks
        .iter()
        .map(|t| task_event(fixture, &t.task, &t.cluster, version).to_string())
        .collect();
    sqs_batch(&bodies)
}

fn calls<'a>(log: &'a [Logged], operation: &str) -> Vec<&'a Logged> {
    log.iter().filter(|l| l.operation == operation).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_is_described_in_its_own_account_and_region_and_one_unreachable_account_blocks_none(
) {
    let tasks = vec![
        placed(Place::home("us-east-1").await).await,
        placed(Place::home("us-west-2").await).await,
        placed(Place::member(MEMBER, "us-east-1").await).await,
        placed(Place::member(MEMBER, "eu-west-1").await).await,
        placed(Place::member(NO_ROLE, "us-east-1").await).await,
    ];
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = create_table(&dynamodb).await;
    // Everything through the proxy: it logs whose credentials and which region each call used,
    // and plays the member account without the reader role (AssumeRole denied).
    let proxy = FaultProxy::start(41).await;
    proxy.add_rule(
        Rule::new("AssumeRole", 1.0, vec![Fault::ClientError("AccessDenied")])
            .body_contains(NO_ROLE),
    );
    let env = [
        ("MEMBER_ROLE_NAME", READER_ROLE),
        ("ACCOUNT_ID", HOME),
        ("DESCRIBE_TASKS_PER_SECOND", "0"),
    ];
    let function = start_function_with(&table, &proxy.endpoint, &env).await;

    // WHEN every task's first event arrives, all in one SQS batch
    let Reply::Response(answer) = function
        .api
        .invoke(&batch(&tasks, "fargate-web-v1-provisioning.json", 1).to_string())
        .await
    else {
        panic!("the batch failed")
    };

    // THEN none is left for redelivery, and every task described has its own account's tags
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    for placed in &tasks {
        let harness_items = common::scan_table(&dynamodb, &table).await;
        let record = harness_items
            .iter()
            .filter_map(|item| history_from_item(item).ok())
            .find(|record| record.task_arn == placed.task)
            .unwrap_or_else(|| panic!("{} not recorded", placed.task));
        assert_eq!(record.account, placed.place.account);
        assert_eq!(record.region, placed.place.region);
        if placed.place.account == NO_ROLE {
            assert!(record.tags.values.is_empty() && !record.tags.enriched);
        } else {
            let expected = format!("{}/{}", placed.place.account, placed.place.region);
            assert_eq!(
                record.tags.values.get("place"),
                Some(&expected),
                "{}",
                placed.task
            );
        }
    }

    // AND each DescribeTasks went to the task's region, signed with its account's credentials
    let log = proxy.log();
    let describes = calls(&log, "DescribeTasks");
    assert_eq!(describes.len(), 4, "one per reachable account and region");
    let mut seen: BTreeMap<(String, String), ()> = BTreeMap::new();
    for call in &describes {
        let placed = tasks
            .iter()
            .find(|t| call.body.contains(&t.task))
            .expect("a task of ours");
        assert_eq!(call.region, placed.place.region, "{}", placed.task);
        // The function's own credentials at home; the reader role's (one session, shared by the
        // account's regions) in the member account. That moto answered with the member's tags
        // proves the account: a task is invisible to any other.
        let own = call.access_key == "test";
        assert_eq!(own, placed.place.account == HOME, "{}", placed.task);
        seen.entry((placed.place.account.clone(), call.access_key.clone()))
            .or_default();
    }
    assert_eq!(
        seen.len(),
        2,
        "one key for home, one for the member: {seen:?}"
    );
    // One AssumeRole per member account, shared by its regions; the denied one once.
    let assumed = calls(&log, "AssumeRole");
    assert_eq!(assumed.len(), 2, "{assumed:?}");
    let metrics = function.metrics(1).await;
    assert_eq!(sum(&metrics, "UnreachableAccountTasks"), 1.0);
    assert_eq!(sum(&metrics, "StsCalls"), 2.0);

    // WHEN the next versions arrive
    let Reply::Response(answer) = function
        .api
        .invoke(&batch(&tasks, "fargate-web-v8-stopped.json", 8).to_string())
        .await
    else {
        panic!("the second batch failed")
    };
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );

    // THEN the unreachable account is not asked again (for a while), credentials are reused, and
    // its trouble was said once, naming the member template
    let log = proxy.log();
    assert_eq!(calls(&log, "AssumeRole").len(), 2, "no new STS call");
    let metrics = function.metrics(2).await;
    assert_eq!(metrics[1]["UnreachableAccountTasks"], 1.0);
    let logs = function.logs.lock().unwrap().clone();
    let trouble: Vec<&Value> = logs
        .iter()
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot reach this account"))
        })
        .collect();
    assert_eq!(trouble.len(), 1, "{logs:#?}");
    assert_eq!(trouble[0]["account"], NO_ROLE);
    assert!(trouble[0]["message"]
        .as_str()
        .unwrap()
        .contains("member.yaml"));
}

/// Reconciliation and backfill reach a member account's cluster through the same role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cluster_is_reconciled_on_schedule_through_its_role() {
    let harness = Harness::new().await;
    let member = placed(Place::member(MEMBER, "eu-west-1").await).await;
    let env = [
        ("MEMBER_ROLE_NAME", READER_ROLE),
        ("ACCOUNT_ID", HOME),
        ("RECONCILE_CLUSTERS", member.cluster.as_str()),
    ];
    let function = start_function_with(&harness.table, common::moto::endpoint(), &env).await;
    let scheduled = r#"{"version":"0","id":"s","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-12-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
    let Reply::Response(answer) = function.api.invoke(scheduled).await else {
        panic!("the scheduled run failed")
    };
    assert_eq!(answer["errors"], serde_json::json!([]), "{answer}");
    assert_eq!(answer["clusters"][0]["listed"], 1, "{answer}");
    assert_eq!(answer["clusters"][0]["outcomes"]["fresh"], 1, "{answer}");
    let history = harness.history(&member.task).await;
    assert_eq!(history.len(), 1);
    let expected = format!("{MEMBER}/eu-west-1");
    assert_eq!(tags(&history[0].1).unwrap()["place"], expected);
}
