//! History items read back: into the typed [`HistoryRecord`] (for people) and into plain JSON whose
//! field names are the table's attribute names (for scripts). The inverse of `items::history_item`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};

use super::items::{Item, ItemError};
use crate::enums::{HealthStatus, LaunchType, StopCode, TaskStatus};
use crate::event::NetworkBinding;
use crate::history::{ContainerRecord, HistoryRecord, TagSource, Tags};

/// Attributes that only serve the table's keys and indexes; JSON output leaves them out.
const KEY_ATTRIBUTES: [&str; 6] = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"];

/// Prefix of the `eventId` of records written by reconciliation (backfill or the scheduled run)
/// rather than by an ECS event: the id says where a record came from without another attribute.
pub const RECONCILED_EVENT_PREFIX: &str = "reconciled:";

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    let value = text(item, name)?;
    DateTime::parse_from_rfc3339(&value)
        .ok()
        .map(|stamp| stamp.with_timezone(&Utc))
}

fn flag(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

fn binding(item: &Item) -> NetworkBinding {
    NetworkBinding {
        bind_ip: text(item, "bindIP"),
        container_port: number(item, "containerPort"),
        host_port: number(item, "hostPort"),
        protocol: text(item, "protocol"),
        container_port_range: text(item, "containerPortRange"),
        host_port_range: text(item, "hostPortRange"),
    }
}

fn container(item: &Item) -> ContainerRecord {
    let network_bindings = match item.get("networkBindings") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|value| value.as_m().ok())
            .map(binding)
            .collect(),
        _ => Vec::new(),
    };
    ContainerRecord {
        name: text(item, "name"),
        image: text(item, "image"),
        image_digest: text(item, "imageDigest"),
        runtime_id: text(item, "runtimeId"),
        last_status: text(item, "lastStatus").map(|s| TaskStatus::from(s.as_str())),
        exit_code: number(item, "exitCode"),
        reason: text(item, "reason"),
        health_status: text(item, "healthStatus").map(|s| HealthStatus::from(s.as_str())),
        network_bindings,
    }
}

/// Reads a history item back. `taskArn`, `version` and `eventTime` are essential; the rest is best effort.
pub fn history_from_item(item: &Item) -> Result<HistoryRecord, ItemError> {
    let pk = text(item, "pk").unwrap_or_else(|| "?".to_owned());
    let fail = |problem: &str| ItemError {
        pk: pk.clone(),
        problem: problem.to_owned(),
    };
    let task_arn = text(item, "taskArn").ok_or_else(|| fail("no taskArn"))?;
    let version = number(item, "version").ok_or_else(|| fail("no numeric version"))?;
    let event_time = time(item, "eventTime").ok_or_else(|| fail("no eventTime"))?;
    let tags = match item.get("tags") {
        Some(AttributeValue::M(map)) => Tags {
            values: map
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_s().ok()?.clone())))
                .collect::<BTreeMap<_, _>>(),
            source: text(item, "tagsSource").map_or(TagSource::None, |s| TagSource::parse(&s)),
            enriched: flag(item, "enriched"),
        },
        _ => Tags {
            enriched: flag(item, "enriched"),
            ..Tags::none()
        },
    };
    let containers = match item.get("containers") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|value| value.as_m().ok())
            .map(container)
            .collect(),
        _ => Vec::new(),
    };
    let task_id =
        text(item, "taskId").unwrap_or_else(|| crate::history::last_segment(&task_arn).to_owned());
    let cluster_arn = text(item, "clusterArn").unwrap_or_default();
    Ok(HistoryRecord {
        task_id,
        cluster_name: text(item, "clusterName")
            .unwrap_or_else(|| crate::history::last_segment(&cluster_arn).to_owned()),
        cluster_arn,
        task_arn,
        version,
        last_status: text(item, "lastStatus").map(|s| TaskStatus::from(s.as_str())),
        desired_status: text(item, "desiredStatus").map(|s| TaskStatus::from(s.as_str())),
        launch_type: text(item, "launchType").map(|s| LaunchType::from(s.as_str())),
        group: text(item, "group"),
        service_name: text(item, "serviceName"),
        task_definition_arn: text(item, "taskDefinitionArn"),
        family: text(item, "family"),
        revision: number(item, "revision"),
        started_by: text(item, "startedBy"),
        stop_code: text(item, "stopCode").map(|s| StopCode::from(s.as_str())),
        stopped_reason: text(item, "stoppedReason"),
        created_at: time(item, "createdAt"),
        pull_started_at: time(item, "pullStartedAt"),
        pull_stopped_at: time(item, "pullStoppedAt"),
        started_at: time(item, "startedAt"),
        stopping_at: time(item, "stoppingAt"),
        stopped_at: time(item, "stoppedAt"),
        execution_stopped_at: time(item, "executionStoppedAt"),
        containers,
        tags,
        availability_zone: text(item, "availabilityZone"),
        cpu: text(item, "cpu"),
        memory: text(item, "memory"),
        platform_version: text(item, "platformVersion"),
        capacity_provider_name: text(item, "capacityProviderName"),
        container_instance_arn: text(item, "containerInstanceArn"),
        health_status: text(item, "healthStatus").map(|s| HealthStatus::from(s.as_str())),
        event_id: text(item, "eventId"),
        event_time,
        expires_at: number(item, "expiresAt").unwrap_or_default(),
        late_arrival: flag(item, "lateArrival"),
        truncated: flag(item, "truncated"),
    })
}

/// Whether a record was written by reconciliation rather than by an ECS event.
pub fn is_reconciled(record: &HistoryRecord) -> bool {
    record
        .event_id
        .as_deref()
        .is_some_and(|id| id.starts_with(RECONCILED_EVENT_PREFIX))
}

/// The item as plain JSON (numbers as numbers, maps as objects), without its key attributes.
pub fn item_to_json(item: &Item) -> Value {
    let mut names: Vec<&String> = item
        .keys()
        .filter(|name| !KEY_ATTRIBUTES.contains(&name.as_str()))
        .collect();
    names.sort();
    Value::Object(
        names
            .into_iter()
            .map(|name| (name.clone(), attribute_to_json(&item[name])))
            .collect::<Map<_, _>>(),
    )
}

fn attribute_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(text) => text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(text.clone())),
        AttributeValue::Bool(flag) => Value::Bool(*flag),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(list) => Value::Array(list.iter().map(attribute_to_json).collect()),
        AttributeValue::M(map) => {
            let mut sorted: Vec<(&String, &AttributeValue)> = map.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(key, value)| (key.clone(), attribute_to_json(value)))
                    .collect(),
            )
        }
        AttributeValue::Ss(set) => Value::from(set.clone()),
        AttributeValue::Ns(set) => Value::from(set.clone()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::items::history_item;
    use crate::event::tests::task;
    use crate::history::{normalize, RecordContext};

    fn record(json: &str) -> HistoryRecord {
        normalize(
            &task(json),
            RecordContext {
                tags: Tags {
                    values: [("team".to_owned(), "payments".to_owned())].into(),
                    source: TagSource::DescribeTasks,
                    enriched: true,
                },
                late_arrival: false,
                received_at: Utc::now(),
                retention_days: 90,
            },
        )
    }

    #[test]
    fn a_history_item_reads_back_as_the_record_it_was_written_from() {
        for json in [
            include_str!("../../events/fargate-web-v8-stopped.json"),
            include_str!("../../events/fargate-batch-stopped-oom.json"),
            include_str!("../../events/ec2-worker-running.json"),
        ] {
            let written = record(json);
            let read = history_from_item(&history_item(&written)).unwrap();
            assert_eq!(read, written);
        }
    }

    #[test]
    fn json_output_uses_attribute_names_and_drops_the_keys() {
        let item = history_item(&record(include_str!(
            "../../events/fargate-batch-stopped-oom.json"
        )));
        let json = item_to_json(&item);
        assert!(json.get("pk").is_none() && json.get("gsi1sk").is_none());
        assert_eq!(json["stopCode"], "EssentialContainerExited");
        assert_eq!(json["containers"][0]["exitCode"], 137);
        assert_eq!(json["tags"]["team"], "payments");
        assert_eq!(json["enriched"], true);
    }

    #[test]
    fn an_item_without_essentials_is_an_error() {
        let mut item = Item::new();
        item.insert("taskArn".into(), AttributeValue::S("t".into()));
        assert!(history_from_item(&item).is_err());
    }
}
