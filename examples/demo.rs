//! `make demo`: the real function binary and CLI against local emulators, on a small story of ECS
//! tasks. Built on the test kit (tests/common): the emulators start and stop the way the tests'
//! do, the world is made with the Rust SDK in moto, the events are the kit's task stories.
//!
//! Sections run in order (`SECTIONS`); each is one function of the shared `Demo`, so a new one
//! (another account, an alert, a report) is one function and one line.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, Utc};
use common::accounts::{Place, HOME, READER_ROLE};
use common::fargate::{self, Network, Run};
use common::function::{start_function_logged, Function};
use common::runtime_api::Reply;
use common::sns::{subscribe, topic, Subscriber};
use common::story::{container_instance_event, Container, Ending, Task, TaskStory};
use common::Rng;
use futures::future::BoxFuture;
use serde_json::Value;

const TABLE: &str = "ecs-task-history-demo";
const CLUSTER: &str = "demo";
const OLD_DEPLOYMENT: &str = "ecs-svc/7418852096310258";
const NEW_DEPLOYMENT: &str = "ecs-svc/8561397204475126";
const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";
/// The outcomes, as the metrics line names them and as the function's answers do.
const OUTCOMES: [(&str, &str); 7] = [
    ("Fresh", "fresh"),
    ("Duplicate", "duplicate"),
    ("Stale", "stale"),
    ("GapFilled", "gap_filled"),
    ("Skipped", "skipped"),
    ("Rejected", "rejected"),
    ("Failed", "failed"),
];

type Section = for<'a> fn(&'a mut Demo) -> BoxFuture<'a, Result<(), String>>;

/// A section: a title and an `async fn(&mut Demo) -> Result<(), String>`.
macro_rules! section {
    ($title:expr, $run:ident) => {
        ($title, |demo| Box::pin($run(demo)))
    };
}

/// What `make demo` shows, in order.
const SECTIONS: [(&str, Section); 7] = [
    section!("emulators and the history table", emulators),
    section!("the world in moto: cluster, tagged tasks", world),
    section!("events, in the order they are fed", events),
    section!("the function, invoked with each payload", invoke_all),
    section!(
        "failure alerts, as a subscriber of the SNS topic received them",
        alerts
    ),
    section!(
        "an organization: a member account, another region",
        organization
    ),
    section!(
        "the history, read with the CLI; the timeline report",
        read_history
    ),
];

/// One payload to feed, and what it must do.
struct Invocation {
    file: String,
    payload: Value,
    /// `direct` or `SQS <n>`.
    shape: String,
    what: String,
    /// A direct invocation's `outcome`; SQS batches must answer no batch item failure.
    answer: Option<&'static str>,
    /// Outcome label → count, as the function's metrics line must say.
    counts: BTreeMap<&'static str, u64>,
}

/// The state the sections share.
struct Demo {
    /// Where cargo put the binaries (target/debug) and where the demo writes (target/demo).
    bin: PathBuf,
    out: PathBuf,
    ecs: Option<aws_sdk_ecs::Client>,
    /// Label (`web-1`, `batch-job`, …) and life of each task.
    stories: Vec<(&'static str, TaskStory)>,
    feed: Vec<Invocation>,
    /// The function, still running once fed, for sections that invoke it again.
    function: Option<Function>,
    /// The alert topic, and an SQS queue subscribed to it.
    topic: String,
    subscriber: Option<Subscriber>,
    /// Invocations that did not do what was expected.
    mismatches: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .expect("the example's directory");
    let out = bin.parent().expect("the target directory").join("demo");
    let mut demo = Demo {
        bin,
        out,
        ecs: None,
        stories: Vec::new(),
        feed: Vec::new(),
        function: None,
        topic: String::new(),
        subscriber: None,
        mismatches: Vec::new(),
    };
    let start = Instant::now();
    let mut timings = Vec::new();
    for (n, (title, section)) in SECTIONS.iter().enumerate() {
        println!("\n== {}. {title}", n + 1);
        let begun = Instant::now();
        if let Err(err) = section(&mut demo).await {
            finish(&demo, Some(err));
        }
        timings.push(format!("{} {:.1} s", n + 1, begun.elapsed().as_secs_f64()));
    }
    println!(
        "\ntimings: {} · total {:.1} s",
        timings.join(" · "),
        start.elapsed().as_secs_f64()
    );
    finish(&demo, None);
}

/// The closing lines: what was written, and whether every invocation did what it should. Exits
/// 1 on an error or a mismatch; the emulators and the function die with this process
/// (PR_SET_PDEATHSIG), however it ends.
fn finish(demo: &Demo, error: Option<String>) {
    println!("files: events {}/", relative(&demo.out.join("events")));
    let log = relative(&demo.out.join("function.log"));
    println!("       function log (JSON lines) {log}");
    println!(
        "       timeline report {}",
        relative(&demo.out.join("report.html"))
    );
    if !demo.mismatches.is_empty() {
        eprintln!(
            "demo: {} of {} invocations did not answer as expected: {}",
            demo.mismatches.len(),
            demo.feed.len(),
            demo.mismatches.join(", ")
        );
    }
    if let Some(error) = &error {
        eprintln!("demo: {error}");
    }
    if error.is_some() || !demo.mismatches.is_empty() {
        std::process::exit(1);
    }
    println!(
        "demo: all {} invocations answered as expected",
        demo.feed.len()
    );
}

/// A path as shown: relative to the workspace when it is inside it.
fn relative(path: &std::path::Path) -> String {
    let shown = path.strip_prefix(common::root()).unwrap_or(path);
    shown.display().to_string()
}

/// moto (ECS, SQS, STS) and dynoxide (DynamoDB) on free 127.0.0.1 ports, as the tests start them;
/// a clean output directory; the table with the production schema.
async fn emulators(demo: &mut Demo) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(&demo.out);
    std::fs::create_dir_all(demo.out.join("events")).map_err(|err| err.to_string())?;
    println!(
        "  moto      {}  (ECS, SQS, STS, SNS)",
        common::moto::endpoint()
    );
    println!("  dynoxide  {}  (DynamoDB)", common::dynamodb_endpoint());
    let config = common::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    ecs_task_history::aws::dynamodb::schema::create_table(&dynamodb, TABLE)
        .await
        .map_err(|err| format!("create table {TABLE}: {err}"))?;
    println!("  table     {TABLE} (schema::create_table: pk/sk, the byCluster index, TTL)");
    demo.topic = topic(&config).await;
    demo.subscriber = Some(subscribe(&config, &demo.topic, None).await);
    println!(
        "  topic     {} (alerts), an SQS queue subscribed to it",
        demo.topic
    );
    demo.ecs = Some(aws_sdk_ecs::Client::new(&config));
    Ok(())
}

/// A task definition and the tasks run from it, one label each.
struct Launch {
    labels: &'static [&'static str],
    family: &'static str,
    cpu: &'static str,
    memory: &'static str,
    containers: Vec<Container>,
    group: &'static str,
    started_by: &'static str,
    commands: &'static [(&'static str, &'static [&'static str])],
    tags: &'static [(&'static str, &'static str)],
}

/// The `web` service's three tasks, then a new revision of `web` whose task will not start, and
/// the nightly `batch-job`; every task tagged, so DescribeTasks has tags to give.
fn launches(ecr: &str) -> [Launch; 3] {
    let web_tags = &[("team", "payments"), ("env", "demo"), ("service", "web")];
    let web = |labels, tag: &str, started_by| Launch {
        labels,
        family: "web",
        cpu: "512",
        memory: "1024",
        containers: vec![Container::new(
            "web",
            &format!("{ecr}/web:{tag}"),
            0,
            1024,
            true,
        )],
        group: "service:web",
        started_by,
        commands: &[],
        tags: web_tags,
    };
    let fluent_bit = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable";
    [
        web(&["web-1", "web-2", "web-3"], "1.42.0", OLD_DEPLOYMENT),
        web(&["web-4"], "1.43.0", NEW_DEPLOYMENT),
        Launch {
            labels: &["batch-job"],
            family: "batch-job",
            cpu: "1024",
            memory: "3072",
            containers: vec![
                Container::new(
                    "job",
                    &format!("{ecr}/batch-job:2026.11.3"),
                    1024,
                    2048,
                    true,
                ),
                Container::new("log-router", fluent_bit, 0, 256, false),
            ],
            group: "family:batch-job",
            started_by: "events-rule/nightly-rollup",
            commands: &[(
                "job",
                &["python", "-m", "jobs.nightly_rollup", "--date", "yesterday"],
            )],
            tags: &[("team", "data"), ("env", "demo"), ("service", "batch-job")],
        },
    ]
}

/// Cluster `demo`, the task definitions and the tasks of [`launches`], for real in moto.
async fn world(demo: &mut Demo) -> Result<(), String> {
    let ecs = demo.ecs.as_ref().expect("emulators first");
    let network = Network::default_vpc();
    let cluster_arn = fargate::cluster(ecs, CLUSTER).await;
    println!("  cluster   {cluster_arn}");
    let account = cluster_arn.split(':').nth(4).unwrap_or_default();
    let ecr = format!("{account}.dkr.ecr.us-east-1.amazonaws.com");
    let mut tasks = BTreeMap::new();
    for launch in launches(&ecr) {
        let (cpu, memory) = (launch.cpu, launch.memory);
        let definition =
            fargate::task_definition(ecs, launch.family, cpu, memory, &launch.containers).await;
        let run = Run {
            cluster_arn: &cluster_arn,
            task_definition_arn: &definition,
            cpu,
            memory,
            containers: &launch.containers,
            count: launch.labels.len() as i32,
            group: launch.group,
            started_by: launch.started_by,
            commands: launch.commands,
            tags: launch.tags,
        };
        let revision = definition.rsplit('/').next().unwrap_or_default();
        let tags: Vec<String> = launch
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for (label, task) in launch
            .labels
            .iter()
            .zip(fargate::run(ecs, &run, &network).await)
        {
            println!(
                "  {label:<9} {}  {:<17} {revision:<12} {}",
                task.id(),
                launch.group,
                tags.join(" ")
            );
            tasks.insert(*label, task);
        }
    }
    demo.stories = stories(&tasks);
    Ok(())
}

/// Each task's life. The story happened over the last hour, so that TTLs lie in the future and
/// `--since 2h` finds it.
fn stories(tasks: &BTreeMap<&str, Task>) -> Vec<(&'static str, TaskStory)> {
    let t0 = Utc::now() - Duration::minutes(50);
    let replaced = Ending::Stopped {
        after: Duration::minutes(31),
        stop_code: "ServiceSchedulerInitiated".into(),
        reason: format!("Scaling activity initiated by (deployment {OLD_DEPLOYMENT})"),
    };
    let oom = Ending::Crashed {
        after: Duration::minutes(17),
        container: "job".into(),
        exit_code: 137,
        reason: OOM.into(),
    };
    let image = &tasks["web-4"].containers[0].image;
    let pull_failed = Ending::FailedToStart {
        reason: format!(
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): \
             failed to resolve ref {image}: not found"
        ),
    };
    // (label, seconds after t0 it was created, how it ends)
    let lives = [
        ("web-1", 0, replaced),
        ("web-2", 2, Ending::Running),
        ("web-3", 5, Ending::Running),
        ("batch-job", 189, oom),
        ("web-4", 1812, pull_failed),
    ];
    lives
        .into_iter()
        .zip(1..)
        .map(|((label, offset, ending), seed)| {
            let created = t0 + Duration::seconds(offset);
            (
                label,
                TaskStory::new(tasks[label].clone(), created, ending, seed),
            )
        })
        .collect()
}

/// One payload of the feed.
enum Step {
    /// (file, task, version, expected outcome, note): one event, EventBridge → Lambda.
    Direct(&'static str, &'static str, u64, &'static str, &'static str),
    /// The same, delivered again later under a new event id.
    Redelivered(&'static str, &'static str, u64, &'static str, &'static str),
    /// (file, versions, copies, note): an SQS batch of these versions of these tasks plus a
    /// redelivered copy of each of `copies`, shuffled.
    Sqs(
        &'static str,
        &'static [(&'static str, u64)],
        &'static [(&'static str, u64)],
        &'static str,
    ),
    /// An ECS Container Instance State Change, which the function skips.
    Other(&'static str),
}

/// The feed, in order: single direct invocations and SQS batches (shuffled, with redelivered
/// copies), an out-of-order pair (web-3 v3 before v2), redeliveries, one event of another kind.
#[rustfmt::skip]
const FEED: [Step; 13] = [
    Step::Direct("01-direct-web-1-v1.json", "web-1", 1, "fresh", "first sight of the task"),
    Step::Direct("02-direct-web-1-v2.json", "web-1", 2, "fresh", ""),
    Step::Sqs("03-sqs-web-1-v3v4-web-2-v1v4.json",
        &[("web-1", 3), ("web-1", 4), ("web-2", 1), ("web-2", 2), ("web-2", 3), ("web-2", 4)],
        &[("web-2", 2), ("web-1", 4)], "two tasks at once"),
    Step::Direct("04-direct-web-3-v1.json", "web-3", 1, "fresh", ""),
    Step::Direct("05-direct-web-3-v3.json", "web-3", 3, "fresh", "v2 is late: arrives after v3"),
    Step::Direct("06-direct-web-3-v2-late.json", "web-3", 2, "gap_filled",
        "the late one: fills the gap, snapshot stays at v3"),
    Step::Direct("07-direct-web-3-v4.json", "web-3", 4, "fresh", ""),
    Step::Sqs("08-sqs-batch-job-v1-v8.json",
        &[("batch-job", 1), ("batch-job", 2), ("batch-job", 3), ("batch-job", 4),
          ("batch-job", 5), ("batch-job", 6), ("batch-job", 7), ("batch-job", 8)],
        &[("batch-job", 4), ("batch-job", 8)], "the whole batch job: OOM-killed"),
    Step::Redelivered("09-direct-web-1-v4-redelivered.json", "web-1", 4, "duplicate",
        "a redelivery (new event id) of a recorded version"),
    Step::Sqs("10-sqs-web-1-v5-v8.json",
        &[("web-1", 5), ("web-1", 6), ("web-1", 7), ("web-1", 8)],
        &[("web-1", 6)], "the service replaces web-1"),
    Step::Sqs("11-sqs-web-4-v1-v5.json",
        &[("web-4", 1), ("web-4", 2), ("web-4", 3), ("web-4", 4), ("web-4", 5)],
        &[("web-4", 5)], "the new revision's task cannot pull its image"),
    Step::Redelivered("12-direct-web-3-v2-redelivered.json", "web-3", 2, "stale",
        "older than the snapshot and already recorded"),
    Step::Other("13-direct-container-instance.json"),
];

/// Builds every payload of [`FEED`] and writes it to target/demo/events/.
async fn events(demo: &mut Demo) -> Result<(), String> {
    let mut feed = Feed {
        stories: std::mem::take(&mut demo.stories),
        rng: Rng(7),
        items: Vec::new(),
    };
    for step in &FEED {
        match *step {
            Step::Direct(file, task, version, expect, note) => {
                feed.direct(file, task, version, expect, note, Duration::seconds(1))
            }
            Step::Redelivered(file, task, version, expect, note) => {
                feed.direct(file, task, version, expect, note, Duration::seconds(95))
            }
            Step::Sqs(file, versions, copies, note) => feed.batch(file, versions, copies, note),
            Step::Other(file) => feed.container_instance(file),
        }
    }
    for item in &feed.items {
        let path = demo.out.join("events").join(&item.file);
        let text = serde_json::to_string_pretty(&item.payload).map_err(|err| err.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|err| format!("{}: {err}", path.display()))?;
        println!("  {:<36} {:<8} {}", item.file, item.shape, item.what);
    }
    println!(
        "  (SQS records in delivery order; * = that version twice in the batch, two event ids)"
    );
    demo.stories = feed.stories;
    demo.feed = feed.items;
    Ok(())
}

/// Builds the feed's payloads from the stories.
struct Feed {
    stories: Vec<(&'static str, TaskStory)>,
    rng: Rng,
    items: Vec<Invocation>,
}

impl Feed {
    fn story(&mut self, label: &str) -> &mut TaskStory {
        let found = self.stories.iter_mut().find(|(name, _)| *name == label);
        &mut found.expect("a task of the story").1
    }

    fn push(
        &mut self,
        file: &str,
        payload: Value,
        shape: String,
        what: String,
        answer: Option<&'static str>,
        counts: &[(&'static str, u64)],
    ) {
        self.items.push(Invocation {
            file: file.to_owned(),
            payload,
            shape,
            what,
            answer,
            counts: counts.iter().copied().collect(),
        });
    }

    /// One event, delivered by EventBridge `delay` after the change.
    fn direct(
        &mut self,
        file: &str,
        label: &str,
        version: u64,
        expect: &'static str,
        note: &str,
        delay: Duration,
    ) {
        let story = self.story(label);
        let status = story.status(version);
        let event = story.event(version, delay);
        let what = format!("{label} v{version} {status:<14} {note}");
        self.push(
            file,
            event,
            "direct".into(),
            what.trim_end().to_owned(),
            Some(expect),
            &[(expect, 1)],
        );
    }

    /// An SQS batch of these versions plus a redelivered copy of each of `copies`, shuffled: every
    /// version is fresh once, each copy a duplicate.
    fn batch(&mut self, file: &str, versions: &[(&str, u64)], copies: &[(&str, u64)], note: &str) {
        let mut records: Vec<(String, Value)> = Vec::new();
        for (n, (label, version)) in versions.iter().chain(copies).enumerate() {
            let delay = Duration::seconds(if n < versions.len() { 1 } else { 60 });
            let twice = copies.contains(&(*label, *version));
            let name = format!("{label}:v{version}{}", if twice { "*" } else { "" });
            records.push((name, self.story(label).event(*version, delay)));
        }
        self.rng.shuffle(&mut records);
        let bodies: Vec<String> = records.iter().map(|(_, event)| event.to_string()).collect();
        let names: Vec<&str> = records.iter().map(|(name, _)| name.as_str()).collect();
        let what = format!("{}  ({note})", names.join(" "));
        let counts = [
            ("fresh", versions.len() as u64),
            ("duplicate", copies.len() as u64),
        ];
        let counts = if copies.is_empty() {
            &counts[..1]
        } else {
            &counts[..]
        };
        let shape = format!("SQS {}", records.len());
        self.push(file, common::sqs_batch(&bodies), shape, what, None, counts);
    }

    /// An event of another kind, which the function skips.
    fn container_instance(&mut self, file: &str) {
        let story = &self.stories[0].1;
        let (cluster, time) = (
            story.task.cluster_arn.clone(),
            story.time(1) + Duration::minutes(45),
        );
        let event = container_instance_event(&cluster, time, &mut self.rng);
        let what = "ECS Container Instance State Change (not a task event)".to_owned();
        self.push(
            file,
            event,
            "direct".into(),
            what,
            Some("skipped"),
            &[("skipped", 1)],
        );
    }
}

/// Starts the function, feeds it every payload in order, checks each answer and metrics line.
async fn invoke_all(demo: &mut Demo) -> Result<(), String> {
    let log = demo.out.join("function.log");
    let bootstrap = demo.bin.join("bootstrap");
    if !bootstrap.exists() {
        return Err(format!(
            "{} missing: run `cargo build --workspace --bins`",
            bootstrap.display()
        ));
    }
    // As the central account of an organization deploys it: its own account, the members' role.
    let env = [
        ("RUST_LOG", "info"),
        ("ALERT_TOPIC_ARN", demo.topic.as_str()),
        ("ACCOUNT_ID", HOME),
        ("MEMBER_ROLE_NAME", READER_ROLE),
    ];
    let mut function = start_function_logged(&bootstrap, TABLE, &env, &log).await;
    println!(
        "  {} behind a local Runtime API, RUST_LOG=info, ALERT_TOPIC_ARN set, log {}",
        relative(&bootstrap),
        relative(&log)
    );
    println!("  (outcomes and AWS requests: the function's own metrics line, CloudWatch EMF)");
    let mut lines = Vec::new();
    for (n, item) in demo.feed.iter().enumerate() {
        let reply = invoke(&mut function, &item.payload.to_string())
            .await
            .map_err(|err| format!("{}: {err} (see {})", item.file, relative(&log)))?;
        let metrics = function.metrics(n + 1).await;
        let line = metrics.get(n).cloned().unwrap_or(Value::Null);
        let problems = check(item, &reply, &line);
        println!(
            "  {:<36} {:<6} → {:<22} {}",
            item.file,
            item.shape,
            answer(&reply),
            usage(&line)
        );
        for problem in &problems {
            println!("  {:<36} !! {problem}", "");
        }
        if !problems.is_empty() {
            demo.mismatches.push(item.file.clone());
        }
        lines.push(line);
    }
    totals(&lines);
    demo.function = Some(function);
    Ok(())
}

/// One invocation's answer. The Runtime API waits for ever, so a function that died or hangs
/// must end the wait.
async fn invoke(function: &mut Function, payload: &str) -> Result<Reply, String> {
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        function.api.invoke(payload),
    );
    tokio::select! {
        reply = answer => reply.map_err(|_| "no answer within 60 s".to_owned()),
        status = function.child.wait() => {
            let status = status.map_or_else(|err| err.to_string(), |status| status.to_string());
            Err(format!("the function exited ({status})"))
        }
    }
}

/// The answer in a few words: a direct invocation's outcome, a batch's failures (message ids),
/// or the error's type (its message is in the function log).
fn answer(reply: &Reply) -> String {
    match reply {
        Reply::Response(value) if value.get("batchItemFailures").is_some() => {
            let failures = value["batchItemFailures"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let ids: Vec<&str> = failures
                .iter()
                .filter_map(|failure| failure["itemIdentifier"].as_str())
                .collect();
            format!("batchItemFailures [{}]", ids.join(","))
        }
        Reply::Response(value) => value["outcome"].as_str().unwrap_or("?").to_owned(),
        Reply::Error(value) => format!("error {}", value["errorType"].as_str().unwrap_or("?")),
    }
}

fn metric(line: &Value, name: &str) -> f64 {
    line[name].as_f64().unwrap_or_default()
}

/// The outcome counts (labels) a metrics line reports.
fn outcome_counts(line: &Value) -> BTreeMap<&'static str, u64> {
    OUTCOMES
        .iter()
        .map(|(name, label)| (*label, metric(line, name) as u64))
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// Outcome counts as `fresh 6 duplicate 2`, in the order of [`OUTCOMES`].
fn show(counts: &BTreeMap<&str, u64>) -> String {
    let shown: Vec<String> = OUTCOMES
        .iter()
        .filter_map(|(_, label)| Some(format!("{label} {}", counts.get(label)?)))
        .collect();
    shown.join(" ")
}

/// Outcomes and AWS cost of one invocation, as its metrics line says.
fn usage(line: &Value) -> String {
    if line.is_null() {
        return "(no metrics line)".into();
    }
    format!(
        "{:<20} | DynamoDB {} DescribeTasks {} | WCU {} RCU {}",
        show(&outcome_counts(line)),
        metric(line, "DynamoDbRequests"),
        metric(line, "DescribeTasksCalls"),
        metric(line, "WriteCapacityUnits"),
        metric(line, "ReadCapacityUnits"),
    )
}

/// What differs from the expectation, if anything.
fn check(item: &Invocation, reply: &Reply, line: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let answered = match (reply, item.answer) {
        (Reply::Response(value), Some(outcome)) => value["outcome"] == outcome,
        (Reply::Response(value), None) => value["batchItemFailures"]
            .as_array()
            .is_some_and(Vec::is_empty),
        (Reply::Error(_), _) => false,
    };
    if !answered {
        problems.push(match item.answer {
            Some(outcome) => format!("expected the answer {outcome}"),
            None => "expected no batch item failure".to_owned(),
        });
    }
    if line.is_null() {
        problems.push("no metrics line".into());
    } else if outcome_counts(line) != item.counts {
        problems.push(format!("expected the outcomes {}", show(&item.counts)));
    }
    problems
}

/// Totals over the feed: events, invocations, AWS requests and write units per task event.
fn totals(lines: &[Value]) {
    let sum = |name| common::function::sum(lines, name);
    let received = sum("EventsReceived");
    let task_events = received - sum("Skipped");
    let requests = sum("DynamoDbRequests") + sum("DescribeTasksCalls") + sum("StsCalls");
    let counts: Vec<String> = OUTCOMES
        .iter()
        .filter(|(name, _)| sum(name) > 0.0)
        .map(|(name, label)| format!("{label} {}", sum(name)))
        .collect();
    println!(
        "  totals: {received} events ({task_events} task state changes) in {} invocations: {}",
        lines.len(),
        counts.join(", ")
    );
    println!(
        "          AWS requests {requests} = {:.2} per task event (DynamoDB {}, DescribeTasks {}); \
         write units {} = {:.2} per task event; read units {}",
        requests / task_events.max(1.0),
        sum("DynamoDbRequests"),
        sum("DescribeTasksCalls"),
        sum("WriteCapacityUnits"),
        sum("WriteCapacityUnits") / task_events.max(1.0),
        sum("ReadCapacityUnits"),
    );
}

/// What the alert topic's subscriber received: one message per failed task (the OOM-killed batch
/// job, the web task that could not pull its image), none for the scaled-in one, none for any of
/// the redeliveries.
async fn alerts(demo: &mut Demo) -> Result<(), String> {
    let subscriber = demo.subscriber.as_ref().ok_or("no subscriber")?;
    let received = subscriber.drain().await;
    for alert in &received {
        println!("\n  Subject: {}", alert.subject);
        let attributes: Vec<String> = alert
            .attributes
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        println!("  Attributes: {}", attributes.join(" "));
        for line in alert.message.lines() {
            println!("  | {line}");
        }
    }
    let mut kinds: Vec<&str> = received.iter().map(|alert| alert.kind()).collect();
    kinds.sort_unstable();
    println!("\n  {} alerts: {}", received.len(), kinds.join(", "));
    if kinds.len() != 2 || !kinds.contains(&"out-of-memory") {
        demo.mismatches.push(format!(
            "alerts: expected the OOM kill and the failed start, got {kinds:?}"
        ));
    }
    Ok(())
}

/// Two more places of one organization: a task in member account 222222222222 (eu-west-1),
/// described through the reader role the function assumes there, and one in the central account's
/// us-west-2, described in that region. One SQS batch brings both (the organization's bus
/// forwards every account's and region's events to the one queue); the CLI lists every cluster the
/// table holds, and reads the member's task by ARN.
async fn organization(demo: &mut Demo) -> Result<(), String> {
    let member = Place::member("222222222222", "eu-west-1").await;
    let west = Place::home("us-west-2").await;
    let mut bodies = Vec::new();
    let mut member_task = String::new();
    for (n, (place, team)) in [(&member, "search"), (&west, "ml")].into_iter().enumerate() {
        let (cluster, arns) = place.run_tasks(1, &[("team", team), ("env", "demo")]).await;
        println!(
            "  {} {:<10} task {}  tags team={team} env=demo",
            place.account, place.region, arns[0]
        );
        let task = Task {
            task_arn: arns[0].clone(),
            cluster_arn: cluster.clone(),
            task_definition_arn: format!(
                "arn:aws:ecs:{}:{}:task-definition/{team}:1",
                place.region, place.account
            ),
            group: format!("service:{team}"),
            started_by: "ecs-svc/4242424242424242".into(),
            cpu: "256".into(),
            memory: "512".into(),
            containers: vec![Container::new(
                team,
                "public.ecr.aws/acme/app:1",
                256,
                512,
                true,
            )],
            overrides: serde_json::json!({"containerOverrides": []}),
            subnet_id: "subnet-0b1c2d3e".into(),
            availability_zone: format!("{}a", place.region),
        };
        let created = Utc::now() - Duration::minutes(20);
        let mut story = TaskStory::new(task, created, Ending::Running, 40 + n as u64);
        for version in 1..=story.last_version() {
            bodies.push(story.event(version, Duration::zero()).to_string());
        }
        if member_task.is_empty() {
            member_task = arns[0].clone();
        }
    }
    let batch = common::sqs_batch(&bodies);
    let function = demo
        .function
        .as_mut()
        .ok_or("the function is not running")?;
    let reply = invoke(function, &batch.to_string()).await?;
    println!("  SQS {} → {}", bodies.len(), answer(&reply));
    if !matches!(&reply, Reply::Response(v) if v["batchItemFailures"].as_array().is_some_and(Vec::is_empty))
    {
        demo.mismatches.push("organization batch".into());
    }
    cli(demo, &["clusters"]).await?;
    cli(demo, &["task", &member_task]).await
}

/// The on-call view, with the CLI binary: the batch job's timeline, then the cluster's failures.
async fn read_history(demo: &mut Demo) -> Result<(), String> {
    let job = demo.stories.iter().find(|(label, _)| *label == "batch-job");
    let job_id = job
        .map(|(_, story)| story.task.id().to_owned())
        .unwrap_or_default();
    cli(demo, &["task", &job_id, "--cluster", CLUSTER]).await?;
    cli(demo, &["cluster", CLUSTER, "--since", "2h", "--failed"]).await?;
    report(demo).await
}

/// The cluster's timeline report, written where the demo writes (open it in a browser).
async fn report(demo: &Demo) -> Result<(), String> {
    let page = demo.out.join("report.html");
    let args = ["cluster", CLUSTER, "--since", "2h", "--output", "html"];
    println!(
        "\n$ ecs-task-history {} > {}",
        args.join(" "),
        relative(&page)
    );
    let html = run_cli(demo, &args).await?;
    std::fs::write(&page, &html).map_err(|err| format!("{}: {err}", page.display()))?;
    let lanes = html.matches("class=\"lane ").count();
    println!(
        "  {lanes} task lanes, {} bytes, self-contained; open it in a browser: {}",
        html.len(),
        page.display()
    );
    if lanes == 0 {
        return Err("the report has no task lane".into());
    }
    Ok(())
}

/// Runs target/debug/ecs-task-history against the emulators (nothing from the developer's AWS
/// set-up) and prints what it prints.
async fn cli(demo: &Demo, args: &[&str]) -> Result<(), String> {
    println!("\n$ ecs-task-history {}", args.join(" "));
    print!("{}", run_cli(demo, args).await?);
    Ok(())
}

/// What target/debug/ecs-task-history prints, or why it failed.
async fn run_cli(demo: &Demo, args: &[&str]) -> Result<String, String> {
    let binary = demo.bin.join("ecs-task-history");
    let output = common::cli_command(&binary, TABLE)
        .args(args)
        .output()
        .await
        .map_err(|err| format!("{}: {err}", binary.display()))?;
    if !output.status.success() {
        return Err(format!(
            "ecs-task-history {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
