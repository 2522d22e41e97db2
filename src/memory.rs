//! In-memory adapters of the ports. They let the pipeline's decisions be unit-tested without an
//! emulator, and the benchmark measure the pipeline's own CPU without I/O; the store keeps what
//! DynamoDB would (records as items, through the same item mapping).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::aws::dynamodb::items::{history_item, Item};
use crate::core::alert::{Message, Window};
use crate::core::arn::Location;
use crate::core::history::{HistoryRecord, Snapshot};
use crate::ports::{
    AlertEnd, AlertLedger, AlertSink, Claim, DescribedTask, Description, Inserted, ServiceError,
    SnapshotWrite, TaskDescriber, TaskStore,
};

/// ECS with a fixed set of tasks and their tags; every other task is MISSING.
#[derive(Debug, Default)]
pub struct MemoryEcs {
    tasks: BTreeMap<String, DescribedTask>,
    calls: Mutex<usize>,
}

impl MemoryEcs {
    pub fn with_task(mut self, task: DescribedTask) -> Self {
        self.tasks.insert(task.state.task_arn.clone(), task);
        self
    }

    /// DescribeTasks calls made so far.
    pub fn calls(&self) -> usize {
        *self
            .calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TaskDescriber for MemoryEcs {
    async fn describe_tasks(
        &self,
        _cluster_arn: &str,
        task_arns: &[String],
    ) -> Result<Description, ServiceError> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) += 1;
        let mut description = Description::default();
        for task_arn in task_arns {
            match self.tasks.get(task_arn) {
                Some(task) => {
                    description.tasks.insert(task_arn.clone(), task.clone());
                }
                None => description.missing.push(task_arn.clone()),
            }
        }
        Ok(description)
    }

    async fn list_tasks(&self, cluster_arn: &str) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .tasks
            .values()
            .filter(|task| task.state.cluster_arn == cluster_arn)
            .map(|task| task.state.task_arn.clone())
            .collect())
    }

    async fn list_clusters(
        &self,
        _location: Option<&Location>,
    ) -> Result<Vec<String>, ServiceError> {
        let mut clusters: Vec<String> = self
            .tasks
            .values()
            .map(|task| task.state.cluster_arn.clone())
            .collect();
        clusters.dedup();
        Ok(clusters)
    }
}

/// The table, in memory: snapshots, and history records as the items DynamoDB would store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    snapshots: Mutex<HashMap<String, Snapshot>>,
    history: Mutex<BTreeMap<(String, u64), Item>>,
    clusters: Mutex<std::collections::BTreeSet<String>>,
    alerts: Mutex<HashMap<String, AlertClaim>>,
    windows: Mutex<BTreeMap<Window, CrashLoopWindow>>,
}

/// A task's alert claim, as the DynamoDB ledger keeps it.
#[derive(Clone, Debug)]
struct AlertClaim {
    owner: String,
    claimed_at: chrono::DateTime<chrono::Utc>,
    end: Option<AlertEnd>,
}

#[derive(Clone, Debug, Default)]
struct CrashLoopWindow {
    failures: std::collections::BTreeSet<String>,
    summary_by: Option<String>,
}

impl MemoryStore {
    /// The stored snapshot of a task.
    pub fn snapshot(&self, task_arn: &str) -> Option<Snapshot> {
        lock(&self.snapshots).get(task_arn).cloned()
    }

    /// The clusters noted so far.
    pub fn clusters(&self) -> Vec<String> {
        lock(&self.clusters).iter().cloned().collect()
    }

    /// The stored history items of a task, oldest version first.
    pub fn history(&self, task_arn: &str) -> Vec<(u64, Item)> {
        lock(&self.history)
            .iter()
            .filter(|((arn, _), _)| arn == task_arn)
            .map(|((_, version), item)| (*version, item.clone()))
            .collect()
    }

    /// How each task's alert ended, by task ARN (claims still pending are absent).
    pub fn alert_ends(&self) -> BTreeMap<String, AlertEnd> {
        lock(&self.alerts)
            .iter()
            .filter_map(|(arn, claim)| Some((arn.clone(), claim.end?)))
            .collect()
    }

    fn put(&self, record: &HistoryRecord) {
        lock(&self.history).insert(
            (record.task_arn.clone(), record.version),
            history_item(record),
        );
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TaskStore for MemoryStore {
    async fn load_snapshots(
        &self,
        task_arns: &[&str],
    ) -> Result<HashMap<String, Snapshot>, ServiceError> {
        let snapshots = lock(&self.snapshots);
        Ok(task_arns
            .iter()
            .filter_map(|arn| Some(((*arn).to_owned(), snapshots.get(*arn)?.clone())))
            .collect())
    }

    async fn put_fresh_history(&self, records: &[HistoryRecord]) -> Vec<Result<(), ServiceError>> {
        records
            .iter()
            .map(|record| {
                self.put(record);
                Ok(())
            })
            .collect()
    }

    async fn put_history_if_absent(
        &self,
        record: &HistoryRecord,
    ) -> Result<Inserted, ServiceError> {
        let key = (record.task_arn.clone(), record.version);
        if lock(&self.history).contains_key(&key) {
            return Ok(Inserted::AlreadyRecorded);
        }
        self.put(record);
        Ok(Inserted::New)
    }

    async fn advance_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotWrite, ServiceError> {
        let mut snapshots = lock(&self.snapshots);
        match snapshots.get(&snapshot.task_arn) {
            Some(stored) if stored.version >= snapshot.version => Ok(SnapshotWrite::Refused {
                stored_version: Some(stored.version),
            }),
            _ => {
                snapshots.insert(snapshot.task_arn.clone(), snapshot.clone());
                Ok(SnapshotWrite::Written)
            }
        }
    }

    async fn note_clusters(&self, cluster_arns: &[&str]) {
        lock(&self.clusters).extend(cluster_arns.iter().map(|arn| (*arn).to_owned()));
    }
}

impl AlertLedger for MemoryStore {
    async fn claim_alert(
        &self,
        task_arn: &str,
        owner: &str,
        lease: chrono::Duration,
    ) -> Result<Claim, ServiceError> {
        let now = chrono::Utc::now();
        let mut alerts = lock(&self.alerts);
        let claim = match alerts.get(task_arn) {
            None => Claim::Won,
            Some(held) if held.end.is_some() => return Ok(Claim::Done),
            Some(held) if held.owner == owner || held.claimed_at < now - lease => Claim::Won,
            Some(_) => return Ok(Claim::Busy),
        };
        alerts.insert(
            task_arn.to_owned(),
            AlertClaim {
                owner: owner.to_owned(),
                claimed_at: now,
                end: None,
            },
        );
        Ok(claim)
    }

    async fn release_alert(&self, task_arn: &str, owner: &str) -> Result<(), ServiceError> {
        if let Some(claim) = lock(&self.alerts).get_mut(task_arn) {
            if claim.owner == owner && claim.end.is_none() {
                claim.claimed_at = chrono::DateTime::UNIX_EPOCH;
            }
        }
        Ok(())
    }

    async fn finish_alert(
        &self,
        task_arn: &str,
        owner: &str,
        end: AlertEnd,
    ) -> Result<(), ServiceError> {
        match lock(&self.alerts).get_mut(task_arn) {
            Some(claim) if claim.owner == owner => {
                claim.end = Some(end);
                Ok(())
            }
            _ => Err(ServiceError {
                operation: "memory finish_alert",
                target: task_arn.to_owned(),
                message: format!("the alert claim is no longer {owner}'s"),
                class: crate::ports::ErrorClass::Other,
            }),
        }
    }

    async fn add_to_window(
        &self,
        window: &Window,
        entry: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let mut windows = lock(&self.windows);
        let failures = &mut windows.entry(window.clone()).or_default().failures;
        failures.insert(entry.to_owned());
        Ok(failures.iter().cloned().collect())
    }

    async fn claim_summary(&self, window: &Window, task_id: &str) -> Result<bool, ServiceError> {
        let mut windows = lock(&self.windows);
        let summary_by = &mut windows.entry(window.clone()).or_default().summary_by;
        Ok(summary_by.get_or_insert_with(|| task_id.to_owned()) == task_id)
    }

    async fn summarized(&self, window: &Window) -> Result<bool, ServiceError> {
        Ok(lock(&self.windows)
            .get(window)
            .is_some_and(|window| window.summary_by.is_some()))
    }
}

/// An alert topic that keeps what it is sent.
#[derive(Debug, Default)]
pub struct MemoryTopic {
    sent: Mutex<Vec<Message>>,
}

impl MemoryTopic {
    pub fn sent(&self) -> Vec<Message> {
        lock(&self.sent).clone()
    }
}

impl AlertSink for MemoryTopic {
    async fn publish(&self, message: &Message) -> Result<(), ServiceError> {
        lock(&self.sent).push(message.clone());
        Ok(())
    }
}
