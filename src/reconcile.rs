//! Reconciliation: events can be lost between ECS and EventBridge, so this lists a cluster's tasks
//! (RUNNING and STOPPED), describes them (with tags, ≤ 100 a call) and records each one through the
//! same version-checked [`Pipeline`] as the state change ECS would have sent at the task's current
//! version. Running it twice, or beside the live function, is harmless: a version already recorded
//! is a duplicate. Used by `ecs-task-history backfill` and by the scheduled Lambda run.

use chrono::Utc;
use serde_json::{json, Value};
use tracing::{error, info, warn};

use crate::core::arn::{Arn, Location};
use crate::core::outcome::{Counts, Outcome};
use crate::core::reconcile::reconciled_event;
use crate::pipeline::{Input, Pipeline};
use crate::ports::{
    AlertLedger, AlertSink, ServiceError, TaskDescriber, TaskStore, MAX_TASKS_PER_CALL,
};

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
    pub counts: Counts,
    /// The first few reasons something was not recorded.
    pub failures: Vec<String>,
}

impl Report {
    pub fn json(&self) -> Value {
        json!({
            "clusterArn": self.cluster,
            "listed": self.listed,
            "described": self.described,
            "outcomes": self.counts.to_json(),
            "failures": self.failures,
        })
    }
}

/// Reconciles one cluster (name or ARN, of any account and region the describer reaches),
/// reporting progress after every page of 100 tasks.
pub async fn reconcile_cluster<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    cluster: &str,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Report, ServiceError> {
    let arns = pipeline.describer().list_tasks(cluster).await?;
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
    for (page, done) in arns
        .chunks(MAX_TASKS_PER_CALL)
        .zip((1..).map(|n| (n * MAX_TASKS_PER_CALL).min(arns.len())))
    {
        let description = pipeline.describer().describe_tasks(cluster, page).await?;
        report.described += description.tasks.len();
        let now = Utc::now();
        let mut inputs = Vec::with_capacity(description.tasks.len());
        for (_, described) in description.tasks {
            match reconciled_event(described.state, now) {
                Ok(event) => inputs.push(Input::Described {
                    event: Box::new(event),
                    tags: described.tags,
                }),
                Err(err) => remember(
                    &mut report,
                    Outcome::Rejected {
                        reason: err.to_string(),
                    },
                ),
            }
        }
        for outcome in pipeline.process(inputs).await {
            remember(&mut report, outcome);
        }
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
        fresh = report.counts.fresh,
        duplicate = report.counts.duplicate,
        stale = report.counts.stale + report.counts.gap_filled,
        failed = report.counts.not_recorded(),
        "reconciliation summary"
    );
    Ok(report)
}

fn remember(report: &mut Report, outcome: Outcome) {
    const KEPT: usize = 5;
    report.counts.add(&outcome);
    if let Some(reason) = outcome.reason() {
        if report.failures.len() < KEPT && !report.failures.iter().any(|kept| kept == reason) {
            report.failures.push(reason.to_owned());
        }
    }
}

/// The clusters a list of targets stands for: names and ARNs as they are; `*` every cluster of the
/// function's own account and region; `arn:…:ACCOUNT:cluster/*` every cluster of that account and
/// region (a member account, through its reader role).
pub async fn expand_clusters<D: TaskDescriber>(
    describer: &D,
    targets: &[String],
) -> (Vec<String>, Vec<ServiceError>) {
    let mut clusters = Vec::new();
    let mut errors = Vec::new();
    for target in targets {
        let listed = if target == "*" {
            describer.list_clusters(None).await
        } else if let Some(location) = every_cluster_of(target) {
            describer.list_clusters(Some(&location)).await
        } else {
            clusters.push(target.clone());
            continue;
        };
        match listed {
            Ok(found) => clusters.extend(found),
            Err(err) => errors.push(err),
        }
    }
    let mut seen = std::collections::HashSet::new();
    clusters.retain(|cluster| seen.insert(cluster.clone()));
    (clusters, errors)
}

/// The account and region of `arn:PARTITION:ecs:REGION:ACCOUNT:cluster/*`.
fn every_cluster_of(target: &str) -> Option<Location> {
    let arn = Arn::parse(target)?;
    (arn.service == "ecs" && arn.resource == "cluster/*").then(|| arn.location())
}

/// The scheduled run: reconciles the configured clusters one after the other and answers a summary.
/// It never fails the invocation: the next tick reconciles again, and a failed scheduled event in the
/// on-failure destination (the DLQ) would only be noise there. Failures are logged and summarized;
/// one cluster's (or one account's) failure does not stop the others.
pub async fn run_scheduled<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    targets: &[String],
) -> Value {
    let (clusters, listing_errors) = expand_clusters(pipeline.describer(), targets).await;
    let mut errors: Vec<String> = listing_errors.iter().map(ToString::to_string).collect();
    for err in &listing_errors {
        error!(error = %err, "reconciliation could not list clusters");
    }
    if clusters.is_empty() && errors.is_empty() {
        warn!("scheduled event received but RECONCILE_CLUSTERS is empty; nothing reconciled");
    }
    let mut reports = Vec::with_capacity(clusters.len());
    for cluster in &clusters {
        match reconcile_cluster(pipeline, cluster, |_| {}).await {
            Ok(report) => reports.push(report.json()),
            Err(err) => {
                error!(error = %err, cluster, "reconciliation of a cluster failed");
                errors.push(err.to_string());
            }
        }
    }
    json!({ "outcome": "reconcile", "clusters": reports, "errors": errors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::TaskStateChange;
    use crate::memory::{MemoryEcs, MemoryStore};
    use crate::pipeline::Settings;
    use crate::ports::DescribedTask;

    const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/demo";

    fn running(id: &str, version: u64) -> DescribedTask {
        DescribedTask {
            state: TaskStateChange {
                task_arn: format!("arn:aws:ecs:us-east-1:123456789012:task/demo/{id}"),
                cluster_arn: CLUSTER.into(),
                version,
                last_status: Some("RUNNING".into()),
                ..TaskStateChange::default()
            },
            tags: [("team".to_owned(), "a".to_owned())].into(),
        }
    }

    #[tokio::test]
    async fn every_listed_task_is_recorded_once_with_the_tags_of_its_description() {
        let ecs = MemoryEcs::default()
            .with_task(running("a", 3))
            .with_task(running("b", 7));
        let pipeline = Pipeline::new(ecs, MemoryStore::default(), Settings::default());
        let report = reconcile_cluster(&pipeline, CLUSTER, |_| {}).await.unwrap();
        assert_eq!(
            (report.listed, report.described, report.counts.fresh),
            (2, 2, 2)
        );
        assert_eq!(
            pipeline.describer().calls(),
            1,
            "described once, not again to enrich"
        );
        let snapshot = pipeline
            .store()
            .snapshot("arn:aws:ecs:us-east-1:123456789012:task/demo/b")
            .unwrap();
        assert_eq!(snapshot.version, 7);
        assert_eq!(snapshot.tags["team"], "a");
        assert!(snapshot.tags_known);

        let again = reconcile_cluster(&pipeline, CLUSTER, |_| {}).await.unwrap();
        assert_eq!((again.counts.fresh, again.counts.duplicate), (0, 2));
    }

    #[tokio::test]
    async fn targets_expand_to_every_cluster_of_an_account_and_region() {
        let ecs = MemoryEcs::default().with_task(running("a", 1));
        let targets = [
            "*".to_owned(),
            "arn:aws:ecs:eu-west-1:222222222222:cluster/*".to_owned(),
            "named".to_owned(),
        ];
        let (clusters, errors) = expand_clusters(&ecs, &targets).await;
        assert!(errors.is_empty());
        // The memory ECS lists its one cluster for any account; duplicates are dropped.
        assert_eq!(clusters, vec![CLUSTER.to_owned(), "named".to_owned()]);
        let member = every_cluster_of("arn:aws:ecs:eu-west-1:222222222222:cluster/*").unwrap();
        assert_eq!(
            (member.account.as_str(), member.region.as_str()),
            ("222222222222", "eu-west-1")
        );
        assert_eq!(
            every_cluster_of("arn:aws:ecs:eu-west-1:222222222222:cluster/prod"),
            None
        );
    }
}
