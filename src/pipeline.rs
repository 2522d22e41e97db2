//! The one orchestration every entry point uses: load snapshots → classify → enrich → write → outcomes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use crate::classify::{classify_batch, Class, TaskEvents};
use crate::describe::{TaskDescriber, MAX_TASKS_PER_CALL};
use crate::enrich::{should_describe, EnrichMode};
use crate::event::TaskEvent;
use crate::history::{normalize, RecordContext, Snapshot, TagSource, Tags};
use crate::store::{Advance, Inserted, TaskStore};

/// What happened to one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded and the task's snapshot moved forward (`enriched`: DescribeTasks knew the task).
    Fresh { enriched: bool },
    /// Already recorded: nothing written.
    Duplicate,
    /// Older than the snapshot; `gap_filled` when its missing history record was written now.
    Stale { gap_filled: bool },
    /// Not recorded because a dependency failed; delivering it again is safe and will record it.
    Failed { reason: String },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Fresh { .. } => "fresh",
            Self::Duplicate => "duplicate",
            Self::Stale { gap_filled: true } => "gap_filled",
            Self::Stale { gap_filled: false } => "stale",
            Self::Failed { .. } => "failed",
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// Tunables that are not part of the data model.
#[derive(Clone, Debug)]
pub struct Settings {
    pub retention_days: u32,
    /// Tasks written concurrently within one batch.
    pub task_concurrency: usize,
    /// Which fresh events are described (tags).
    pub enrich: EnrichMode,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retention_days: 90,
            task_concurrency: 16,
            enrich: EnrichMode::default(),
        }
    }
}

/// What enrichment learned about one task.
#[derive(Clone, Debug)]
enum Enrichment {
    Tags(BTreeMap<String, String>),
    Missing,
    Failed(String),
}

pub struct Pipeline<D, S> {
    describer: D,
    store: S,
    settings: Settings,
}

impl<D: TaskDescriber, S: TaskStore> Pipeline<D, S> {
    pub fn new(describer: D, store: S, settings: Settings) -> Self {
        Self {
            describer,
            store,
            settings,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Processes a batch of task events; returns one outcome per event, in input order.
    pub async fn process(&self, events: &[TaskEvent], received_at: DateTime<Utc>) -> Vec<Outcome> {
        if events.is_empty() {
            return Vec::new();
        }
        let mut task_arns: Vec<&str> = events.iter().map(|e| e.detail.task_arn.as_str()).collect();
        task_arns.sort_unstable();
        task_arns.dedup();

        let snapshots = match self.store.load_snapshots(&task_arns).await {
            Ok(snapshots) => snapshots,
            Err(err) => {
                warn!(error = %err, events = events.len(), "snapshot load failed; the whole batch will be retried");
                let reason = err.to_string();
                return events
                    .iter()
                    .map(|_| Outcome::Failed {
                        reason: reason.clone(),
                    })
                    .collect();
            }
        };

        let plan = classify_batch(
            events
                .iter()
                .enumerate()
                .map(|(index, e)| (index, e.detail.task_arn.as_str(), e.detail.version)),
            |task_arn| snapshots.get(task_arn).map(|snapshot| snapshot.version),
        );
        let enrichment = self.enrich(events, &plan, &snapshots).await;

        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let results: Vec<Vec<(usize, Outcome)>> = stream::iter(plan.iter())
            .map(|task| {
                let snapshot = snapshots.get(task.task_arn);
                let enrichment = enrichment.get(task.task_arn);
                self.process_task(events, task, snapshot, enrichment, received_at)
            })
            .buffer_unordered(self.settings.task_concurrency.max(1))
            .collect()
            .await;
        for (index, outcome) in results.into_iter().flatten() {
            outcomes[index] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| Outcome::Failed {
                    reason: "internal: event left unprocessed".into(),
                })
            })
            .collect()
    }

    /// One DescribeTasks call per cluster per up-to-100 tasks, for tasks with fresh events that the
    /// enrichment mode says are worth describing; the others keep their snapshot's tags.
    async fn enrich(
        &self,
        events: &[TaskEvent],
        plan: &[TaskEvents<'_>],
        snapshots: &HashMap<String, Snapshot>,
    ) -> HashMap<String, Enrichment> {
        let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for task in plan {
            if let Some(newest) = task.newest_fresh() {
                let detail = &events[newest.index].detail;
                let snapshot = snapshots.get(task.task_arn);
                if !should_describe(self.settings.enrich, snapshot, detail.last_status.as_ref()) {
                    continue;
                }
                by_cluster
                    .entry(detail.cluster_arn.as_str())
                    .or_default()
                    .push(detail.task_arn.clone());
            }
        }
        let mut enrichment = HashMap::new();
        for (cluster_arn, task_arns) in by_cluster {
            for chunk in task_arns.chunks(MAX_TASKS_PER_CALL) {
                match self.describer.describe_tasks(cluster_arn, chunk).await {
                    Ok(mut description) => {
                        for task_arn in chunk {
                            let found = description.tags.remove(task_arn);
                            let entry = found.map_or(Enrichment::Missing, Enrichment::Tags);
                            enrichment.insert(task_arn.clone(), entry);
                        }
                        if !description.missing.is_empty() {
                            info!(cluster_arn, missing = description.missing.len(), "DescribeTasks did not return some tasks; recording them from their events alone");
                        }
                    }
                    Err(err) => {
                        warn!(error = %err, cluster_arn, tasks = chunk.len(), "DescribeTasks failed; their fresh events will be retried");
                        let reason = err.to_string();
                        for task_arn in chunk {
                            enrichment.insert(task_arn.clone(), Enrichment::Failed(reason.clone()));
                        }
                    }
                }
            }
        }
        enrichment
    }

    /// Writes one task's history in version order, then advances its snapshot once.
    async fn process_task(
        &self,
        events: &[TaskEvent],
        task: &TaskEvents<'_>,
        snapshot: Option<&Snapshot>,
        enrichment: Option<&Enrichment>,
        received_at: DateTime<Utc>,
    ) -> Vec<(usize, Outcome)> {
        // Tags carried from the snapshot, but only ones DescribeTasks once reported: an empty map
        // that was never described means "unknown", not "no tags".
        let snapshot_tags = || match snapshot.filter(|s| s.tags_known) {
            Some(known) => Tags {
                values: known.tags.clone(),
                source: TagSource::Snapshot,
                enriched: false,
            },
            None => Tags::none(),
        };
        let context = |tags: Tags, late_arrival: bool| RecordContext {
            tags,
            late_arrival,
            received_at,
            retention_days: self.settings.retention_days,
        };

        let mut outcomes = Vec::with_capacity(task.events.len());
        // Fresh events whose history is safely stored, with whether it was new: the snapshot may
        // only move to a version whose history exists, or a crash would lose that history.
        let mut stored_fresh: Vec<(usize, Inserted, bool)> = Vec::new();
        let mut newest_record = None;

        for planned in &task.events {
            let event = &events[planned.index];
            match planned.class {
                Class::Duplicate => outcomes.push((planned.index, Outcome::Duplicate)),
                Class::Stale => {
                    let record = normalize(event, context(snapshot_tags(), true));
                    let outcome = match self.store.put_history(&record).await {
                        Ok(inserted) => Outcome::Stale {
                            gap_filled: inserted == Inserted::New,
                        },
                        Err(err) => Outcome::Failed {
                            reason: err.to_string(),
                        },
                    };
                    outcomes.push((planned.index, outcome));
                }
                Class::Fresh => {
                    let (tags, enriched) = match enrichment {
                        Some(Enrichment::Tags(values)) => (
                            Tags {
                                values: values.clone(),
                                source: TagSource::DescribeTasks,
                                enriched: true,
                            },
                            true,
                        ),
                        Some(Enrichment::Failed(reason)) => {
                            outcomes.push((
                                planned.index,
                                Outcome::Failed {
                                    reason: reason.clone(),
                                },
                            ));
                            continue;
                        }
                        Some(Enrichment::Missing) | None => (snapshot_tags(), false),
                    };
                    let record = normalize(event, context(tags, false));
                    match self.store.put_history(&record).await {
                        Ok(inserted) => {
                            stored_fresh.push((planned.index, inserted, enriched));
                            newest_record = Some(record);
                        }
                        Err(err) => outcomes.push((
                            planned.index,
                            Outcome::Failed {
                                reason: err.to_string(),
                            },
                        )),
                    }
                }
            }
        }

        if let Some(record) = newest_record {
            let advance = self
                .store
                .advance_snapshot(&Snapshot::from_record(&record, snapshot))
                .await;
            for (index, inserted, enriched) in stored_fresh {
                let outcome = match (&advance, inserted) {
                    (Ok(Advance::Advanced), _) => Outcome::Fresh { enriched },
                    (Ok(Advance::Superseded), Inserted::New) => Outcome::Stale { gap_filled: true },
                    (Ok(Advance::Superseded), Inserted::AlreadyRecorded) => Outcome::Duplicate,
                    (Err(err), _) => Outcome::Failed {
                        reason: err.to_string(),
                    },
                };
                outcomes.push((index, outcome));
            }
        }

        for (index, outcome) in &outcomes {
            let event = &events[*index];
            match outcome {
                Outcome::Failed { reason } => warn!(
                    event_id = event.id.as_deref().unwrap_or(""),
                    task_arn = %event.detail.task_arn,
                    version = event.detail.version,
                    outcome = outcome.label(),
                    reason = %reason,
                    "event not recorded"
                ),
                _ => info!(
                    event_id = event.id.as_deref().unwrap_or(""),
                    task_arn = %event.detail.task_arn,
                    version = event.detail.version,
                    outcome = outcome.label(),
                    "event processed"
                ),
            }
        }
        outcomes
    }
}
