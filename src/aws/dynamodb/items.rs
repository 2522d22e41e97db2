//! The one mapping between records and DynamoDB items: the item structs below name every attribute
//! of the data model once (serde, via `serde_dynamo`), and both directions go through them.
//! Absent values stay absent attributes, never empty strings or NULLs. Reads are lenient: a missing
//! attribute reads as absent, an attribute this build does not know is ignored, an enum value it
//! does not know is kept.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::keys::{
    cluster_index_pk, history_sk, index_sk, iso_time, service_index_pk, shard, task_pk, SNAPSHOT_SK,
};
use crate::core::arn::last_segment;
use crate::core::enums::{HealthStatus, LaunchType, StopCode, TaskStatus};
use crate::core::event::NetworkBinding;
use crate::core::history::{ContainerRecord, HistoryRecord, Snapshot, TagSource, Tags};

pub type Item = HashMap<String, AttributeValue>;

/// The primary key attributes.
pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// The primary key of an item, as GetItem / BatchGetItem take it.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.into())),
        (SK.to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// An item's primary key, `(pk, sk)`.
pub fn item_key(item: &Item) -> Option<(&str, &str)> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk, sk)),
        _ => None,
    }
}

/// DynamoDB's limit on one item: attribute names and values, in bytes.
pub const DYNAMODB_ITEM_LIMIT: usize = 400 * 1024;
/// History items are kept to a quarter of [`DYNAMODB_ITEM_LIMIT`] (see [`history_item`]), so a
/// runaway event can neither fail for ever nor cost more than ~100 write units.
pub const MAX_ITEM_BYTES: usize = 100 * 1024;

/// Why an item could not be read back as a record.
#[derive(Debug, thiserror::Error)]
#[error("item {pk} is unreadable: {problem}")]
pub struct ItemError {
    pub pk: String,
    pub problem: String,
}

/// A history item: the task at one version, with its index keys.
#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct HistoryItem {
    pk: String,
    sk: String,
    item_type: Option<String>,
    task_arn: String,
    task_id: Option<String>,
    cluster_arn: String,
    cluster_name: Option<String>,
    version: u64,
    last_status: Option<TaskStatus>,
    desired_status: Option<TaskStatus>,
    launch_type: Option<LaunchType>,
    group: Option<String>,
    service_name: Option<String>,
    task_definition_arn: Option<String>,
    family: Option<String>,
    revision: Option<u32>,
    started_by: Option<String>,
    stop_code: Option<StopCode>,
    stopped_reason: Option<String>,
    #[serde(with = "iso_millis")]
    created_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_millis")]
    pull_started_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_millis")]
    pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_millis")]
    started_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_millis")]
    stopping_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_millis")]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(with = "iso_millis")]
    execution_stopped_at: Option<DateTime<Utc>>,
    availability_zone: Option<String>,
    cpu: Option<String>,
    memory: Option<String>,
    platform_version: Option<String>,
    capacity_provider_name: Option<String>,
    container_instance_arn: Option<String>,
    health_status: Option<HealthStatus>,
    event_id: Option<String>,
    #[serde(with = "iso_millis")]
    event_time: Option<DateTime<Utc>>,
    expires_at: Option<i64>,
    enriched: Option<bool>,
    tags_source: Option<String>,
    late_arrival: Option<bool>,
    /// Present only when true.
    truncated: Option<bool>,
    /// Absent when no tags are known.
    tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    containers: Vec<ContainerItem>,
    gsi1pk: Option<String>,
    gsi1sk: Option<String>,
    gsi2pk: Option<String>,
    gsi2sk: Option<String>,
}

#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ContainerItem {
    name: Option<String>,
    image: Option<String>,
    image_digest: Option<String>,
    runtime_id: Option<String>,
    last_status: Option<TaskStatus>,
    exit_code: Option<i64>,
    reason: Option<String>,
    health_status: Option<HealthStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    network_bindings: Vec<BindingItem>,
}

#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BindingItem {
    #[serde(rename = "bindIP")]
    bind_ip: Option<String>,
    container_port: Option<i64>,
    host_port: Option<i64>,
    protocol: Option<String>,
    container_port_range: Option<String>,
    host_port_range: Option<String>,
}

/// A task's snapshot: the newest recorded state, the version every event is compared with.
#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SnapshotItem {
    pk: String,
    sk: String,
    item_type: Option<String>,
    task_arn: String,
    version: Option<u64>,
    last_status: Option<TaskStatus>,
    desired_status: Option<TaskStatus>,
    cluster_arn: Option<String>,
    task_definition_arn: Option<String>,
    stop_code: Option<StopCode>,
    tags: BTreeMap<String, String>,
    tags_known: bool,
    ecs_missing: bool,
    #[serde(with = "iso_millis")]
    updated_at: Option<DateTime<Utc>>,
    expires_at: Option<i64>,
}

fn non_empty(text: &Option<String>) -> Option<String> {
    text.clone().filter(|text| !text.is_empty())
}

impl From<&ContainerRecord> for ContainerItem {
    fn from(container: &ContainerRecord) -> Self {
        Self {
            name: non_empty(&container.name),
            image: non_empty(&container.image),
            image_digest: non_empty(&container.image_digest),
            runtime_id: non_empty(&container.runtime_id),
            last_status: container.last_status.clone(),
            exit_code: container.exit_code,
            reason: non_empty(&container.reason),
            health_status: container.health_status.clone(),
            network_bindings: container
                .network_bindings
                .iter()
                .map(|binding| BindingItem {
                    bind_ip: non_empty(&binding.bind_ip),
                    container_port: binding.container_port,
                    host_port: binding.host_port,
                    protocol: non_empty(&binding.protocol),
                    container_port_range: non_empty(&binding.container_port_range),
                    host_port_range: non_empty(&binding.host_port_range),
                })
                .collect(),
        }
    }
}

impl From<ContainerItem> for ContainerRecord {
    fn from(item: ContainerItem) -> Self {
        Self {
            name: item.name,
            image: item.image,
            image_digest: item.image_digest,
            runtime_id: item.runtime_id,
            last_status: item.last_status,
            exit_code: item.exit_code,
            reason: item.reason,
            health_status: item.health_status,
            network_bindings: item
                .network_bindings
                .into_iter()
                .map(|binding| NetworkBinding {
                    bind_ip: binding.bind_ip,
                    container_port: binding.container_port,
                    host_port: binding.host_port,
                    protocol: binding.protocol,
                    container_port_range: binding.container_port_range,
                    host_port_range: binding.host_port_range,
                })
                .collect(),
        }
    }
}

impl HistoryItem {
    fn new(record: &HistoryRecord) -> Self {
        let task_shard = shard(&record.task_id);
        let index_sk = index_sk(record.event_time, &record.task_id, record.version);
        let service_index = record.service_name.as_ref().map(|service| {
            (
                service_index_pk(&record.cluster_arn, service, task_shard),
                index_sk.clone(),
            )
        });
        let (gsi2pk, gsi2sk) = service_index.unzip();
        Self {
            pk: task_pk(&record.task_arn),
            sk: history_sk(record.version),
            item_type: Some("history".to_owned()),
            task_arn: record.task_arn.clone(),
            task_id: Some(record.task_id.clone()),
            cluster_arn: record.cluster_arn.clone(),
            cluster_name: Some(record.cluster_name.clone()),
            version: record.version,
            last_status: record.last_status.clone(),
            desired_status: record.desired_status.clone(),
            launch_type: record.launch_type.clone(),
            group: non_empty(&record.group),
            service_name: non_empty(&record.service_name),
            task_definition_arn: non_empty(&record.task_definition_arn),
            family: non_empty(&record.family),
            revision: record.revision,
            started_by: non_empty(&record.started_by),
            stop_code: record.stop_code.clone(),
            stopped_reason: non_empty(&record.stopped_reason),
            created_at: record.created_at,
            pull_started_at: record.pull_started_at,
            pull_stopped_at: record.pull_stopped_at,
            started_at: record.started_at,
            stopping_at: record.stopping_at,
            stopped_at: record.stopped_at,
            execution_stopped_at: record.execution_stopped_at,
            availability_zone: non_empty(&record.availability_zone),
            cpu: non_empty(&record.cpu),
            memory: non_empty(&record.memory),
            platform_version: non_empty(&record.platform_version),
            capacity_provider_name: non_empty(&record.capacity_provider_name),
            container_instance_arn: non_empty(&record.container_instance_arn),
            health_status: record.health_status.clone(),
            event_id: non_empty(&record.event_id),
            event_time: Some(record.event_time),
            expires_at: Some(record.expires_at),
            enriched: Some(record.tags.enriched),
            tags_source: Some(record.tags.source.as_str().to_owned()),
            late_arrival: Some(record.late_arrival),
            truncated: record.truncated.then_some(true),
            tags: (record.tags.source != TagSource::None).then(|| record.tags.values.clone()),
            containers: record.containers.iter().map(ContainerItem::from).collect(),
            gsi1pk: Some(cluster_index_pk(&record.cluster_arn, task_shard)),
            gsi1sk: Some(index_sk),
            gsi2pk,
            gsi2sk,
        }
    }

    fn into_record(self) -> Result<HistoryRecord, ItemError> {
        let fail = |problem: &str| ItemError {
            pk: self.pk.clone(),
            problem: problem.to_owned(),
        };
        if self.task_arn.is_empty() {
            return Err(fail("no taskArn"));
        }
        let event_time = self.event_time.ok_or_else(|| fail("no eventTime"))?;
        let enriched = self.enriched.unwrap_or(false);
        let tags = match self.tags {
            Some(values) => Tags {
                values,
                source: self.tags_source.as_deref().map_or(TagSource::None, TagSource::parse),
                enriched,
            },
            None => Tags {
                enriched,
                ..Tags::none()
            },
        };
        Ok(HistoryRecord {
            task_id: self
                .task_id
                .unwrap_or_else(|| last_segment(&self.task_arn).to_owned()),
            cluster_name: self
                .cluster_name
                .unwrap_or_else(|| last_segment(&self.cluster_arn).to_owned()),
            task_arn: self.task_arn,
            cluster_arn: self.cluster_arn,
            version: self.version,
            last_status: self.last_status,
            desired_status: self.desired_status,
            launch_type: self.launch_type,
            group: self.group,
            service_name: self.service_name,
            task_definition_arn: self.task_definition_arn,
            family: self.family,
            revision: self.revision,
            started_by: self.started_by,
            stop_code: self.stop_code,
            stopped_reason: self.stopped_reason,
            created_at: self.created_at,
            pull_started_at: self.pull_started_at,
            pull_stopped_at: self.pull_stopped_at,
            started_at: self.started_at,
            stopping_at: self.stopping_at,
            stopped_at: self.stopped_at,
            execution_stopped_at: self.execution_stopped_at,
            containers: self.containers.into_iter().map(Into::into).collect(),
            tags,
            availability_zone: self.availability_zone,
            cpu: self.cpu,
            memory: self.memory,
            platform_version: self.platform_version,
            capacity_provider_name: self.capacity_provider_name,
            container_instance_arn: self.container_instance_arn,
            health_status: self.health_status,
            event_id: self.event_id,
            event_time,
            expires_at: self.expires_at.unwrap_or_default(),
            late_arrival: self.late_arrival.unwrap_or(false),
            truncated: self.truncated.unwrap_or(false),
        })
    }
}

fn encode<T: Serialize>(value: &T) -> Item {
    // The item structs hold strings, numbers, booleans, maps and lists only: serde_dynamo cannot
    // fail on them, and an empty item (which DynamoDB would refuse) would show a bug at once.
    serde_dynamo::to_item(value).unwrap_or_default()
}

fn pk_of(item: &Item) -> String {
    item_key(item).map_or("?", |(pk, _)| pk).to_owned()
}

/// The history item for one record, with its index keys, at most [`MAX_ITEM_BYTES`] big.
///
/// `normalize` already cut every text to 2 KB, containers to 50 and network bindings to 100 per
/// container. If the item is still bigger than [`MAX_ITEM_BYTES`], it is trimmed, in this order,
/// until it fits, and marked `truncated`: (1) every container's network bindings are dropped;
/// (2) containers are dropped from the last; (3) tags are dropped from the last in key order.
/// What is left (scalar fields of at most 2 KB each) always fits.
pub fn history_item(record: &HistoryRecord) -> Item {
    let item = encode(&HistoryItem::new(record));
    if item_size(&item) <= MAX_ITEM_BYTES {
        return item;
    }
    let mut trimmed = record.clone();
    trimmed.truncated = true;
    for container in &mut trimmed.containers {
        container.network_bindings.clear();
    }
    loop {
        let item = encode(&HistoryItem::new(&trimmed));
        if item_size(&item) <= MAX_ITEM_BYTES {
            return item;
        }
        if trimmed.containers.pop().is_none() && trimmed.tags.values.pop_last().is_none() {
            return item;
        }
    }
}

/// Reads a history item back. `taskArn`, `version` and `eventTime` are essential; the rest is
/// best effort (see the module's note on leniency).
pub fn history_from_item(item: &Item) -> Result<HistoryRecord, ItemError> {
    serde_dynamo::from_item::<_, HistoryItem>(item.clone())
        .map_err(|err| ItemError {
            pk: pk_of(item),
            problem: err.to_string(),
        })?
        .into_record()
}

/// The snapshot item of a task.
pub fn snapshot_item(snapshot: &Snapshot) -> Item {
    encode(&SnapshotItem {
        pk: task_pk(&snapshot.task_arn),
        sk: SNAPSHOT_SK.to_owned(),
        item_type: Some("snapshot".to_owned()),
        task_arn: snapshot.task_arn.clone(),
        version: Some(snapshot.version),
        last_status: snapshot.last_status.clone(),
        desired_status: snapshot.desired_status.clone(),
        cluster_arn: Some(snapshot.cluster_arn.clone()),
        task_definition_arn: non_empty(&snapshot.task_definition_arn),
        stop_code: snapshot.stop_code.clone(),
        tags: snapshot.tags.clone(),
        tags_known: snapshot.tags_known,
        ecs_missing: snapshot.ecs_missing,
        updated_at: Some(snapshot.updated_at),
        expires_at: Some(snapshot.expires_at),
    })
}

/// Reads a snapshot item back. Only `taskArn` and `version` are essential.
pub fn snapshot_from_item(item: &Item) -> Result<Snapshot, ItemError> {
    let fail = |problem: String| ItemError {
        pk: pk_of(item),
        problem,
    };
    let read: SnapshotItem =
        serde_dynamo::from_item(item.clone()).map_err(|err| fail(err.to_string()))?;
    if read.task_arn.is_empty() {
        return Err(fail("no taskArn".to_owned()));
    }
    let version = read
        .version
        .ok_or_else(|| fail("no numeric version".to_owned()))?;
    Ok(Snapshot {
        task_arn: read.task_arn,
        version,
        last_status: read.last_status,
        desired_status: read.desired_status,
        cluster_arn: read.cluster_arn.unwrap_or_default(),
        task_definition_arn: read.task_definition_arn,
        tags: read.tags,
        tags_known: read.tags_known,
        ecs_missing: read.ecs_missing,
        stop_code: read.stop_code,
        updated_at: read.updated_at.unwrap_or_default(),
        expires_at: read.expires_at.unwrap_or_default(),
    })
}

/// Attributes that only serve the table's keys and indexes; JSON output leaves them out.
const KEY_ATTRIBUTES: [&str; 7] = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "itemType"];

/// The item as plain JSON with the table's attribute names (numbers as numbers, maps as objects),
/// without the attributes that only serve keys and indexes: what the CLI's JSON output shows.
pub fn item_json(item: &Item) -> serde_json::Value {
    let mut item = item.clone();
    item.retain(|name, _| !KEY_ATTRIBUTES.contains(&name.as_str()));
    serde_dynamo::from_item(item).unwrap_or(serde_json::Value::Null)
}

/// An item's size as DynamoDB counts it (rounded up where DynamoDB's rule is approximate).
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        // One byte per two significant digits, plus one; the sign and point are counted too.
        AttributeValue::N(number) => number.len() / 2 + 2,
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| n.len() / 2 + 2).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        // A type newer than this build: count it as large as an item may be, so it is noticed.
        _ => DYNAMODB_ITEM_LIMIT,
    }
}

/// Timestamps as fixed-width ISO-8601 UTC with milliseconds, so text order is time order.
mod iso_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    use super::iso_time;

    pub fn serialize<S: Serializer>(
        time: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_str(&iso_time(*time)),
            None => serializer.serialize_none(),
        }
    }

    /// An unreadable time reads as absent, like a missing one.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        Ok(text
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|time| time.with_timezone(&Utc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::tests::task;
    use crate::core::history::{normalize, RecordContext};

    fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
        match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value),
            _ => None,
        }
    }

    fn record(json: &str, tags: Tags) -> HistoryRecord {
        record_of(&task(json), tags)
    }

    fn record_of(event: &crate::core::event::TaskEvent, tags: Tags) -> HistoryRecord {
        normalize(
            event,
            RecordContext {
                tags,
                late_arrival: false,
                received_at: Utc::now(),
                retention_days: 90,
            },
        )
    }

    fn described() -> Tags {
        Tags {
            values: [("team".to_owned(), "payments".to_owned())].into(),
            source: TagSource::DescribeTasks,
            enriched: true,
        }
    }

    #[test]
    fn a_history_item_has_its_keys_and_no_empty_or_null_attributes() {
        let record = record(
            include_str!("../../../events/fargate-web-v2-pending.json"),
            Tags::none(),
        );
        let item = history_item(&record);
        assert_eq!(
            text(&item, "pk"),
            Some(format!("TASK#{}", record.task_arn).as_str())
        );
        assert_eq!(text(&item, "sk"), Some("V#0000000002"));
        assert_eq!(text(&item, "itemType"), Some("history"));
        assert!(text(&item, "gsi1pk")
            .unwrap()
            .starts_with("CLUSTER#arn:aws:ecs:us-east-1:123456789012:cluster/demo#"));
        assert!(text(&item, "gsi2pk")
            .unwrap()
            .starts_with("SERVICE#arn:aws:ecs:us-east-1:123456789012:cluster/demo#web#"));
        assert_eq!(text(&item, "gsi1sk"), text(&item, "gsi2sk"));
        assert!(
            !item.contains_key("startedAt"),
            "a pending task has not started"
        );
        assert!(!item.contains_key("stopCode"));
        assert!(!item.contains_key("tags"), "unknown tags are absent");
        assert!(!item.contains_key("truncated"));
        assert_eq!(item.get("version"), Some(&AttributeValue::N("2".into())));
        assert_eq!(item.get("lateArrival"), Some(&AttributeValue::Bool(false)));
        for (name, value) in &item {
            assert!(!matches!(value, AttributeValue::Null(_)), "{name} is NULL");
            if let AttributeValue::S(text) = value {
                assert!(!text.is_empty(), "{name} is an empty string");
            }
        }
    }

    #[test]
    fn a_standalone_task_is_not_in_the_service_index() {
        let item = history_item(&record(
            include_str!("../../../events/fargate-batch-stopped-oom.json"),
            Tags::none(),
        ));
        assert!(!item.contains_key("gsi2pk") && !item.contains_key("gsi2sk"));
        assert_eq!(text(&item, "stopCode"), Some("EssentialContainerExited"));
        let Some(AttributeValue::L(containers)) = item.get("containers") else {
            panic!("containers missing")
        };
        let Some(AttributeValue::M(job)) = containers.first() else {
            panic!("container is not a map")
        };
        assert_eq!(job.get("exitCode"), Some(&AttributeValue::N("137".into())));
    }

    #[test]
    fn a_history_item_reads_back_as_the_record_it_was_written_from() {
        for json in [
            include_str!("../../../events/fargate-web-v8-stopped.json"),
            include_str!("../../../events/fargate-batch-stopped-oom.json"),
            include_str!("../../../events/ec2-worker-running.json"),
        ] {
            for tags in [described(), Tags::none()] {
                let written = record(json, tags);
                let read = history_from_item(&history_item(&written)).unwrap();
                assert_eq!(read, written);
            }
        }
    }

    #[test]
    fn snapshots_round_trip_through_their_item() {
        let record = record(
            include_str!("../../../events/fargate-web-v8-stopped.json"),
            described(),
        );
        let snapshot = Snapshot::from_record(&record, None);
        let item = snapshot_item(&snapshot);
        assert_eq!(text(&item, "sk"), Some(SNAPSHOT_SK));
        assert_eq!(text(&item, "itemType"), Some("snapshot"));
        let read = snapshot_from_item(&item).unwrap();
        assert_eq!(read, snapshot);
    }

    #[test]
    fn unreadable_items_are_errors_not_panics() {
        let mut item = key("TASK#x", "SNAPSHOT");
        item.insert("taskArn".into(), AttributeValue::S("x".into()));
        assert!(snapshot_from_item(&item).is_err(), "no version");
        item.insert("version".into(), AttributeValue::N("-3".into()));
        assert!(snapshot_from_item(&item).is_err(), "negative version");
        item.insert("version".into(), AttributeValue::N("3".into()));
        assert_eq!(snapshot_from_item(&item).unwrap().version, 3);
        let mut history = Item::new();
        history.insert("taskArn".into(), AttributeValue::S("t".into()));
        assert!(history_from_item(&history).is_err(), "no eventTime");
    }

    #[test]
    fn json_output_uses_attribute_names_and_drops_the_keys() {
        let item = history_item(&record(
            include_str!("../../../events/fargate-batch-stopped-oom.json"),
            described(),
        ));
        let json = item_json(&item);
        assert!(json.get("pk").is_none() && json.get("gsi1sk").is_none());
        assert!(json.get("itemType").is_none());
        assert_eq!(json["stopCode"], "EssentialContainerExited");
        assert_eq!(json["containers"][0]["exitCode"], 137);
        assert_eq!(json["version"], 6);
        assert_eq!(json["tags"]["team"], "payments");
        assert_eq!(json["enriched"], true);
    }

    fn huge_record() -> HistoryRecord {
        let mut source = task(include_str!("../../../events/ec2-worker-running.json"));
        let mut container = source.detail.containers[0].clone();
        container.image = Some("i".repeat(5000));
        container.reason = Some("r".repeat(5000));
        let binding = container.network_bindings[0].clone();
        container.network_bindings = vec![binding; 100];
        source.detail.containers = vec![container; 50];
        source.detail.last_status = Some(TaskStatus::Unknown("S".repeat(100_000)));
        let tags = Tags {
            values: (0..50)
                .map(|n| (format!("{n:03}{}", "k".repeat(125)), "v".repeat(256)))
                .collect(),
            source: TagSource::DescribeTasks,
            enriched: true,
        };
        record_of(&source, tags)
    }

    /// Regression (fault suite): a record over DynamoDB's 400 KB failed for ever, and took the
    /// other records of its BatchWriteItem down with it.
    #[test]
    fn an_oversized_record_is_trimmed_in_the_documented_order_and_marked() {
        let record = huge_record();
        assert!(record.truncated, "normalize cut the long texts");
        assert!(record
            .containers
            .iter()
            .all(|c| c.network_bindings.len() == 100));
        let item = history_item(&record);
        assert!(item_size(&item) <= MAX_ITEM_BYTES, "{}", item_size(&item));
        assert_eq!(item.get("truncated"), Some(&AttributeValue::Bool(true)));
        let containers = item["containers"].as_l().unwrap();
        assert!(
            !containers.is_empty() && containers.len() < 50,
            "{}",
            containers.len()
        );
        assert!(
            containers
                .iter()
                .all(|c| !c.as_m().unwrap().contains_key("networkBindings")),
            "bindings go first"
        );
        assert_eq!(item["tags"].as_m().unwrap().len(), 50, "tags go last");
        assert_eq!(text(&item, "lastStatus").map(str::len), Some(2048));
    }

    #[test]
    fn an_ordinary_record_is_not_trimmed() {
        let record = record(
            include_str!("../../../events/fargate-web-v8-stopped.json"),
            Tags::none(),
        );
        let item = history_item(&record);
        assert!(item_size(&item) < 4096, "{}", item_size(&item));
        assert!(!item.contains_key("truncated"));
    }

    #[test]
    fn item_size_counts_names_values_and_nesting() {
        let mut item = Item::new();
        item.insert("ab".into(), AttributeValue::S("xyz".into()));
        item.insert("n".into(), AttributeValue::N("1234".into()));
        item.insert(
            "m".into(),
            AttributeValue::M([("k".to_owned(), AttributeValue::Bool(true))].into()),
        );
        // 2 + 3, 1 + (4 / 2 + 2), 1 + 3 + (1 + 1 + 1)
        assert_eq!(item_size(&item), 5 + 5 + 7);
    }
}
