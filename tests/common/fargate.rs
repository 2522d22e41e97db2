//! Real Fargate tasks in moto, shaped as a test or the demo needs them: a named cluster, task
//! definitions with several containers, tasks with a group, `startedBy`, overrides and tags.
//! (`run_tasks` in mod.rs is the quick version: a fresh cluster, one container, no group.)

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, ContainerOverride,
    LaunchType, NetworkConfiguration, NetworkMode, Tag, TaskOverride,
};
use serde_json::{json, Value};

use super::moto;
use super::story::{Container, Task};

/// Where moto places Fargate tasks: its default VPC's first subnet, and a security group.
#[derive(Clone, Debug)]
pub struct Network {
    pub subnet_id: String,
    pub availability_zone: String,
    pub security_group: String,
}

impl Network {
    /// moto's default VPC (Fargate `run_task` needs a subnet and a security group that exist).
    pub fn default_vpc() -> Self {
        let subnets = moto::ec2_query("DescribeSubnets");
        let groups = moto::ec2_query("DescribeSecurityGroups");
        Self {
            subnet_id: moto::first_xml_value(&subnets, "subnetId").expect("a default subnet"),
            availability_zone: moto::first_xml_value(&subnets, "availabilityZone")
                .expect("the subnet's availability zone"),
            security_group: moto::first_xml_value(&groups, "groupId").expect("a security group"),
        }
    }
}

/// Creates (or finds: CreateCluster is idempotent) the cluster `name`; returns its ARN.
pub async fn cluster(ecs: &aws_sdk_ecs::Client, name: &str) -> String {
    ecs.create_cluster()
        .cluster_name(name)
        .send()
        .await
        .expect("create cluster")
        .cluster
        .and_then(|cluster| cluster.cluster_arn)
        .expect("cluster arn")
}

/// Registers a Fargate task definition (a new revision of `family`); returns its ARN.
pub async fn task_definition(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    cpu: &str,
    memory: &str,
    containers: &[Container],
) -> String {
    let mut request = ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(cpu)
        .memory(memory);
    for container in containers {
        // moto: FARGATE run_task needs every container's own memory (task-level alone → HTTP 500).
        request = request.container_definitions(
            ContainerDefinition::builder()
                .name(&container.name)
                .image(&container.image)
                .cpu(container.cpu as i32)
                .memory(container.memory as i32)
                .essential(container.essential)
                .build(),
        );
    }
    request
        .send()
        .await
        .expect("register task definition")
        .task_definition
        .and_then(|definition| definition.task_definition_arn)
        .expect("task definition arn")
}

/// What to run: `count` tasks of one task definition, as a service or a schedule would start them.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    pub cluster_arn: &'a str,
    pub task_definition_arn: &'a str,
    /// The task definition's, to describe the tasks (the events carry them).
    pub cpu: &'a str,
    pub memory: &'a str,
    pub containers: &'a [Container],
    pub count: i32,
    /// `service:<name>` or `family:<name>`.
    pub group: &'a str,
    pub started_by: &'a str,
    /// A command per container name, for containers that run one.
    pub commands: &'a [(&'a str, &'a [&'a str])],
    pub tags: &'a [(&'a str, &'a str)],
}

/// Runs the tasks in moto; returns them as the events will describe them.
pub async fn run(ecs: &aws_sdk_ecs::Client, run: &Run<'_>, network: &Network) -> Vec<Task> {
    let mut request = ecs
        .run_task()
        .cluster(run.cluster_arn)
        .task_definition(run.task_definition_arn)
        .launch_type(LaunchType::Fargate)
        .count(run.count)
        .group(run.group)
        .started_by(run.started_by)
        .overrides(overrides(run))
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(&network.subnet_id)
                        .security_groups(&network.security_group)
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .expect("awsvpc configuration"),
                )
                .build(),
        );
    for (key, value) in run.tags {
        request = request.tags(Tag::builder().key(*key).value(*value).build());
    }
    let output = request.send().await.expect("run task");
    assert!(
        output.failures().is_empty(),
        "run_task failed: {:?}",
        output.failures()
    );
    output
        .tasks()
        .iter()
        .filter_map(|task| task.task_arn())
        .map(|task_arn| Task {
            task_arn: task_arn.to_owned(),
            cluster_arn: run.cluster_arn.to_owned(),
            task_definition_arn: run.task_definition_arn.to_owned(),
            group: run.group.to_owned(),
            started_by: run.started_by.to_owned(),
            cpu: run.cpu.to_owned(),
            memory: run.memory.to_owned(),
            containers: run.containers.to_vec(),
            overrides: event_overrides(run),
            subnet_id: network.subnet_id.clone(),
            availability_zone: network.availability_zone.clone(),
        })
        .collect()
}

fn overrides(run: &Run<'_>) -> TaskOverride {
    let mut overrides = TaskOverride::builder();
    for (name, command) in run.commands {
        overrides = overrides.container_overrides(
            ContainerOverride::builder()
                .name(*name)
                .set_command(Some(
                    command.iter().map(|part| (*part).to_owned()).collect(),
                ))
                .build(),
        );
    }
    overrides.build()
}

/// `detail.overrides` as ECS reports it: an entry per container, with its command if it has one.
fn event_overrides(run: &Run<'_>) -> Value {
    let entries: Vec<Value> = run
        .containers
        .iter()
        .map(|container| {
            match run
                .commands
                .iter()
                .find(|(name, _)| *name == container.name)
            {
                Some((_, command)) => json!({"name": container.name, "command": command}),
                None => json!({"name": container.name}),
            }
        })
        .collect();
    json!({ "containerOverrides": entries })
}
