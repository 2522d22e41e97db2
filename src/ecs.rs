//! The ECS adapter of [`TaskDescriber`]: one DescribeTasks call with `include=TAGS`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::TaskField;
use aws_sdk_ecs::Client;
use tracing::{debug, warn};

use crate::aws_error::concise;
use crate::describe::{DescribeError, Description, TaskDescriber};
use crate::history::last_segment;
use crate::rate_limit::RateLimiter;
use crate::usage::Usage;

pub struct EcsDescriber {
    client: Client,
    limiter: Option<RateLimiter>,
    usage: Arc<Usage>,
}

impl EcsDescriber {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            limiter: None,
            usage: Arc::default(),
        }
    }

    /// Counts calls and MISSING tasks into these counters.
    pub fn with_usage(mut self, usage: Arc<Usage>) -> Self {
        self.usage = usage;
        self
    }

    /// Paces calls through a token bucket (see [`RateLimiter`]).
    pub fn with_rate_limit(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }
}

impl TaskDescriber for EcsDescriber {
    async fn describe_tasks(
        &self,
        cluster_arn: &str,
        task_arns: &[String],
    ) -> Result<Description, DescribeError> {
        if let Some(limiter) = &self.limiter {
            let waited = limiter.acquire().await;
            if !waited.is_zero() {
                debug!(
                    cluster_arn,
                    waited_ms = waited.as_millis() as u64,
                    "DescribeTasks paced by the rate limit"
                );
            }
        }
        let result = self
            .client
            .describe_tasks()
            .cluster(cluster_arn)
            .set_tasks(Some(task_arns.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            // A deleted cluster's tasks are as gone as tasks ECS forgot: record them from their events.
            Err(err) if err.code() == Some("ClusterNotFoundException") => {
                self.usage.describe_call(task_arns.len());
                warn!(
                    cluster_arn,
                    tasks = task_arns.len(),
                    "cluster not found; recording its tasks from their events alone"
                );
                return Ok(Description {
                    missing: task_arns.to_vec(),
                    ..Description::default()
                });
            }
            Err(err) => {
                self.usage.describe_call(0);
                return Err(DescribeError {
                    cluster: cluster_arn.to_owned(),
                    throttled: matches!(
                        err.code(),
                        Some("ThrottlingException" | "TooManyRequestsException")
                    ),
                    message: concise(&err),
                });
            }
        };

        // ECS answers with full ARNs; match on the task id too in case a caller asked by short form.
        let mut returned: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
        for task in output.tasks() {
            let Some(arn) = task.task_arn() else { continue };
            let tags = task
                .tags()
                .iter()
                .filter_map(|tag| {
                    Some((
                        tag.key()?.to_owned(),
                        tag.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            returned.insert(last_segment(arn), tags);
        }
        let mut failed: BTreeSet<&str> = BTreeSet::new();
        for failure in output.failures() {
            if failure.reason() != Some("MISSING") {
                if let Some(arn) = failure.arn() {
                    failed.insert(last_segment(arn));
                }
                warn!(
                    cluster_arn,
                    task_arn = failure.arn().unwrap_or_default(),
                    reason = failure.reason().unwrap_or_default(),
                    detail = failure.detail().unwrap_or_default(),
                    "DescribeTasks reported a failure other than MISSING"
                );
            }
        }

        let mut description = Description::default();
        for task_arn in task_arns {
            match returned.remove(last_segment(task_arn)) {
                Some(tags) => {
                    description.tags.insert(task_arn.clone(), tags);
                }
                None if failed.contains(last_segment(task_arn)) => {
                    description.unavailable.push(task_arn.clone())
                }
                None => description.missing.push(task_arn.clone()),
            }
        }
        self.usage
            .describe_call(description.missing.len() + description.unavailable.len());
        Ok(description)
    }
}
