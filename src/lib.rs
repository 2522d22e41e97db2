//! ecs-task-history: a complete, version-checked history of every Amazon ECS task, kept in DynamoDB.
//!
//! Data flows one way: payload → event → classification → enrichment → record → store. The layers:
//! `core` is pure (no AWS crate, no I/O); `ports` are the traits the logic needs; `pipeline` and
//! `reconcile` orchestrate on those ports; `aws` holds the adapters and the one client wiring;
//! `memory` in-memory adapters; `read` the queries readers run; `lambda` the function's boundary.

/// Adapters to AWS and the one place AWS clients are configured.
pub mod aws;
/// Environment configuration, read once.
pub mod config;
/// The pure core.
pub mod core;
/// The Lambda boundary: payload shapes in, responses and metrics out.
pub mod lambda;
/// In-memory adapters of the ports, for unit tests and the CPU benchmark.
pub mod memory;
/// The one orchestration every entry point uses: inputs in, one outcome per input out.
pub mod pipeline;
/// Traits the orchestration needs from the outside world.
pub mod ports;
/// The read side: a task's timeline and time windows of a cluster, as the README documents them.
pub mod read;
/// Lists and describes tasks ECS still knows and records them through the pipeline.
pub mod reconcile;
/// Logging set-up shared by the binaries.
pub mod telemetry;
