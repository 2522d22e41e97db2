//! The one mapping between records and DynamoDB items: the item structs below name every attribute
//! of the data model once (serde, via `serde_dynamo`), and both directions go through them.
//!
//! What an item stores is what cannot be derived: the task ARN and version are in the keys, the task
//! id, cluster, cluster name, service, family and revision in the ARNs and the group; times are epoch
//! milliseconds; a version's tags are stored only when DescribeTasks answered for it (readers carry
//! them to the other versions); flags only when true; index keys only on the records that carry the
//! task's entry for their hour. Absent values stay absent attributes, never empty strings or NULLs.
//! Reads are lenient: a missing attribute reads as absent, one this build does not know is ignored,
//! an enum value it does not know is kept, and items written before this layout (with the derived
//! attributes, ISO times and `tagsSource`) read the same.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::keys::{
    cluster_index_pk, history_sk, index_sk, shard, task_arn_of, task_pk, version_of, CATALOG_PK,
    SNAPSHOT_SK,
};
use crate::core::arn::{cluster_arn_of_task, last_segment};
use crate::core::enums::{HealthStatus, LaunchType, StopCode, TaskStatus};
use crate::core::event::NetworkBinding;
use crate::core::history::{
    arn_part, expiry, family_and_revision, service_name, ContainerRecord, HistoryRecord, Snapshot,
    TagSource, Tags,
};

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

/// A history item: the task at one version.
#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct HistoryItem {
    pk: String,
    sk: String,
    /// Only when the task ARN does not name its cluster (the legacy short ARN format).
    cluster_arn: Option<String>,
    last_status: Option<TaskStatus>,
    desired_status: Option<TaskStatus>,
    launch_type: Option<LaunchType>,
    group: Option<String>,
    task_definition_arn: Option<String>,
    started_by: Option<String>,
    stop_code: Option<StopCode>,
    stopped_reason: Option<String>,
    #[serde(with = "millis")]
    created_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    pull_started_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    started_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    stopping_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(with = "millis")]
    execution_stopped_at: Option<DateTime<Utc>>,
    availability_zone: Option<String>,
    cpu: Option<String>,
    memory: Option<String>,
    platform_version: Option<String>,
    capacity_provider_name: Option<String>,
    container_instance_arn: Option<String>,
    health_status: Option<HealthStatus>,
    event_id: Option<String>,
    #[serde(with = "millis")]
    event_time: Option<DateTime<Utc>>,
    expires_at: Option<i64>,
    /// The tags DescribeTasks gave for this version; absent when it was not asked or did not answer.
    tags: Option<BTreeMap<String, String>>,
    /// Present only when true: DescribeTasks answered for this version.
    enriched: Option<bool>,
    /// Present only when true.
    late_arrival: Option<bool>,
    /// Present only when true.
    truncated: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    containers: Vec<ContainerItem>,
    /// The index keys, on the record that is its task's entry for its hour.
    gsi1pk: Option<String>,
    gsi1sk: Option<String>,
    /// Written before this layout (read only): `tagsSource` said whether `tags` were described or
    /// copied from the snapshot; the others are derived now.
    #[serde(skip_serializing)]
    tags_source: Option<String>,
    #[serde(skip_serializing)]
    task_arn: Option<String>,
    #[serde(skip_serializing)]
    version: Option<u64>,
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
    version: Option<u64>,
    last_status: Option<TaskStatus>,
    desired_status: Option<TaskStatus>,
    /// Only when the task ARN does not name its cluster.
    cluster_arn: Option<String>,
    task_definition_arn: Option<String>,
    stop_code: Option<StopCode>,
    tags: BTreeMap<String, String>,
    /// Present only when true.
    tags_known: Option<bool>,
    /// Present only when true.
    ecs_missing: Option<bool>,
    #[serde(with = "millis")]
    updated_at: Option<DateTime<Utc>>,
    expires_at: Option<i64>,
    indexed_hour: Option<i64>,
    /// Written before this layout (read only).
    #[serde(skip_serializing)]
    task_arn: Option<String>,
}

/// A cluster of the catalog: which clusters (of which accounts and regions) have history.
#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ClusterItem {
    pk: String,
    sk: String,
    account: Option<String>,
    region: Option<String>,
    #[serde(with = "millis")]
    last_seen: Option<DateTime<Utc>>,
    expires_at: Option<i64>,
}

/// A cluster the table holds history of, and when a function instance last noted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntry {
    pub cluster_arn: String,
    pub account: String,
    pub region: String,
    pub last_seen: Option<DateTime<Utc>>,
}

/// The catalog item of a cluster, kept as long as history written now.
pub fn cluster_item(cluster_arn: &str, seen: DateTime<Utc>, retention_days: u32) -> Item {
    encode(&ClusterItem {
        pk: CATALOG_PK.to_owned(),
        sk: cluster_arn.to_owned(),
        account: Some(arn_part(cluster_arn, |arn| arn.account)).filter(|a| !a.is_empty()),
        region: Some(arn_part(cluster_arn, |arn| arn.region)).filter(|r| !r.is_empty()),
        last_seen: Some(seen),
        expires_at: Some(expiry(seen, retention_days)),
    })
}

/// Reads a catalog item back.
pub fn catalog_entry(item: &Item) -> Result<CatalogEntry, ItemError> {
    let read: ClusterItem = serde_dynamo::from_item(item.clone()).map_err(|err| ItemError {
        pk: pk_of(item),
        problem: err.to_string(),
    })?;
    Ok(CatalogEntry {
        account: read
            .account
            .unwrap_or_else(|| arn_part(&read.sk, |arn| arn.account)),
        region: read
            .region
            .unwrap_or_else(|| arn_part(&read.sk, |arn| arn.region)),
        cluster_arn: read.sk,
        last_seen: read.last_seen,
    })
}

fn non_empty(text: &Option<String>) -> Option<String> {
    text.clone().filter(|text| !text.is_empty())
}

fn only_true(flag: bool) -> Option<bool> {
    flag.then_some(true)
}

/// The cluster ARN to store beside a task ARN: none when the task ARN names it already.
fn stored_cluster_arn(task_arn: &str, cluster_arn: &str) -> Option<String> {
    (cluster_arn_of_task(task_arn).as_deref() != Some(cluster_arn) && !cluster_arn.is_empty())
        .then(|| cluster_arn.to_owned())
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
        let (gsi1pk, gsi1sk) = if record.indexed {
            (
                Some(cluster_index_pk(
                    &record.cluster_arn,
                    shard(&record.task_id),
                )),
                Some(index_sk(record.event_time)),
            )
        } else {
            (None, None)
        };
        let described = record.tags.source == TagSource::DescribeTasks;
        Self {
            pk: task_pk(&record.task_arn),
            sk: history_sk(record.version),
            cluster_arn: stored_cluster_arn(&record.task_arn, &record.cluster_arn),
            last_status: record.last_status.clone(),
            desired_status: record.desired_status.clone(),
            launch_type: record.launch_type.clone(),
            group: non_empty(&record.group),
            task_definition_arn: non_empty(&record.task_definition_arn),
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
            tags: described.then(|| record.tags.values.clone()),
            enriched: only_true(record.tags.enriched),
            late_arrival: only_true(record.late_arrival),
            truncated: only_true(record.truncated),
            containers: record.containers.iter().map(ContainerItem::from).collect(),
            gsi1pk,
            gsi1sk,
            tags_source: None,
            task_arn: None,
            version: None,
        }
    }

    /// The tags as read: described ones (or, from items of the earlier layout, copied ones).
    fn tags(&mut self) -> Tags {
        let enriched = self.enriched.unwrap_or(false);
        match self.tags.take() {
            Some(values) => Tags {
                values,
                source: match self.tags_source.as_deref() {
                    Some(source) => TagSource::parse(source),
                    None => TagSource::DescribeTasks,
                },
                enriched,
            },
            None => Tags {
                enriched,
                ..Tags::none()
            },
        }
    }

    fn into_record(mut self) -> Result<HistoryRecord, ItemError> {
        let fail = |problem: &str| ItemError {
            pk: self.pk.clone(),
            problem: problem.to_owned(),
        };
        let task_arn = match self.task_arn.take() {
            Some(arn) => arn,
            None => task_arn_of(&self.pk)
                .ok_or_else(|| fail("no task ARN"))?
                .to_owned(),
        };
        let version = match self.version {
            Some(version) => version,
            None => version_of(&self.sk).ok_or_else(|| fail("no version"))?,
        };
        let event_time = self.event_time.ok_or_else(|| fail("no eventTime"))?;
        let cluster_arn = self
            .cluster_arn
            .take()
            .or_else(|| cluster_arn_of_task(&task_arn))
            .unwrap_or_default();
        let (family, revision) = self
            .task_definition_arn
            .as_deref()
            .map(family_and_revision)
            .unwrap_or((None, None));
        let tags = self.tags();
        let indexed = self.gsi1pk.is_some();
        Ok(HistoryRecord {
            task_id: last_segment(&task_arn).to_owned(),
            account: arn_part(&task_arn, |arn| arn.account),
            region: arn_part(&task_arn, |arn| arn.region),
            cluster_name: last_segment(&cluster_arn).to_owned(),
            service_name: self
                .group
                .as_deref()
                .and_then(service_name)
                .map(str::to_owned),
            task_arn,
            cluster_arn,
            version,
            last_status: self.last_status,
            desired_status: self.desired_status,
            launch_type: self.launch_type,
            group: self.group,
            task_definition_arn: self.task_definition_arn,
            family,
            revision,
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
            indexed,
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

/// The history item for one record, at most [`MAX_ITEM_BYTES`] big.
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

/// Reads a history item back (either layout). The task ARN and version (keys) and `eventTime` are
/// essential; the rest is best effort (see the module's note on leniency). Tags of versions that
/// stored none are not filled in here: a timeline does that (`history::carry_tags`).
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
        version: Some(snapshot.version),
        last_status: snapshot.last_status.clone(),
        desired_status: snapshot.desired_status.clone(),
        cluster_arn: stored_cluster_arn(&snapshot.task_arn, &snapshot.cluster_arn),
        task_definition_arn: non_empty(&snapshot.task_definition_arn),
        stop_code: snapshot.stop_code.clone(),
        tags: snapshot.tags.clone(),
        tags_known: only_true(snapshot.tags_known),
        ecs_missing: only_true(snapshot.ecs_missing),
        updated_at: Some(snapshot.updated_at),
        expires_at: Some(snapshot.expires_at),
        indexed_hour: snapshot.indexed_hour,
        task_arn: None,
    })
}

/// Reads a snapshot item back (either layout). The task ARN and `version` are essential.
pub fn snapshot_from_item(item: &Item) -> Result<Snapshot, ItemError> {
    let fail = |problem: String| ItemError {
        pk: pk_of(item),
        problem,
    };
    let read: SnapshotItem =
        serde_dynamo::from_item(item.clone()).map_err(|err| fail(err.to_string()))?;
    let task_arn = match read.task_arn {
        Some(arn) => arn,
        None => task_arn_of(&read.pk)
            .ok_or_else(|| fail("no task ARN".to_owned()))?
            .to_owned(),
    };
    let version = read
        .version
        .ok_or_else(|| fail("no numeric version".to_owned()))?;
    Ok(Snapshot {
        cluster_arn: read
            .cluster_arn
            .or_else(|| cluster_arn_of_task(&task_arn))
            .unwrap_or_default(),
        task_arn,
        version,
        last_status: read.last_status,
        desired_status: read.desired_status,
        task_definition_arn: read.task_definition_arn,
        tags: read.tags,
        tags_known: read.tags_known.unwrap_or(false),
        ecs_missing: read.ecs_missing.unwrap_or(false),
        stop_code: read.stop_code,
        updated_at: read.updated_at.unwrap_or_default(),
        expires_at: read.expires_at.unwrap_or_default(),
        indexed_hour: read.indexed_hour,
    })
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

/// Times as epoch milliseconds (8 bytes where ISO-8601 takes 24); items of the earlier layout
/// hold ISO-8601 strings, which read the same.
mod millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        time: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_i64(time.timestamp_millis()),
            None => serializer.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Millis(i64),
        Iso(String),
    }

    /// An unreadable time reads as absent, like a missing one.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(match Option::<Stored>::deserialize(deserializer)? {
            Some(Stored::Millis(millis)) => DateTime::from_timestamp_millis(millis),
            Some(Stored::Iso(text)) => DateTime::parse_from_rfc3339(&text)
                .ok()
                .map(|time| time.with_timezone(&Utc)),
            None => None,
        })
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

    fn copied() -> Tags {
        Tags {
            source: TagSource::Snapshot,
            enriched: false,
            ..described()
        }
    }

    #[test]
    fn a_history_item_stores_only_what_cannot_be_derived() {
        let record = record(
            include_str!("../../../events/fargate-web-v2-pending.json"),
            copied(),
        );
        let item = history_item(&record);
        assert_eq!(
            text(&item, "pk"),
            Some(format!("TASK#{}", record.task_arn).as_str())
        );
        assert_eq!(text(&item, "sk"), Some("V#0000000002"));
        for derived in [
            "taskArn",
            "taskId",
            "version",
            "clusterArn",
            "clusterName",
            "serviceName",
            "family",
            "revision",
            "itemType",
            "tagsSource",
        ] {
            assert!(
                !item.contains_key(derived),
                "{derived} is derived, not stored"
            );
        }
        assert!(!item.contains_key("gsi1pk"), "not indexed");
        assert!(
            !item.contains_key("startedAt"),
            "a pending task has not started"
        );
        assert!(
            !item.contains_key("tags"),
            "tags copied from the snapshot are not stored"
        );
        for flag in ["enriched", "lateArrival", "truncated"] {
            assert!(!item.contains_key(flag), "{flag} is stored only when true");
        }
        assert_eq!(
            item.get("eventTime"),
            Some(&AttributeValue::N(
                record.event_time.timestamp_millis().to_string()
            ))
        );
        for (name, value) in &item {
            assert!(!matches!(value, AttributeValue::Null(_)), "{name} is NULL");
            if let AttributeValue::S(text) = value {
                assert!(!text.is_empty(), "{name} is an empty string");
            }
        }
    }

    #[test]
    fn an_indexed_record_carries_its_clusters_entry_for_the_hour() {
        let mut record = record(
            include_str!("../../../events/fargate-batch-stopped-oom.json"),
            described(),
        );
        record.indexed = true;
        let item = history_item(&record);
        assert!(text(&item, "gsi1pk")
            .unwrap()
            .starts_with("CLUSTER#arn:aws:ecs:us-east-1:123456789012:cluster/demo#"));
        assert_eq!(
            text(&item, "gsi1sk"),
            Some(index_sk(record.event_time).as_str())
        );
        assert_eq!(text(&item, "stopCode"), Some("EssentialContainerExited"));
        assert_eq!(item.get("enriched"), Some(&AttributeValue::Bool(true)));
        assert_eq!(
            item["tags"].as_m().unwrap().len(),
            1,
            "described tags are stored"
        );
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
            for (tags, indexed) in [(described(), true), (Tags::none(), false)] {
                let mut written = record(json, tags);
                written.indexed = indexed;
                let read = history_from_item(&history_item(&written)).unwrap();
                assert_eq!(read, written);
            }
        }
    }

    #[test]
    fn a_typical_fargate_record_fits_one_write_unit() {
        for json in [
            include_str!("../../../events/fargate-web-v1-provisioning.json"),
            include_str!("../../../events/fargate-web-v4-running.json"),
            include_str!("../../../events/fargate-web-v8-stopped.json"),
        ] {
            let item = history_item(&record(json, described()));
            assert!(item_size(&item) <= 1024, "{} bytes", item_size(&item));
        }
    }

    /// Items of the layout before this one (every derived attribute stored, ISO times, copied tags
    /// with `tagsSource`, a per-change index entry) read as the same records.
    #[test]
    fn items_of_the_earlier_layout_read_the_same() {
        let stopped = record(
            include_str!("../../../events/fargate-web-v8-stopped.json"),
            copied(),
        );
        let arn = &stopped.task_arn;
        let cluster = &stopped.cluster_arn;
        let mut old = Item::new();
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: &str| AttributeValue::N(v.to_owned());
        let iso = |t: Option<DateTime<Utc>>| {
            s(&t.unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        };
        old.extend([
            ("pk".to_owned(), s(&format!("TASK#{arn}"))),
            ("sk".to_owned(), s("V#0000000008")),
            ("itemType".to_owned(), s("history")),
            ("taskArn".to_owned(), s(arn)),
            ("taskId".to_owned(), s(&stopped.task_id)),
            ("clusterArn".to_owned(), s(cluster)),
            ("clusterName".to_owned(), s("demo")),
            ("version".to_owned(), n("8")),
            ("lastStatus".to_owned(), s("STOPPED")),
            ("group".to_owned(), s("service:web")),
            ("serviceName".to_owned(), s("web")),
            (
                "taskDefinitionArn".to_owned(),
                s(stopped.task_definition_arn.as_deref().unwrap()),
            ),
            ("family".to_owned(), s("web")),
            ("revision".to_owned(), n("7")),
            ("stopCode".to_owned(), s("ServiceSchedulerInitiated")),
            ("createdAt".to_owned(), iso(stopped.created_at)),
            ("stoppedAt".to_owned(), iso(stopped.stopped_at)),
            ("eventTime".to_owned(), iso(Some(stopped.event_time))),
            ("expiresAt".to_owned(), n(&stopped.expires_at.to_string())),
            ("enriched".to_owned(), AttributeValue::Bool(false)),
            ("tagsSource".to_owned(), s("snapshot")),
            ("lateArrival".to_owned(), AttributeValue::Bool(false)),
            (
                "tags".to_owned(),
                AttributeValue::M([("team".to_owned(), s("payments"))].into()),
            ),
            ("gsi1pk".to_owned(), s(&format!("CLUSTER#{cluster}#1"))),
            (
                "gsi1sk".to_owned(),
                s("2026-11-20T03:53:09.250Z#id#0000000008"),
            ),
            ("gsi2pk".to_owned(), s(&format!("SERVICE#{cluster}#web#1"))),
        ]);
        let read = history_from_item(&old).unwrap();
        assert_eq!(read.task_arn, *arn);
        assert_eq!(read.version, 8);
        assert_eq!(
            (read.family.as_deref(), read.revision),
            (Some("web"), Some(7))
        );
        assert_eq!(read.service_name.as_deref(), Some("web"));
        assert_eq!(read.cluster_name, "demo");
        assert_eq!(read.stopped_at, stopped.stopped_at);
        assert_eq!(read.event_time, stopped.event_time);
        assert_eq!(read.tags, copied());
        assert!(read.indexed);
    }

    #[test]
    fn snapshots_round_trip_through_their_item() {
        let record = record(
            include_str!("../../../events/fargate-web-v8-stopped.json"),
            described(),
        );
        let mut snapshot = Snapshot::from_record(&record, None);
        snapshot.indexed_hour = Some(493_000);
        let item = snapshot_item(&snapshot);
        assert_eq!(text(&item, "sk"), Some(SNAPSHOT_SK));
        assert!(!item.contains_key("taskArn") && !item.contains_key("clusterArn"));
        assert_eq!(snapshot_from_item(&item).unwrap(), snapshot);
    }

    #[test]
    fn unreadable_items_are_errors_not_panics() {
        let mut item = key("TASK#x", "SNAPSHOT");
        assert!(snapshot_from_item(&item).is_err(), "no version");
        item.insert("version".into(), AttributeValue::N("-3".into()));
        assert!(snapshot_from_item(&item).is_err(), "negative version");
        item.insert("version".into(), AttributeValue::N("3".into()));
        assert_eq!(snapshot_from_item(&item).unwrap().version, 3);
        assert!(
            snapshot_from_item(&key("CLUSTERS", "SNAPSHOT")).is_err(),
            "no task ARN"
        );
        let history = key("TASK#t", "V#0000000001");
        assert!(history_from_item(&history).is_err(), "no eventTime");
        let mut history = key("TASK#t", "V#x");
        history.insert("eventTime".into(), AttributeValue::N("1".into()));
        assert!(
            history_from_item(&history).is_err(),
            "no version in the key"
        );
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
