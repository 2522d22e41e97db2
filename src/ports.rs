//! The ports: what the pipeline and reconciliation need from the outside world, as traits, so the
//! core logic runs the same against AWS (`aws`), the local emulators, or in memory (`memory`).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use crate::core::alert::{Message, Window};
use crate::core::arn::Location;
use crate::core::event::TaskStateChange;
use crate::core::history::{HistoryRecord, Snapshot};

/// DescribeTasks accepts at most this many tasks per call.
pub const MAX_TASKS_PER_CALL: usize = 100;

/// What a failed call means for the caller, decided once where the error is read (the adapters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The service asked us to slow down and the retries ran out.
    Throttling,
    /// 5xx, timeouts, resets: the same call later will likely succeed.
    Transient,
    /// The thing asked for does not exist (table, cluster, queue).
    NotFound,
    /// The caller lacks the permission (or the member role does not exist or trust us).
    AccessDenied,
    /// No usable credentials, or they were rejected (expired, invalid).
    Credentials,
    /// The request itself is invalid: sending it again can never succeed.
    Validation,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Whether delivering the same input again can succeed. Only an invalid request cannot: a
    /// missing permission or table is fixed by an operator, after which the retry succeeds.
    pub fn retryable(self) -> bool {
        self != Self::Validation
    }
}

/// A call to a dependency failed (after the SDK's own retries).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation} {target} failed{}: {message}", if *.class == ErrorClass::Throttling { " (throttled)" } else { "" })]
pub struct ServiceError {
    /// `Service Operation`, e.g. `DynamoDB PutItem`, `ECS DescribeTasks`.
    pub operation: &'static str,
    /// What it was about: a table, a cluster, an account.
    pub target: String,
    pub message: String,
    pub class: ErrorClass,
}

/// One task as ECS describes it now: its whole state (reconciliation records it) and its tags
/// (which events lack).
#[derive(Clone, Debug, PartialEq)]
pub struct DescribedTask {
    pub state: TaskStateChange,
    pub tags: BTreeMap<String, String>,
}

/// What ECS said about the tasks of one DescribeTasks call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Description {
    /// Every task ECS returned, keyed by the ARN exactly as it was asked for.
    pub tasks: BTreeMap<String, DescribedTask>,
    /// Tasks asked for and not returned: a `MISSING` failure, or simply absent (stopped tasks
    /// vanish from DescribeTasks after about an hour), or their cluster is gone.
    pub missing: Vec<String>,
    /// Tasks not described for another reason (a failure other than `MISSING`, or their account
    /// cannot be reached): ECS may well know them, so they are described again next time.
    pub unavailable: Vec<String>,
}

/// ECS, as the pipeline and reconciliation use it.
pub trait TaskDescriber: Send + Sync {
    /// Describes at most [`MAX_TASKS_PER_CALL`] tasks of one cluster, with their tags.
    fn describe_tasks(
        &self,
        cluster_arn: &str,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Description, ServiceError>> + Send;

    /// Every task ARN ECS lists in a cluster, RUNNING then STOPPED, without repeats.
    fn list_tasks(
        &self,
        cluster_arn: &str,
    ) -> impl Future<Output = Result<Vec<String>, ServiceError>> + Send;

    /// Every cluster ARN of an account and region (`None`: the caller's own).
    fn list_clusters(
        &self,
        location: Option<&Location>,
    ) -> impl Future<Output = Result<Vec<String>, ServiceError>> + Send;
}

/// Result of writing a history record that must be kept as first written (a late event's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// A record of the same task and version was already there.
    AlreadyRecorded,
}

/// What a conditional snapshot write found: the store reports, the pipeline decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotWrite {
    Written,
    /// The stored snapshot was not older; its version, when the store could read it.
    Refused {
        stored_version: Option<u64>,
    },
}

/// Where snapshots and history live.
pub trait TaskStore: Send + Sync {
    /// The snapshots of these tasks; tasks never seen before are absent from the map.
    fn load_snapshots(
        &self,
        task_arns: &[&str],
    ) -> impl Future<Output = Result<HashMap<String, Snapshot>, ServiceError>> + Send;

    /// Writes records of fresh events (newer than their task's snapshot), in as few requests as the
    /// store allows, replacing any stored record of the same task and version. That is safe because
    /// such a record can only be this same event written before its snapshot moved (a crash or a
    /// concurrent duplicate), and it lets the writes go unconditional and batched. One result per
    /// record, in order.
    fn put_fresh_history(
        &self,
        records: &[HistoryRecord],
    ) -> impl Future<Output = Vec<Result<(), ServiceError>>> + Send;

    /// Writes the record unless one of the same task and version exists: a late event's record, if
    /// present, is kept as first written.
    fn put_history_if_absent(
        &self,
        record: &HistoryRecord,
    ) -> impl Future<Output = Result<Inserted, ServiceError>> + Send;

    /// Replaces the stored snapshot only if it is older than this one (or absent).
    fn advance_snapshot(
        &self,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<SnapshotWrite, ServiceError>> + Send;

    /// Notes that these clusters have history, so readers can list what the table holds (every
    /// account and region of an organization) without a scan. Best effort: a failure is logged,
    /// never an event's failure, and the next batch notes the cluster again.
    fn note_clusters(&self, cluster_arns: &[&str]) -> impl Future<Output = ()> + Send;
}

/// Where alerts go (an SNS topic).
pub trait AlertSink: Send + Sync {
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), ServiceError>> + Send;
}

/// No alerts: the pipeline of a deployment without an alert topic.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAlerts;

impl AlertSink for NoAlerts {
    async fn publish(&self, _message: &Message) -> Result<(), ServiceError> {
        Ok(())
    }
}

/// What claiming a task's alert found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This delivery sends the task's alert (or decides it needs none).
    Won,
    /// The task's alert was sent (or deliberately not) by an earlier delivery.
    Done,
    /// Another delivery is sending it right now; if it dies, its lease runs out and a later
    /// delivery of this event takes over.
    Busy,
}

/// How a claimed alert ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEnd {
    Sent,
    /// Part of a crash loop whose one summary another failure sends.
    Suppressed,
    /// SNS refused the message as invalid: no retry can send it (logged as an error).
    Unsendable,
}

/// The bookkeeping that makes a failed task alert once, whatever delivers its STOPPED version how
/// often, and a crash loop alert once per window, whatever instance records which failure.
pub trait AlertLedger: Send + Sync {
    /// Claims the task's alert for `owner` (one pipeline run), unless it was sent, or another owner
    /// holds it and its `lease` has not run out.
    fn claim_alert(
        &self,
        task_arn: &str,
        owner: &str,
        lease: chrono::Duration,
    ) -> impl Future<Output = Result<Claim, ServiceError>> + Send;

    /// Gives up `owner`'s claim at once (the publish failed), so a redelivery can take it over.
    fn release_alert(
        &self,
        task_arn: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Marks `owner`'s claim as ended: no delivery of this task sends an alert again.
    fn finish_alert(
        &self,
        task_arn: &str,
        owner: &str,
        end: AlertEnd,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Adds a failure (`entry`, idempotent) to its crash-loop window; every failure of the window
    /// so far.
    fn add_to_window(
        &self,
        window: &Window,
        entry: &str,
    ) -> impl Future<Output = Result<Vec<String>, ServiceError>> + Send;

    /// Claims the window's one summary for `task_id` (again true for the same task, so a retry
    /// sends it); false when another failure of the window has it.
    fn claim_summary(
        &self,
        window: &Window,
        task_id: &str,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    /// Whether the window's summary was claimed: a crash loop that goes on into the next window
    /// sends that window's summary at its first failure, not three single alerts again.
    fn summarized(
        &self,
        window: &Window,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invalid_requests_are_permanent() {
        use ErrorClass::*;
        for class in [
            Throttling,
            Transient,
            NotFound,
            AccessDenied,
            Credentials,
            Other,
        ] {
            assert!(class.retryable(), "{class:?}");
        }
        assert!(!Validation.retryable());
    }

    #[test]
    fn an_error_names_the_call_the_target_and_throttling() {
        let err = ServiceError {
            operation: "ECS DescribeTasks",
            target: "cluster demo".into(),
            message: "Rate exceeded".into(),
            class: ErrorClass::Throttling,
        };
        assert_eq!(
            err.to_string(),
            "ECS DescribeTasks cluster demo failed (throttled): Rate exceeded"
        );
    }
}
