//! The pipeline through the real AWS SDK against the local emulator: every decision the version logic
//! makes, checked in the table it leaves behind.

mod common;

use common::{flag, number, run_tasks, sqs_batch, tags, task_event, text, Harness, LIFECYCLE};
use ecs_task_history::aws::dynamodb::items::history_from_item;
use ecs_task_history::aws::dynamodb::keys::INDEX_PROJECTED;
use ecs_task_history::aws::dynamodb::schema;
use ecs_task_history::aws::dynamodb::DynamoStore;
use ecs_task_history::aws::Aws;
use ecs_task_history::core::enrich::EnrichMode;
use ecs_task_history::lambda::{handle, InvocationError};
use ecs_task_history::pipeline::{Pipeline, Settings};
use ecs_task_history::read::HistoryReader;
use serde_json::{json, Value};

const FARGATE_RUNNING: &str = "fargate-web-v4-running.json";
const FARGATE_PENDING: &str = "fargate-web-v2-pending.json";
const FARGATE_STOPPED: &str = "fargate-web-v8-stopped.json";

async fn invoke(harness: &Harness, payload: &Value) -> Result<Value, InvocationError> {
    let raw = serde_json::value::RawValue::from_string(payload.to_string()).unwrap();
    handle(&harness.pipeline, &raw).await
}

fn outcome(answer: &Result<Value, InvocationError>) -> &str {
    answer
        .as_ref()
        .ok()
        .and_then(|value| value["outcome"].as_str())
        .unwrap_or("<error>")
}

fn expected_tags(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn fresh_event_is_enriched_with_tags_and_advances_the_snapshot() {
    let harness = Harness::new().await;
    let pairs = [("team", "payments"), ("env", "test")];
    let (cluster, tasks) = run_tasks(&harness.ecs, 1, &pairs).await;
    let task = &tasks[0];

    let answer = invoke(&harness, &task_event(FARGATE_RUNNING, task, &cluster, 4)).await;
    assert_eq!(outcome(&answer), "fresh", "{answer:?}");
    assert_eq!(harness.describer.calls(), 1);

    let history = harness.history(task).await;
    assert_eq!(history.len(), 1);
    let (version, record) = &history[0];
    assert_eq!(*version, 4);
    assert_eq!(text(record, "lastStatus"), Some("RUNNING"));
    assert_eq!(text(record, "launchType"), Some("FARGATE"));
    assert_eq!(tags(record), Some(expected_tags(&pairs)));
    assert!(flag(record, "enriched"));
    assert!(!record.contains_key("lateArrival"), "stored only when true");
    // The task's first change of its hour: it carries the task's index entry.
    assert!(text(record, "gsi1pk").is_some_and(|pk| pk.starts_with(&format!("CLUSTER#{cluster}#"))));
    // What the keys and ARNs say is derived when read, not stored.
    let read = history_from_item(record).unwrap();
    assert_eq!(read.task_arn, *task);
    assert_eq!(read.cluster_arn, cluster);
    assert_eq!(read.service_name.as_deref(), Some("web"));
    assert_eq!(read.version, 4);

    let snapshot = harness.snapshot(task).await.expect("snapshot written");
    assert_eq!(number(&snapshot, "version"), 4);
    assert_eq!(text(&snapshot, "lastStatus"), Some("RUNNING"));
    assert_eq!(tags(&snapshot), Some(expected_tags(&pairs)));
}

#[tokio::test]
async fn duplicate_event_makes_no_call_and_writes_nothing() {
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 1, &[("team", "a")]).await;
    let task = &tasks[0];
    let event = task_event(FARGATE_RUNNING, task, &cluster, 4);
    assert_eq!(outcome(&invoke(&harness, &event).await), "fresh");
    let before = harness.task_items(task).await;

    let mut redelivered = event.clone();
    redelivered["id"] = json!("another-delivery-of-the-same-change");
    assert_eq!(outcome(&invoke(&harness, &redelivered).await), "duplicate");
    assert_eq!(outcome(&invoke(&harness, &event).await), "duplicate");

    assert_eq!(
        harness.describer.calls(),
        1,
        "duplicates must not call DescribeTasks"
    );
    assert_eq!(
        harness.task_items(task).await,
        before,
        "duplicates must not write"
    );
}

#[tokio::test]
async fn stale_event_fills_its_gap_without_moving_the_snapshot() {
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 1, &[("team", "late")]).await;
    let task = &tasks[0];
    assert_eq!(
        outcome(&invoke(&harness, &task_event(FARGATE_RUNNING, task, &cluster, 4)).await),
        "fresh"
    );

    let answer = invoke(&harness, &task_event(FARGATE_PENDING, task, &cluster, 2)).await;
    assert_eq!(outcome(&answer), "gap_filled", "{answer:?}");
    assert_eq!(
        harness.describer.calls(),
        1,
        "a stale event must not call DescribeTasks"
    );

    let history = harness.history(task).await;
    assert_eq!(
        history.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        vec![2, 4]
    );
    let late = &history[0].1;
    assert_eq!(
        text(late, "lastStatus"),
        Some("PENDING"),
        "state comes from the late event itself"
    );
    assert!(flag(late, "lateArrival"));
    assert!(!late.contains_key("enriched"));
    assert_eq!(
        tags(late),
        None,
        "tags copied from the snapshot are not stored again"
    );
    let timeline = HistoryReader::new(harness.dynamodb.clone(), harness.table.clone())
        .timeline(task)
        .await
        .unwrap();
    assert_eq!(
        timeline.records[0].tags.values,
        expected_tags(&[("team", "late")]),
        "the timeline carries them to the late version"
    );

    let snapshot = harness.snapshot(task).await.unwrap();
    assert_eq!(
        number(&snapshot, "version"),
        4,
        "snapshot never moves backwards"
    );
    assert_eq!(text(&snapshot, "lastStatus"), Some("RUNNING"));

    // The same late event again: already recorded, nothing changes.
    let before = harness.task_items(task).await;
    let answer = invoke(&harness, &task_event(FARGATE_PENDING, task, &cluster, 2)).await;
    assert_eq!(outcome(&answer), "stale");
    assert_eq!(harness.task_items(task).await, before);
}

#[tokio::test]
async fn a_task_ecs_no_longer_knows_is_recorded_from_its_event_alone() {
    let harness = Harness::new().await;
    let (cluster, _) = run_tasks(&harness.ecs, 1, &[]).await;
    let gone = format!(
        "{}/0123456789abcdef0123456789abcdef",
        cluster.replace(":cluster/", ":task/")
    );

    let answer = invoke(&harness, &task_event(FARGATE_STOPPED, &gone, &cluster, 8)).await;
    assert_eq!(outcome(&answer), "fresh", "{answer:?}");
    assert_eq!(harness.describer.calls(), 1);

    let history = harness.history(&gone).await;
    assert_eq!(history.len(), 1);
    let record = &history[0].1;
    assert!(!record.contains_key("enriched"));
    assert!(
        !record.contains_key("tags"),
        "unknown tags are absent, not empty"
    );
    assert_eq!(text(record, "lastStatus"), Some("STOPPED"));
    assert_eq!(text(record, "stopCode"), Some("ServiceSchedulerInitiated"));
    assert_eq!(
        number(&harness.snapshot(&gone).await.unwrap(), "version"),
        8
    );
}

#[tokio::test]
async fn a_task_ecs_said_is_missing_is_not_described_again_until_it_stops() {
    let harness = Harness::new().await;
    let (cluster, _) = run_tasks(&harness.ecs, 1, &[]).await;
    let unknown = format!(
        "{}/fedcba9876543210fedcba9876543210",
        cluster.replace(":cluster/", ":task/")
    );
    let send = |fixture: &str, version: u64| {
        let event = task_event(fixture, &unknown, &cluster, version);
        let harness = &harness;
        async move { outcome(&invoke(harness, &event).await).to_owned() }
    };

    assert_eq!(send(FARGATE_PENDING, 2).await, "fresh");
    assert_eq!(harness.describer.calls(), 1, "described once: MISSING");
    let snapshot = harness.snapshot(&unknown).await.expect("snapshot");
    assert!(flag(&snapshot, "ecsMissing"));
    assert!(!flag(&snapshot, "tagsKnown"));

    assert_eq!(send(FARGATE_RUNNING, 4).await, "fresh");
    assert_eq!(harness.describer.calls(), 1, "MISSING is remembered");
    assert_eq!(send(FARGATE_STOPPED, 8).await, "fresh");
    assert_eq!(
        harness.describer.calls(),
        2,
        "asked once more for the final state"
    );
    let snapshot = harness.snapshot(&unknown).await.expect("snapshot");
    assert_eq!(number(&snapshot, "version"), 8);
    assert!(flag(&snapshot, "ecsMissing"));
}

#[tokio::test]
async fn describe_failure_fails_only_the_fresh_events_and_they_record_on_redelivery() {
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 1, &[("team", "x")]).await;
    let task = &tasks[0];
    // ECS unreachable (nothing listens on port 1) while DynamoDB works: DescribeTasks fails as a whole.
    let unreachable = common::sdk_config_through("http://127.0.0.1:1").await;
    let broken = Pipeline::new(
        Aws::new(unreachable).ecs(&common::ecs_settings()),
        DynamoStore::new(harness.dynamodb.clone(), harness.table.clone()),
        Settings::default(),
    );
    let event = task_event(FARGATE_RUNNING, task, &cluster, 4).to_string();
    let raw = serde_json::value::RawValue::from_string(event).unwrap();
    let answer = handle(&broken, &raw).await;
    match &answer {
        Err(err @ InvocationError::NotRecorded { version: 4, .. }) => assert!(err.retryable()),
        other => panic!("expected a retryable failure, got {other:?}"),
    }
    assert!(
        harness.task_items(task).await.is_empty(),
        "nothing is written when enrichment fails"
    );

    let answer = invoke(&harness, &task_event(FARGATE_RUNNING, task, &cluster, 4)).await;
    assert_eq!(outcome(&answer), "fresh");
}

#[tokio::test]
async fn a_deleted_cluster_counts_as_missing_not_as_a_failure() {
    let harness = Harness::new().await;
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/deleted-long-ago";
    let task =
        "arn:aws:ecs:us-east-1:123456789012:task/deleted-long-ago/0123456789abcdef0123456789abcdef";
    let answer = invoke(&harness, &task_event(FARGATE_STOPPED, task, cluster, 8)).await;
    assert_eq!(outcome(&answer), "fresh", "{answer:?}");
    assert!(!flag(&harness.history(task).await[0].1, "enriched"));
}

#[tokio::test]
async fn sqs_batch_reports_only_the_bad_records_as_failures() {
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 2, &[("team", "batch")]).await;
    let mut missing_version = task_event(FARGATE_RUNNING, &tasks[1], &cluster, 9);
    missing_version["detail"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    let bodies = vec![
        task_event(FARGATE_PENDING, &tasks[0], &cluster, 2).to_string(),
        "{\"detail-type\": \"ECS Task State Change\", \"source\": \"aws.ecs\", \"detail\": {"
            .to_owned(),
        missing_version.to_string(),
        common::fixture("container-instance-state-change.json").to_string(),
        task_event(FARGATE_RUNNING, &tasks[0], &cluster, 4).to_string(),
        task_event(FARGATE_RUNNING, &tasks[1], &cluster, 4).to_string(),
    ];
    let answer = invoke(&harness, &sqs_batch(&bodies))
        .await
        .expect("batch answered");
    let failures: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(failures, vec!["m1", "m2"]);

    assert_eq!(
        harness.describer.calls(),
        1,
        "one DescribeTasks for both tasks of the cluster"
    );
    assert_eq!(
        harness
            .describer
            .tasks
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    let first: Vec<u64> = harness
        .history(&tasks[0])
        .await
        .iter()
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(first, vec![2, 4]);
    assert_eq!(
        number(&harness.snapshot(&tasks[0]).await.unwrap(), "version"),
        4
    );
    assert_eq!(
        number(&harness.snapshot(&tasks[1]).await.unwrap(), "version"),
        4
    );
}

#[tokio::test]
async fn an_empty_sqs_batch_succeeds_with_no_failures() {
    let harness = Harness::new().await;
    let answer = invoke(&harness, &json!({"Records": []})).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    assert_eq!(harness.describer.calls(), 0);
}

#[tokio::test]
async fn direct_malformed_events_fail_the_invocation_permanently() {
    let harness = Harness::new().await;
    for name in [
        "malformed-missing-version.json",
        "malformed-missing-task-arn.json",
    ] {
        let answer = invoke(&harness, &common::fixture(name)).await;
        match answer {
            Err(err @ InvocationError::Rejected { .. }) => assert!(!err.retryable(), "{name}"),
            other => panic!("{name}: expected a rejection, got {other:?}"),
        }
    }
    let answer = invoke(
        &harness,
        &common::fixture("container-instance-state-change.json"),
    )
    .await;
    assert_eq!(outcome(&answer), "skipped");
    assert!(harness.scan().await.is_empty());
}

#[tokio::test]
async fn concurrent_invocations_racing_on_one_task_never_move_it_backwards() {
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 1, &[("team", "race")]).await;
    let task = tasks[0].clone();

    // Two invocations per round, one with v(n+1) and one with v(n), both loading the same snapshot.
    for round in 0..6u64 {
        let newer = task_event(FARGATE_RUNNING, &task, &cluster, 2 * round + 2);
        let older = task_event(FARGATE_PENDING, &task, &cluster, 2 * round + 1);
        let (first, second) = tokio::join!(invoke(&harness, &newer), invoke(&harness, &older));
        let newer_outcome = first.expect("newer recorded")["outcome"].clone();
        let older_outcome = second.expect("older recorded")["outcome"].clone();
        assert_eq!(newer_outcome, json!("fresh"), "round {round}");
        assert!(
            older_outcome == json!("fresh") || older_outcome == json!("gap_filled"),
            "round {round}: older event was {older_outcome}"
        );
        let snapshot = harness.snapshot(&task).await.unwrap();
        assert_eq!(number(&snapshot, "version"), 2 * round + 2, "round {round}");
    }
    let versions: Vec<u64> = harness
        .history(&task)
        .await
        .iter()
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(
        versions,
        (1..=12).collect::<Vec<_>>(),
        "every version recorded exactly once"
    );
}

#[tokio::test]
async fn a_batch_costs_one_read_one_describe_one_batched_write_and_a_snapshot_per_new_task() {
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 10, &[("team", "cost")]).await;
    let bodies: Vec<String> = tasks
        .iter()
        .map(|task| task_event(FARGATE_PENDING, task, &cluster, 2).to_string())
        .collect();
    invoke(&harness, &sqs_batch(&bodies))
        .await
        .expect("batch answered");
    let counts = harness.requests.snapshot();
    assert_eq!(counts.get("BatchGetItem"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("DescribeTasks"), Some(&1), "{counts:?}");
    assert_eq!(
        counts.get("BatchWriteItem"),
        Some(&1),
        "all history records in one request: {counts:?}"
    );
    assert_eq!(
        counts.get("PutItem"),
        Some(&11),
        "one conditional snapshot write per task, and the cluster's catalog entry: {counts:?}"
    );
    assert_eq!(harness.requests.total(), 14);
    for task in &tasks {
        let versions: Vec<u64> = harness
            .history(task)
            .await
            .iter()
            .map(|(v, _)| *v)
            .collect();
        assert_eq!(versions, [2], "{task}");
    }

    // The same batch again: every event is a duplicate, known from the one snapshot read.
    harness.requests.reset();
    invoke(&harness, &sqs_batch(&bodies))
        .await
        .expect("batch answered");
    assert_eq!(
        harness.requests.snapshot(),
        [("BatchGetItem".to_owned(), 1)].into()
    );
}

/// Feeds one task's whole lifecycle, one version per invocation, and counts DescribeTasks calls.
async fn describe_calls_over_a_lifecycle(enrich: EnrichMode) -> (usize, Vec<bool>) {
    let harness = Harness::with_settings(Settings {
        enrich,
        ..Settings::default()
    })
    .await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 1, &[("team", "modes")]).await;
    let task = &tasks[0];
    for (n, fixture) in LIFECYCLE.iter().enumerate() {
        let answer = invoke(&harness, &task_event(fixture, task, &cluster, n as u64 + 1)).await;
        assert_eq!(outcome(&answer), "fresh", "{enrich:?} v{}", n + 1);
    }
    let history = harness.history(task).await;
    // A version stores the tags it was described with; readers carry them to the versions after
    // it, so every version reads with the task's tags, unless it was never described.
    let expected = (enrich != EnrichMode::Never).then(|| expected_tags(&[("team", "modes")]));
    for (version, record) in &history {
        let stored = flag(record, "enriched").then(|| expected_tags(&[("team", "modes")]));
        assert_eq!(
            tags(record),
            stored,
            "{enrich:?} v{version} stores tags only when described"
        );
    }
    let reader =
        ecs_task_history::read::HistoryReader::new(harness.dynamodb.clone(), &harness.table);
    let timeline = reader.timeline(task).await.expect("timeline");
    assert_eq!(timeline.records.len(), 8);
    for record in &timeline.records {
        let read = (!record.tags.values.is_empty()).then(|| record.tags.values.clone());
        assert_eq!(read, expected, "{enrich:?} v{} as read", record.version);
    }
    (
        harness.describer.calls(),
        history
            .iter()
            .map(|(_, record)| flag(record, "enriched"))
            .collect(),
    )
}

#[tokio::test]
async fn new_tasks_mode_describes_a_task_once_then_again_when_it_stops() {
    let (calls, enriched) = describe_calls_over_a_lifecycle(EnrichMode::NewTasks).await;
    assert_eq!(calls, 2, "first sight and the STOPPED transition");
    let mut expected = vec![false; 8];
    expected[0] = true;
    expected[7] = true;
    assert_eq!(enriched, expected);
}

#[tokio::test]
async fn always_mode_describes_every_fresh_version_and_never_mode_none() {
    let (calls, enriched) = describe_calls_over_a_lifecycle(EnrichMode::Always).await;
    assert_eq!(calls, 8);
    assert!(enriched.iter().all(|flag| *flag));

    let (calls, enriched) = describe_calls_over_a_lifecycle(EnrichMode::Never).await;
    assert_eq!(calls, 0);
    assert!(enriched.iter().all(|flag| !*flag));
}

#[tokio::test]
async fn the_template_grants_every_operation_the_function_makes() {
    use common::accounts::{Place, HOME, READER_ROLE};
    use ecs_task_history::config::EcsSettings;
    let harness = Harness::new().await;
    let (cluster, tasks) = run_tasks(&harness.ecs, 2, &[("team", "iam")]).await;
    let member = Place::member("222222222222", "eu-west-1").await;
    let (member_cluster, member_tasks) = member.run_tasks(1, &[("team", "member")]).await;
    // The function as an organization's deploys it: its own account known, members' reader role.
    let aws = Aws::new(harness.config.clone());
    let ecs = aws.ecs(&EcsSettings {
        home_account: Some(HOME.to_owned()),
        member_role: Some(READER_ROLE.to_owned()),
        ..common::ecs_settings()
    });
    let pipeline = Pipeline::new(ecs, aws.store(&harness.table), Settings::default());
    // Fresh (BatchWriteItem, snapshot PutItem, DescribeTasks, the member's AssumeRole, the cluster
    // catalog's PutItem), then stale (gap-fill PutItem), then a scheduled reconciliation
    // (ListClusters, ListTasks).
    let mut fresh: Vec<String> = tasks
        .iter()
        .map(|task| task_event(FARGATE_RUNNING, task, &cluster, 4).to_string())
        .collect();
    fresh.push(task_event(FARGATE_RUNNING, &member_tasks[0], &member_cluster, 4).to_string());
    let payload = serde_json::value::RawValue::from_string(sqs_batch(&fresh).to_string()).unwrap();
    handle(&pipeline, &payload).await.expect("fresh");
    let stale = task_event(FARGATE_PENDING, &tasks[0], &cluster, 2).to_string();
    let payload = serde_json::value::RawValue::from_string(stale).unwrap();
    handle(&pipeline, &payload).await.expect("stale");
    ecs_task_history::reconcile::run_scheduled(&pipeline, &["*".to_owned()]).await;

    let granted = granted_actions();
    let operations = aws.usage.requests();
    for operation in operations.keys() {
        let service = match operation.as_str() {
            "DescribeTasks" | "ListTasks" | "ListClusters" => "ecs",
            "AssumeRole" | "GetCallerIdentity" => "sts",
            "Publish" => "sns",
            _ => "dynamodb",
        };
        let action = format!("{service}:{operation}");
        assert!(
            granted.contains(&action),
            "template.yaml does not allow {action}: {granted:?}"
        );
    }
    for expected in [
        "sts:AssumeRole",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "ecs:ListClusters",
    ] {
        assert!(
            operations.contains_key(expected.split(':').nth(1).unwrap()),
            "{operations:?}"
        );
    }
    // Nothing beyond what the code makes: the alert statements (sns:Publish, dynamodb:UpdateItem)
    // are checked by the alert tests.
    let expected: std::collections::BTreeSet<String> = [
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "ecs:ListClusters",
        "sts:AssumeRole",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "sns:Publish",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        granted, expected,
        "the function's policy grants exactly what the code calls"
    );
}

/// Every action the function's policy in template.yaml grants (any condition).
fn granted_actions() -> std::collections::BTreeSet<String> {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let start = template
        .find("  TaskHistoryFunction:")
        .expect("the function");
    let policies = start
        + template[start..]
            .find("      Policies:")
            .expect("its policies");
    let end = policies
        + template[policies..]
            .find("      Events:")
            .expect("its events");
    template[policies..end]
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| line.split([' ', '[', ']', ',']))
        .filter(|word| {
            ["ecs:", "sts:", "dynamodb:", "sns:", "sqs:", "logs:"]
                .iter()
                .any(|service| word.starts_with(service))
        })
        .map(str::to_owned)
        .collect()
}

/// The table's schema is written twice: template.yaml (deployments) and `schema.rs` (the tests, the
/// demo, the bench, `ecs-task-history create-table`). They must agree on every key, index, projection
/// and the TTL attribute, or readers would find attributes missing only once deployed.
#[test]
fn the_template_declares_the_table_exactly_as_the_code_creates_it() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let start = template
        .find("  HistoryTable:")
        .expect("HistoryTable resource");
    let end = template[start + 1..]
        .find("\n  # ")
        .map_or(template.len(), |end| start + 1 + end);
    let table = &template[start..end];
    let lines: Vec<&str> = table.lines().map(str::trim).collect();
    let defined: Vec<&str> = lines
        .windows(2)
        .filter(|pair| pair[1] == "AttributeType: S")
        .filter_map(|pair| pair[0].strip_prefix("- AttributeName: "))
        .collect();
    assert_eq!(defined, schema::KEY_ATTRIBUTES, "AttributeDefinitions");
    assert_eq!(
        table.matches("IndexName:").count(),
        schema::INDEXES.len(),
        "one GSI per entry of schema::INDEXES"
    );
    for (index, pk, sk) in schema::INDEXES {
        let at = table
            .find(&format!("IndexName: {index}"))
            .unwrap_or_else(|| panic!("index {index} missing"));
        let block: Vec<&str> = table[at..].lines().map(str::trim).take(12).collect();
        let expected = [
            format!("- AttributeName: {pk}"),
            "KeyType: HASH".to_owned(),
            format!("- AttributeName: {sk}"),
            "KeyType: RANGE".to_owned(),
        ];
        let keys: Vec<String> = block[2..6].iter().map(|line| (*line).to_owned()).collect();
        assert_eq!(keys, expected, "{index} keys");
        let projection = format!("NonKeyAttributes: [{}]", INDEX_PROJECTED.join(", "));
        assert!(
            block.contains(&"ProjectionType: INCLUDE") && block.contains(&projection.as_str()),
            "{index} must project exactly {projection}: {block:?}"
        );
    }
    assert!(table.contains(&format!("AttributeName: {}", schema::TTL_ATTRIBUTE)));
    assert!(!table.contains("ProjectionType: ALL"));
}

/// `CapacityMode=PROVISIONED` must scale every index the code queries, reads and writes: an index
/// left at its least capacity would throttle every write that carries its keys.
#[test]
fn provisioned_capacity_scales_the_table_and_every_index() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml"))
        .expect("template.yaml");
    let targets: Vec<(String, String)> = template
        .split("Type: AWS::ApplicationAutoScaling::ScalableTarget")
        .skip(1)
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.trim().strip_prefix(name))
                    .unwrap_or_else(|| panic!("{name} missing in {block}"))
                    .trim()
                    .to_owned()
            };
            (field("ResourceId:"), field("ScalableDimension:"))
        })
        .collect();
    let mut expected = Vec::new();
    for dimension in ["Write", "Read"] {
        expected.push((
            "!Sub table/${HistoryTable}".to_owned(),
            format!("dynamodb:table:{dimension}CapacityUnits"),
        ));
        for (index, _, _) in schema::INDEXES {
            expected.push((
                format!("!Sub table/${{HistoryTable}}/index/{index}"),
                format!("dynamodb:index:{dimension}CapacityUnits"),
            ));
        }
    }
    let (mut found, mut wanted) = (targets.clone(), expected);
    found.sort();
    wanted.sort();
    assert_eq!(found, wanted);
    assert_eq!(
        template
            .matches("Type: AWS::ApplicationAutoScaling::ScalingPolicy")
            .count(),
        targets.len(),
        "one target-tracking policy per scalable target"
    );
}
