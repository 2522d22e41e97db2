//! The one orchestration every entry point uses (the Lambda handler, `replay`, `backfill`, the
//! scheduled reconciliation and the benchmark): inputs in, one typed outcome per input out.
//! read → load snapshots → classify → enrich → write history → alert on failed stops (once) →
//! advance snapshots.

mod alerts;

pub use alerts::{AlertError, ALERT_LEASE_SECONDS};

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use tracing::{error, info, warn};

use crate::core::alert::AlertRules;
use crate::core::arn::Arn;
use crate::core::classify::{classify_batch, Class, TaskEvents};
use crate::core::enrich::{should_describe, EnrichMode};
use crate::core::event::{parse_event, Parsed, TaskEvent};
use crate::core::history::{
    index_hour, mark_indexed, normalize, HistoryRecord, RecordContext, Snapshot, TagSource, Tags,
};
use crate::core::outcome::Outcome;
use crate::core::rejected::identify;
use crate::ports::{
    AlertLedger, AlertSink, Inserted, NoAlerts, ServiceError, SnapshotWrite, TaskDescriber,
    TaskStore, MAX_TASKS_PER_CALL,
};
use alerts::Alerting;

/// One thing to record.
#[derive(Clone, Debug)]
pub enum Input<'a> {
    /// A raw EventBridge event: an SQS record's body, a direct invocation's payload, a saved file.
    /// `source` names it in log lines (an SQS message id, a file and line).
    Body {
        source: Option<&'a str>,
        text: &'a str,
    },
    /// An event already read.
    Event(Box<TaskEvent>),
    /// A task ECS described just now (reconciliation): its state change, and the tags of the same
    /// answer, so it is not described again.
    Described {
        event: Box<TaskEvent>,
        tags: BTreeMap<String, String>,
    },
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
    /// Not described for another reason (a failure other than MISSING, an unreachable account):
    /// not known to be gone.
    Unavailable,
    Failed(ServiceError),
}

pub struct Pipeline<D, S, A = NoAlerts> {
    describer: D,
    store: S,
    settings: Settings,
    /// `None`: no alert topic is configured.
    alerting: Option<Alerting<A>>,
}

/// A batch once classified and enriched: what planning its writes reads.
struct Batch<'a> {
    events: &'a [TaskEvent],
    snapshots: &'a HashMap<String, Snapshot>,
    enrichment: &'a HashMap<String, Enrichment>,
    received_at: DateTime<Utc>,
}

/// One task's share of a batch, between classification and the writes.
struct TaskWork<'a> {
    snapshot: Option<&'a Snapshot>,
    /// The hour of the task's last index entry once this batch's records are written.
    indexed_hour: Option<i64>,
    /// DescribeTasks answered MISSING for the task in this batch.
    ecs_missing: bool,
    /// Stale events and their records, to write only if absent.
    late: Vec<(usize, HistoryRecord)>,
    /// Fresh events: (event index, index into the batch's fresh records, enriched).
    fresh: Vec<(usize, usize, bool)>,
}

impl<D, S> Pipeline<D, S> {
    pub fn new(describer: D, store: S, settings: Settings) -> Self {
        Self {
            describer,
            store,
            settings,
            alerting: None,
        }
    }
}

impl<D, S, A> Pipeline<D, S, A> {
    /// The same pipeline, alerting on failed stops to a sink as the rules say (`None`: not).
    pub fn with_alerts<B>(self, alerts: Option<(B, AlertRules)>) -> Pipeline<D, S, B> {
        Pipeline {
            describer: self.describer,
            store: self.store,
            settings: self.settings,
            alerting: alerts.map(|(sink, rules)| Alerting::new(sink, rules)),
        }
    }

    /// Where alerts go, if anywhere.
    pub fn alert_sink(&self) -> Option<&A> {
        self.alerting.as_ref().map(|alerting| &alerting.sink)
    }
}

impl<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink> Pipeline<D, S, A> {
    pub fn describer(&self) -> &D {
        &self.describer
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Records what `inputs` hold; one outcome per input, in order, each also logged as one line.
    pub async fn process(&self, inputs: Vec<Input<'_>>) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; inputs.len()];
        let mut events = Vec::with_capacity(inputs.len());
        let mut owners = Vec::with_capacity(inputs.len());
        let mut known_tags = HashMap::new();
        for (position, input) in inputs.into_iter().enumerate() {
            let event = match input {
                Input::Body { source, text } => match read_body(source, text) {
                    Ok(event) => event,
                    Err(outcome) => {
                        outcomes[position] = Some(outcome);
                        continue;
                    }
                },
                Input::Event(event) => *event,
                Input::Described { event, tags } => {
                    known_tags.insert(event.detail.task_arn.clone(), tags);
                    *event
                }
            };
            events.push(event);
            owners.push(position);
        }
        let recorded = self.record(&events, known_tags, Utc::now()).await;
        let mut clusters: Vec<&str> = events
            .iter()
            .map(|e| e.detail.cluster_arn.as_str())
            .collect();
        clusters.sort_unstable();
        clusters.dedup();
        self.store.note_clusters(&clusters).await;
        for ((event, outcome), position) in events.iter().zip(recorded).zip(owners) {
            log_outcome(event, &outcome);
            outcomes[position] = Some(outcome);
        }
        every_one(outcomes)
    }

    /// Records a batch of task events; one outcome per event, in order.
    async fn record(
        &self,
        events: &[TaskEvent],
        known_tags: HashMap<String, BTreeMap<String, String>>,
        received_at: DateTime<Utc>,
    ) -> Vec<Outcome> {
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
                let outcome = outcome_of(&err);
                return vec![outcome; events.len()];
            }
        };
        let plan = classify_batch(
            events
                .iter()
                .enumerate()
                .map(|(index, e)| (index, e.detail.task_arn.as_str(), e.detail.version)),
            |task_arn| snapshots.get(task_arn).map(|snapshot| snapshot.version),
        );
        let enrichment = self.enrich(events, &plan, &snapshots, known_tags).await;
        let batch = Batch {
            events,
            snapshots: &snapshots,
            enrichment: &enrichment,
            received_at,
        };

        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let mut fresh_records = Vec::new();
        let work: Vec<TaskWork> = plan
            .iter()
            .map(|task| self.plan_writes(&batch, task, &mut fresh_records, &mut outcomes))
            .collect();

        // Every fresh record of the batch in as few requests as the store allows, and before any
        // snapshot moves: a snapshot may only reach a version whose history is stored, or a crash
        // between the two writes would lose that history.
        let written = if fresh_records.is_empty() {
            Vec::new()
        } else {
            self.store.put_fresh_history(&fresh_records).await
        };
        let finished: Vec<Vec<(usize, Outcome)>> = stream::iter(work.iter())
            .map(|task| self.finish_task(task, &fresh_records, &written, received_at))
            .buffer_unordered(self.settings.task_concurrency.max(1))
            .collect()
            .await;
        for (index, outcome) in finished.into_iter().flatten() {
            outcomes[index] = Some(outcome);
        }
        every_one(outcomes)
    }

    /// Decides what one task's events write: duplicates nothing, stale events their own record if
    /// absent, fresh events their record (pushed onto the batch's `fresh_records`).
    fn plan_writes<'a>(
        &self,
        batch: &Batch<'a>,
        task: &TaskEvents<'_>,
        fresh_records: &mut Vec<HistoryRecord>,
        outcomes: &mut [Option<Outcome>],
    ) -> TaskWork<'a> {
        let (events, received_at) = (batch.events, batch.received_at);
        let snapshot = batch.snapshots.get(task.task_arn);
        let enriched = batch.enrichment.get(task.task_arn);
        let mut work = TaskWork {
            snapshot,
            indexed_hour: snapshot.and_then(|snapshot| snapshot.indexed_hour),
            ecs_missing: matches!(enriched, Some(Enrichment::Missing)),
            late: Vec::new(),
            fresh: Vec::new(),
        };
        let first_fresh = fresh_records.len();
        for planned in &task.events {
            let event = &events[planned.index];
            match planned.class {
                Class::Duplicate => outcomes[planned.index] = Some(Outcome::Duplicate),
                Class::Stale => {
                    let context = self.context(carried_tags(snapshot), true, received_at);
                    let mut record = normalize(event, context);
                    // The snapshot's hour has the task's entry; any other hour of the past may not.
                    let indexed_hour = snapshot.and_then(|snapshot| snapshot.indexed_hour);
                    record.indexed = Some(index_hour(record.event_time)) != indexed_hour;
                    work.late.push((planned.index, record));
                }
                Class::Fresh => match fresh_tags(enriched, snapshot) {
                    Err(err) => outcomes[planned.index] = Some(outcome_of(&err)),
                    Ok(tags) => {
                        let is_enriched = tags.enriched;
                        let context = self.context(tags, false, received_at);
                        work.fresh
                            .push((planned.index, fresh_records.len(), is_enriched));
                        fresh_records.push(normalize(event, context));
                    }
                },
            }
        }
        work.indexed_hour = mark_indexed(work.indexed_hour, &mut fresh_records[first_fresh..]);
        work
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
    /// enrichment mode says are worth describing; the others keep their snapshot's tags. Tasks whose
    /// tags came with their input (reconciliation) are not described again.
    async fn enrich(
        &self,
        events: &[TaskEvent],
        plan: &[TaskEvents<'_>],
        snapshots: &HashMap<String, Snapshot>,
        known_tags: HashMap<String, BTreeMap<String, String>>,
    ) -> HashMap<String, Enrichment> {
        let mut enrichment: HashMap<String, Enrichment> = known_tags
            .into_iter()
            .map(|(task_arn, tags)| (task_arn, Enrichment::Tags(tags)))
            .collect();
        let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for task in plan {
            let Some(newest) = task.newest_fresh() else {
                continue;
            };
            let detail = &events[newest.index].detail;
            if enrichment.contains_key(task.task_arn)
                || !should_describe(
                    self.settings.enrich,
                    snapshots.get(task.task_arn),
                    detail.last_status.as_ref(),
                )
            {
                continue;
            }
            if !same_location(&detail.task_arn, &detail.cluster_arn) {
                warn!(task_arn = %detail.task_arn, cluster_arn = %detail.cluster_arn, "task and cluster ARNs name different accounts or regions; recording it without describing it");
                enrichment.insert(detail.task_arn.clone(), Enrichment::Unavailable);
                continue;
            }
            by_cluster
                .entry(detail.cluster_arn.as_str())
                .or_default()
                .push(detail.task_arn.clone());
        }
        for (cluster_arn, task_arns) in by_cluster {
            for chunk in task_arns.chunks(MAX_TASKS_PER_CALL) {
                self.describe_chunk(cluster_arn, chunk, &mut enrichment)
                    .await;
            }
        }
        enrichment
    }

    async fn describe_chunk(
        &self,
        cluster_arn: &str,
        chunk: &[String],
        enrichment: &mut HashMap<String, Enrichment>,
    ) {
        match self.describer.describe_tasks(cluster_arn, chunk).await {
            Ok(mut description) => {
                for task_arn in chunk {
                    let entry = match description.tasks.remove(task_arn) {
                        Some(described) => Enrichment::Tags(described.tags),
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
                for task_arn in chunk {
                    enrichment.insert(task_arn.clone(), Enrichment::Failed(err.clone()));
                }
            }
        }
    }

    /// Once the batch's fresh records are written: gap-fills the task's late events and advances
    /// its snapshot to its newest stored fresh version, concurrently (they touch different items).
    async fn finish_task(
        &self,
        task: &TaskWork<'_>,
        fresh_records: &[HistoryRecord],
        written: &[Result<(), ServiceError>],
        received_at: DateTime<Utc>,
    ) -> Vec<(usize, Outcome)> {
        let late = async {
            let mut outcomes = Vec::with_capacity(task.late.len());
            for (index, record) in &task.late {
                let outcome = match self.store.put_history_if_absent(record).await {
                    Ok(Inserted::New) => Outcome::GapFilled,
                    // A record in the way may be this very write, executed but its answer lost and
                    // retried by the SDK; it cannot be told from an earlier delivery of the same
                    // event, so both count as already recorded: the record is there either way.
                    Ok(Inserted::AlreadyRecorded) => Outcome::Stale,
                    Err(err) => outcome_of(&err),
                };
                outcomes.push((*index, outcome));
            }
            outcomes
        };
        let advance = self.advance(task, fresh_records, written, received_at);
        let (mut late, fresh) = futures::join!(late, advance);
        late.extend(fresh);
        late
    }

    /// Moves the task's snapshot to its newest fresh record that was stored, once that record's
    /// alert (if it is a failed stop) is sent, and decides what each fresh event became from what
    /// the store found.
    async fn advance(
        &self,
        task: &TaskWork<'_>,
        fresh_records: &[HistoryRecord],
        written: &[Result<(), ServiceError>],
        received_at: DateTime<Utc>,
    ) -> Vec<(usize, Outcome)> {
        let mut outcomes = Vec::with_capacity(task.fresh.len());
        let mut stored = Vec::with_capacity(task.fresh.len());
        let mut newest = None;
        for &(index, record_index, enriched) in &task.fresh {
            match written.get(record_index) {
                Some(Ok(())) => {
                    stored.push((index, enriched));
                    newest = fresh_records.get(record_index);
                }
                Some(Err(err)) => outcomes.push((index, outcome_of(err))),
                None => outcomes.push((
                    index,
                    Outcome::Failed {
                        reason: "internal: the store returned no result for this record".into(),
                    },
                )),
            }
        }
        let Some(record) = newest else {
            return outcomes;
        };
        // Before the snapshot moves: until the alert is out, a redelivery finds the stop fresh and
        // sends it (records are stored either way).
        if let Err(err) = self.alert_once(record, received_at).await {
            warn!(task_arn = %record.task_arn, error = %err, "the task's stop is recorded but its alert is not sent; its events will be retried");
            let reason = err.to_string();
            outcomes.extend(stored.into_iter().map(|(index, _)| {
                (
                    index,
                    Outcome::Failed {
                        reason: reason.clone(),
                    },
                )
            }));
            return outcomes;
        }
        let mut next = Snapshot::from_record(record, task.snapshot);
        next.ecs_missing |= task.ecs_missing;
        // The snapshot may name an hour as indexed only once that hour's entry is written: if any
        // of this batch's records failed, the next ones index their hours again.
        if stored.len() == task.fresh.len() {
            next.indexed_hour = task.indexed_hour;
        }
        let advance = self.store.advance_snapshot(&next).await;
        for (index, enriched) in stored {
            let outcome = match &advance {
                Ok(SnapshotWrite::Written) => Outcome::Fresh { enriched },
                // Already at exactly this version: our own write whose answer was lost (then
                // retried), or the same event written by a concurrent invocation. It advanced.
                Ok(SnapshotWrite::Refused {
                    stored_version: Some(version),
                }) if *version == next.version => Outcome::Fresh { enriched },
                // A concurrent invocation moved the task past this version first; this record is
                // stored all the same.
                Ok(SnapshotWrite::Refused { .. }) => Outcome::GapFilled,
                Err(err) => outcome_of(err),
            };
            outcomes.push((index, outcome));
        }
        outcomes
    }
}

/// One outcome per input: a slot the pipeline left empty is an internal error, failed (and so
/// delivered again), never a silent success.
fn every_one(outcomes: Vec<Option<Outcome>>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| Outcome::Failed {
                reason: "internal: input left unprocessed".into(),
            })
        })
        .collect()
}

/// A body that is not a task event to record: its outcome, logged here (recorded events are
/// logged once their outcome is known).
fn read_body(source: Option<&str>, text: &str) -> Result<TaskEvent, Outcome> {
    let source = source.unwrap_or("");
    match parse_event(text) {
        Ok(Parsed::Task(event)) => Ok(*event),
        Ok(Parsed::Other {
            source: event_source,
            detail_type,
        }) => {
            info!(
                input = source,
                source = %event_source,
                detail_type = %detail_type,
                outcome = "skipped",
                "not a task state change; skipped"
            );
            Err(Outcome::Skipped {
                source: event_source,
                detail_type,
            })
        }
        Err(err) => {
            let who = identify(text);
            error!(input = source, event_id = who.event_id, task_arn = who.task_arn, version = who.version, error = %err, outcome = "rejected", "unreadable event; it goes to the dead-letter queue or on-failure destination");
            Err(Outcome::Rejected {
                reason: err.to_string(),
            })
        }
    }
}

/// A failed call's outcome: retried unless the request itself was invalid, which no retry fixes.
fn outcome_of(err: &ServiceError) -> Outcome {
    if err.class.retryable() {
        Outcome::Failed {
            reason: err.to_string(),
        }
    } else {
        Outcome::Rejected {
            reason: err.to_string(),
        }
    }
}

/// Whether a task and its cluster are in the same account and region, as ECS always has them; a
/// producer that says otherwise is not trusted with routing a DescribeTasks call.
fn same_location(task_arn: &str, cluster_arn: &str) -> bool {
    match (Arn::parse(task_arn), Arn::parse(cluster_arn)) {
        (Some(task), Some(cluster)) => {
            task.account == cluster.account && task.region == cluster.region
        }
        _ => true,
    }
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
) -> Result<Tags, ServiceError> {
    match enrichment {
        Some(Enrichment::Tags(values)) => Ok(Tags {
            values: values.clone(),
            source: TagSource::DescribeTasks,
            enriched: true,
        }),
        Some(Enrichment::Failed(err)) => Err(err.clone()),
        Some(Enrichment::Missing | Enrichment::Unavailable) | None => Ok(carried_tags(snapshot)),
    }
}

/// One line per event decision, with the fields an operator greps for.
fn log_outcome(event: &TaskEvent, outcome: &Outcome) {
    let event_id = event.id.as_deref().unwrap_or("");
    let detail = &event.detail;
    match outcome.reason() {
        Some(reason) => warn!(
            event_id,
            task_arn = %detail.task_arn,
            version = detail.version,
            outcome = outcome.label(),
            reason = %reason,
            "event not recorded"
        ),
        None => info!(
            event_id,
            task_arn = %detail.task_arn,
            version = detail.version,
            outcome = outcome.label(),
            "event processed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::tests::{task, LIFECYCLE};
    use crate::memory::{MemoryEcs, MemoryStore};
    use crate::ports::DescribedTask;

    fn pipeline() -> Pipeline<MemoryEcs, MemoryStore> {
        let event = task(LIFECYCLE[0]);
        let ecs = MemoryEcs::default().with_task(DescribedTask {
            state: event.detail.clone(),
            tags: [("team".to_owned(), "payments".to_owned())].into(),
        });
        Pipeline::new(ecs, MemoryStore::default(), Settings::default())
    }

    async fn send(pipeline: &Pipeline<MemoryEcs, MemoryStore>, versions: &[usize]) -> Vec<Outcome> {
        let inputs = versions
            .iter()
            .map(|v| Input::Body {
                source: None,
                text: LIFECYCLE[v - 1],
            })
            .collect();
        pipeline.process(inputs).await
    }

    fn task_arn() -> String {
        task(LIFECYCLE[0]).detail.task_arn
    }

    #[tokio::test]
    async fn every_outcome_of_the_version_check() {
        let pipeline = pipeline();
        assert_eq!(
            send(&pipeline, &[4]).await,
            [Outcome::Fresh { enriched: true }]
        );
        assert_eq!(send(&pipeline, &[4]).await, [Outcome::Duplicate]);
        assert_eq!(send(&pipeline, &[2]).await, [Outcome::GapFilled]);
        assert_eq!(send(&pipeline, &[2]).await, [Outcome::Stale]);
        // Within one batch: in version order, the repeat a duplicate of its first delivery.
        assert_eq!(
            send(&pipeline, &[6, 5, 6]).await,
            [
                Outcome::Fresh { enriched: false },
                Outcome::Fresh { enriched: false },
                Outcome::Duplicate
            ]
        );
        let snapshot = pipeline.store().snapshot(&task_arn()).unwrap();
        assert_eq!(snapshot.version, 6);
        assert!(snapshot.tags_known, "described once, then carried");
        assert_eq!(
            pipeline.describer().calls(),
            1,
            "new-tasks describes a task once"
        );
    }

    #[tokio::test]
    async fn bodies_that_are_not_task_events_are_skipped_or_rejected_with_a_reason() {
        let pipeline = pipeline();
        let other = include_str!("../../events/container-instance-state-change.json");
        let inputs = vec![
            Input::Body {
                source: Some("m1"),
                text: other,
            },
            Input::Body {
                source: Some("m2"),
                text: "{\"detail\": {",
            },
            Input::Body {
                source: Some("m3"),
                text: LIFECYCLE[0],
            },
        ];
        let outcomes = pipeline.process(inputs).await;
        assert!(
            matches!(&outcomes[0], Outcome::Skipped { detail_type, .. } if detail_type == "ECS Container Instance State Change")
        );
        assert!(
            matches!(&outcomes[1], Outcome::Rejected { reason } if reason.contains("EventBridge"))
        );
        assert_eq!(outcomes[2], Outcome::Fresh { enriched: true });
    }

    /// The index holds one entry per task per hour: the sample lifecycle's eight changes all
    /// happen within one hour, so only its first recorded version carries the entry, whatever the
    /// order and however many batches they come in.
    #[tokio::test]
    async fn a_lifecycle_within_one_hour_makes_one_index_entry_in_any_order() {
        for batches in [
            vec![vec![1, 2, 3, 4, 5, 6, 7, 8]],
            vec![vec![3], vec![1, 2], vec![8, 4], vec![5, 6, 7]],
        ] {
            let pipeline = pipeline();
            for batch in &batches {
                send(&pipeline, batch).await;
            }
            let entries: Vec<u64> = pipeline
                .store()
                .history(&task_arn())
                .into_iter()
                .filter(|(_, item)| item.contains_key("gsi1pk"))
                .map(|(version, _)| version)
                .collect();
            // The first version recorded carries it; a late one finds its hour indexed already.
            assert_eq!(entries, [batches[0][0] as u64], "{batches:?}");
            assert_eq!(pipeline.store().history(&task_arn()).len(), 8);
        }
    }

    #[tokio::test]
    async fn a_late_record_of_an_hour_without_the_tasks_entry_carries_one() {
        let pipeline = pipeline();
        send(&pipeline, &[4]).await;
        let mut late = task(LIFECYCLE[1]);
        late.detail.updated_at = late
            .detail
            .updated_at
            .map(|t| t - chrono::Duration::hours(2));
        let outcomes = pipeline.process(vec![Input::Event(Box::new(late))]).await;
        assert_eq!(outcomes, [Outcome::GapFilled]);
        let indexed: Vec<u64> = pipeline
            .store()
            .history(&task_arn())
            .into_iter()
            .filter(|(_, item)| item.contains_key("gsi1pk"))
            .map(|(version, _)| version)
            .collect();
        assert_eq!(indexed, [2, 4]);
    }

    #[tokio::test]
    async fn described_tasks_are_recorded_with_their_tags_without_describing_them_again() {
        let pipeline = pipeline();
        let event = task(LIFECYCLE[3]);
        let outcomes = pipeline
            .process(vec![Input::Described {
                event: Box::new(event),
                tags: [("env".to_owned(), "prod".to_owned())].into(),
            }])
            .await;
        assert_eq!(outcomes, [Outcome::Fresh { enriched: true }]);
        assert_eq!(pipeline.describer().calls(), 0);
        assert_eq!(
            pipeline.store().snapshot(&task_arn()).unwrap().tags["env"],
            "prod"
        );
    }
}
