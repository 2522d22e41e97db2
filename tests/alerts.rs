//! Failure alerts, end to end: the function binary (or several pipelines at once) records task
//! events and publishes to an SNS topic in moto; SQS queues subscribed to the topic show what a
//! subscriber receives. One alert per failed task, one summary per crash loop, none for a clean stop.

mod common;

use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use common::fault_proxy::{Fault, FaultProxy, Rule};
use common::function::{start_function_with, sum, Function};
use common::runtime_api::Reply;
use common::sns::{subscribe, topic, Received, Subscriber};
use common::story::{Container, Ending, Task, TaskStory};
use common::{create_table, run_tasks, sdk_config, sqs_batch, Rng};
use ecs_task_history::aws::Aws;
use ecs_task_history::config::Config;
use ecs_task_history::pipeline::Input;

const OOM_REASON: &str = "OutOfMemoryError: Container killed due to memory usage";

/// A task of `group` with real (emulated) ARNs, its app container essential.
fn task(task_arn: &str, cluster_arn: &str, group: &str) -> Task {
    let (region, account) = {
        let mut parts = task_arn.split(':').skip(3);
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    };
    Task {
        task_arn: task_arn.to_owned(),
        cluster_arn: cluster_arn.to_owned(),
        task_definition_arn: format!("arn:aws:ecs:{region}:{account}:task-definition/web:7"),
        group: group.to_owned(),
        started_by: "ecs-svc/1234567890123456789".to_owned(),
        cpu: "256".to_owned(),
        memory: "512".to_owned(),
        containers: vec![
            Container::new("app", "public.ecr.aws/acme/web:1.4.2", 192, 448, true),
            Container::new(
                "log-router",
                "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                64,
                64,
                false,
            ),
        ],
        overrides: serde_json::json!({"containerOverrides": []}),
        subnet_id: "subnet-0a1b2c3d".to_owned(),
        availability_zone: "us-east-1a".to_owned(),
    }
}

fn crashed(exit_code: i64, reason: &str) -> Ending {
    Ending::Crashed {
        after: Span::seconds(70),
        container: "app".to_owned(),
        exit_code,
        reason: reason.to_owned(),
    }
}

/// The start of the crash-loop window (5 min, aligned to the clock) that began 10 to 15 minutes
/// ago: recent enough to alert (60 min), and whole, so every stop placed in it stays in it.
fn window_start() -> DateTime<Utc> {
    let ten_ago = (Utc::now() - Span::minutes(10)).timestamp();
    DateTime::from_timestamp(ten_ago - ten_ago.rem_euclid(300), 0).unwrap()
}

/// Alerts on `topic_arn`, SNS reached at moto (or `endpoint`), plus `env`.
async fn function(table: &str, endpoint: &str, topic_arn: &str, env: &[(&str, &str)]) -> Function {
    let mut all = vec![("ALERT_TOPIC_ARN", topic_arn), ("RUST_LOG", "info")];
    all.extend_from_slice(env);
    start_function_with(table, endpoint, &all).await
}

/// Delivers SQS batches; the message ids each reply reports as failed.
async fn deliver(function: &Function, batches: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut failed = Vec::new();
    for bodies in batches {
        let payload = sqs_batch(bodies).to_string();
        let reply = tokio::time::timeout(Duration::from_secs(60), function.api.invoke(&payload))
            .await
            .expect("an answer within 60 s");
        failed.push(reply.batch_item_failures());
    }
    failed
}

fn kinds(alerts: &[Received]) -> Vec<&str> {
    let mut kinds: Vec<&str> = alerts.iter().map(Received::kind).collect();
    kinds.sort_unstable();
    kinds
}

struct Scene {
    config: aws_config::SdkConfig,
    table: String,
    topic: String,
    subscriber: Subscriber,
}

async fn scene() -> Scene {
    let config = sdk_config().await;
    let table = create_table(&aws_sdk_dynamodb::Client::new(&config)).await;
    let topic = topic(&config).await;
    let subscriber = subscribe(&config, &topic, None).await;
    Scene {
        config,
        table,
        topic,
        subscriber,
    }
}

#[tokio::test]
async fn a_failed_task_alerts_once_whatever_the_delivery_and_a_clean_stop_never() {
    let scene = scene().await;
    let ecs = aws_sdk_ecs::Client::new(&scene.config);
    let (cluster, arns) = run_tasks(&ecs, 2, &[("team", "payments")]).await;
    let created = Utc::now() - Span::minutes(4);
    let mut failing = TaskStory::new(
        task(&arns[0], &cluster, "service:web"),
        created,
        crashed(137, OOM_REASON),
        1,
    );
    let scaled_in = Ending::Stopped {
        after: Span::seconds(90),
        stop_code: "ServiceSchedulerInitiated".to_owned(),
        reason: "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)".to_owned(),
    };
    let mut clean = TaskStory::new(
        task(&arns[1], &cluster, "service:web"),
        created,
        scaled_in,
        2,
    );
    // Every version of both, each delivered twice (a redelivery is a new event id), shuffled,
    // in four batches.
    let mut bodies = Vec::new();
    for story in [&mut failing, &mut clean] {
        for version in 1..=story.last_version() {
            for delay in [0, 7] {
                bodies.push(story.event(version, Span::seconds(delay)).to_string());
            }
        }
    }
    Rng(7).shuffle(&mut bodies);
    let batches: Vec<Vec<String>> = bodies.chunks(8).map(<[String]>::to_vec).collect();
    let function = function(&scene.table, common::moto::endpoint(), &scene.topic, &[]).await;
    let failed = deliver(&function, &batches).await;
    assert!(failed.iter().all(Vec::is_empty), "{failed:?}");
    // The stop once more, as one EventBridge event straight to the function.
    let stop = failing
        .event(failing.last_version(), Span::seconds(30))
        .to_string();
    let reply = function.api.invoke(&stop).await;
    assert!(
        matches!(&reply, Reply::Response(v) if v["outcome"] == "duplicate"),
        "{reply:?}"
    );

    let alerts = scene.subscriber.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    let task_id = arns[0].rsplit('/').next().unwrap();
    let cluster_name = cluster.rsplit('/').next().unwrap();
    assert!(alert.subject.chars().count() <= 100, "{}", alert.subject);
    for expected in ["Out of memory (exit 137)", "service web", cluster_name] {
        assert!(
            alert.subject.contains(expected),
            "{expected} not in {}",
            alert.subject
        );
    }
    for expected in [
        arns[0].as_str(),
        "Task definition: arn:aws:ecs:us-east-1:",
        "EssentialContainerExited: Essential container in task exited",
        "Container app exit 137",
        OOM_REASON,
        "Container log-router exit 0",
        "team=payments",
        "Account 123456789012",
        "region us-east-1",
        &format!("console.aws.amazon.com/ecs/v2/clusters/{cluster_name}/tasks/{task_id}"),
        &format!("ecs-task-history task {task_id} --cluster {cluster}"),
    ] {
        assert!(
            alert.message.contains(expected),
            "{expected} not in:\n{}",
            alert.message
        );
    }
    let attribute = |name: &str| alert.attributes.get(name).map(String::as_str);
    assert_eq!(attribute("kind"), Some("out-of-memory"));
    assert_eq!(attribute("cluster"), Some(cluster_name));
    assert_eq!(attribute("service"), Some("web"));
    assert_eq!(attribute("stopCode"), Some("EssentialContainerExited"));
    assert_eq!(attribute("exitCode"), Some("137"));

    // One metrics line per invocation and one per kind sent.
    let invocations = function.metrics(batches.len() + 1).await;
    assert_eq!(invocations.len(), batches.len() + 1);
    assert_eq!(sum(&invocations, "AlertsSent"), 1.0);
    assert_eq!(sum(&invocations, "AlertsFailed"), 0.0);
    assert_eq!(
        function.alert_metrics(),
        [("out-of-memory".to_owned(), 1.0)]
    );
}

/// Several instances record the same stop at the same moment (concurrent deliveries of one event):
/// each finds it fresh, one wins the claim, one alert per task.
#[tokio::test]
async fn concurrent_pipelines_racing_on_the_same_stops_send_one_alert_per_task() {
    let scene = scene().await;
    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some(scene.table.clone()),
        "ALERT_TOPIC_ARN" => Some(scene.topic.clone()),
        _ => None,
    })
    .unwrap();
    let pipelines: Vec<_> = (0..6)
        .map(|_| Aws::new(scene.config.clone()).pipeline(&config))
        .collect();
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let created = Utc::now() - Span::minutes(4);
    let mut stops = Vec::new();
    for n in 0..5 {
        // A group each: five failures of one service would be a crash loop.
        let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}");
        let mut story = TaskStory::new(
            task(&arn, cluster, &format!("family:job-{n}")),
            created,
            crashed(1, "exit 1"),
            n,
        );
        stops.push(story.event(story.last_version(), Span::zero()).to_string());
    }
    let runs = pipelines.iter().map(|pipeline| {
        let inputs = stops
            .iter()
            .map(|text| Input::Body { source: None, text })
            .collect();
        pipeline.process(inputs)
    });
    let outcomes = futures::future::join_all(runs).await;
    let alerts = scene.subscriber.drain().await;
    assert_eq!(alerts.len(), 5, "{outcomes:?}\n{alerts:#?}");
    let mut subjects: Vec<&str> = alerts.iter().map(|a| a.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    assert_eq!(subjects.len(), 5, "one per task: {subjects:#?}");
    // A racer that found the claim held retries its event; the redelivery finds the alert sent.
    for pipeline in &pipelines {
        let inputs = stops
            .iter()
            .map(|text| Input::Body { source: None, text })
            .collect();
        let again = pipeline.process(inputs).await;
        assert!(again.iter().all(|o| o.is_recorded()), "{again:?}");
    }
    assert!(scene.subscriber.drain().await.is_empty());
}

#[tokio::test]
async fn a_failed_publish_is_retried_with_its_event_and_sends_one_alert() {
    let scene = scene().await;
    let proxy = FaultProxy::start(11).await;
    // Every attempt of the first publish fails (the function makes 2 here).
    proxy.add_rule(
        Rule::new(
            "Publish",
            1.0,
            vec![Fault::ServerError {
                status: 503,
                forwarded: false,
            }],
        )
        .limit(2),
    );
    let function = function(
        &scene.table,
        &proxy.endpoint,
        &scene.topic,
        &[("AWS_MAX_ATTEMPTS", "2")],
    )
    .await;
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef";
    let mut story = TaskStory::new(
        task(arn, cluster, "service:api"),
        Utc::now() - Span::minutes(3),
        crashed(1, "exit 1"),
        3,
    );
    let batch = vec![
        story.event(7, Span::zero()).to_string(),
        story.event(8, Span::zero()).to_string(),
    ];

    let first = deliver(&function, std::slice::from_ref(&batch)).await;
    assert_eq!(
        first[0].len(),
        2,
        "both events of the task are redelivered: {first:?}"
    );
    assert!(scene.subscriber.drain().await.is_empty());
    let second = deliver(&function, std::slice::from_ref(&batch)).await;
    assert!(second[0].is_empty(), "{second:?}");
    let third = deliver(&function, &[batch]).await;
    assert!(third[0].is_empty());
    let alerts = scene.subscriber.drain().await;
    assert_eq!(kinds(&alerts), ["exited-non-zero"], "{alerts:#?}");
    let lines = function.metrics(3).await;
    assert_eq!(sum(&lines, "AlertsFailed"), 1.0);
    assert_eq!(sum(&lines, "AlertsSent"), 1.0);
}

/// 30 tasks of one service fail within one 5-minute window (threshold 3): the first three alert on
/// their own, the fourth sends the window's one summary, the other 26 are recorded silently.
#[tokio::test]
async fn a_crash_loop_of_30_tasks_in_5_minutes_sends_three_alerts_and_one_summary() {
    let scene = scene().await;
    let function = function(&scene.table, common::moto::endpoint(), &scene.topic, &[]).await;
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let start = window_start();
    let mut bodies = Vec::new();
    for n in 0..30_u64 {
        let arn = format!(
            "arn:aws:ecs:us-east-1:123456789012:task/prod/{:032x}",
            0xc0ffee + n
        );
        // Created 5 s into the window and 4 s apart; each crashes 20 s after its creation.
        let created = start + Span::seconds(5 + 4 * n as i64);
        let ending = Ending::Crashed {
            after: Span::seconds(20),
            container: "app".to_owned(),
            exit_code: 137,
            reason: OOM_REASON.to_owned(),
        };
        let mut story = TaskStory::new(task(&arn, cluster, "service:web"), created, ending, n);
        let stopped = story.time(story.last_version());
        assert!(
            stopped < start + Span::minutes(5),
            "{stopped} is past the window of {start}"
        );
        bodies.push(story.event(4, Span::zero()).to_string());
        bodies.push(story.event(story.last_version(), Span::zero()).to_string());
    }
    let batches: Vec<Vec<String>> = bodies.chunks(10).map(<[String]>::to_vec).collect();
    let failed = deliver(&function, &batches).await;
    assert!(failed.iter().all(Vec::is_empty), "{failed:?}");

    let alerts = scene.subscriber.drain().await;
    assert_eq!(
        kinds(&alerts),
        [
            "crash-loop",
            "out-of-memory",
            "out-of-memory",
            "out-of-memory"
        ],
        "{alerts:#?}"
    );
    let summary = alerts.iter().find(|a| a.kind() == "crash-loop").unwrap();
    assert!(
        summary.subject.starts_with("service web in prod: "),
        "{}",
        summary.subject
    );
    // The failures the window held when the summary went out: the fourth, or a few more when
    // tasks of one batch, recorded concurrently, crossed the threshold together.
    let counted: usize = summary.attributes["failures"].parse().unwrap();
    assert!((4..=10).contains(&counted), "{}", summary.subject);
    let expected = format!("{counted} tasks failed in 5 min, {counted} × exit 137 out-of-memory");
    assert!(summary.subject.contains(&expected), "{}", summary.subject);
    assert!(
        summary.message.contains("ecs-task-history cluster"),
        "{}",
        summary.message
    );
    assert_eq!(
        summary.attributes.get("service").map(String::as_str),
        Some("web")
    );
    let lines = function.metrics(batches.len()).await;
    assert_eq!(sum(&lines, "AlertsSuppressed"), 26.0);
}

#[tokio::test]
async fn a_filter_policy_on_kind_delivers_only_out_of_memory_alerts() {
    let scene = scene().await;
    let oom_only = subscribe(
        &scene.config,
        &scene.topic,
        Some(r#"{"kind": ["out-of-memory"]}"#),
    )
    .await;
    let function = function(&scene.table, common::moto::endpoint(), &scene.topic, &[]).await;
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
    let created = Utc::now() - Span::minutes(5);
    let endings = [
        crashed(137, OOM_REASON),
        Ending::FailedToStart {
            reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
                .to_owned(),
        },
        crashed(2, "exit 2"),
    ];
    let mut bodies = Vec::new();
    for (n, ending) in endings.into_iter().enumerate() {
        let arn = format!(
            "arn:aws:ecs:us-east-1:123456789012:task/prod/{:032x}",
            0xf00d + n
        );
        let mut story = TaskStory::new(
            task(&arn, cluster, &format!("service:svc-{n}")),
            created,
            ending,
            n as u64,
        );
        bodies.push(story.event(story.last_version(), Span::zero()).to_string());
    }
    let failed = deliver(&function, &[bodies]).await;
    assert!(failed[0].is_empty(), "{failed:?}");
    let all = scene.subscriber.drain().await;
    let kinds_sent = kinds(&all);
    assert_eq!(kinds_sent.len(), 3, "{all:#?}");
    assert!(kinds_sent.contains(&"out-of-memory") && kinds_sent.contains(&"exited-non-zero"));
    assert!(all
        .iter()
        .any(|a| a.attributes.get("stopCode").map(String::as_str) == Some("TaskFailedToStart")));
    let filtered = oom_only.drain().await;
    assert_eq!(kinds(&filtered), ["out-of-memory"], "{filtered:#?}");
}

/// The function's policy statements, each with the condition it is under (`!If [Cond, …]`).
fn policy_statements() -> Vec<(Option<String>, String)> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let start = template.find("  TaskHistoryFunction:").unwrap();
    let policies = start + template[start..].find("      Policies:").unwrap();
    let end = policies + template[policies..].find("      Events:").unwrap();
    let mut statements: Vec<(Option<String>, String)> = Vec::new();
    let mut condition = None;
    let mut lines = template[policies..end].lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "- !If" {
            condition = lines
                .next()
                .map(|c| c.trim().trim_start_matches("- ").to_owned());
            continue;
        }
        if trimmed.starts_with("- Sid:") {
            statements.push((condition.take(), String::new()));
        }
        if trimmed == "- !Ref AWS::NoValue" {
            continue;
        }
        if let Some((_, text)) = statements.last_mut() {
            text.push_str(trimmed);
            text.push('\n');
        }
    }
    statements
}

#[test]
fn the_template_grants_sns_publish_on_the_alert_topic_only_when_alerts_are_on() {
    let statements = policy_statements();
    assert!(statements.len() >= 5, "{statements:#?}");
    let mut publish = 0;
    for (condition, text) in &statements {
        let alerting = text.contains("sns:") || text.contains("Sid: AlertBookkeepingItems");
        if alerting {
            assert_eq!(condition.as_deref(), Some("AlertsOn"), "{text}");
        }
        if text.contains("sns:") {
            publish += 1;
            assert!(
                text.contains("Action: sns:Publish\n"),
                "only Publish: {text}"
            );
            assert!(
                text.contains(
                    "Resource: !If [CreatesAlertTopic, !Ref FailureAlertTopic, !Ref AlertTopicArn]"
                ),
                "{text}"
            );
        }
    }
    assert_eq!(publish, 1);
    let bookkeeping = statements
        .iter()
        .find(|(_, t)| t.contains("Sid: AlertBookkeepingItems"))
        .unwrap();
    for action in ["dynamodb:UpdateItem", "dynamodb:GetItem"] {
        assert!(
            bookkeeping.1.contains(action),
            "{action}: {}",
            bookkeeping.1
        );
    }
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    assert!(template
        .contains("AlertsOn: !Or [!Condition CreatesAlertTopic, !Condition HasAlertTopicArn]"));
}
