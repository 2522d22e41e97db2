//! The `ecs-task-history` binary against the local emulator: every command and output format, with
//! golden files (tests/snapshots/, `UPDATE_SNAPSHOTS=1` rewrites them) for the tables people read.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use common::fault_proxy::{Fault, FaultProxy, Rule};
use common::{fixture, run_tasks, task_event, text, Harness, LIFECYCLE};
use ecs_task_history::core::history::{normalize, RecordContext, TagSource, Tags};
use ecs_task_history::pipeline::Input;
use serde_json::Value;

use support::{
    assert_snapshot, cli, cli_env, demo_cluster_events, lifecycle, ok, parse, seed, write_records,
    DEMO_CLUSTER, WINDOW,
};

const WEB_TASK: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/demo/ec964d3d4496eba592913bcbacbb07b7";

#[tokio::test]
async fn task_shows_the_timeline_phases_stop_and_containers() {
    let harness = Harness::new().await;
    seed(
        &harness,
        &lifecycle(),
        &[("team", "payments"), ("env", "prod")],
    )
    .await;
    let run = cli(&harness.table, &["task", WEB_TASK], None).await;
    assert_snapshot("task_timeline", ok(&run));
}

#[tokio::test]
async fn local_shows_tables_in_the_local_zone_and_reads_times_there() {
    let harness = Harness::new().await;
    seed(&harness, &lifecycle(), &[]).await;
    let tokyo = [("TZ", "Asia/Tokyo")];
    let run = cli_env(&harness.table, &["task", WEB_TASK, "--local"], None, &tokyo).await;
    let out = ok(&run);
    assert!(out.contains("TIME (local)"), "{out}");
    assert!(
        out.contains("2026-11-20 12:14:07.123  PROVISIONING"),
        "UTC+9: {out}"
    );

    // The same window given in Tokyo time: 09:00–15:00 JST is 00:00–06:00 UTC.
    let args = [
        "cluster",
        DEMO_CLUSTER,
        "--local",
        "--since",
        "2026-11-20T09:00",
        "--until",
        "2026-11-20T15:00",
        "-o",
        "jsonl",
    ];
    let run = cli_env(&harness.table, &args, None, &tokyo).await;
    assert_eq!(ok(&run).lines().count(), 1, "{}", run.stdout);
    let record: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        record["eventTime"], "2026-11-20T03:53:09.250Z",
        "JSON stays UTC"
    );
}

#[tokio::test]
async fn task_by_id_and_cluster_arn_in_json_and_jsonl() {
    let harness = Harness::new().await;
    seed(&harness, &lifecycle(), &[("team", "payments")]).await;
    let id = WEB_TASK.rsplit('/').next().unwrap();

    let run = cli(
        &harness.table,
        &["task", id, "--cluster", DEMO_CLUSTER, "--output", "json"],
        None,
    )
    .await;
    let document: Value = serde_json::from_str(ok(&run)).expect("one JSON document");
    assert_eq!(document["taskArn"], WEB_TASK);
    let versions = document["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 8);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[7]["lastStatus"], "STOPPED");
    assert_eq!(versions[7]["stopCode"], "ServiceSchedulerInitiated");
    assert_eq!(versions[7]["tags"]["team"], "payments");
    assert!(versions[0].get("pk").is_none(), "key attributes left out");
    let diagnosis = &document["diagnosis"];
    assert_eq!(diagnosis["kind"], "service-scaled-in", "{diagnosis}");
    assert!(diagnosis["explanation"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    assert!(diagnosis["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["field"] == "stopCode" && e["value"] == "ServiceSchedulerInitiated"));

    let run = cli(&harness.table, &["task", WEB_TASK, "-o", "jsonl"], None).await;
    let lines: Vec<Value> = ok(&run)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    let versions: Vec<u64> = lines
        .iter()
        .map(|l| l["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    assert_eq!(lines[7]["diagnosis"]["kind"], "service-scaled-in");
    assert!(lines[..7].iter().all(|l| l.get("diagnosis").is_none()));
}

/// One cause, many reasons: ECS writes ids, image names and digests into its reasons, so grouping
/// by the raw reason would split one outage into as many rows as tasks.
#[tokio::test]
async fn failures_that_share_a_cause_group_into_one_row_whatever_ids_their_reasons_hold() {
    let harness = Harness::new().await;
    let events: Vec<Value> = ["app-a:1.0", "app-b:2.3", "worker:sha-91ac2"]
        .iter()
        .enumerate()
        .map(|(n, image)| {
            let task = format!("{}/{:032x}", DEMO_CLUSTER.replace(":cluster/", ":task/"), n + 1);
            let mut event = task_event("fargate-failed-to-start.json", &task, DEMO_CLUSTER, 5);
            event["detail"]["stoppedReason"] = Value::String(format!(
                "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/{image}: 123456789012.dkr.ecr.us-east-1.amazonaws.com/{image}: not found"
            ));
            event
        })
        .collect();
    seed(&harness, &events, &[]).await;
    let mut args = vec!["cluster", DEMO_CLUSTER, "--failed", "-o", "json"];
    args.extend(WINDOW);
    let run = cli(&harness.table, &args, None).await;
    let document: Value = serde_json::from_str(ok(&run)).unwrap();
    assert_eq!(document["tasks"].as_array().unwrap().len(), 3);
    let summary = document["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0]["kind"], "image-not-found");
    assert_eq!(summary[0]["count"], 3);
}

#[tokio::test]
async fn a_task_id_is_found_through_the_cluster_name_or_every_listed_cluster() {
    let harness = Harness::new().await;
    let (cluster_arn, tasks) = run_tasks(&harness.ecs, 1, &[]).await;
    let task = &tasks[0];
    seed(
        &harness,
        &[task_event(
            "fargate-web-v4-running.json",
            task,
            &cluster_arn,
            4,
        )],
        &[],
    )
    .await;
    let id = task.rsplit('/').next().unwrap();
    let name = cluster_arn.rsplit('/').next().unwrap();

    for args in [vec!["task", id, "--cluster", name], vec!["task", id]] {
        let run = cli(&harness.table, &args, None).await;
        let out = ok(&run);
        assert!(out.contains(task.as_str()), "{args:?}:\n{out}");
        assert!(out.contains("RUNNING"), "{out}");
    }
}

#[tokio::test]
async fn a_task_with_50_versions_lists_every_one_in_order() {
    let harness = Harness::new().await;
    let start: DateTime<Utc> = "2026-11-20T01:00:00Z".parse().unwrap();
    let events: Vec<Value> = (1..=50u64)
        .map(|version| {
            let mut event = task_event(
                "fargate-web-v4-running.json",
                WEB_TASK,
                DEMO_CLUSTER,
                version,
            );
            let at = start + Duration::minutes(version as i64) + Duration::seconds(version as i64);
            event["detail"]["updatedAt"] = Value::String(at.to_rfc3339());
            event["id"] = Value::String(format!("event-{version}"));
            event
        })
        .collect();
    seed(&harness, &events, &[("team", "payments")]).await;
    let run = cli(&harness.table, &["task", WEB_TASK], None).await;
    assert_snapshot("task_50_versions", ok(&run));
    let run = cli(&harness.table, &["task", WEB_TASK, "-o", "json"], None).await;
    let document: Value = serde_json::from_str(ok(&run)).unwrap();
    assert_eq!(document["versions"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn unknown_task_missing_table_and_no_table_are_one_line_errors_with_exit_codes() {
    let harness = Harness::new().await;
    let run = cli(&harness.table, &["task", WEB_TASK], None).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: task "), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("ECS keeps stopped tasks about an hour; this task has no history either"),
        "{}",
        run.stderr
    );

    let run = cli("no-such-table", &["task", WEB_TASK], None).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("table no-such-table not found") && run.stderr.contains("hint:"),
        "{}",
        run.stderr
    );

    let run = cli("", &["task", WEB_TASK], None).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--table"), "{}", run.stderr);

    let run = cli(&harness.table, &["task", "a/b"], None).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = cli(
        &harness.table,
        &["cluster", DEMO_CLUSTER, "--since", "yesterday"],
        None,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("6h"), "{}", run.stderr);
}

#[tokio::test]
async fn cluster_lists_tasks_changed_in_the_window_newest_first() {
    let harness = Harness::new().await;
    seed(&harness, &demo_cluster_events(), &[("team", "payments")]).await;
    let mut args = vec!["cluster", DEMO_CLUSTER];
    args.extend(WINDOW);
    let run = cli(&harness.table, &args, None).await;
    assert_snapshot("cluster_window", ok(&run));

    args.push("--failed");
    let run = cli(&harness.table, &args, None).await;
    assert_snapshot("cluster_failed", ok(&run));
}

#[tokio::test]
async fn cluster_json_jsonl_service_and_status_filters() {
    let harness = Harness::new().await;
    seed(&harness, &demo_cluster_events(), &[]).await;
    let window = |extra: &[&'static str]| {
        let mut args = vec!["cluster", DEMO_CLUSTER];
        args.extend(WINDOW);
        args.extend(extra);
        args
    };

    let run = cli(&harness.table, &window(&["-o", "json"]), None).await;
    let document: Value = serde_json::from_str(ok(&run)).unwrap();
    let tasks = document["tasks"].as_array().unwrap();
    // unknown-enum-values.json changed at 07:43, after the window.
    assert_eq!(tasks.len(), 4, "one row per task");
    let times: Vec<&str> = tasks
        .iter()
        .map(|t| t["eventTime"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let web = tasks.iter().find(|t| t["taskArn"] == WEB_TASK).unwrap();
    assert_eq!(web["version"], 8, "a task's newest version in the window");

    let run = cli(
        &harness.table,
        &window(&["-o", "jsonl", "--service", "web"]),
        None,
    )
    .await;
    let lines: Vec<Value> = ok(&run)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["serviceName"] == "web"), "{lines:?}");

    let run = cli(
        &harness.table,
        &window(&["-o", "jsonl", "--status", "running"]),
        None,
    )
    .await;
    let lines: Vec<Value> = ok(&run)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l["lastStatus"] == "RUNNING"),
        "{lines:?}"
    );

    let run = cli(&harness.table, &window(&["--failed", "-o", "json"]), None).await;
    let document: Value = serde_json::from_str(ok(&run)).unwrap();
    let codes: Vec<&str> = document["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stopCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert!(codes.contains(&"TaskFailedToStart") && codes.contains(&"EssentialContainerExited"));
    let kinds: Vec<&str> = document["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["diagnosis"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"out-of-memory") && kinds.contains(&"image-not-found"),
        "{kinds:?}"
    );
    // The summary is by diagnosis: one row per cause, with the exit codes it saw.
    let summary = document["summary"].as_array().unwrap();
    let oom = summary
        .iter()
        .find(|s| s["kind"] == "out-of-memory")
        .unwrap_or_else(|| panic!("{summary:?}"));
    assert_eq!(
        (oom["count"].as_u64(), oom["exitCodes"][0].as_i64()),
        (Some(1), Some(137))
    );
}

#[tokio::test]
async fn an_empty_window_says_so_and_succeeds() {
    let harness = Harness::new().await;
    seed(&harness, &demo_cluster_events(), &[]).await;
    let args = [
        "cluster",
        DEMO_CLUSTER,
        "--since",
        "2026-11-21T00:00",
        "--until",
        "2026-11-21T06:00",
    ];
    let run = cli(&harness.table, &args, None).await;
    assert_snapshot("cluster_empty", ok(&run));
    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json"]);
    let run = cli(&harness.table, &json_args, None).await;
    let document: Value = serde_json::from_str(ok(&run)).unwrap();
    assert_eq!(document["tasks"], Value::Array(Vec::new()));
    json_args.pop();
    json_args.pop();
    json_args.extend(["-o", "jsonl"]);
    let run = cli(&harness.table, &json_args, None).await;
    assert_eq!(ok(&run), "");
}

/// Many tasks, written straight into the table (the pipeline is not what is tested here), read back
/// through every shard (paging itself is pinned with small pages in
/// `the_reader_follows_every_page_of_the_table_and_the_index_shards`).
/// moto's index queries are linear in the table, so this is the slowest CLI test (~45 s).
#[tokio::test]
async fn a_cluster_with_thousands_of_tasks_is_read_through_every_shard_and_page() {
    const TASKS: usize = 5_000;
    let harness = Harness::new().await;
    let base = parse(&fixture("fargate-batch-stopped-oom.json"));
    let start: DateTime<Utc> = "2026-11-20T01:00:00Z".parse().unwrap();
    let started = Instant::now();
    let mut records = Vec::with_capacity(TASKS);
    for n in 0..TASKS {
        let mut event = base.clone();
        event.detail.task_arn = format!("arn:aws:ecs:us-east-1:123456789012:task/big/{n:032x}");
        event.detail.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/big".into();
        event.detail.updated_at = Some(start + Duration::seconds(n as i64));
        let mut record = normalize(
            &event,
            RecordContext {
                tags: Tags {
                    values: BTreeMap::new(),
                    source: TagSource::None,
                    enriched: false,
                },
                late_arrival: false,
                received_at: Utc::now(),
                retention_days: 90,
            },
        );
        // Each task's one record is its first of the hour: it carries the task's index entry.
        record.indexed = true;
        records.push(record);
    }
    write_records(&harness, &records).await;
    let written = started.elapsed();

    let started = Instant::now();
    let run = cli(
        &harness.table,
        &[
            "cluster",
            "arn:aws:ecs:us-east-1:123456789012:cluster/big",
            "--since",
            "2026-11-20T00:00",
            "--until",
            "2026-11-21T00:00",
            "--failed",
            "-o",
            "json",
        ],
        None,
    )
    .await;
    let document: Value = serde_json::from_str(ok(&run)).unwrap();
    println!(
        "{TASKS} tasks: written in {written:?}, read in {:?}",
        started.elapsed()
    );
    let tasks = document["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), TASKS);
    assert_eq!(
        tasks[0]["taskId"],
        format!("{:032x}", TASKS - 1),
        "newest first"
    );
    assert_eq!(document["summary"][0]["count"], TASKS);
    assert_eq!(document["summary"][0]["kind"], "out-of-memory");
    assert_eq!(
        document["summary"][0]["exitCodes"],
        serde_json::json!([137])
    );
}

/// `replay` runs with the function's AWS settings (`AWS_MAX_ATTEMPTS`, default 5, standard retries
/// and timeouts): a throttled write is retried and the event recorded; told to make one attempt, it
/// does not retry the same throttle, and says the event was not recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_retries_a_throttled_call_as_the_function_does() {
    let harness = Harness::new().await;
    let proxy = FaultProxy::start(31).await;
    let through = |attempts: &'static str| {
        [
            ("AWS_ENDPOINT_URL", proxy.endpoint.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint.clone()),
            ("AWS_MAX_ATTEMPTS", attempts.to_owned()),
        ]
    };
    let dir = std::env::temp_dir().join(common::unique("retry"));
    std::fs::create_dir_all(&dir).unwrap();
    let writes = |proxy: &FaultProxy| {
        proxy
            .log()
            .iter()
            .filter(|logged| logged.operation == "BatchWriteItem")
            .count()
    };

    for (version, attempts, fresh, code) in [(1, "5", 1, 0), (2, "1", 0, 5)] {
        let file = dir.join(format!("v{version}.json"));
        std::fs::write(&file, fixture(LIFECYCLE[version - 1]).to_string()).unwrap();
        proxy.add_rule(Rule::new("BatchWriteItem", 1.0, vec![Fault::Throttling]).limit(1));
        let before = writes(&proxy);
        let env = through(attempts);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let file = file.to_string_lossy().into_owned();
        let run = cli_env(&harness.table, &["replay", &file, "-o", "json"], None, &env).await;
        assert_eq!(
            run.code, code,
            "AWS_MAX_ATTEMPTS={attempts}: {}",
            run.stderr
        );
        let summary: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(summary["outcomes"]["fresh"].as_u64().unwrap_or(0), fresh);
        let expected_writes = if attempts == "1" { 1 } else { 2 };
        assert_eq!(
            writes(&proxy) - before,
            expected_writes,
            "BatchWriteItem attempts with AWS_MAX_ATTEMPTS={attempts}"
        );
    }
    assert_eq!(harness.history(WEB_TASK).await.len(), 1);
}

#[tokio::test]
async fn replay_records_files_directories_and_stdin_and_counts_outcomes() {
    let harness = Harness::new().await;
    let dir = std::env::temp_dir().join(common::unique("replay"));
    std::fs::create_dir_all(&dir).unwrap();
    for name in LIFECYCLE.iter().take(4) {
        std::fs::write(dir.join(name), fixture(name).to_string()).unwrap();
    }
    std::fs::write(dir.join("zz-malformed.json"), "{\"detail\": {").unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();

    let run = cli(&harness.table, &["replay", &dir_arg, "-o", "json"], None).await;
    assert_eq!(run.code, 5, "a rejected file makes exit 5: {}", run.stderr);
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["outcomes"]["fresh"], 4);
    assert_eq!(summary["outcomes"]["rejected"], 1);
    assert!(summary["problems"][0]["source"]
        .as_str()
        .unwrap()
        .ends_with("zz-malformed.json"));
    assert_eq!(harness.history(WEB_TASK).await.len(), 4);

    // The same file again: nothing new. A JSON-lines stream on stdin: the rest of the lifecycle.
    let file = dir.join(LIFECYCLE[0]).to_string_lossy().into_owned();
    let run = cli(&harness.table, &["replay", &file], None).await;
    assert_snapshot(
        "replay_again",
        &ok(&run).replace(dir.to_string_lossy().as_ref(), "<dir>"),
    );
    let stream: String = LIFECYCLE[4..]
        .iter()
        .map(|name| format!("{}\n", fixture(name)))
        .collect();
    let run = cli(
        &harness.table,
        &["replay", "-", "-o", "json"],
        Some(&stream),
    )
    .await;
    let summary: Value = serde_json::from_str(ok(&run)).unwrap();
    assert_eq!(summary["outcomes"]["fresh"], 4);
    assert_eq!(harness.history(WEB_TASK).await.len(), 8);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn replay_from_the_dlq_deletes_only_what_it_recorded_and_keeps_the_malformed() {
    let harness = Harness::new().await;
    let sqs = aws_sdk_sqs::Client::new(&harness.config);
    let queue_url = sqs
        .create_queue()
        .queue_name(common::unique("dlq"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url");
    let raw = fixture("fargate-failed-to-start.json").to_string();
    let wrapped = serde_json::json!({
        "version": "1.0",
        "timestamp": "2026-11-20T03:20:00.000Z",
        "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": fixture("fargate-batch-stopped-oom.json"),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Retryable", "errorMessage": "DescribeTasks throttled"}
    })
    .to_string();
    for body in [raw.as_str(), wrapped.as_str(), "{\"detail\": {"] {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    let run = cli(&harness.table, &["replay", "--dlq", &queue_url], None).await;
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("DLQ: 2 message(s) deleted, 1 kept"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("rejected"), "{}", run.stdout);
    assert!(
        run.stderr.contains("1 event(s) were not recorded"),
        "{}",
        run.stderr
    );
    assert_eq!(
        harness
            .history(
                "arn:aws:ecs:us-east-1:123456789012:task/demo/9f4d7ac84452463f2f15eade2fa29161"
            )
            .await
            .len()
            + harness
                .history(
                    "arn:aws:ecs:us-east-1:123456789012:task/demo/cacd517d557c303796ba0004383e5e65"
                )
                .await
                .len(),
        2,
        "both readable messages recorded"
    );

    let left = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default();
    assert_eq!(left.len(), 1, "only the malformed message is kept");
    assert_eq!(left[0].body(), Some("{\"detail\": {"));
}

#[tokio::test]
async fn backfill_records_every_task_once_marked_reconciled_with_its_tags() {
    const TASKS: i32 = 120;
    let harness = Harness::new().await;
    let (cluster_arn, tasks) = run_tasks(&harness.ecs, TASKS, &[("team", "batch")]).await;
    assert_eq!(tasks.len(), TASKS as usize);
    harness
        .ecs
        .stop_task()
        .cluster(&cluster_arn)
        .task(&tasks[0])
        .reason("test")
        .send()
        .await
        .expect("stop task");
    let name = cluster_arn.rsplit('/').next().unwrap();

    let started = Instant::now();
    let run = cli(
        &harness.table,
        &["backfill", "--cluster", name, "--rate", "0", "-o", "json"],
        None,
    )
    .await;
    println!("backfill of {TASKS} tasks: {:?}", started.elapsed());
    let report: Value = serde_json::from_str(ok(&run)).unwrap();
    let cluster = &report["clusters"][0];
    assert_eq!(cluster["listed"], TASKS);
    assert_eq!(cluster["described"], TASKS);
    assert_eq!(cluster["outcomes"]["fresh"], TASKS);
    assert!(
        run.stderr
            .contains(&format!("backfill {name}: 100/{TASKS} tasks"))
            && run.stderr.contains(&format!("{TASKS}/{TASKS} tasks")),
        "progress lines: {}",
        run.stderr
    );

    let history = harness.history(&tasks[1]).await;
    assert_eq!(history.len(), 1);
    let (_, item) = &history[0];
    assert!(text(item, "eventId").is_some_and(|id| id.starts_with("reconciled:")));
    assert_eq!(common::tags(item).unwrap()["team"], "batch");
    assert_eq!(
        ecs_task_history::aws::dynamodb::items::history_from_item(item)
            .unwrap()
            .cluster_arn,
        cluster_arn
    );

    // Twice is harmless: every version is already recorded.
    let run = cli(
        &harness.table,
        &["backfill", "--cluster", &cluster_arn],
        None,
    )
    .await;
    let out = ok(&run);
    assert!(out.contains("DUPLICATE"), "{out}");
    let row = out.lines().nth(1).unwrap();
    let counts: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        counts[1..],
        [
            &*TASKS.to_string(),
            &*TASKS.to_string(),
            "0",
            &*TASKS.to_string(),
            "0",
            "0"
        ]
    );

    // The task view shows where the record came from.
    let run = cli(&harness.table, &["task", &tasks[1]], None).await;
    assert!(ok(&run).contains("reconciled"), "{}", run.stdout);
}

#[tokio::test]
async fn backfill_of_an_unknown_cluster_is_not_found() {
    let harness = Harness::new().await;
    let run = cli(
        &harness.table,
        &["backfill", "--cluster", "no-such-cluster"],
        None,
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-cluster"), "{}", run.stderr);
}

/// Small pages force the reader through LastEvaluatedKey on the table and on every index shard.
#[tokio::test]
async fn the_reader_follows_every_page_of_the_table_and_the_index_shards() {
    use ecs_task_history::read::{HistoryReader, Scope};
    let harness = Harness::new().await;
    seed(&harness, &demo_cluster_events(), &[]).await;
    let reader =
        HistoryReader::new(harness.dynamodb.clone(), harness.table.clone()).with_page_size(2);

    let versions: Vec<String> = reader
        .task_history(WEB_TASK)
        .await
        .unwrap()
        .iter()
        .map(|item| text(item, "sk").unwrap().to_owned())
        .collect();
    assert_eq!(versions.len(), 8);
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );

    let scope = Scope::Cluster {
        cluster_arn: DEMO_CLUSTER.to_owned(),
    };
    let from = "2026-11-20T00:00:00Z".parse().unwrap();
    let to = "2026-11-20T23:59:59Z".parse().unwrap();
    let timelines = reader.window(&scope, from, to).await.unwrap();
    assert_eq!(timelines.len(), 5, "the lifecycle's task + 4 other tasks");
    let versions: usize = timelines.iter().map(|t| t.records.len()).sum();
    assert_eq!(
        versions, 12,
        "8 lifecycle versions + 4 other tasks' one each"
    );
    let newest: Vec<_> = timelines
        .iter()
        .map(|t| t.records.last().unwrap().event_time)
        .collect();
    assert!(
        newest.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {newest:?}"
    );
}

/// Colours only on a terminal (a pseudo-terminal from util-linux `script`), never with NO_COLOR.
#[tokio::test]
async fn colours_appear_on_a_terminal_unless_no_color_is_set() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let harness = Harness::new().await;
    seed(
        &harness,
        &fixture_events(&["fargate-batch-stopped-oom.json"]),
        &[],
    )
    .await;
    let oom = "arn:aws:ecs:us-east-1:123456789012:task/demo/9f4d7ac84452463f2f15eade2fa29161";
    let command = format!("{} task {oom}", env!("CARGO_BIN_EXE_ecs-task-history"));
    let table = harness.table.clone();
    let run = move |no_color: Option<&'static str>| {
        let mut child = std::process::Command::new("script");
        child
            .args(["-qec", &command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(common::emulator_env())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("TABLE_NAME", &table)
            .stdin(Stdio::null());
        if let Some(value) = no_color {
            child.env("NO_COLOR", value);
        }
        let output = child.output().expect("run under script");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let coloured = tokio::task::spawn_blocking(move || (run(None), run(Some("1"))))
        .await
        .unwrap();
    assert!(
        coloured.0.contains("\x1b[31m137\x1b[0m"),
        "the failing exit code in red on a terminal: {:?}",
        coloured.0
    );
    assert!(coloured.1.contains("137"), "{}", coloured.1);
    assert!(!coloured.1.contains('\x1b'), "NO_COLOR: {:?}", coloured.1);
}

fn fixture_events(names: &[&str]) -> Vec<Value> {
    names.iter().map(|name| fixture(name)).collect()
}

/// An organization's central table: a member account's cluster is backfilled through its reader
/// role, read by ARN or by name with --account/--cluster-region (no call into the member needed),
/// says whose it is, and is listed by `clusters`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accounts_cluster_is_backfilled_listed_and_read_by_arn_or_by_name() {
    use common::accounts::{Place, HOME, READER_ROLE};
    const MEMBER: &str = "222222222222";
    let harness = Harness::new().await;
    let member = Place::member(MEMBER, "eu-west-1").await;
    let (cluster_arn, tasks) = member.run_tasks(2, &[("team", "member")]).await;
    let name = cluster_arn.rsplit('/').next().unwrap();
    let org = [("MEMBER_ROLE_NAME", READER_ROLE), ("ACCOUNT_ID", HOME)];

    let run = cli_env(
        &harness.table,
        &["backfill", "--cluster", &cluster_arn, "-o", "json"],
        None,
        &org,
    )
    .await;
    let report: Value = serde_json::from_str(ok(&run)).unwrap();
    assert_eq!(report["clusters"][0]["outcomes"]["fresh"], 2, "{report}");

    let by_name = [
        "cluster",
        name,
        "--account",
        MEMBER,
        "--cluster-region",
        "eu-west-1",
        "--since",
        "1d",
        "-o",
        "json",
    ];
    let document: Value =
        serde_json::from_str(ok(&cli(&harness.table, &by_name, None).await)).unwrap();
    assert_eq!(document["clusterArn"], cluster_arn.as_str());
    let listed = document["tasks"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{document}");
    for task in listed {
        assert_eq!(task["account"], MEMBER);
        assert_eq!(task["region"], "eu-west-1");
        assert_eq!(task["tags"]["team"], "member");
        assert!(tasks.contains(&task["taskArn"].as_str().unwrap().to_owned()));
    }
    let table = ok(&cli(
        &harness.table,
        &["cluster", &cluster_arn, "--since", "1d"],
        None,
    )
    .await)
    .to_owned();
    assert!(
        table.contains(&format!("(account {MEMBER}, eu-west-1)")),
        "{table}"
    );

    let run = cli(&harness.table, &["clusters", "-o", "json"], None).await;
    let catalog: Value = serde_json::from_str(ok(&run)).unwrap();
    let entry = catalog["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clusterArn"] == cluster_arn.as_str())
        .unwrap_or_else(|| panic!("{catalog}"));
    assert_eq!(
        (entry["account"].as_str(), entry["region"].as_str()),
        (Some(MEMBER), Some("eu-west-1"))
    );
}

/// A failed task's stop was alerted on by the function. `replay` of that stop (even after a crash
/// left its snapshot behind) and `backfill` of its cluster, run with the same alert settings, record
/// it and send nothing: the claim in the table says the alert went out.
#[tokio::test]
async fn replay_and_backfill_of_an_alerted_stop_send_no_second_alert() {
    use common::sns::{subscribe, topic};
    use common::story::{Container, Ending, Task, TaskStory};
    use ecs_task_history::aws::dynamodb::keys::{task_pk, SNAPSHOT_SK};

    let harness = Harness::new().await;
    let topic_arn = topic(&harness.config).await;
    let subscriber = subscribe(&harness.config, &topic_arn, None).await;
    let (cluster_arn, tasks) = run_tasks(&harness.ecs, 1, &[("team", "batch")]).await;
    let task = Task {
        task_arn: tasks[0].clone(),
        cluster_arn: cluster_arn.clone(),
        task_definition_arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/job:3".into(),
        group: "family:job".into(),
        started_by: "scheduler".into(),
        cpu: "256".into(),
        memory: "512".into(),
        containers: vec![Container::new(
            "job",
            "public.ecr.aws/acme/job:2",
            256,
            512,
            true,
        )],
        overrides: serde_json::json!({"containerOverrides": []}),
        subnet_id: "subnet-0a1b2c3d".into(),
        availability_zone: "us-east-1b".into(),
    };
    let ending = Ending::Crashed {
        after: Duration::seconds(40),
        container: "job".into(),
        exit_code: 137,
        reason: "OutOfMemoryError: Container killed due to memory usage".into(),
    };
    let mut story = TaskStory::new(task, Utc::now() - Duration::minutes(3), ending, 5);
    let stop = story.event(story.last_version(), Duration::zero());

    let config = ecs_task_history::config::Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some(harness.table.clone()),
        "ALERT_TOPIC_ARN" => Some(topic_arn.clone()),
        _ => None,
    })
    .unwrap();
    let function = harness.aws.pipeline(&config);
    let text = stop.to_string();
    let outcomes = function
        .process(vec![Input::Body {
            source: None,
            text: &text,
        }])
        .await;
    assert!(outcomes[0].is_recorded(), "{outcomes:?}");
    let alerts = subscriber.drain().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].kind(), "out-of-memory");

    // The snapshot lost, as if the process died after the alert and before the snapshot write:
    // the replayed stop is fresh again, and recorded, but its alert is not sent twice.
    harness
        .dynamodb
        .delete_item()
        .table_name(&harness.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(task_pk(&tasks[0])),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(SNAPSHOT_SK.into()),
        )
        .send()
        .await
        .unwrap();
    let file = std::env::temp_dir().join(common::unique("stop"));
    std::fs::write(&file, &text).unwrap();
    let file = file.to_string_lossy().into_owned();
    let alerting = [("ALERT_TOPIC_ARN", topic_arn.as_str())];
    for expected in ["fresh", "duplicate"] {
        let run = cli_env(
            &harness.table,
            &["replay", &file, "-o", "json"],
            None,
            &alerting,
        )
        .await;
        let summary: Value = serde_json::from_str(ok(&run)).unwrap();
        assert_eq!(summary["outcomes"][expected], 1, "{summary}");
    }
    let name = cluster_arn.rsplit('/').next().unwrap();
    let run = cli_env(
        &harness.table,
        &["backfill", "--cluster", name, "-o", "json"],
        None,
        &alerting,
    )
    .await;
    ok(&run);
    assert!(subscriber.drain().await.is_empty(), "no second alert");
    std::fs::remove_file(&file).ok();
}
