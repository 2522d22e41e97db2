//! The one orchestration every entry point uses: load snapshots → classify → enrich → write → outcomes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use crate::classify::{classify_batch, Class, TaskEvents};
use crate::describe::{TaskDescriber, MAX_TASKS_PER_CALL};
use crate::enrich::{should_describe, EnrichMode};
use crate::event::TaskEvent;
use crate::history::{normalize, HistoryRecord, RecordContext, Snapshot, TagSource, Tags};
use crate::store::{Advance, Inserted, StoreError, TaskStore};

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
    /// DescribeTasks failed for this task for another reason than MISSING: not known to be gone.
    Unavailable,
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
        let mut fresh_records: Vec<HistoryRecord> = Vec::new();
        let mut work: Vec<TaskWork> = Vec::with_capacity(plan.len());
        for task in &plan {
            let snapshot = snapshots.get(task.task_arn);
            let mut task_work = TaskWork {
                snapshot,
                ecs_missing: matches!(enrichment.get(task.task_arn), Some(Enrichment::Missing)),
                late: Vec::new(),
                fresh: Vec::new(),
            };
            for planned in &task.events {
                let event = &events[planned.index];
                match planned.class {
                    Class::Duplicate => outcomes[planned.index] = Some(Outcome::Duplicate),
                    Class::Stale => {
                        let record = normalize(
                            event,
                            self.context(carried_tags(snapshot), true, received_at),
                        );
                        task_work.late.push((planned.index, record));
                    }
                    Class::Fresh => match fresh_tags(enrichment.get(task.task_arn), snapshot) {
                        Err(reason) => outcomes[planned.index] = Some(Outcome::Failed { reason }),
                        Ok(tags) => {
                            let enriched = tags.enriched;
                            let record = normalize(event, self.context(tags, false, received_at));
                            task_work
                                .fresh
                                .push((planned.index, fresh_records.len(), enriched));
                            fresh_records.push(record);
                        }
                    },
                }
            }
            work.push(task_work);
        }

        // Every fresh record of the batch in as few requests as the store allows, and before any
        // snapshot moves: a snapshot may only reach a version whose history is stored, or a crash
        // between the two writes would lose that history.
        let written = if fresh_records.is_empty() {
            Vec::new()
        } else {
            self.store.put_fresh_history(&fresh_records).await
        };
        let results: Vec<Vec<(usize, Outcome)>> = stream::iter(work.iter())
            .map(|task| self.finish_task(task, &fresh_records, &written))
            .buffer_unordered(self.settings.task_concurrency.max(1))
            .collect()
            .await;
        for (index, outcome) in results.into_iter().flatten() {
            outcomes[index] = Some(outcome);
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| Outcome::Failed {
                    reason: "internal: event left unprocessed".into(),
                })
            })
            .collect();
        for (event, outcome) in events.iter().zip(&outcomes) {
            log_outcome(event, outcome);
        }
        outcomes
    }

    fn context(&self, tags: Tags, late_arrival: bool, received_at: DateTime<Utc>) -> RecordContext {
        RecordContext {
            tags,
            late_arrival,
            received_at,
            retention_days: self.settings.retention_days,
        }
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
                            let entry = match description.tags.remove(task_arn) {
                                Some(tags) => Enrichment::Tags(tags),
                                None if description.unavailable.contains(task_arn) => {
                                    Enrichment::Unavailable
                                }
                                None => Enrichment::Missing,
                            };
                            enrichment.insert(task_arn.clone(), entry);
                        }
                        if !description.missing.is_empty() || !description.unavailable.is_empty() {
                            info!(cluster_arn, missing = description.missing.len(), unavailable = description.unavailable.len(), "DescribeTasks did not return some tasks; recording them from their events alone");
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

    /// Once the batch's fresh records are written: gap-fills the task's late events and advances
    /// its snapshot to its newest stored fresh version, concurrently (they touch different items).
    async fn finish_task(
        &self,
        task: &TaskWork<'_>,
        fresh_records: &[HistoryRecord],
        written: &[Result<(), StoreError>],
    ) -> Vec<(usize, Outcome)> {
        let late = async {
            let mut outcomes = Vec::with_capacity(task.late.len());
            for (index, record) in &task.late {
                let outcome = match self.store.put_history(record).await {
                    Ok(inserted) => Outcome::Stale {
                        gap_filled: inserted == Inserted::New,
                    },
                    Err(err) => Outcome::Failed {
                        reason: err.to_string(),
                    },
                };
                outcomes.push((*index, outcome));
            }
            outcomes
        };

        let fresh = async {
            let mut outcomes = Vec::with_capacity(task.fresh.len());
            let mut stored = Vec::with_capacity(task.fresh.len());
            let mut newest = None;
            for &(index, record_index, enriched) in &task.fresh {
                match written.get(record_index) {
                    Some(Ok(())) => {
                        stored.push((index, enriched));
                        newest = fresh_records.get(record_index);
                    }
                    Some(Err(err)) => outcomes.push((
                        index,
                        Outcome::Failed {
                            reason: err.to_string(),
                        },
                    )),
                    None => outcomes.push((
                        index,
                        Outcome::Failed {
                            reason: "internal: the store returned no result for this record".into(),
                        },
                    )),
                }
            }
            if let Some(record) = newest {
                let mut next = Snapshot::from_record(record, task.snapshot);
                next.ecs_missing |= task.ecs_missing;
                let advance = self.store.advance_snapshot(&next).await;
                for (index, enriched) in stored {
                    let outcome = match &advance {
                        Ok(Advance::Advanced) => Outcome::Fresh { enriched },
                        // A concurrent invocation moved the task past this version first; its
                        // record is stored all the same.
                        Ok(Advance::Superseded) => Outcome::Stale { gap_filled: true },
                        Err(err) => Outcome::Failed {
                            reason: err.to_string(),
                        },
                    };
                    outcomes.push((index, outcome));
                }
            }
            outcomes
        };

        let (mut late, fresh) = futures::join!(late, fresh);
        late.extend(fresh);
        late
    }
}

/// One task's share of a batch, between classification and the writes.
struct TaskWork<'a> {
    snapshot: Option<&'a Snapshot>,
    /// DescribeTasks answered MISSING for the task in this batch.
    ecs_missing: bool,
    /// Stale events and their records, to write only if absent.
    late: Vec<(usize, HistoryRecord)>,
    /// Fresh events: (event index, index into the batch's fresh records, enriched).
    fresh: Vec<(usize, usize, bool)>,
}

/// Tags carried from the snapshot, but only ones DescribeTasks once reported: an empty map that was
/// never described means "unknown", not "no tags".
fn carried_tags(snapshot: Option<&Snapshot>) -> Tags {
    match snapshot.filter(|s| s.tags_known) {
        Some(known) => Tags {
            values: known.tags.clone(),
            source: TagSource::Snapshot,
            enriched: false,
        },
        None => Tags::none(),
    }
}

/// The tags a fresh event is recorded with, or why it cannot be recorded now.
fn fresh_tags(
    enrichment: Option<&Enrichment>,
    snapshot: Option<&Snapshot>,
) -> Result<Tags, String> {
    match enrichment {
        Some(Enrichment::Tags(values)) => Ok(Tags {
            values: values.clone(),
            source: TagSource::DescribeTasks,
            enriched: true,
        }),
        Some(Enrichment::Failed(reason)) => Err(reason.clone()),
        Some(Enrichment::Missing | Enrichment::Unavailable) | None => Ok(carried_tags(snapshot)),
    }
}

/// One line per event decision, with the fields an operator greps for.
fn log_outcome(event: &TaskEvent, outcome: &Outcome) {
    let event_id = event.id.as_deref().unwrap_or("");
    let detail = &event.detail;
    match outcome {
        Outcome::Failed { reason } => warn!(
            event_id,
            task_arn = %detail.task_arn,
            version = detail.version,
            outcome = outcome.label(),
            reason = %reason,
            "event not recorded"
        ),
        _ => info!(
            event_id,
            task_arn = %detail.task_arn,
            version = detail.version,
            outcome = outcome.label(),
            "event processed"
        ),
    }
}
