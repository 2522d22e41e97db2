//! The pure core: what an ECS task event means and what gets recorded. No AWS crate and no I/O, so
//! every rule here is unit-tested on plain values.

/// Failure alerts: which stops alert, what the message says, crash loops as one summary.
pub mod alert;
/// ECS ARNs: where a task lives (partition, account, region, cluster).
pub mod arn;
/// Version logic: fresh, duplicate or stale.
pub mod classify;
/// Why a task stopped, in plain words, from its recorded history.
pub mod diagnosis;
/// Which fresh events are worth a DescribeTasks call.
pub mod enrich;
/// ECS enumerations with an `Unknown` fallback.
pub mod enums;
/// The `ECS Task State Change` event model and parser.
pub mod event;
/// The normalized history record and snapshot.
pub mod history;
/// What became of an input, and the counts every summary is built from.
pub mod outcome;
/// A described task as the state change ECS would have sent.
pub mod reconcile;
/// What a log line can still name of an event the parser rejected.
pub mod rejected;
/// The timeline report of a window laid out as lanes, phases, stops and deployments (no HTML).
pub mod report;
/// A task's versions read as phases, gaps and failure.
pub mod timeline;
