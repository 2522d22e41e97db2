//! The `ECS Task State Change` event as EventBridge delivers it, parsed tolerantly: unknown fields are
//! ignored, unknown enum values kept, and only what the pipeline cannot work without is required.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::enums::{Connectivity, HealthStatus, LaunchType, StopCode, TaskStatus};

/// The EventBridge `source` of ECS events.
pub const ECS_SOURCE: &str = "aws.ecs";
/// The EventBridge `detail-type` this project records.
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
/// History sort keys zero-pad the version to this many digits, so larger versions cannot be stored in order.
pub const MAX_VERSION: u64 = 9_999_999_999;

/// A whole task state change event: the EventBridge envelope around the ECS task object.
pub type TaskEvent = EventBridgeEvent<TaskStateChange>;

/// What one payload turned out to be.
#[derive(Debug)]
pub enum Parsed {
    /// A task state change to record.
    Task(Box<TaskEvent>),
    /// A well-formed event of another kind (container instance change, deployment, …): skipped.
    Other { source: String, detail_type: String },
}

/// Why a payload could not be read. All of these are permanent: retrying the same bytes cannot help.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not an EventBridge event: {0}")]
    Envelope(serde_json::Error),
    #[error("invalid ECS Task State Change detail: {0}")]
    Detail(serde_json::Error),
    #[error("detail.taskArn is empty")]
    EmptyTaskArn,
    #[error("detail.version {0} is larger than {MAX_VERSION}, the largest version the history keys can order")]
    VersionTooLarge(u64),
}

/// The ECS task object carried in `detail`, with every field of DescribeTasks' `Task`.
///
/// Timestamps accept both ISO-8601 strings (events) and epoch seconds (DescribeTasks JSON).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    pub task_arn: String,
    pub version: u64,
    pub cluster_arn: String,
    #[serde(default, deserialize_with = "nullable")]
    pub attachments: Vec<Attachment>,
    #[serde(default, deserialize_with = "nullable")]
    pub attributes: Vec<Attribute>,
    pub availability_zone: Option<String>,
    pub capacity_provider_name: Option<String>,
    pub connectivity: Option<Connectivity>,
    #[serde(default, deserialize_with = "timestamp")]
    pub connectivity_at: Option<DateTime<Utc>>,
    pub container_instance_arn: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub cpu: Option<String>,
    #[serde(default, deserialize_with = "timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    pub desired_status: Option<TaskStatus>,
    pub enable_execute_command: Option<bool>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    #[serde(default, deserialize_with = "timestamp")]
    pub execution_stopped_at: Option<DateTime<Utc>>,
    pub group: Option<String>,
    pub health_status: Option<HealthStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub inference_accelerators: Vec<InferenceAccelerator>,
    pub last_status: Option<TaskStatus>,
    pub launch_type: Option<LaunchType>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub memory: Option<String>,
    pub overrides: Option<TaskOverride>,
    pub platform_version: Option<String>,
    pub platform_family: Option<String>,
    #[serde(default, deserialize_with = "timestamp")]
    pub pull_started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timestamp")]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "timestamp")]
    pub started_at: Option<DateTime<Utc>>,
    pub started_by: Option<String>,
    pub stop_code: Option<StopCode>,
    #[serde(default, deserialize_with = "timestamp")]
    pub stopped_at: Option<DateTime<Utc>>,
    pub stopped_reason: Option<String>,
    #[serde(default, deserialize_with = "timestamp")]
    pub stopping_at: Option<DateTime<Utc>>,
    /// Events carry no tags; DescribeTasks with `include=TAGS` does.
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<Tag>,
    pub task_definition_arn: Option<String>,
    /// When ECS made this change; events carry it, DescribeTasks does not.
    #[serde(default, deserialize_with = "timestamp")]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub container_arn: Option<String>,
    pub task_arn: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub runtime_id: Option<String>,
    pub last_status: Option<TaskStatus>,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub network_bindings: Vec<NetworkBinding>,
    #[serde(default, deserialize_with = "nullable")]
    pub network_interfaces: Vec<NetworkInterface>,
    pub health_status: Option<HealthStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub managed_agents: Vec<ManagedAgent>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub cpu: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub memory: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub memory_reservation: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub gpu_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkBinding {
    #[serde(rename = "bindIP")]
    pub bind_ip: Option<String>,
    pub container_port: Option<i64>,
    pub host_port: Option<i64>,
    pub protocol: Option<String>,
    pub container_port_range: Option<String>,
    pub host_port_range: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    pub attachment_id: Option<String>,
    pub private_ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedAgent {
    #[serde(default, deserialize_with = "timestamp")]
    pub last_started_at: Option<DateTime<Utc>>,
    pub name: Option<String>,
    pub reason: Option<String>,
    pub last_status: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub details: Vec<KeyValue>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: Option<String>,
    pub value: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct KeyValue {
    pub name: Option<String>,
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorage {
    #[serde(rename = "sizeInGiB")]
    pub size_in_gib: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InferenceAccelerator {
    pub device_name: Option<String>,
    pub device_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    #[serde(default, deserialize_with = "nullable")]
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub cpu: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub inference_accelerator_overrides: Vec<InferenceAccelerator>,
    pub execution_role_arn: Option<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub memory: Option<String>,
    pub task_role_arn: Option<String>,
    pub ephemeral_storage: Option<EphemeralStorage>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    pub name: Option<String>,
    pub command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub environment: Vec<KeyValue>,
    #[serde(default, deserialize_with = "nullable")]
    pub environment_files: Vec<EnvironmentFile>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub resource_requirements: Vec<ResourceRequirement>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct EnvironmentFile {
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct ResourceRequirement {
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Parses one EventBridge event (a direct invocation payload or an SQS record body).
///
/// Other detail types are not errors: a rule may be widened, or a queue shared, on purpose.
pub fn parse_event(json: &str) -> Result<Parsed, ParseError> {
    let envelope: EventBridgeEvent<Box<RawValue>> =
        serde_json::from_str(json).map_err(ParseError::Envelope)?;
    if envelope.source != ECS_SOURCE || envelope.detail_type != TASK_STATE_CHANGE {
        return Ok(Parsed::Other {
            source: envelope.source,
            detail_type: envelope.detail_type,
        });
    }
    let detail: TaskStateChange =
        serde_json::from_str(envelope.detail.get()).map_err(ParseError::Detail)?;
    validate(&detail)?;

    let mut event = TaskEvent::default();
    event.version = envelope.version;
    event.id = envelope.id;
    event.detail_type = envelope.detail_type;
    event.source = envelope.source;
    event.account = envelope.account;
    event.time = envelope.time;
    event.region = envelope.region;
    event.resources = envelope.resources;
    event.detail = detail;
    Ok(Parsed::Task(Box::new(event)))
}

fn validate(detail: &TaskStateChange) -> Result<(), ParseError> {
    if detail.task_arn.trim().is_empty() {
        return Err(ParseError::EmptyTaskArn);
    }
    if detail.version > MAX_VERSION {
        return Err(ParseError::VersionTooLarge(detail.version));
    }
    Ok(())
}

/// Treats an explicit `null` list like an absent one.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// CPU and memory are strings in the API ("1024", "1 vCPU") but some producers send numbers.
fn text_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Integer(i64),
        Float(f64),
    }
    Ok(
        Option::<TextOrNumber>::deserialize(deserializer)?.map(|value| match value {
            TextOrNumber::Text(text) => text,
            TextOrNumber::Integer(number) => number.to_string(),
            TextOrNumber::Float(number) => number.to_string(),
        }),
    )
}

/// Events give ISO-8601 strings; DescribeTasks JSON gives epoch seconds with a fraction.
fn timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stamp {
        Text(String),
        Seconds(f64),
    }
    match Option::<Stamp>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Stamp::Text(text)) => DateTime::parse_from_rfc3339(&text)
            .map(|stamp| Some(stamp.with_timezone(&Utc)))
            .map_err(|err| serde::de::Error::custom(format!("bad timestamp {text:?}: {err}"))),
        Some(Stamp::Seconds(seconds)) => {
            let millis = (seconds * 1000.0).round();
            if !millis.is_finite() || millis.abs() > 8.64e15 {
                return Err(serde::de::Error::custom(format!(
                    "bad epoch timestamp {seconds}"
                )));
            }
            Ok(DateTime::from_timestamp_millis(millis as i64))
        }
    }
}
