//! The `ECS Task State Change` event as EventBridge delivers it, parsed tolerantly: unknown fields are
//! ignored, unknown enum values kept, and only what the pipeline cannot work without is required.

use std::cell::Cell;
use std::fmt;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::core::enums::{Connectivity, HealthStatus, LaunchType, StopCode, TaskStatus};

/// The EventBridge `source` of ECS events.
pub const ECS_SOURCE: &str = "aws.ecs";
/// The EventBridge `detail-type` this project records.
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
/// History sort keys zero-pad the version to this many digits, so larger versions cannot be stored in order.
pub const MAX_VERSION: u64 = 9_999_999_999;
/// Task and cluster ARNs are parts of DynamoDB keys (2,048 bytes at most for a partition key,
/// 1,024 for a sort key); real ones are under 200 bytes. Longer ones are rejected, not cut: cutting
/// could merge two tasks.
pub const MAX_ARN_BYTES: usize = 512;

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
    #[error("detail.{field} is {bytes} bytes long, more than the {MAX_ARN_BYTES} an ARN in a key may have")]
    ArnTooLong { field: &'static str, bytes: usize },
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
    let in_detail = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let envelope = EnvelopeSeed {
        in_detail: &in_detail,
    }
    .deserialize(&mut deserializer)
    .and_then(|envelope| deserializer.end().map(|()| envelope))
    .map_err(|err| {
        if in_detail.get() {
            ParseError::Detail(err)
        } else {
            ParseError::Envelope(err)
        }
    })?;
    let Envelope {
        version,
        id,
        detail_type,
        source,
        account,
        time,
        region,
        resources,
        detail,
    } = envelope;
    let detail = match detail {
        _ if source != ECS_SOURCE || detail_type != TASK_STATE_CHANGE => {
            return Ok(Parsed::Other {
                source,
                detail_type,
            })
        }
        Detail::Task(detail) => *detail,
        Detail::Raw(raw) => serde_json::from_str(raw.get()).map_err(ParseError::Detail)?,
    };
    validate(&detail)?;

    let mut event = TaskEvent::default();
    event.version = version;
    event.id = id;
    event.detail_type = detail_type;
    event.source = source;
    event.account = account;
    event.time = time;
    event.region = region;
    event.resources = resources;
    event.detail = detail;
    Ok(Parsed::Task(Box::new(event)))
}

/// The EventBridge envelope, read in one pass. EventBridge writes `source` and `detail-type` before
/// `detail`, so the task object is usually parsed in place; a producer that orders keys otherwise
/// gets its detail kept raw and parsed afterwards. Half the CPU of an event is parsing it, and this
/// saves scanning the detail twice.
struct Envelope {
    version: Option<String>,
    id: Option<String>,
    detail_type: String,
    source: String,
    account: Option<String>,
    time: Option<DateTime<Utc>>,
    region: Option<String>,
    resources: Option<Vec<String>>,
    detail: Detail,
}

enum Detail {
    Task(Box<TaskStateChange>),
    Raw(Box<RawValue>),
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "kebab-case")]
enum EnvelopeField {
    Version,
    Id,
    DetailType,
    Source,
    Account,
    Time,
    Region,
    Resources,
    Detail,
    #[serde(other)]
    Other,
}

/// Reads an [`Envelope`], flagging while it is inside `detail` so errors there are reported as
/// detail errors.
struct EnvelopeSeed<'a> {
    in_detail: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Envelope, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an EventBridge event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let (mut version, mut id, mut account, mut time, mut region, mut resources) =
            (None, None, None, None, None, None);
        let (mut detail_type, mut source, mut detail): (Option<String>, Option<String>, _) =
            (None, None, None);
        while let Some(field) = map.next_key::<EnvelopeField>()? {
            match field {
                EnvelopeField::Version => version = map.next_value()?,
                EnvelopeField::Id => id = map.next_value()?,
                EnvelopeField::DetailType => detail_type = Some(map.next_value()?),
                EnvelopeField::Source => source = Some(map.next_value()?),
                EnvelopeField::Account => account = map.next_value()?,
                EnvelopeField::Time => time = map.next_value()?,
                EnvelopeField::Region => region = map.next_value()?,
                EnvelopeField::Resources => resources = map.next_value()?,
                EnvelopeField::Detail => {
                    let is_task = source.as_deref() == Some(ECS_SOURCE)
                        && detail_type.as_deref() == Some(TASK_STATE_CHANGE);
                    detail = Some(if is_task {
                        self.in_detail.set(true);
                        let task = map.next_value::<TaskStateChange>()?;
                        self.in_detail.set(false);
                        Detail::Task(Box::new(task))
                    } else {
                        Detail::Raw(map.next_value()?)
                    });
                }
                EnvelopeField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Envelope {
            version,
            id,
            detail_type: detail_type.ok_or_else(|| de::Error::missing_field("detail-type"))?,
            source: source.ok_or_else(|| de::Error::missing_field("source"))?,
            account,
            time,
            region,
            resources,
            detail: detail.ok_or_else(|| de::Error::missing_field("detail"))?,
        })
    }
}

/// What every task state change must satisfy to be keyed and stored, whoever produced it.
pub fn validate(detail: &TaskStateChange) -> Result<(), ParseError> {
    if detail.task_arn.trim().is_empty() {
        return Err(ParseError::EmptyTaskArn);
    }
    if detail.version > MAX_VERSION {
        return Err(ParseError::VersionTooLarge(detail.version));
    }
    for (field, arn) in [
        ("taskArn", &detail.task_arn),
        ("clusterArn", &detail.cluster_arn),
    ] {
        if arn.len() > MAX_ARN_BYTES {
            return Err(ParseError::ArnTooLong {
                field,
                bytes: arn.len(),
            });
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every direct-invocation sample in `events/`, compiled in so the tests need no files at run time.
    const TASK_SAMPLES: [(&str, &str); 13] = [
        (
            "v1",
            include_str!("../../events/fargate-web-v1-provisioning.json"),
        ),
        (
            "v2",
            include_str!("../../events/fargate-web-v2-pending.json"),
        ),
        (
            "v3",
            include_str!("../../events/fargate-web-v3-activating.json"),
        ),
        (
            "v4",
            include_str!("../../events/fargate-web-v4-running.json"),
        ),
        (
            "v4dup",
            include_str!("../../events/fargate-web-v4-running-duplicate.json"),
        ),
        (
            "v5",
            include_str!("../../events/fargate-web-v5-deactivating.json"),
        ),
        (
            "v6",
            include_str!("../../events/fargate-web-v6-stopping.json"),
        ),
        (
            "v7",
            include_str!("../../events/fargate-web-v7-deprovisioning.json"),
        ),
        (
            "v8",
            include_str!("../../events/fargate-web-v8-stopped.json"),
        ),
        (
            "oom",
            include_str!("../../events/fargate-batch-stopped-oom.json"),
        ),
        (
            "pull",
            include_str!("../../events/fargate-failed-to-start.json"),
        ),
        ("ec2", include_str!("../../events/ec2-worker-running.json")),
        (
            "future",
            include_str!("../../events/unknown-enum-values.json"),
        ),
    ];

    /// The sample service task's lifecycle, versions 1–8; shared by the other modules' tests.
    pub(crate) const LIFECYCLE: [&str; 8] = [
        include_str!("../../events/fargate-web-v1-provisioning.json"),
        include_str!("../../events/fargate-web-v2-pending.json"),
        include_str!("../../events/fargate-web-v3-activating.json"),
        include_str!("../../events/fargate-web-v4-running.json"),
        include_str!("../../events/fargate-web-v5-deactivating.json"),
        include_str!("../../events/fargate-web-v6-stopping.json"),
        include_str!("../../events/fargate-web-v7-deprovisioning.json"),
        include_str!("../../events/fargate-web-v8-stopped.json"),
    ];

    /// Parses a sample that must be a task event; shared by the other modules' tests.
    pub(crate) fn task(json: &str) -> TaskEvent {
        match parse_event(json) {
            Ok(Parsed::Task(event)) => *event,
            other => panic!("expected a task event, got {other:?}"),
        }
    }

    fn sample(name: &str) -> TaskEvent {
        let (_, json) = TASK_SAMPLES.iter().find(|(n, _)| *n == name).unwrap();
        task(json)
    }

    #[test]
    fn every_task_sample_parses_with_its_envelope() {
        for (name, json) in TASK_SAMPLES {
            let event = task(json);
            assert_eq!(event.source, ECS_SOURCE, "{name}");
            assert_eq!(event.detail_type, TASK_STATE_CHANGE, "{name}");
            assert!(event.id.is_some(), "{name}");
            assert!(event.time.is_some(), "{name}");
            assert!(event.detail.task_arn.starts_with("arn:aws:ecs:"), "{name}");
            assert!(event.detail.version >= 1, "{name}");
            assert!(event.detail.updated_at.is_some(), "{name}");
            assert!(!event.detail.containers.is_empty(), "{name}");
        }
    }

    #[test]
    fn the_lifecycle_samples_walk_every_status_in_version_order() {
        let statuses: Vec<(u64, TaskStatus)> = ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8"]
            .iter()
            .map(|name| {
                let event = sample(name);
                (event.detail.version, event.detail.last_status.unwrap())
            })
            .collect();
        use TaskStatus::*;
        assert_eq!(
            statuses,
            vec![
                (1, Provisioning),
                (2, Pending),
                (3, Activating),
                (4, Running),
                (5, Deactivating),
                (6, Stopping),
                (7, Deprovisioning),
                (8, Stopped)
            ]
        );
    }

    #[test]
    fn a_stopped_task_carries_its_stop_code_timestamps_and_exit_codes() {
        let detail = sample("oom").detail;
        assert_eq!(detail.stop_code, Some(StopCode::EssentialContainerExited));
        assert_eq!(detail.launch_type, Some(LaunchType::Fargate));
        assert!(detail.stopped_at.is_some() && detail.stopping_at.is_some());
        assert!(detail.execution_stopped_at.is_some());
        let job = &detail.containers[0];
        assert_eq!(job.exit_code, Some(137));
        assert_eq!(
            job.reason.as_deref(),
            Some("OutOfMemoryError: Container killed due to memory usage")
        );
        assert_eq!(job.last_status, Some(TaskStatus::Stopped));
        assert_eq!(
            detail.ephemeral_storage.and_then(|s| s.size_in_gib),
            Some(20)
        );
        assert_eq!(detail.attachments[0].details.len(), 5);
    }

    #[test]
    fn an_ec2_task_carries_its_instance_and_port_bindings() {
        let detail = sample("ec2").detail;
        assert_eq!(detail.launch_type, Some(LaunchType::Ec2));
        assert!(detail.container_instance_arn.is_some());
        assert_eq!(detail.health_status, Some(HealthStatus::Healthy));
        let binding = &detail.containers[0].network_bindings[0];
        assert!(
            binding.bind_ip.is_some()
                && binding.host_port.is_some()
                && binding.container_port.is_some()
        );
    }

    #[test]
    fn a_task_that_failed_to_start_has_no_exit_code() {
        let detail = sample("pull").detail;
        assert_eq!(detail.stop_code, Some(StopCode::TaskFailedToStart));
        assert!(detail
            .stopped_reason
            .unwrap()
            .starts_with("CannotPullContainerError"));
        assert!(detail.containers.iter().all(|c| c.exit_code.is_none()));
    }

    #[test]
    fn unknown_values_and_fields_from_newer_aws_are_kept_not_fatal() {
        let detail = sample("future").detail;
        assert_eq!(
            detail.last_status,
            Some(TaskStatus::Unknown("HIBERNATING".into()))
        );
        assert_eq!(detail.connectivity, Some(Connectivity::Connected));
        assert_eq!(detail.stop_code, None);
    }

    #[test]
    fn other_detail_types_are_recognised_and_skipped() {
        let parsed = parse_event(include_str!(
            "../../events/container-instance-state-change.json"
        ))
        .unwrap();
        match parsed {
            Parsed::Other {
                source,
                detail_type,
            } => {
                assert_eq!(source, "aws.ecs");
                assert_eq!(detail_type, "ECS Container Instance State Change");
            }
            other => panic!("expected Other, got {other:?}"),
        }
        let scheduled = r#"{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#;
        assert!(matches!(parse_event(scheduled), Ok(Parsed::Other { .. })));
    }

    #[test]
    fn missing_version_or_task_arn_is_a_detail_error_naming_the_field() {
        let err =
            parse_event(include_str!("../../events/malformed-missing-version.json")).unwrap_err();
        assert!(matches!(err, ParseError::Detail(_)));
        assert!(err.to_string().contains("version"), "{err}");
        let err =
            parse_event(include_str!("../../events/malformed-missing-task-arn.json")).unwrap_err();
        assert!(err.to_string().contains("taskArn"), "{err}");
    }

    fn with_detail(change: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/fargate-web-v4-running.json")).unwrap();
        change(&mut event["detail"]);
        event.to_string()
    }

    #[test]
    fn key_order_does_not_change_the_result() {
        let in_order = include_str!("../../events/fargate-web-v4-running.json");
        // serde_json writes keys sorted, which puts `detail` before `source` and `detail-type`.
        let reordered = with_detail(|_| {});
        assert!(reordered.find("\"detail\"") < reordered.find("\"source\""));
        assert_eq!(task(in_order), task(&reordered));

        let bad_in_order = in_order.replacen("\"version\": 4", "\"version\": \"4\"", 1);
        assert_ne!(bad_in_order, in_order);
        let bad_reordered = with_detail(|d| d["version"] = "4".into());
        for bad in [bad_in_order, bad_reordered] {
            assert!(
                matches!(parse_event(&bad), Err(ParseError::Detail(_))),
                "{bad}"
            );
        }
        let no_source = in_order.replacen("\"source\"", "\"origin\"", 1);
        let err = parse_event(&no_source).unwrap_err();
        assert!(matches!(err, ParseError::Envelope(_)), "{err}");
        assert!(err.to_string().contains("source"), "{err}");
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        for (what, json) in [
            (
                "negative version",
                with_detail(|d| d["version"] = (-1).into()),
            ),
            ("string version", with_detail(|d| d["version"] = "4".into())),
            (
                "version past u64",
                with_detail(|d| d["version"] = serde_json::json!(1e30)),
            ),
            ("empty arn", with_detail(|d| d["taskArn"] = "  ".into())),
            (
                "bad timestamp",
                with_detail(|d| d["createdAt"] = "yesterday".into()),
            ),
            (
                "containers not a list",
                with_detail(|d| d["containers"] = "web".into()),
            ),
            ("not json", "{\"detail\": {".to_owned()),
            ("not an object", "[1,2,3]".to_owned()),
            ("empty", String::new()),
        ] {
            assert!(parse_event(&json).is_err(), "{what} should be rejected");
        }
        let too_big = with_detail(|d| d["version"] = (MAX_VERSION + 1).into());
        assert!(matches!(
            parse_event(&too_big),
            Err(ParseError::VersionTooLarge(_))
        ));
        let largest = with_detail(|d| d["version"] = MAX_VERSION.into());
        assert_eq!(task(&largest).detail.version, MAX_VERSION);
    }

    /// Regression (fault suite): an ARN too long for a DynamoDB key failed every write with a
    /// ValidationException, so the event was retried until dead-lettered instead of rejected.
    #[test]
    fn arns_too_long_for_a_key_are_rejected() {
        let long = format!(
            "arn:aws:ecs:us-east-1:1:task/demo/{}",
            "a".repeat(MAX_ARN_BYTES)
        );
        let task_arn = with_detail(|d| d["taskArn"] = long.clone().into());
        assert!(matches!(
            parse_event(&task_arn),
            Err(ParseError::ArnTooLong {
                field: "taskArn",
                ..
            })
        ));
        let cluster_arn = with_detail(|d| d["clusterArn"] = long.clone().into());
        assert!(matches!(
            parse_event(&cluster_arn),
            Err(ParseError::ArnTooLong {
                field: "clusterArn",
                ..
            })
        ));
        let longest = "a".repeat(MAX_ARN_BYTES);
        assert!(parse_event(&with_detail(|d| d["taskArn"] = longest.clone().into())).is_ok());
    }

    #[test]
    fn nulls_numbers_and_epoch_seconds_are_tolerated() {
        let json = with_detail(|d| {
            d["containers"] = serde_json::Value::Null;
            d["cpu"] = 256.into();
            d["memory"] = serde_json::json!(0.5);
            d["startedAt"] = serde_json::json!(1_763_608_447.25);
            d["stopCode"] = serde_json::Value::Null;
        });
        let detail = task(&json).detail;
        assert!(detail.containers.is_empty());
        assert_eq!(detail.cpu.as_deref(), Some("256"));
        assert_eq!(detail.memory.as_deref(), Some("0.5"));
        assert_eq!(
            detail.started_at.unwrap().timestamp_millis(),
            1_763_608_447_250
        );
        assert_eq!(detail.stop_code, None);
    }

    #[test]
    fn unicode_survives_parsing() {
        let json = with_detail(|d| d["stoppedReason"] = "stopped by Zoë ☃ — 停止".into());
        assert_eq!(
            task(&json).detail.stopped_reason.as_deref(),
            Some("stopped by Zoë ☃ — 停止")
        );
    }
}
