//! "Nothing lost" in the situations a plain fault rate does not reach: a crash between the history
//! write and the snapshot write (injected, and by killing the real function process), 8 concurrent
//! invocations on the same tasks, DescribeTasks answering MISSING or other failures, and a task too
//! big for one DynamoDB item.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use common::fault_proxy::{assert_snapshots_never_went_back, Fault, FaultProxy, Rule};
use common::function::{start_function_at, Function};
use common::runtime_api::Reply;
use common::stream::{
    assert_same_state, deliver, in_order_lifecycles, shuffled_with_copies, state_of, table_state,
};
use common::{
    create_table, flag, run_tasks, scan_table, sdk_config, sdk_config_through, sqs_batch, tags,
    task_event, text, Harness, Rng,
};
use ecs_task_history::aws::dynamodb::items::{item_size, MAX_ITEM_BYTES};
use ecs_task_history::aws::Aws;
use ecs_task_history::core::event::{parse_event, Parsed, TaskEvent};
use ecs_task_history::core::outcome::Outcome;
use ecs_task_history::pipeline::{Pipeline, Settings};
use serde_json::{json, Value};

/// `"sk":{"S":"SNAPSHOT"}` as the SDK serializes it: only snapshot writes contain it.
const SNAPSHOT_WRITE: &str = r#""S":"SNAPSHOT""#;

/// A few real tasks and the table their lifecycles produce when delivered in order.
async fn reference(
    tasks: usize,
) -> (
    Vec<(String, String)>,
    BTreeMap<(String, String), serde_json::Value>,
) {
    let harness = Harness::new().await;
    let (cluster, arns) = run_tasks(&harness.ecs, tasks as i32, &[("team", "crash")]).await;
    let tasks: Vec<(String, String)> = arns.into_iter().map(|t| (cluster.clone(), t)).collect();
    let delivery = deliver(
        &harness.pipeline,
        &in_order_lifecycles(&tasks),
        10,
        &mut Rng(1),
    )
    .await;
    assert_eq!(delivery.batch_item_failures, 0);
    (tasks, table_state(&harness).await)
}

/// The `version`th lifecycle sample of each task.
fn versions_of(arns: &[String], cluster: &str, version: u64) -> Vec<TaskEvent> {
    arns.iter()
        .map(|task| {
            as_task_event(&task_event(
                common::LIFECYCLE[version as usize - 1],
                task,
                cluster,
                version,
            ))
        })
        .collect()
}

fn assert_all_fresh(outcomes: &[Outcome]) {
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Fresh { .. })),
        "{outcomes:?}"
    );
}

fn as_task_event(value: &Value) -> TaskEvent {
    match parse_event(&value.to_string()) {
        Ok(Parsed::Task(event)) => *event,
        other => panic!("not a task event: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_between_history_and_snapshot_writes_then_redelivery_converges() {
    let (tasks, expected) = reference(5).await;
    let proxy = FaultProxy::start(21).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    let mut rng = Rng(21);
    let stream = shuffled_with_copies(&in_order_lifecycles(&tasks), &mut rng);

    // GIVEN every snapshot write fails (the SDK's retries included) during the first invocation
    proxy.add_rule(
        Rule::new("PutItem", 1.0, vec![Fault::Reset { forwarded: false }])
            .body_contains(SNAPSHOT_WRITE),
    );
    let first: Vec<String> = stream[..10].iter().map(Value::to_string).collect();
    let payload = serde_json::value::RawValue::from_string(sqs_batch(&first).to_string()).unwrap();
    let answer = ecs_task_history::lambda::handle(&harness.pipeline, &payload)
        .await
        .expect("batch answered");

    // THEN every fresh event of it is reported for redelivery, its history is already stored, and
    // no snapshot moved
    let failed = answer["batchItemFailures"].as_array().unwrap().len();
    assert!(failed >= 1, "{answer}");
    let mut stored_history = 0;
    for event in &stream[..10] {
        let task = event["detail"]["taskArn"].as_str().unwrap();
        assert!(
            harness.snapshot(task).await.is_none(),
            "no snapshot for {task}"
        );
        stored_history += harness.history(task).await.len();
    }
    assert!(stored_history >= 1, "history written before the snapshot");
    assert!(
        proxy.injected().values().sum::<usize>() >= 3,
        "{:?}",
        proxy.injected()
    );

    // WHEN the faults stop and the failed records are redelivered with the rest of the stream
    proxy.clear_rules();
    let delivery = deliver(&harness.pipeline, &stream, 10, &mut rng).await;

    // THEN the table is exactly what in-order delivery produced
    assert_eq!(delivery.batch_item_failures, 0);
    assert_same_state(&expected, &table_state(&harness).await);
}

/// Invokes the function with SQS batches until every record is acknowledged.
async fn deliver_to_function(function: &Function, events: &[Value]) {
    let mut pending: Vec<String> = events.iter().map(Value::to_string).collect();
    for _ in 0..20 {
        if pending.is_empty() {
            return;
        }
        let mut again = Vec::new();
        for chunk in pending.chunks(10) {
            let reply = tokio::time::timeout(
                Duration::from_secs(60),
                function.api.invoke(&sqs_batch(chunk).to_string()),
            )
            .await
            .expect("the function answers");
            let Reply::Response(answer) = reply else {
                panic!("batch failed as a whole: {reply:?}")
            };
            for failure in answer["batchItemFailures"].as_array().unwrap() {
                let id = failure["itemIdentifier"].as_str().unwrap();
                again.push(chunk[id[1..].parse::<usize>().unwrap()].clone());
            }
        }
        pending = again;
    }
    panic!("records still failing after 20 deliveries: {pending:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_function_between_history_and_snapshot_writes_loses_nothing() {
    let (tasks, expected) = reference(3).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = create_table(&dynamodb).await;
    let proxy = FaultProxy::start(22).await;
    let mut rng = Rng(22);
    let stream = shuffled_with_copies(&in_order_lifecycles(&tasks), &mut rng);

    // GIVEN the first snapshot write never gets an answer
    proxy.add_rule(
        Rule::new("PutItem", 1.0, vec![Fault::Hang])
            .body_contains(SNAPSHOT_WRITE)
            .limit(1),
    );
    let held = proxy.held();
    let mut function = start_function_at(&table, &proxy.endpoint).await;
    let first = sqs_batch(&stream[..8].iter().map(Value::to_string).collect::<Vec<_>>());
    let api = function.api.clone();
    let invocation = tokio::spawn(async move { api.invoke(&first.to_string()).await });

    // WHEN the process is killed while it waits for that write
    tokio::time::timeout(Duration::from_secs(60), held.notified())
        .await
        .expect("the function reached a snapshot write");
    function.child.kill().await.expect("kill the function");
    invocation.abort();
    let after_crash = proxy.log();
    let history_writes = after_crash
        .iter()
        .filter(|e| e.operation == "BatchWriteItem" && e.succeeded())
        .count();
    assert!(
        history_writes >= 1,
        "the history was written before the snapshot"
    );

    // THEN a new instance, given the same records again (SQS redelivers the whole unacknowledged
    // batch) and the rest of the stream, ends where in-order delivery ends
    proxy.clear_rules();
    let restarted = start_function_at(&table, &proxy.endpoint).await;
    deliver_to_function(&restarted, &stream).await;
    let actual = state_of(scan_table(&dynamodb, &table).await);
    assert_same_state(&expected, &actual);
    assert_snapshots_never_went_back(&proxy.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_invocations_on_the_same_tasks_never_move_a_snapshot_back() {
    let (tasks, expected) = reference(16).await;
    let proxy = FaultProxy::start(23).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    // Eight function instances: their own clients, one table.
    let config = sdk_config_through(&proxy.endpoint).await;
    let instances: Vec<_> = (0..8)
        .map(|_| {
            let aws = Aws::new(config.clone());
            Pipeline::new(
                aws.ecs(&common::ecs_settings()),
                aws.store(&harness.table),
                Settings::default(),
            )
        })
        .collect();
    // A few faults so that retries and redeliveries interleave with the races.
    proxy.add_rule(Rule::new(
        "*",
        0.05,
        vec![
            Fault::Throttling,
            Fault::Reset { forwarded: true },
            Fault::ServerError {
                status: 500,
                forwarded: true,
            },
        ],
    ));

    // Every instance gets every event, in its own order: each task is raced by all eight.
    let ordered = in_order_lifecycles(&tasks);
    let streams: Vec<Vec<Value>> = (0..8u64)
        .map(|n| shuffled_with_copies(&ordered, &mut Rng(100 + n)))
        .collect();
    let runs =
        instances
            .iter()
            .zip(&streams)
            .enumerate()
            .map(|(n, (pipeline, stream))| async move {
                deliver(pipeline, stream, 10, &mut Rng(200 + n as u64)).await
            });
    let deliveries = futures::future::join_all(runs).await;
    proxy.clear_rules();

    let log = proxy.log();
    let checked = assert_snapshots_never_went_back(&log);
    assert!(
        checked >= 16,
        "every task's snapshot was written: {checked}"
    );
    assert_same_state(&expected, &table_state(&harness).await);
    let invocations: usize = deliveries.iter().map(|d| d.invocations).sum();
    println!(
        "concurrency: 8 instances × {} events, {invocations} invocations, {checked} successful snapshot writes checked, faults {:?}",
        streams[0].len(),
        proxy.injected()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_tasks_missing_and_other_failures_record_from_the_event_alone() {
    let proxy = FaultProxy::start(24).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    let (cluster, arns) = run_tasks(&harness.ecs, 6, &[("team", "describe")]).await;
    let id = |arn: &str| arn.rsplit('/').next().unwrap().to_owned();
    // GIVEN DescribeTasks reports two tasks MISSING and two with another failure
    let reasons = BTreeMap::from([
        (id(&arns[0]), "MISSING".to_owned()),
        (id(&arns[1]), "MISSING".to_owned()),
        (id(&arns[2]), "ACCESS_DENIED".to_owned()),
        (id(&arns[3]), "INTERNAL_ERROR".to_owned()),
    ]);
    proxy.add_rule(Rule::new(
        "DescribeTasks",
        1.0,
        vec![Fault::DescribeFailures(reasons)],
    ));
    let first = versions_of(&arns, &cluster, 1);

    // WHEN their first versions arrive
    let outcomes = common::process_events(&harness.pipeline, &first).await;

    // THEN all are recorded; only the two DescribeTasks answered for carry tags
    let enriched: Vec<bool> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Fresh { enriched } => *enriched,
            other => panic!("expected fresh, got {other:?}"),
        })
        .collect();
    assert_eq!(enriched, [false, false, false, false, true, true]);
    for (n, task) in arns.iter().enumerate() {
        let history = harness.history(task).await;
        assert_eq!(history.len(), 1, "{task}");
        let record = &history[0].1;
        if n < 4 {
            assert_eq!(tags(record), None, "no tags for an undescribed task");
            assert!(!record.contains_key("enriched"), "stored only when true");
        } else {
            assert_eq!(tags(record).unwrap()["team"], "describe");
            assert!(flag(record, "enriched"));
        }
    }
    assert!(proxy.injected().values().sum::<usize>() >= 1);

    // AND once DescribeTasks answers again, the next version of the tasks it failed for (other
    // than MISSING: those may be remembered as gone) is described and gets their tags
    proxy.clear_rules();
    let second = versions_of(&arns, &cluster, 2);
    assert_all_fresh(&common::process_events(&harness.pipeline, &second).await);
    for task in &arns[2..4] {
        let history = harness.history(task).await;
        assert_eq!(tags(&history[1].1).unwrap()["team"], "describe", "{task}");
    }
}

/// A task event blown up everywhere the model allows: 50 containers with 2 KB-plus strings and
/// 100 network bindings each, a 300 KB environment override, unknown enum values of 10 KB.
fn oversized_event(task: &str, cluster: &str) -> Value {
    let mut event = task_event(common::LIFECYCLE[3], task, cluster, 1);
    let long = |c: char, n: usize| c.to_string().repeat(n);
    let binding = json!({
        "bindIP": long('1', 3000), "containerPort": 80, "hostPort": 80, "protocol": long('p', 3000)
    });
    let container = json!({
        "name": long('n', 3000),
        "image": long('i', 5000),
        "imageDigest": long('d', 3000),
        "runtimeId": long('r', 3000),
        "lastStatus": long('S', 10_000),
        "reason": long('x', 5000),
        "networkBindings": vec![binding; 120],
    });
    event["detail"]["containers"] = Value::Array(vec![container; 60]);
    event["detail"]["group"] = Value::String(format!("service:{}", long('g', 5000)));
    event["detail"]["lastStatus"] = Value::String(long('L', 10_000));
    event["detail"]["overrides"] = json!({
        "containerOverrides": [{
            "name": "web",
            "environment": (0..1500).map(|n| json!({"name": format!("VAR_{n}"), "value": long('e', 200)})).collect::<Vec<_>>()
        }]
    });
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_task_is_stored_trimmed_and_marked_without_blocking_its_batch() {
    let harness = Harness::new().await;
    let long_tags: Vec<(String, String)> = (0..50)
        .map(|n| (format!("{n:02}{}", "k".repeat(126)), "v".repeat(256)))
        .collect();
    let tag_refs: Vec<(&str, &str)> = long_tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (cluster, arns) = run_tasks(&harness.ecs, 5, &tag_refs).await;

    // GIVEN one huge event among ordinary ones in a batch
    let mut bodies = vec![oversized_event(&arns[0], &cluster).to_string()];
    assert!(bodies[0].len() > 1_000_000, "{} bytes", bodies[0].len());
    for task in &arns[1..] {
        bodies.push(task_event(common::LIFECYCLE[0], task, &cluster, 1).to_string());
    }
    let payload = serde_json::value::RawValue::from_string(sqs_batch(&bodies).to_string()).unwrap();

    // WHEN it is processed
    let answer = ecs_task_history::lambda::handle(&harness.pipeline, &payload)
        .await
        .expect("batch answered");

    // THEN nothing fails: the huge record is stored within the item limit, marked truncated,
    // with its 50 tags; its batch-mates are stored untouched
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let history = harness.history(&arns[0]).await;
    assert_eq!(history.len(), 1);
    let record = &history[0].1;
    assert!(flag(record, "truncated"));
    let size = item_size(record);
    assert!(size <= MAX_ITEM_BYTES, "{size} bytes");
    assert_eq!(tags(record).map(|t| t.len()), Some(50));
    assert!(text(record, "lastStatus").unwrap().len() <= 2048);
    assert!(harness.snapshot(&arns[0]).await.is_some());
    for task in &arns[1..] {
        let history = harness.history(task).await;
        assert_eq!(history.len(), 1, "{task}");
        assert!(!flag(&history[0].1, "truncated"));
        assert!(matches!(history[0].1.get("tags"), Some(AttributeValue::M(m)) if m.len() == 50));
    }
}

/// Regression (fault suite): DynamoDB refuses a whole BatchWriteItem for one invalid item; the
/// batch's other records must not fail with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_write_falls_back_to_one_put_per_record() {
    let proxy = FaultProxy::start(25).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    let (cluster, arns) = run_tasks(&harness.ecs, 4, &[("team", "fallback")]).await;
    proxy.add_rule(
        Rule::new(
            "BatchWriteItem",
            1.0,
            vec![Fault::ClientError("ValidationException")],
        )
        .limit(1),
    );
    let events = versions_of(&arns, &cluster, 1);

    assert_all_fresh(&common::process_events(&harness.pipeline, &events).await);
    assert_eq!(proxy.injected()["ValidationException"], 1);
    let history_puts = proxy
        .log()
        .iter()
        .filter(|e| e.operation == "PutItem" && e.succeeded() && !e.body.contains(SNAPSHOT_WRITE))
        // The cluster's catalog entry is a PutItem too.
        .filter(|e| !e.body.contains("\"CLUSTERS\""))
        .count();
    assert_eq!(
        history_puts, 4,
        "one PutItem per record of the refused batch"
    );
    for task in &arns {
        assert_eq!(harness.history(task).await.len(), 1, "{task}");
    }
}

/// Regression (fault suite): when DynamoDB executed a snapshot write but its answer was lost, the
/// SDK's retry found its own write and the fresh event was counted as `gap_filled`. (A gap fill in
/// the same situation still counts as `stale`: its own write cannot be told from an earlier
/// delivery of the same event. Either way the record is there.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_conditional_write_does_not_change_the_outcome() {
    let proxy = FaultProxy::start(26).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    let (cluster, arns) = run_tasks(&harness.ecs, 1, &[("team", "lost")]).await;
    let event = |version: u64| versions_of(&arns, &cluster, version).remove(0);

    // The snapshot write of a fresh v8, then the gap fill of a late v3, each answered by a reset
    // after DynamoDB executed it.
    for (write, version, expected) in [
        (SNAPSHOT_WRITE, 8, Outcome::Fresh { enriched: true }),
        ("V#0000000003", 3, Outcome::Stale),
    ] {
        proxy.add_rule(
            Rule::new("PutItem", 1.0, vec![Fault::Reset { forwarded: true }])
                .body_contains(write)
                .limit(1),
        );
        let outcomes = common::process_events(&harness.pipeline, &[event(version)]).await;
        assert_eq!(outcomes, [expected]);
    }
    assert_eq!(proxy.injected()["reset after forwarding"], 2);
}

/// Observability: the function's metrics line counts exactly the retries and throttles it met.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_metrics_count_the_throttles_and_retries_it_met() {
    let (tasks, _) = reference(1).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = create_table(&dynamodb).await;
    let proxy = FaultProxy::start(27).await;
    let function = start_function_at(&table, &proxy.endpoint).await;
    proxy.add_rule(
        Rule::new("PutItem", 1.0, vec![Fault::ProvisionedThroughputExceeded])
            .body_contains(SNAPSHOT_WRITE)
            .limit(2),
    );

    deliver_to_function(&function, &in_order_lifecycles(&tasks)[..1]).await;

    let metrics = function.metrics(1).await;
    assert_eq!(metrics.len(), 1, "{metrics:?}");
    assert_eq!(metrics[0]["Fresh"], 1.0);
    assert_eq!(metrics[0]["Throttles"], 2.0, "{}", metrics[0]);
    assert_eq!(metrics[0]["Retries"], 2.0, "{}", metrics[0]);
    assert!(metrics[0].get("Failed").is_none(), "zero, so left out");
    assert_eq!(
        proxy.injected()["ProvisionedThroughputExceededException"],
        2
    );
}

/// The direct (EventBridge → function) path under faults: a failed invocation is invoked again, as
/// Lambda's asynchronous retries do, and the end state is still that of in-order delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_invocations_under_faults_converge_when_retried() {
    let (tasks, expected) = reference(4).await;
    let proxy = FaultProxy::start(28).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    proxy.add_rule(Rule::new(
        "*",
        0.3,
        vec![
            Fault::Throttling,
            Fault::Reset { forwarded: true },
            Fault::ServerError {
                status: 503,
                forwarded: false,
            },
        ],
    ));
    let mut rng = Rng(28);
    let mut queue: std::collections::VecDeque<Value> =
        shuffled_with_copies(&in_order_lifecycles(&tasks), &mut rng).into();
    let (mut invocations, mut retryable_errors) = (0, 0);
    while let Some(event) = queue.pop_front() {
        invocations += 1;
        assert!(invocations < 1000, "direct invocations do not converge");
        let payload = serde_json::value::RawValue::from_string(event.to_string()).unwrap();
        match ecs_task_history::lambda::handle(&harness.pipeline, &payload).await {
            Ok(answer) => assert!(answer["outcome"].is_string(), "{answer}"),
            Err(err) => {
                assert!(err.retryable(), "{err}");
                retryable_errors += 1;
                queue.push_back(event);
            }
        }
    }
    proxy.clear_rules();
    assert!(retryable_errors > 0, "the faults reached the function");
    assert_snapshots_never_went_back(&proxy.log());
    assert_same_state(&expected, &table_state(&harness).await);
}
