//! The history-store port: snapshot reads and the idempotent writes the pipeline relies on.

use std::collections::HashMap;
use std::future::Future;

use crate::history::{HistoryRecord, Snapshot};

/// Result of writing a history record, which is written at most once per (task, version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The record for this version was already there (a retry, a duplicate, or a concurrent writer).
    AlreadyRecorded,
}

/// Result of moving a snapshot forward, which only ever moves to a higher version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    Advanced,
    /// The stored snapshot is already at this version or newer (a concurrent invocation won).
    Superseded,
}

/// A store call failed (after the SDK's own retries).
#[derive(Clone, Debug, thiserror::Error)]
#[error("DynamoDB {operation} failed{}: {message}", if *.throttled { " (throttled)" } else { "" })]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
    pub throttled: bool,
}

/// Where snapshots and history live.
pub trait TaskStore: Send + Sync {
    /// Loads the snapshots of these tasks; tasks never seen before are absent from the map.
    fn load_snapshots(
        &self,
        task_arns: &[&str],
    ) -> impl Future<Output = Result<HashMap<String, Snapshot>, StoreError>> + Send;

    /// Writes records of fresh events (newer than their task's snapshot), in as few requests as the
    /// store allows, replacing any stored record of the same task and version. That is safe because
    /// such a record can only be this same event written before its snapshot moved (a crash or a
    /// concurrent duplicate), and it lets the writes go unconditional and batched. One result per
    /// record, in order.
    fn put_fresh_history(
        &self,
        records: &[HistoryRecord],
    ) -> impl Future<Output = Vec<Result<(), StoreError>>> + Send;

    /// Writes the record unless one for the same task and version exists: for late events, whose
    /// record, if present, must be kept as first written.
    fn put_history(
        &self,
        record: &HistoryRecord,
    ) -> impl Future<Output = Result<Inserted, StoreError>> + Send;

    /// Replaces the snapshot only if the stored one is older (or absent).
    fn advance_snapshot(
        &self,
        snapshot: &Snapshot,
    ) -> impl Future<Output = Result<Advance, StoreError>> + Send;
}
