//! The ECS adapter of [`TaskDescriber`]: DescribeTasks (with tags), ListTasks and ListClusters in the
//! account and region a task lives in, as the task or cluster ARN names them. Its own account is
//! reached with the function's credentials; member accounts through their reader role.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_ecs::types::{DesiredStatus, Task, TaskField};
use chrono::{DateTime, Utc};
use tracing::{debug, warn};

use super::accounts::{Accounts, Reach};
use super::error::service_error;
use super::usage::Usage;
use crate::core::arn::{last_segment, Arn, Location};
use crate::core::event::{Container, NetworkBinding, TaskStateChange};
use crate::ports::{
    DescribedTask, Description, ErrorClass, ServiceError, TaskDescriber, MAX_TASKS_PER_CALL,
};

pub struct EcsTasks {
    accounts: Accounts,
    usage: Arc<Usage>,
}

impl EcsTasks {
    pub fn new(accounts: Accounts, usage: Arc<Usage>) -> Self {
        Self { accounts, usage }
    }

    /// The client of the function's own account and region.
    pub fn home_client(&self) -> &aws_sdk_ecs::Client {
        self.accounts.home_client()
    }

    /// The ARN of the active cluster called `name` in the caller's own account and region
    /// (DescribeClusters), or `None`.
    pub async fn cluster_arn(&self, name: &str) -> Result<Option<String>, ServiceError> {
        let output = self
            .accounts
            .home_client()
            .describe_clusters()
            .clusters(name)
            .send()
            .await
            .map_err(|err| service_error("ECS DescribeClusters", name, &err))?;
        Ok(output
            .clusters()
            .iter()
            .filter(|found| found.status() != Some("INACTIVE"))
            .find_map(|found| found.cluster_arn().map(str::to_owned)))
    }

    /// The account and region of a cluster ARN (the caller's own for anything else).
    fn location_of(&self, cluster_arn: &str) -> Option<Location> {
        Arn::parse(cluster_arn).map(|arn| arn.location())
    }
}

impl TaskDescriber for EcsTasks {
    async fn describe_tasks(
        &self,
        cluster_arn: &str,
        task_arns: &[String],
    ) -> Result<Description, ServiceError> {
        let location = self.location_of(cluster_arn);
        let reach = match self.accounts.reach(location.as_ref()).await {
            Reach::Client(reach) => reach,
            Reach::Unreachable => {
                self.usage.unreachable(task_arns.len());
                return Ok(Description {
                    unavailable: task_arns.to_vec(),
                    ..Description::default()
                });
            }
        };
        let waited = reach.limiter.acquire().await;
        if !waited.is_zero() {
            debug!(
                cluster_arn,
                waited_ms = waited.as_millis() as u64,
                "DescribeTasks paced by the rate limit"
            );
        }
        let result = reach
            .client
            .describe_tasks()
            .cluster(cluster_arn)
            .set_tasks(Some(task_arns.to_vec()))
            .include(TaskField::Tags)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                let err = service_error("ECS DescribeTasks", cluster_arn, &err);
                return self.describe_failed(&reach.location, cluster_arn, task_arns, err);
            }
        };
        let description =
            describe_answer(cluster_arn, task_arns, output.tasks(), output.failures());
        self.usage
            .describe_call(description.missing.len() + description.unavailable.len());
        Ok(description)
    }

    async fn list_tasks(&self, cluster_arn: &str) -> Result<Vec<String>, ServiceError> {
        let location = self.location_of(cluster_arn);
        let Reach::Client(reach) = self.accounts.reach(location.as_ref()).await else {
            return Err(self
                .accounts
                .unreachable_error(location.as_ref(), cluster_arn));
        };
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let mut pages = reach
                .client
                .list_tasks()
                .cluster(cluster_arn)
                .desired_status(status)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|err| service_error("ECS ListTasks", cluster_arn, &err))?;
                arns.extend(page.task_arns().iter().cloned());
            }
        }
        let mut seen = std::collections::HashSet::new();
        arns.retain(|arn| seen.insert(arn.clone()));
        Ok(arns)
    }

    async fn list_clusters(
        &self,
        location: Option<&Location>,
    ) -> Result<Vec<String>, ServiceError> {
        let target = location.map_or_else(|| "the account".to_owned(), Location::to_string);
        let Reach::Client(reach) = self.accounts.reach(location).await else {
            return Err(self.accounts.unreachable_error(location, &target));
        };
        let mut pages = reach.client.list_clusters().into_paginator().send();
        let mut clusters = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| service_error("ECS ListClusters", &target, &err))?;
            clusters.extend(page.cluster_arns().iter().cloned());
        }
        Ok(clusters)
    }
}

impl EcsTasks {
    /// A whole DescribeTasks call failed. A deleted cluster's tasks are as gone as tasks ECS forgot;
    /// a member account we cannot reach is recorded without tags (and remembered for a while, so
    /// one account's trouble costs one log line, not one per event); anything else fails the events.
    fn describe_failed(
        &self,
        location: &Location,
        cluster_arn: &str,
        task_arns: &[String],
        err: ServiceError,
    ) -> Result<Description, ServiceError> {
        match err.class {
            ErrorClass::NotFound => {
                self.usage.describe_call(task_arns.len());
                warn!(
                    cluster_arn,
                    tasks = task_arns.len(),
                    "cluster not found; recording its tasks from their events alone"
                );
                Ok(Description {
                    missing: task_arns.to_vec(),
                    ..Description::default()
                })
            }
            ErrorClass::AccessDenied | ErrorClass::Credentials
                if self.accounts.mark_unreachable(location, &err.message) =>
            {
                self.usage.describe_call(0);
                self.usage.unreachable(task_arns.len());
                Ok(Description {
                    unavailable: task_arns.to_vec(),
                    ..Description::default()
                })
            }
            _ => {
                self.usage.describe_call(0);
                Err(err)
            }
        }
    }
}

/// Sorts DescribeTasks' answer into described, missing and unavailable tasks, keyed by the ARNs
/// as asked (ECS answers with full ARNs; a caller may have asked by short form, so match on ids).
fn describe_answer(
    cluster_arn: &str,
    asked: &[String],
    tasks: &[Task],
    failures: &[aws_sdk_ecs::types::Failure],
) -> Description {
    let mut returned: BTreeMap<&str, &Task> = BTreeMap::new();
    for task in tasks {
        if let Some(arn) = task.task_arn() {
            returned.insert(last_segment(arn), task);
        }
    }
    let mut failed: BTreeSet<&str> = BTreeSet::new();
    for failure in failures {
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
    for task_arn in asked.iter().take(MAX_TASKS_PER_CALL) {
        let id = last_segment(task_arn);
        match returned.remove(id) {
            Some(task) => {
                description.tasks.insert(
                    task_arn.clone(),
                    DescribedTask {
                        state: task_state(task),
                        tags: task_tags(task),
                    },
                );
            }
            None if failed.contains(id) => description.unavailable.push(task_arn.clone()),
            None => description.missing.push(task_arn.clone()),
        }
    }
    description
}

fn task_tags(task: &Task) -> BTreeMap<String, String> {
    task.tags()
        .iter()
        .filter_map(|tag| {
            Some((
                tag.key()?.to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn time(time: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<DateTime<Utc>> {
    let time = time?;
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

fn text(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

/// A described task as the state change ECS would send for its current version, field for field.
pub fn task_state(task: &Task) -> TaskStateChange {
    TaskStateChange {
        task_arn: task.task_arn().unwrap_or_default().to_owned(),
        version: u64::try_from(task.version()).unwrap_or_default(),
        cluster_arn: task.cluster_arn().unwrap_or_default().to_owned(),
        availability_zone: text(task.availability_zone()),
        capacity_provider_name: text(task.capacity_provider_name()),
        container_instance_arn: text(task.container_instance_arn()),
        containers: task.containers().iter().map(container).collect(),
        cpu: text(task.cpu()),
        created_at: time(task.created_at()),
        desired_status: task.desired_status().map(Into::into),
        execution_stopped_at: time(task.execution_stopped_at()),
        group: text(task.group()),
        health_status: task.health_status().map(|h| h.as_str().into()),
        last_status: task.last_status().map(Into::into),
        launch_type: task.launch_type().map(|l| l.as_str().into()),
        memory: text(task.memory()),
        platform_version: text(task.platform_version()),
        platform_family: text(task.platform_family()),
        pull_started_at: time(task.pull_started_at()),
        pull_stopped_at: time(task.pull_stopped_at()),
        started_at: time(task.started_at()),
        started_by: text(task.started_by()),
        stop_code: task.stop_code().map(|c| c.as_str().into()),
        stopped_at: time(task.stopped_at()),
        stopped_reason: text(task.stopped_reason()),
        stopping_at: time(task.stopping_at()),
        task_definition_arn: text(task.task_definition_arn()),
        ..TaskStateChange::default()
    }
}

fn container(container: &aws_sdk_ecs::types::Container) -> Container {
    Container {
        name: text(container.name()),
        image: text(container.image()),
        image_digest: text(container.image_digest()),
        runtime_id: text(container.runtime_id()),
        last_status: container.last_status().map(Into::into),
        exit_code: container.exit_code().map(i64::from),
        reason: text(container.reason()),
        health_status: container.health_status().map(|h| h.as_str().into()),
        network_bindings: container
            .network_bindings()
            .iter()
            .map(|binding| NetworkBinding {
                bind_ip: text(binding.bind_ip()),
                container_port: binding.container_port().map(i64::from),
                host_port: binding.host_port().map(i64::from),
                protocol: binding.protocol().map(|p| p.as_str().to_owned()),
                container_port_range: text(binding.container_port_range()),
                host_port_range: text(binding.host_port_range()),
            })
            .collect(),
        ..Container::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::primitives::DateTime as SdkTime;
    use aws_sdk_ecs::types::{Container as SdkContainer, Failure, Tag, TaskStopCode};

    use crate::core::enums::{StopCode, TaskStatus};

    fn stopped_task(id: &str) -> Task {
        Task::builder()
            .task_arn(format!("arn:aws:ecs:us-east-1:123456789012:task/demo/{id}"))
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/demo")
            .version(5)
            .last_status("STOPPED")
            .desired_status("STOPPED")
            .group("service:web")
            .stop_code(TaskStopCode::EssentialContainerExited)
            .stopped_reason("Essential container in task exited")
            .created_at(SdkTime::from_secs_f64(1_763_608_000.5))
            .stopped_at(SdkTime::from_secs_f64(1_763_608_447.25))
            .containers(SdkContainer::builder().name("web").exit_code(137).build())
            .tags(Tag::builder().key("team").value("a").build())
            .build()
    }

    #[test]
    fn a_described_task_reads_as_the_state_change_of_its_version() {
        let state = task_state(&stopped_task("abc"));
        assert_eq!(state.version, 5);
        assert_eq!(state.last_status, Some(TaskStatus::Stopped));
        assert_eq!(state.stop_code, Some(StopCode::EssentialContainerExited));
        assert_eq!(state.group.as_deref(), Some("service:web"));
        assert_eq!(
            state.stopped_at.unwrap().timestamp_millis(),
            1_763_608_447_250
        );
        assert_eq!(
            state.created_at.unwrap().timestamp_millis(),
            1_763_608_000_500
        );
        assert_eq!(state.containers[0].exit_code, Some(137));
        assert_eq!(task_tags(&stopped_task("abc"))["team"], "a");
    }

    #[test]
    fn an_answer_is_sorted_into_described_missing_and_unavailable_by_task_id() {
        let asked: Vec<String> = ["abc", "gone", "denied"]
            .iter()
            .map(|id| format!("arn:aws:ecs:us-east-1:123456789012:task/demo/{id}"))
            .collect();
        let failures = [
            Failure::builder().arn(&asked[1]).reason("MISSING").build(),
            Failure::builder()
                .arn(&asked[2])
                .reason("ACCESS_DENIED")
                .build(),
        ];
        let description = describe_answer("c", &asked, &[stopped_task("abc")], &failures);
        assert_eq!(
            description.tasks.keys().collect::<Vec<_>>(),
            vec![&asked[0]]
        );
        assert_eq!(description.tasks[&asked[0]].tags["team"], "a");
        assert_eq!(description.missing, vec![asked[1].clone()]);
        assert_eq!(description.unavailable, vec![asked[2].clone()]);
        let silent = describe_answer("c", &asked[1..2], &[], &[]);
        assert_eq!(
            silent.missing,
            vec![asked[1].clone()],
            "absent means missing"
        );
    }
}
