//! The task-describer port: how the pipeline asks ECS for what events lack (tags).

use std::collections::BTreeMap;
use std::future::Future;

/// DescribeTasks accepts at most this many tasks per call.
pub const MAX_TASKS_PER_CALL: usize = 100;

/// What ECS said about the tasks of one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Description {
    /// Tags of every task ECS returned, keyed by the ARN exactly as it was asked for.
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Tasks asked for and not returned: a `MISSING` failure, or simply absent (stopped tasks
    /// vanish from DescribeTasks after about an hour). ECS does not know them (any more).
    pub missing: Vec<String>,
    /// Tasks not returned because of a failure other than `MISSING` (e.g. `ACCESS_DENIED`): ECS may
    /// well know them, so they are recorded without tags now and described again next time.
    pub unavailable: Vec<String>,
}

/// DescribeTasks failed as a whole (after the SDK's own retries).
#[derive(Debug, thiserror::Error)]
#[error("DescribeTasks for cluster {cluster} failed{}: {message}", if *.throttled { " (throttled)" } else { "" })]
pub struct DescribeError {
    pub cluster: String,
    pub message: String,
    /// The account's DescribeTasks rate limit was hit and retries ran out.
    pub throttled: bool,
}

/// Describes tasks of one cluster, with tags.
pub trait TaskDescriber: Send + Sync {
    /// `task_arns` holds at most [`MAX_TASKS_PER_CALL`] ARNs of tasks in `cluster_arn`.
    fn describe_tasks(
        &self,
        cluster_arn: &str,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Description, DescribeError>> + Send;
}
