//! Reconciliation: events can be lost between ECS and EventBridge, so this lists a cluster's tasks
//! (RUNNING and STOPPED, paged), describes them (with tags, ≤ 100 a call, paced by the rate limiter)
//! and feeds each one through the same version-checked [`Pipeline`](crate::pipeline::Pipeline) as
//! a synthetic state change at the task's current version. Running it twice, or beside the live function, is harmless: a version
//! already recorded is a duplicate. Used by `ecs-task-history backfill` and the scheduled Lambda run.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::types::{DesiredStatus, Task, TaskField};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tracing::info;

use crate::aws_error::concise;
use crate::describe::{DescribeError, Description, TaskDescriber, MAX_TASKS_PER_CALL};
use crate::dynamodb::records::RECONCILED_EVENT_PREFIX;
use crate::enrich::EnrichMode;
use crate::event::{parse_event, Parsed, TaskEvent, ECS_SOURCE, TASK_STATE_CHANGE};
use crate::history::{last_segment, HistoryRecord, Snapshot};
use crate::pipeline::{Outcome, Pipeline, Settings};
use crate::rate_limit::RateLimiter;
use crate::store::{Advance, Inserted, StoreError, TaskStore};

/// The EventBridge `source` of scheduled events (rules with a schedule expression).
pub const SCHEDULE_SOURCE: &str = "aws.events";
/// The EventBridge `detail-type` of scheduled events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// Listing or describing a cluster failed (after the SDK's retries).
#[derive(Debug, thiserror::Error)]
#[error("ECS {operation} for {cluster} failed: {message}")]
pub struct ReconcileError {
    pub operation: &'static str,
    pub cluster: String,
    pub message: String,
    /// ECS does not know the cluster.
    pub cluster_not_found: bool,
}

/// Whether a Lambda payload is an EventBridge scheduled event (`aws.events` / `Scheduled Event`).
pub fn is_scheduled_event(payload: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        source: Option<String>,
        #[serde(rename = "detail-type")]
        detail_type: Option<String>,
    }
    serde_json::from_str::<Probe>(payload).is_ok_and(|probe| {
        probe.source.as_deref() == Some(SCHEDULE_SOURCE)
            && probe.detail_type.as_deref() == Some(SCHEDULED_EVENT)
    })
}

/// `RECONCILE_CLUSTERS`: cluster names or ARNs separated by commas or spaces; `*` means every cluster
/// ListClusters returns; empty means the scheduled run has nothing to do.
pub fn parse_clusters(value: &str) -> Vec<String> {
    value
        .split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The scheduled run: reconciles the configured clusters one after the other and answers a summary.
/// It never fails the invocation: the next tick reconciles again, and a failed scheduled event in the
/// on-failure destination (the DLQ) would only be noise there. Failures are logged and summarized.
pub async fn run_scheduled<S: TaskStore>(
    reconciler: &Reconciler,
    store: &S,
    clusters: &[String],
) -> Value {
    let clusters = if clusters.iter().any(|name| name == "*") {
        match reconciler.list_clusters().await {
            Ok(all) => all,
            Err(err) => {
                tracing::error!(error = %err, "reconciliation could not list clusters");
                return json!({ "outcome": "reconcile", "errors": [err.to_string()] });
            }
        }
    } else {
        clusters.to_vec()
    };
    if clusters.is_empty() {
        tracing::warn!(
            "scheduled event received but RECONCILE_CLUSTERS is empty; nothing reconciled"
        );
    }
    let mut reports = Vec::with_capacity(clusters.len());
    let mut errors = Vec::new();
    for cluster in &clusters {
        match reconciler.reconcile_cluster(store, cluster, |_| {}).await {
            Ok(report) => reports.push(json!({
                "cluster": report.cluster,
                "listed": report.listed,
                "described": report.described,
                "outcomes": report.outcomes,
                "failures": report.failures,
            })),
            Err(err) => {
                tracing::error!(error = %err, cluster, "reconciliation of a cluster failed");
                errors.push(err.to_string());
            }
        }
    }
    json!({ "outcome": "reconcile", "clusters": reports, "errors": errors })
}

/// Where a cluster's reconciliation is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress<'a> {
    pub cluster: &'a str,
    pub listed: usize,
    pub done: usize,
}

/// What reconciling one cluster did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub cluster: String,
    /// Task ARNs ListTasks returned (RUNNING and STOPPED).
    pub listed: usize,
    /// Tasks DescribeTasks answered for (the others were gone by then).
    pub described: usize,
    /// Outcome label → count (`fresh`, `duplicate`, `stale`, `gap_filled`, `failed`, `rejected`).
    pub outcomes: BTreeMap<&'static str, usize>,
    /// The first few failure reasons.
    pub failures: Vec<String>,
}

impl Report {
    pub fn count(&self, label: &str) -> usize {
        self.outcomes.get(label).copied().unwrap_or_default()
    }

    /// Events that were not recorded and should be retried.
    pub fn not_recorded(&self) -> usize {
        self.count("failed") + self.count("rejected")
    }
}

/// Lists, describes and records tasks of clusters.
pub struct Reconciler {
    ecs: aws_sdk_ecs::Client,
    limiter: Option<RateLimiter>,
    settings: Settings,
}

impl Reconciler {
    pub fn new(ecs: aws_sdk_ecs::Client, settings: Settings) -> Self {
        Self {
            ecs,
            limiter: None,
            settings: Settings {
                // Tags come with the description already fetched: attaching them costs no call.
                enrich: EnrichMode::Always,
                ..settings
            },
        }
    }

    /// Paces DescribeTasks through a token bucket. In the Lambda this is a bucket of the same rate as
    /// the event path's: an instance runs one invocation at a time, so the two never add up.
    pub fn with_rate_limit(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Every cluster ARN of the account and region (ListClusters, paged).
    pub async fn list_clusters(&self) -> Result<Vec<String>, ReconcileError> {
        let mut pages = self.ecs.list_clusters().into_paginator().send();
        let mut clusters = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| ecs_error("ListClusters", "the account", &err))?;
            clusters.extend(page.cluster_arns().iter().cloned());
        }
        Ok(clusters)
    }

    /// Task ARNs of a cluster, RUNNING then STOPPED (ListTasks, paged), without repeats.
    pub async fn list_tasks(&self, cluster: &str) -> Result<Vec<String>, ReconcileError> {
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let mut pages = self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .desired_status(status)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|err| ecs_error("ListTasks", cluster, &err))?;
                arns.extend(page.task_arns().iter().cloned());
            }
        }
        let mut seen = std::collections::HashSet::new();
        arns.retain(|arn| seen.insert(arn.clone()));
        Ok(arns)
    }

    async fn describe(&self, cluster: &str, arns: &[String]) -> Result<Vec<Task>, ReconcileError> {
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
        let output = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await
            .map_err(|err| ecs_error("DescribeTasks", cluster, &err))?;
        Ok(output.tasks.unwrap_or_default())
    }

    /// Reconciles one cluster into `store`, reporting progress after every page of 100 tasks.
    pub async fn reconcile_cluster<S: TaskStore>(
        &self,
        store: &S,
        cluster: &str,
        mut progress: impl FnMut(Progress<'_>),
    ) -> Result<Report, ReconcileError> {
        let arns = self.list_tasks(cluster).await?;
        let mut report = Report {
            cluster: cluster.to_owned(),
            listed: arns.len(),
            ..Report::default()
        };
        progress(Progress {
            cluster,
            listed: arns.len(),
            done: 0,
        });
        let mut done = 0;
        for page in arns.chunks(MAX_TASKS_PER_CALL) {
            let tasks = self.describe(cluster, page).await?;
            report.described += tasks.len();
            let now = Utc::now();
            let mut events = Vec::with_capacity(tasks.len());
            let mut tags = HashMap::with_capacity(tasks.len());
            for task in &tasks {
                match synthetic_event(task, now) {
                    Ok(event) => {
                        tags.insert(event.detail.task_arn.clone(), task_tags(task));
                        events.push(event);
                    }
                    Err(reason) => {
                        *report.outcomes.entry("rejected").or_default() += 1;
                        remember(&mut report.failures, reason);
                    }
                }
            }
            let pipeline = Pipeline::new(KnownTags(tags), StoreRef(store), self.settings.clone());
            for outcome in pipeline.process(&events, now).await {
                *report.outcomes.entry(outcome.label()).or_default() += 1;
                if let Outcome::Failed { reason } = outcome {
                    remember(&mut report.failures, reason);
                }
            }
            done += page.len();
            progress(Progress {
                cluster,
                listed: arns.len(),
                done,
            });
        }
        info!(
            cluster,
            listed = report.listed,
            described = report.described,
            fresh = report.count("fresh"),
            duplicate = report.count("duplicate"),
            stale = report.count("stale") + report.count("gap_filled"),
            failed = report.not_recorded(),
            "reconciliation summary"
        );
        Ok(report)
    }
}

fn remember(failures: &mut Vec<String>, reason: String) {
    const KEPT: usize = 5;
    if failures.len() < KEPT && !failures.contains(&reason) {
        failures.push(reason);
    }
}

fn ecs_error<E, R>(
    operation: &'static str,
    cluster: &str,
    err: &aws_sdk_ecs::error::SdkError<E, R>,
) -> ReconcileError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_ecs::error::ProvideErrorMetadata;
    ReconcileError {
        operation,
        cluster: cluster.to_owned(),
        message: concise(err),
        cluster_not_found: err.code() == Some("ClusterNotFoundException"),
    }
}

fn task_tags(task: &Task) -> BTreeMap<String, String> {
    task.tags()
        .iter()
        .filter_map(|tag| {
            Some((
                tag.key()?.to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn epoch(time: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<f64> {
    time.map(|time| time.as_secs_f64())
}

fn put(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(name.to_owned(), value);
    }
}

/// The state change ECS would have sent for this task at its current version, built as the event's
/// JSON (timestamps as DescribeTasks gives them, epoch seconds) and read by the same parser as real
/// events. Its `id` starts with [`RECONCILED_EVENT_PREFIX`], which marks the record as reconciled; its
/// `time` is the task's latest timestamp (else `now`), so the record sorts where the change happened.
pub fn synthetic_event(task: &Task, now: DateTime<Utc>) -> Result<TaskEvent, String> {
    let task_arn = task
        .task_arn()
        .ok_or("DescribeTasks returned a task without taskArn")?;
    let mut detail = Map::new();
    let s = |value: Option<&str>| value.map(|text| Value::String(text.to_owned()));
    put(&mut detail, "taskArn", s(Some(task_arn)));
    put(&mut detail, "version", Some(json!(task.version().max(0))));
    put(&mut detail, "clusterArn", s(task.cluster_arn()));
    put(&mut detail, "lastStatus", s(task.last_status()));
    put(&mut detail, "desiredStatus", s(task.desired_status()));
    put(
        &mut detail,
        "launchType",
        s(task.launch_type().map(|l| l.as_str())),
    );
    put(&mut detail, "group", s(task.group()));
    put(
        &mut detail,
        "taskDefinitionArn",
        s(task.task_definition_arn()),
    );
    put(&mut detail, "startedBy", s(task.started_by()));
    put(
        &mut detail,
        "stopCode",
        s(task.stop_code().map(|c| c.as_str())),
    );
    put(&mut detail, "stoppedReason", s(task.stopped_reason()));
    put(&mut detail, "availabilityZone", s(task.availability_zone()));
    put(&mut detail, "cpu", s(task.cpu()));
    put(&mut detail, "memory", s(task.memory()));
    put(&mut detail, "platformVersion", s(task.platform_version()));
    put(
        &mut detail,
        "capacityProviderName",
        s(task.capacity_provider_name()),
    );
    put(
        &mut detail,
        "containerInstanceArn",
        s(task.container_instance_arn()),
    );
    put(
        &mut detail,
        "healthStatus",
        s(task.health_status().map(|h| h.as_str())),
    );
    let times = [
        ("createdAt", task.created_at()),
        ("pullStartedAt", task.pull_started_at()),
        ("pullStoppedAt", task.pull_stopped_at()),
        ("startedAt", task.started_at()),
        ("stoppingAt", task.stopping_at()),
        ("stoppedAt", task.stopped_at()),
        ("executionStoppedAt", task.execution_stopped_at()),
    ];
    let mut latest: Option<f64> = None;
    for (name, time) in times {
        if let Some(seconds) = epoch(time) {
            latest = Some(latest.map_or(seconds, |known| known.max(seconds)));
            put(&mut detail, name, Some(json!(seconds)));
        }
    }
    let containers: Vec<Value> = task
        .containers()
        .iter()
        .map(|container| {
            let mut map = Map::new();
            put(&mut map, "name", s(container.name()));
            put(&mut map, "image", s(container.image()));
            put(&mut map, "imageDigest", s(container.image_digest()));
            put(&mut map, "runtimeId", s(container.runtime_id()));
            put(&mut map, "lastStatus", s(container.last_status()));
            put(&mut map, "exitCode", container.exit_code().map(Value::from));
            put(&mut map, "reason", s(container.reason()));
            put(
                &mut map,
                "healthStatus",
                s(container.health_status().map(|h| h.as_str())),
            );
            let bindings: Vec<Value> = container
                .network_bindings()
                .iter()
                .map(|binding| {
                    let mut map = Map::new();
                    put(&mut map, "bindIP", s(binding.bind_ip()));
                    put(
                        &mut map,
                        "containerPort",
                        binding.container_port().map(Value::from),
                    );
                    put(&mut map, "hostPort", binding.host_port().map(Value::from));
                    put(
                        &mut map,
                        "protocol",
                        s(binding.protocol().map(|p| p.as_str())),
                    );
                    put(
                        &mut map,
                        "containerPortRange",
                        s(binding.container_port_range()),
                    );
                    put(&mut map, "hostPortRange", s(binding.host_port_range()));
                    Value::Object(map)
                })
                .collect();
            if !bindings.is_empty() {
                map.insert("networkBindings".to_owned(), Value::Array(bindings));
            }
            Value::Object(map)
        })
        .collect();
    detail.insert("containers".to_owned(), Value::Array(containers));

    let time = latest
        .and_then(|seconds| DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64))
        .unwrap_or(now);
    // arn:aws:ecs:REGION:ACCOUNT:task/...
    let mut parts = task_arn.split(':');
    let region = parts.nth(3).unwrap_or_default();
    let account = parts.next().unwrap_or_default();
    let envelope = json!({
        "version": "0",
        "id": format!("{RECONCILED_EVENT_PREFIX}{}:{}", last_segment(task_arn), task.version()),
        "detail-type": TASK_STATE_CHANGE,
        "source": ECS_SOURCE,
        "account": account,
        "time": crate::dynamodb::keys::iso_time(time),
        "region": region,
        "resources": [task_arn],
        "detail": Value::Object(detail),
    });
    match parse_event(&envelope.to_string()) {
        Ok(Parsed::Task(event)) => Ok(*event),
        Ok(Parsed::Other { .. }) => Err(format!("{task_arn}: not a task state change")),
        Err(err) => Err(format!("{task_arn}: {err}")),
    }
}

/// A [`TaskDescriber`] that answers from descriptions already fetched, so no task is described twice.
pub struct KnownTags(pub HashMap<String, BTreeMap<String, String>>);

impl TaskDescriber for KnownTags {
    async fn describe_tasks(
        &self,
        _cluster_arn: &str,
        task_arns: &[String],
    ) -> Result<Description, DescribeError> {
        let mut description = Description::default();
        for task_arn in task_arns {
            match self.0.get(task_arn) {
                Some(tags) => {
                    description.tags.insert(task_arn.clone(), tags.clone());
                }
                None => description.missing.push(task_arn.clone()),
            }
        }
        Ok(description)
    }
}

/// A borrowed store, so one store can serve a pipeline per page.
pub struct StoreRef<'a, S>(pub &'a S);

impl<S: TaskStore> TaskStore for StoreRef<'_, S> {
    async fn load_snapshots(
        &self,
        task_arns: &[&str],
    ) -> Result<HashMap<String, Snapshot>, StoreError> {
        self.0.load_snapshots(task_arns).await
    }

    async fn put_fresh_history(&self, records: &[HistoryRecord]) -> Vec<Result<(), StoreError>> {
        self.0.put_fresh_history(records).await
    }

    async fn put_history(&self, record: &HistoryRecord) -> Result<Inserted, StoreError> {
        self.0.put_history(record).await
    }

    async fn advance_snapshot(&self, snapshot: &Snapshot) -> Result<Advance, StoreError> {
        self.0.advance_snapshot(snapshot).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::primitives::DateTime as SdkTime;
    use aws_sdk_ecs::types::{Container, Tag, TaskStopCode};

    fn stopped_task() -> Task {
        Task::builder()
            .task_arn("arn:aws:ecs:us-east-1:123456789012:task/demo/abc")
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/demo")
            .version(5)
            .last_status("STOPPED")
            .desired_status("STOPPED")
            .group("service:web")
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .created_at(SdkTime::from_secs_f64(1_763_608_000.5))
            .started_at(SdkTime::from_secs_f64(1_763_608_100.0))
            .stopped_at(SdkTime::from_secs_f64(1_763_608_447.25))
            .containers(Container::builder().name("web").exit_code(137).build())
            .tags(Tag::builder().key("team").value("a").build())
            .build()
    }

    #[test]
    fn a_described_task_becomes_a_state_change_at_its_version_marked_reconciled() {
        let event = synthetic_event(&stopped_task(), Utc::now()).unwrap();
        assert_eq!(event.detail.version, 5);
        assert_eq!(event.id.as_deref(), Some("reconciled:abc:5"));
        assert_eq!(event.account.as_deref(), Some("123456789012"));
        assert_eq!(event.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            event.detail.stopped_at.unwrap().timestamp_millis(),
            1_763_608_447_250
        );
        assert_eq!(event.time, event.detail.stopped_at, "the latest timestamp");
        assert_eq!(event.detail.containers[0].exit_code, Some(137));
        assert_eq!(event.detail.group.as_deref(), Some("service:web"));
        assert_eq!(task_tags(&stopped_task())["team"], "a");
    }

    #[test]
    fn a_task_without_timestamps_is_placed_at_now() {
        let task = Task::builder()
            .task_arn("arn:aws:ecs:us-east-1:1:task/c/x")
            .cluster_arn("arn:aws:ecs:us-east-1:1:cluster/c")
            .build();
        let now = DateTime::from_timestamp_millis(1_000_000).unwrap();
        let event = synthetic_event(&task, now).unwrap();
        assert_eq!(event.time, Some(now));
        assert_eq!(event.detail.version, 0);
        assert!(synthetic_event(&Task::builder().build(), now).is_err());
    }

    #[test]
    fn reconcile_clusters_split_on_commas_and_spaces() {
        assert_eq!(
            parse_clusters(" a, b  arn:x:cluster/c,"),
            vec!["a", "b", "arn:x:cluster/c"]
        );
        assert!(parse_clusters("").is_empty());
        assert_eq!(parse_clusters("*"), vec!["*"]);
    }

    #[test]
    fn only_scheduled_events_are_recognised_as_such() {
        assert!(is_scheduled_event(
            r#"{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}"#
        ));
        assert!(!is_scheduled_event(include_str!(
            "../events/fargate-web-v4-running.json"
        )));
        assert!(!is_scheduled_event("not json"));
    }
}
