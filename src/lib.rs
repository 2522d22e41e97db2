//! ecs-task-history: a complete, version-checked history of every Amazon ECS task, kept in DynamoDB.
//!
//! Data flows one way: payload → event → classification → enrichment → record → store.
//! `event`, `enums`, `history` and `classify` are pure; `describe` and `store` are the ports;
//! `ecs` and `dynamodb` the adapters; `pipeline` orchestrates; `lambda` is the function's boundary.

/// A concise line for an AWS SDK error.
pub mod aws_error;
/// Pure version logic: fresh, duplicate or stale.
pub mod classify;
/// The `ecs-task-history` command-line tool: read and repair the history.
pub mod cli;
/// Environment configuration read at cold start.
pub mod config;
/// Port: asking ECS about tasks.
pub mod describe;
/// Adapter: the DynamoDB history store.
pub mod dynamodb;
/// Adapter: ECS DescribeTasks.
pub mod ecs;
/// Pure policy: which fresh events are worth a DescribeTasks call.
pub mod enrich;
/// ECS enumerations with an `Unknown` fallback.
pub mod enums;
/// The `ECS Task State Change` event model and parser.
pub mod event;
/// The normalized history record and snapshot.
pub mod history;
/// The Lambda payload shapes and responses.
pub mod lambda;
/// CloudWatch Embedded Metric Format lines, one per invocation.
pub mod metrics;
/// The orchestration shared by every entry point.
pub mod pipeline;
/// A token bucket keeping DescribeTasks within a share of the account budget.
pub mod rate_limit;
/// Lists and describes a cluster's tasks and records them through the pipeline (backfill, schedule).
pub mod reconcile;
/// What a log line can still name of an event the parser rejected.
pub mod rejected;
/// Port: the history store.
pub mod store;
/// Logging set-up shared by the binaries.
pub mod telemetry;
/// What the adapters spent on AWS, per invocation.
pub mod usage;
/// Opening AWS connections during init.
pub mod warm_up;
