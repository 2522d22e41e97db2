//! Records and snapshots as DynamoDB items. Absent values stay absent attributes, never empty strings.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::keys::{
    cluster_index_pk, history_sk, index_sk, iso_time, service_index_pk, shard, task_pk, SNAPSHOT_SK,
};
use crate::enums::{StopCode, TaskStatus};
use crate::history::{ContainerRecord, HistoryRecord, Snapshot, TagSource};

pub type Item = HashMap<String, AttributeValue>;

/// The primary key of an item, as GetItem / BatchGetItem take it.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// An item's primary key, `(pk, sk)`.
pub fn item_key(item: &Item) -> Option<(&str, &str)> {
    match (item.get("pk"), item.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some((pk, sk)),
        _ => None,
    }
}

/// DynamoDB's limit on one item: attribute names and values, in bytes.
pub const DYNAMODB_ITEM_LIMIT: usize = 400 * 1024;
/// History items are kept to a quarter of [`DYNAMODB_ITEM_LIMIT`] (see [`history_item`]), so a
/// runaway event can neither fail for ever nor cost more than ~100 write units.
pub const MAX_ITEM_BYTES: usize = 100 * 1024;

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

/// Builds an item attribute by attribute, skipping absent values.
#[derive(Default)]
struct ItemBuilder(Item);

impl ItemBuilder {
    fn with_capacity(capacity: usize) -> Self {
        Self(HashMap::with_capacity(capacity))
    }

    fn s(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.0
            .insert(name.to_owned(), AttributeValue::S(value.into()));
        self
    }

    fn opt_s(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            self.s(name, value);
        }
        self
    }

    fn n(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.0
            .insert(name.to_owned(), AttributeValue::N(value.to_string()));
        self
    }

    fn opt_n(&mut self, name: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(value) = value {
            self.n(name, value);
        }
        self
    }

    fn opt_time(&mut self, name: &str, value: Option<DateTime<Utc>>) -> &mut Self {
        if let Some(value) = value {
            self.s(name, iso_time(value));
        }
        self
    }

    fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.0.insert(name.to_owned(), AttributeValue::Bool(value));
        self
    }

    fn value(&mut self, name: &str, value: AttributeValue) -> &mut Self {
        self.0.insert(name.to_owned(), value);
        self
    }

    fn build(&mut self) -> Item {
        std::mem::take(&mut self.0)
    }
}

fn tag_map(tags: &BTreeMap<String, String>) -> AttributeValue {
    AttributeValue::M(
        tags.iter()
            .map(|(key, value)| (key.clone(), AttributeValue::S(value.clone())))
            .collect(),
    )
}

fn container_item(container: &ContainerRecord) -> AttributeValue {
    let mut item = ItemBuilder::with_capacity(9);
    item.opt_s("name", container.name.as_deref())
        .opt_s("image", container.image.as_deref())
        .opt_s("imageDigest", container.image_digest.as_deref())
        .opt_s("runtimeId", container.runtime_id.as_deref())
        .opt_s(
            "lastStatus",
            container.last_status.as_ref().map(TaskStatus::as_str),
        )
        .opt_n("exitCode", container.exit_code)
        .opt_s("reason", container.reason.as_deref())
        .opt_s(
            "healthStatus",
            container.health_status.as_ref().map(|h| h.as_str()),
        );
    if !container.network_bindings.is_empty() {
        let bindings = container
            .network_bindings
            .iter()
            .map(|binding| {
                let mut map = ItemBuilder::with_capacity(6);
                map.opt_s("bindIP", binding.bind_ip.as_deref())
                    .opt_n("containerPort", binding.container_port)
                    .opt_n("hostPort", binding.host_port)
                    .opt_s("protocol", binding.protocol.as_deref())
                    .opt_s(
                        "containerPortRange",
                        binding.container_port_range.as_deref(),
                    )
                    .opt_s("hostPortRange", binding.host_port_range.as_deref());
                AttributeValue::M(map.build())
            })
            .collect();
        item.value("networkBindings", AttributeValue::L(bindings));
    }
    AttributeValue::M(item.build())
}

/// The history item for one record, with its index keys, at most [`MAX_ITEM_BYTES`] big.
///
/// `normalize` already cut every text to 2 KB, containers to 50 and network bindings to 100 per
/// container. If the item is still bigger than [`MAX_ITEM_BYTES`], it is trimmed, in this order,
/// until it fits, and marked `truncated`: (1) every container's network bindings are dropped;
/// (2) containers are dropped from the last; (3) tags are dropped from the last in key order.
/// What is left (scalar fields of at most 2 KB each) always fits.
pub fn history_item(record: &HistoryRecord) -> Item {
    let item = encode_history(record);
    if item_size(&item) <= MAX_ITEM_BYTES {
        return item;
    }
    let mut trimmed = record.clone();
    trimmed.truncated = true;
    for container in &mut trimmed.containers {
        container.network_bindings.clear();
    }
    loop {
        let item = encode_history(&trimmed);
        if item_size(&item) <= MAX_ITEM_BYTES {
            return item;
        }
        if trimmed.containers.pop().is_none() && trimmed.tags.values.pop_last().is_none() {
            return item;
        }
    }
}

fn encode_history(record: &HistoryRecord) -> Item {
    let mut item = ItemBuilder::with_capacity(48);
    let task_shard = shard(&record.task_id);
    item.s("pk", task_pk(&record.task_arn))
        .s("sk", history_sk(record.version))
        .s("itemType", "history")
        .s("taskArn", &record.task_arn)
        .s("taskId", &record.task_id)
        .s("clusterArn", &record.cluster_arn)
        .s("clusterName", &record.cluster_name)
        .n("version", record.version)
        .opt_s(
            "lastStatus",
            record.last_status.as_ref().map(TaskStatus::as_str),
        )
        .opt_s(
            "desiredStatus",
            record.desired_status.as_ref().map(TaskStatus::as_str),
        )
        .opt_s(
            "launchType",
            record.launch_type.as_ref().map(|l| l.as_str()),
        )
        .opt_s("group", record.group.as_deref())
        .opt_s("serviceName", record.service_name.as_deref())
        .opt_s("taskDefinitionArn", record.task_definition_arn.as_deref())
        .opt_s("family", record.family.as_deref())
        .opt_n("revision", record.revision)
        .opt_s("startedBy", record.started_by.as_deref())
        .opt_s("stopCode", record.stop_code.as_ref().map(StopCode::as_str))
        .opt_s("stoppedReason", record.stopped_reason.as_deref())
        .opt_time("createdAt", record.created_at)
        .opt_time("pullStartedAt", record.pull_started_at)
        .opt_time("pullStoppedAt", record.pull_stopped_at)
        .opt_time("startedAt", record.started_at)
        .opt_time("stoppingAt", record.stopping_at)
        .opt_time("stoppedAt", record.stopped_at)
        .opt_time("executionStoppedAt", record.execution_stopped_at)
        .opt_s("availabilityZone", record.availability_zone.as_deref())
        .opt_s("cpu", record.cpu.as_deref())
        .opt_s("memory", record.memory.as_deref())
        .opt_s("platformVersion", record.platform_version.as_deref())
        .opt_s(
            "capacityProviderName",
            record.capacity_provider_name.as_deref(),
        )
        .opt_s(
            "containerInstanceArn",
            record.container_instance_arn.as_deref(),
        )
        .opt_s(
            "healthStatus",
            record.health_status.as_ref().map(|h| h.as_str()),
        )
        .opt_s("eventId", record.event_id.as_deref())
        .s("eventTime", iso_time(record.event_time))
        .n("expiresAt", record.expires_at)
        .bool("enriched", record.tags.enriched)
        .s("tagsSource", record.tags.source.as_str())
        .bool("lateArrival", record.late_arrival)
        .s("gsi1pk", cluster_index_pk(&record.cluster_arn, task_shard))
        .s(
            "gsi1sk",
            index_sk(record.event_time, &record.task_id, record.version),
        );
    if record.tags.source != TagSource::None {
        item.value("tags", tag_map(&record.tags.values));
    }
    if !record.containers.is_empty() {
        let containers = record.containers.iter().map(container_item).collect();
        item.value("containers", AttributeValue::L(containers));
    }
    if record.truncated {
        item.bool("truncated", true);
    }
    if let Some(service) = &record.service_name {
        item.s(
            "gsi2pk",
            service_index_pk(&record.cluster_arn, service, task_shard),
        )
        .s(
            "gsi2sk",
            index_sk(record.event_time, &record.task_id, record.version),
        );
    }
    item.build()
}

/// The snapshot item of a task.
pub fn snapshot_item(snapshot: &Snapshot) -> Item {
    let mut item = ItemBuilder::with_capacity(12);
    item.s("pk", task_pk(&snapshot.task_arn))
        .s("sk", SNAPSHOT_SK)
        .s("itemType", "snapshot")
        .s("taskArn", &snapshot.task_arn)
        .n("version", snapshot.version)
        .opt_s(
            "lastStatus",
            snapshot.last_status.as_ref().map(TaskStatus::as_str),
        )
        .opt_s(
            "desiredStatus",
            snapshot.desired_status.as_ref().map(TaskStatus::as_str),
        )
        .s("clusterArn", &snapshot.cluster_arn)
        .opt_s("taskDefinitionArn", snapshot.task_definition_arn.as_deref())
        .opt_s(
            "stopCode",
            snapshot.stop_code.as_ref().map(StopCode::as_str),
        )
        .value("tags", tag_map(&snapshot.tags))
        .bool("tagsKnown", snapshot.tags_known)
        .bool("ecsMissing", snapshot.ecs_missing)
        .s("updatedAt", iso_time(snapshot.updated_at))
        .n("expiresAt", snapshot.expires_at);
    item.build()
}

/// Why a stored snapshot item could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("snapshot item {pk} is unreadable: {problem}")]
pub struct ItemError {
    pub pk: String,
    pub problem: String,
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// Reads a snapshot item back. Only `taskArn` and `version` are essential; the rest is best effort.
pub fn snapshot_from_item(item: &Item) -> Result<Snapshot, ItemError> {
    let pk = text(item, "pk").unwrap_or("?").to_owned();
    let fail = |problem: &str| ItemError {
        pk: pk.clone(),
        problem: problem.to_owned(),
    };
    let task_arn = text(item, "taskArn").ok_or_else(|| fail("no taskArn"))?;
    let version = match item.get("version") {
        Some(AttributeValue::N(number)) => number
            .parse::<u64>()
            .map_err(|_| fail("version is not a whole number"))?,
        _ => return Err(fail("no numeric version")),
    };
    let tags = match item.get("tags") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(key, value)| match value {
                AttributeValue::S(value) => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let updated_at = text(item, "updatedAt")
        .and_then(|stamp| DateTime::parse_from_rfc3339(stamp).ok())
        .map(|stamp| stamp.with_timezone(&Utc))
        .unwrap_or_default();
    let expires_at = match item.get("expiresAt") {
        Some(AttributeValue::N(number)) => number.parse().unwrap_or_default(),
        _ => 0,
    };
    Ok(Snapshot {
        task_arn: task_arn.to_owned(),
        version,
        last_status: text(item, "lastStatus").map(TaskStatus::from),
        desired_status: text(item, "desiredStatus").map(TaskStatus::from),
        cluster_arn: text(item, "clusterArn").unwrap_or_default().to_owned(),
        task_definition_arn: text(item, "taskDefinitionArn").map(str::to_owned),
        tags,
        tags_known: matches!(item.get("tagsKnown"), Some(AttributeValue::Bool(true))),
        ecs_missing: matches!(item.get("ecsMissing"), Some(AttributeValue::Bool(true))),
        stop_code: text(item, "stopCode").map(StopCode::from),
        updated_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::tests::task;
    use crate::history::{normalize, RecordContext, Tags};

    fn record(json: &str, tags: Tags) -> HistoryRecord {
        record_of(&task(json), tags)
    }

    fn record_of(event: &crate::event::TaskEvent, tags: Tags) -> HistoryRecord {
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

    #[test]
    fn a_history_item_has_its_keys_and_no_empty_attributes() {
        let record = record(
            include_str!("../../events/fargate-web-v2-pending.json"),
            Tags::none(),
        );
        let item = history_item(&record);
        assert_eq!(
            text(&item, "pk"),
            Some(format!("TASK#{}", record.task_arn).as_str())
        );
        assert_eq!(text(&item, "sk"), Some("V#0000000002"));
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
        for (name, value) in &item {
            if let AttributeValue::S(text) = value {
                assert!(!text.is_empty(), "{name} is an empty string");
            }
        }
    }

    #[test]
    fn a_standalone_task_is_not_in_the_service_index() {
        let item = history_item(&record(
            include_str!("../../events/fargate-batch-stopped-oom.json"),
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
    fn snapshots_round_trip_through_their_item() {
        let tags = Tags {
            values: [("team".to_owned(), "a".to_owned())].into(),
            source: TagSource::DescribeTasks,
            enriched: true,
        };
        let record = record(
            include_str!("../../events/fargate-web-v8-stopped.json"),
            tags,
        );
        let snapshot = Snapshot::from_record(&record, None);
        let item = snapshot_item(&snapshot);
        assert_eq!(text(&item, "sk"), Some(SNAPSHOT_SK));
        let mut read = snapshot_from_item(&item).unwrap();
        // Items keep milliseconds; compare at that precision.
        read.updated_at = snapshot.updated_at;
        assert_eq!(read, snapshot);
    }

    #[test]
    fn an_unreadable_snapshot_item_is_an_error_not_a_panic() {
        let mut item = Item::new();
        item.insert("pk".into(), AttributeValue::S("TASK#x".into()));
        item.insert("taskArn".into(), AttributeValue::S("x".into()));
        assert!(snapshot_from_item(&item).is_err());
        item.insert("version".into(), AttributeValue::N("-3".into()));
        assert!(snapshot_from_item(&item).is_err());
        item.insert("version".into(), AttributeValue::N("3".into()));
        assert_eq!(snapshot_from_item(&item).unwrap().version, 3);
    }

    fn huge_record() -> HistoryRecord {
        let mut source = task(include_str!("../../events/ec2-worker-running.json"));
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
            include_str!("../../events/fargate-web-v8-stopped.json"),
            Tags::none(),
        );
        let item = history_item(&record);
        assert!(item_size(&item) < 4096, "{}", item_size(&item));
        assert_eq!(item, encode_history(&record));
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
