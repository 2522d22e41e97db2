//! The normalized history record and the per-task snapshot, derived purely from an event (plus tags).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_with::skip_serializing_none;

use crate::core::arn::{last_segment, Arn};
use crate::core::enums::{HealthStatus, LaunchType, StopCode, TaskStatus};
use crate::core::event::{Container, NetworkBinding, TaskEvent};

/// Every text taken from an event (reasons, images, names, unknown enum values, …) longer than this
/// is cut, so one runaway field cannot push an item past DynamoDB's 400 KB limit and fail for ever.
/// AWS documents 255 characters for container reasons. Task and cluster ARNs are not cut (they
/// identify the task): `event::parse_event` rejects ARNs over `event::MAX_ARN_BYTES`.
pub const MAX_TEXT_BYTES: usize = 2048;
/// Containers kept per record; ECS allows 10 per task definition, so this only bites on garbage.
pub const MAX_CONTAINERS: usize = 50;
/// Network bindings kept per container; port ranges can make hundreds.
pub const MAX_BINDINGS: usize = 100;

/// Where a record's tags came from. Events carry none, so this says how much to trust them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagSource {
    /// DescribeTasks answered for this task during this batch.
    DescribeTasks,
    /// Copied from the task's snapshot (DescribeTasks not asked, or no longer knew the task).
    Snapshot,
    /// No tags known.
    None,
}

impl TagSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DescribeTasks => "describeTasks",
            Self::Snapshot => "snapshot",
            Self::None => "none",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "describeTasks" => Self::DescribeTasks,
            "snapshot" => Self::Snapshot,
            _ => Self::None,
        }
    }
}

/// Tags for one record and how they were obtained. In JSON: `tags` (absent when none are known),
/// `tagsSource` and `enriched`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tags {
    pub values: BTreeMap<String, String>,
    pub source: TagSource,
    /// True when DescribeTasks answered for the task (false for MISSING, or when it was not asked).
    pub enriched: bool,
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let known = self.source != TagSource::None;
        let mut map = serializer.serialize_map(Some(2 + usize::from(known)))?;
        if known {
            map.serialize_entry("tags", &self.values)?;
        }
        map.serialize_entry("tagsSource", self.source.as_str())?;
        map.serialize_entry("enriched", &self.enriched)?;
        map.end()
    }
}

impl Tags {
    pub fn none() -> Self {
        Self {
            values: BTreeMap::new(),
            source: TagSource::None,
            enriched: false,
        }
    }
}

/// One container as recorded at a version.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecord {
    pub name: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub runtime_id: Option<String>,
    pub last_status: Option<TaskStatus>,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub health_status: Option<HealthStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_bindings: Vec<NetworkBinding>,
}

/// The task as it was at one `version`: the unit of history. Its JSON (the CLI's `-o json`) uses
/// the data model's attribute names, every derived attribute included, times as ISO-8601 UTC.
#[skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    pub task_arn: String,
    pub task_id: String,
    /// The account and region the task ran in (from its ARN): an organization's table holds many.
    pub account: String,
    pub region: String,
    pub cluster_arn: String,
    pub cluster_name: String,
    pub version: u64,
    pub last_status: Option<TaskStatus>,
    pub desired_status: Option<TaskStatus>,
    pub launch_type: Option<LaunchType>,
    pub group: Option<String>,
    pub service_name: Option<String>,
    pub task_definition_arn: Option<String>,
    pub family: Option<String>,
    pub revision: Option<u32>,
    pub started_by: Option<String>,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    #[serde(serialize_with = "iso_opt")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt")]
    pub pull_started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt")]
    pub pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt")]
    pub stopping_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt")]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt")]
    pub execution_stopped_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerRecord>,
    #[serde(flatten)]
    pub tags: Tags,
    pub availability_zone: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub platform_version: Option<String>,
    pub capacity_provider_name: Option<String>,
    pub container_instance_arn: Option<String>,
    pub health_status: Option<HealthStatus>,
    pub event_id: Option<String>,
    /// When the change happened: `detail.updatedAt`, else the envelope `time`, else when we received it.
    #[serde(serialize_with = "iso")]
    pub event_time: DateTime<Utc>,
    /// Epoch seconds after which DynamoDB TTL may delete the item.
    pub expires_at: i64,
    /// Written after a newer version was already recorded (an out-of-order delivery filling its gap).
    pub late_arrival: bool,
    /// Some text or list was cut to the limits above.
    pub truncated: bool,
    /// This record carries the index keys: it is the first one recorded of its task in its hour
    /// (see [`index_hour`]), so a window query finds the task.
    #[serde(skip)]
    pub indexed: bool,
}

fn iso<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn iso_opt<S: Serializer>(time: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => iso(time, serializer),
        None => serializer.serialize_none(),
    }
}

/// The hour a change happened in (hours since the epoch): the index holds one entry per task per
/// hour it changed in, not one per change.
pub fn index_hour(time: DateTime<Utc>) -> i64 {
    time.timestamp().div_euclid(3600)
}

/// Marks which of a task's fresh records (in version order) carry the index keys: the first one
/// of each hour the task had no entry for yet. `indexed_hour` is the hour the task's snapshot says
/// was indexed last; returns the hour indexed last after these records. An hour earlier than that
/// one (a clock step back) is indexed again rather than risk a task no window query finds.
pub fn mark_indexed<'a>(
    indexed_hour: Option<i64>,
    records: impl IntoIterator<Item = &'a mut HistoryRecord>,
) -> Option<i64> {
    let mut current = indexed_hour;
    for record in records {
        let hour = index_hour(record.event_time);
        record.indexed = current != Some(hour);
        current = Some(hour);
    }
    current
}

/// A timeline's records with the tags each version had: a version stores its tags only when
/// DescribeTasks answered for it, so the others take them from the nearest version that has them
/// (the newest earlier one, else the oldest later one).
pub fn carry_tags(timeline: &mut [HistoryRecord]) {
    let described: Vec<(usize, BTreeMap<String, String>)> = timeline
        .iter()
        .enumerate()
        .filter(|(_, record)| record.tags.source != TagSource::None)
        .map(|(position, record)| (position, record.tags.values.clone()))
        .collect();
    for (position, record) in timeline.iter_mut().enumerate() {
        if record.tags.source != TagSource::None {
            continue;
        }
        let nearest = described
            .iter()
            .rev()
            .find(|(at, _)| *at < position)
            .or_else(|| described.first());
        if let Some((_, values)) = nearest {
            record.tags.values = values.clone();
            record.tags.source = TagSource::Snapshot;
        }
    }
}

/// The newest recorded state of a task: the version every event is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub task_arn: String,
    pub version: u64,
    pub last_status: Option<TaskStatus>,
    pub desired_status: Option<TaskStatus>,
    pub cluster_arn: String,
    pub task_definition_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// DescribeTasks has answered for this task at least once, so `tags` are its real tags.
    pub tags_known: bool,
    /// DescribeTasks answered MISSING for this task (ECS forgot it, or never had it): asking again
    /// before it stops would only spend the account's DescribeTasks budget.
    pub ecs_missing: bool,
    pub stop_code: Option<StopCode>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: i64,
    /// The hour of the task's last index entry (see [`mark_indexed`]).
    pub indexed_hour: Option<i64>,
}

impl Snapshot {
    /// The snapshot a record advances its task to; `tags_known` and `ecs_missing` carry over from
    /// the previous one.
    pub fn from_record(record: &HistoryRecord, previous: Option<&Snapshot>) -> Self {
        Self {
            task_arn: record.task_arn.clone(),
            version: record.version,
            last_status: record.last_status.clone(),
            desired_status: record.desired_status.clone(),
            cluster_arn: record.cluster_arn.clone(),
            task_definition_arn: record.task_definition_arn.clone(),
            tags: record.tags.values.clone(),
            tags_known: record.tags.enriched
                || previous.is_some_and(|snapshot| snapshot.tags_known),
            ecs_missing: previous.is_some_and(|snapshot| snapshot.ecs_missing),
            stop_code: record.stop_code.clone(),
            updated_at: record.event_time,
            expires_at: record.expires_at,
            indexed_hour: previous.and_then(|snapshot| snapshot.indexed_hour),
        }
    }
}

/// What `normalize` needs besides the event itself.
#[derive(Clone, Debug)]
pub struct RecordContext {
    pub tags: Tags,
    pub late_arrival: bool,
    pub received_at: DateTime<Utc>,
    pub retention_days: u32,
}

/// Builds the history record for an event. Every state field comes from the event: DescribeTasks may
/// already describe a later version, so it contributes tags only.
pub fn normalize(event: &TaskEvent, context: RecordContext) -> HistoryRecord {
    let detail = &event.detail;
    let mut limit = Limiter::default();
    let containers: Vec<ContainerRecord> = detail
        .containers
        .iter()
        .take(MAX_CONTAINERS)
        .map(|container| limit.container(container))
        .collect();
    limit.truncated |= detail.containers.len() > MAX_CONTAINERS
        || detail
            .containers
            .iter()
            .any(|container| container.network_bindings.len() > MAX_BINDINGS);

    let event_time = detail
        .updated_at
        .or(event.time)
        .unwrap_or(context.received_at);
    let group = limit.text(&detail.group);
    let service_name = group.as_deref().and_then(service_name).map(str::to_owned);
    let task_definition_arn = limit.text(&detail.task_definition_arn);
    let (family, revision) = task_definition_arn
        .as_deref()
        .map(family_and_revision)
        .unwrap_or((None, None));

    HistoryRecord {
        task_arn: detail.task_arn.clone(),
        task_id: last_segment(&detail.task_arn).to_owned(),
        account: arn_part(&detail.task_arn, |arn| arn.account),
        region: arn_part(&detail.task_arn, |arn| arn.region),
        cluster_arn: detail.cluster_arn.clone(),
        cluster_name: last_segment(&detail.cluster_arn).to_owned(),
        version: detail.version,
        last_status: limit.value(detail.last_status.as_ref(), TaskStatus::as_str),
        desired_status: limit.value(detail.desired_status.as_ref(), TaskStatus::as_str),
        launch_type: limit.value(detail.launch_type.as_ref(), LaunchType::as_str),
        group,
        service_name,
        task_definition_arn,
        family,
        revision,
        started_by: limit.text(&detail.started_by),
        stop_code: limit.value(detail.stop_code.as_ref(), StopCode::as_str),
        stopped_reason: limit.text(&detail.stopped_reason),
        created_at: detail.created_at,
        pull_started_at: detail.pull_started_at,
        pull_stopped_at: detail.pull_stopped_at,
        started_at: detail.started_at,
        stopping_at: detail.stopping_at,
        stopped_at: detail.stopped_at,
        execution_stopped_at: detail.execution_stopped_at,
        containers,
        tags: context.tags,
        availability_zone: limit.text(&detail.availability_zone),
        cpu: limit.text(&detail.cpu),
        memory: limit.text(&detail.memory),
        platform_version: limit.text(&detail.platform_version),
        capacity_provider_name: limit.text(&detail.capacity_provider_name),
        container_instance_arn: limit.text(&detail.container_instance_arn),
        health_status: limit.value(detail.health_status.as_ref(), HealthStatus::as_str),
        event_id: limit.text(&event.id),
        event_time,
        expires_at: expiry(event_time, context.retention_days),
        late_arrival: context.late_arrival,
        truncated: limit.truncated,
        indexed: false,
    }
}

/// One part of an ARN, or nothing for a text that is not an ARN.
pub fn arn_part(arn: &str, part: impl Fn(Arn<'_>) -> &str) -> String {
    Arn::parse(arn).map(part).unwrap_or_default().to_owned()
}

/// Cuts free text to [`MAX_TEXT_BYTES`] and remembers whether it cut anything.
#[derive(Default)]
struct Limiter {
    truncated: bool,
}

impl Limiter {
    fn cut(&mut self, text: &str, max_bytes: usize) -> String {
        let (kept, was_cut) = truncate_text(text, max_bytes);
        self.truncated |= was_cut;
        kept.to_owned()
    }

    fn text(&mut self, text: &Option<String>) -> Option<String> {
        text.as_deref().map(|text| self.cut(text, MAX_TEXT_BYTES))
    }

    fn container(&mut self, container: &Container) -> ContainerRecord {
        ContainerRecord {
            name: self.text(&container.name),
            image: self.text(&container.image),
            image_digest: self.text(&container.image_digest),
            runtime_id: self.text(&container.runtime_id),
            last_status: self.value(container.last_status.as_ref(), TaskStatus::as_str),
            exit_code: container.exit_code,
            reason: self.text(&container.reason),
            health_status: self.value(container.health_status.as_ref(), HealthStatus::as_str),
            network_bindings: container
                .network_bindings
                .iter()
                .take(MAX_BINDINGS)
                .map(|binding| NetworkBinding {
                    bind_ip: self.text(&binding.bind_ip),
                    container_port: binding.container_port,
                    host_port: binding.host_port,
                    protocol: self.text(&binding.protocol),
                    container_port_range: self.text(&binding.container_port_range),
                    host_port_range: self.text(&binding.host_port_range),
                })
                .collect(),
        }
    }

    /// An enum value; only an unknown value's text can be long, and is cut like free text.
    fn value<T: Clone + for<'a> From<&'a str>>(
        &mut self,
        value: Option<&T>,
        as_str: impl Fn(&T) -> &str,
    ) -> Option<T> {
        let value = value?;
        let text = as_str(value);
        if text.len() <= MAX_TEXT_BYTES {
            return Some(value.clone());
        }
        Some(T::from(self.cut(text, MAX_TEXT_BYTES).as_str()))
    }
}

/// `service:web` → `web`; tasks started outside a service have `family:…` groups and no service.
pub fn service_name(group: &str) -> Option<&str> {
    group
        .strip_prefix("service:")
        .filter(|name| !name.is_empty())
}

/// `arn:…:task-definition/web:7` → (`web`, 7).
pub fn family_and_revision(task_definition_arn: &str) -> (Option<String>, Option<u32>) {
    let name = last_segment(task_definition_arn);
    match name.rsplit_once(':') {
        Some((family, revision)) if !family.is_empty() => {
            (Some(family.to_owned()), revision.parse().ok())
        }
        _ if !name.is_empty() => (Some(name.to_owned()), None),
        _ => (None, None),
    }
}

/// DynamoDB TTL time: the change's own time plus the retention, so history ages from when it happened.
pub fn expiry(event_time: DateTime<Utc>, retention_days: u32) -> i64 {
    (event_time + Duration::days(i64::from(retention_days))).timestamp()
}

/// Cuts `text` to at most `max_bytes` on a character boundary; says whether it cut.
pub fn truncate_text(text: &str, max_bytes: usize) -> (&str, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::event::tests::task as event;

    fn received() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn context(tags: Tags) -> RecordContext {
        RecordContext {
            tags,
            late_arrival: false,
            received_at: received(),
            retention_days: 30,
        }
    }

    /// A sample event's record, as the pipeline would make it with these tags; shared by the
    /// other modules' tests.
    pub(crate) fn sample(json: &str, tags: Tags) -> HistoryRecord {
        normalize(
            &event(json),
            RecordContext {
                tags,
                late_arrival: false,
                received_at: Utc::now(),
                retention_days: 90,
            },
        )
    }

    fn described(pairs: &[(&str, &str)]) -> Tags {
        Tags {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source: TagSource::DescribeTasks,
            enriched: true,
        }
    }

    #[test]
    fn a_stopped_service_task_normalizes_every_contract_field() {
        let source = event(include_str!("../../events/fargate-web-v8-stopped.json"));
        let record = normalize(&source, context(described(&[("team", "payments")])));
        let detail = &source.detail;
        assert_eq!(record.task_arn, detail.task_arn);
        assert_eq!(record.task_id, "ec964d3d4496eba592913bcbacbb07b7");
        assert_eq!(record.cluster_name, "demo");
        assert_eq!(record.version, 8);
        assert_eq!(record.last_status, Some(TaskStatus::Stopped));
        assert_eq!(record.desired_status, Some(TaskStatus::Stopped));
        assert_eq!(record.group.as_deref(), Some("service:web"));
        assert_eq!(record.service_name.as_deref(), Some("web"));
        assert_eq!(record.family.as_deref(), Some("web"));
        assert_eq!(record.revision, Some(7));
        assert_eq!(record.stop_code, Some(StopCode::ServiceSchedulerInitiated));
        assert_eq!(record.stopped_at, detail.stopped_at);
        assert_eq!(record.created_at, detail.created_at);
        assert_eq!(record.event_time, detail.updated_at.unwrap());
        assert_eq!(
            record.expires_at,
            (record.event_time + Duration::days(30)).timestamp()
        );
        assert_eq!(record.event_id, source.id);
        assert_eq!(
            record.tags.values.get("team").map(String::as_str),
            Some("payments")
        );
        assert_eq!(record.containers.len(), detail.containers.len());
        assert_eq!(record.containers[0].exit_code, Some(0));
        assert!(!record.late_arrival && !record.truncated);

        let snapshot = Snapshot::from_record(&record, None);
        assert_eq!(snapshot.version, 8);
        assert!(snapshot.tags_known, "described tags are known");
        let unknown = normalize(&source, context(Tags::none()));
        assert!(!Snapshot::from_record(&unknown, None).tags_known);
        assert!(
            Snapshot::from_record(&unknown, Some(&snapshot)).tags_known,
            "once known, stays known"
        );
        assert_eq!(snapshot.updated_at, record.event_time);
        assert_eq!(snapshot.tags, record.tags.values);
    }

    #[test]
    fn a_standalone_task_has_no_service() {
        let record = normalize(
            &event(include_str!("../../events/fargate-batch-stopped-oom.json")),
            context(Tags::none()),
        );
        assert_eq!(record.service_name, None);
        assert!(record.group.unwrap().starts_with("family:"));
        assert_eq!(record.containers[0].exit_code, Some(137));
    }

    #[test]
    fn event_time_falls_back_to_envelope_time_then_receipt() {
        let mut source = event(include_str!("../../events/fargate-web-v4-running.json"));
        source.detail.updated_at = None;
        let record = normalize(&source, context(Tags::none()));
        assert_eq!(record.event_time, source.time.unwrap());
        source.time = None;
        assert_eq!(
            normalize(&source, context(Tags::none())).event_time,
            received()
        );
    }

    #[test]
    fn long_reasons_and_runaway_lists_are_cut_and_marked() {
        let mut source = event(include_str!("../../events/fargate-web-v8-stopped.json"));
        source.detail.stopped_reason = Some("é".repeat(MAX_TEXT_BYTES));
        let container = source.detail.containers[0].clone();
        source.detail.containers = vec![container; MAX_CONTAINERS + 5];
        let record = normalize(&source, context(Tags::none()));
        assert!(record.truncated);
        assert!(record.stopped_reason.unwrap().len() <= MAX_TEXT_BYTES);
        assert_eq!(record.containers.len(), MAX_CONTAINERS);
    }

    #[test]
    fn service_and_task_definition_helpers_cover_odd_forms() {
        assert_eq!(service_name("service:web"), Some("web"));
        assert_eq!(service_name("service:"), None);
        assert_eq!(service_name("family:job"), None);
        assert_eq!(
            family_and_revision("arn:aws:ecs:r:1:task-definition/web:7"),
            (Some("web".into()), Some(7))
        );
        assert_eq!(family_and_revision("web"), (Some("web".into()), None));
        assert_eq!(family_and_revision(""), (None, None));
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate_text("abc", 5), ("abc", false));
        assert_eq!(truncate_text("ééé", 3), ("é", true));
        assert_eq!(truncate_text("", 0), ("", false));
    }

    #[test]
    fn tag_sources_round_trip() {
        for source in [
            TagSource::DescribeTasks,
            TagSource::Snapshot,
            TagSource::None,
        ] {
            assert_eq!(TagSource::parse(source.as_str()), source);
        }
    }

    /// Regression (fault suite): the family, parsed from the task definition ARN, was not cut
    /// with it, so a huge ARN still made an item too big for DynamoDB.
    #[test]
    fn every_event_text_is_cut_including_derived_ones() {
        let mut source = event(include_str!("../../events/fargate-web-v8-stopped.json"));
        let huge = "w".repeat(500_000);
        source.detail.task_definition_arn = Some(huge.clone());
        source.detail.group = Some(format!("service:{huge}"));
        source.detail.last_status = Some(TaskStatus::Unknown(huge.clone()));
        source.detail.containers[0].image = Some(huge.clone());
        source.id = Some(huge);
        let record = normalize(&source, context(Tags::none()));
        assert!(record.truncated);
        assert_eq!(
            record.task_definition_arn.map(|t| t.len()),
            Some(MAX_TEXT_BYTES)
        );
        assert_eq!(record.family.map(|f| f.len()), Some(MAX_TEXT_BYTES));
        assert_eq!(record.group.map(|g| g.len()), Some(MAX_TEXT_BYTES));
        assert_eq!(
            record.service_name.map(|s| s.len()),
            Some(MAX_TEXT_BYTES - "service:".len())
        );
        assert_eq!(
            record.last_status.map(|s| s.as_str().len()),
            Some(MAX_TEXT_BYTES)
        );
        assert_eq!(
            record.containers[0].image.as_ref().map(String::len),
            Some(MAX_TEXT_BYTES)
        );
        assert_eq!(record.event_id.map(|id| id.len()), Some(MAX_TEXT_BYTES));
    }

    fn at(mut record: HistoryRecord, version: u64, time: &str) -> HistoryRecord {
        record.version = version;
        record.event_time = DateTime::parse_from_rfc3339(time)
            .unwrap()
            .with_timezone(&Utc);
        record
    }

    #[test]
    fn only_the_first_record_of_each_hour_carries_the_index_entry() {
        let base = normalize(
            &event(include_str!("../../events/fargate-web-v4-running.json")),
            context(Tags::none()),
        );
        let mut records = [
            at(base.clone(), 1, "2026-11-20T03:14:07Z"),
            at(base.clone(), 2, "2026-11-20T03:59:59Z"),
            at(base.clone(), 3, "2026-11-20T04:00:00Z"),
            at(base.clone(), 4, "2026-11-20T04:30:00Z"),
            at(base.clone(), 5, "2026-11-20T09:00:00Z"),
        ];
        let last = mark_indexed(None, records.iter_mut());
        let indexed: Vec<bool> = records.iter().map(|r| r.indexed).collect();
        assert_eq!(indexed, [true, false, true, false, true]);
        assert_eq!(last, Some(index_hour(records[4].event_time)));

        // The next batch continues from the snapshot's hour: same hour, no new entry.
        let mut next = [at(base.clone(), 6, "2026-11-20T09:10:00Z")];
        assert_eq!(mark_indexed(last, next.iter_mut()), last);
        assert!(!next[0].indexed);
        // A clock stepping back to an hour before the last one's is indexed again.
        let mut back = [at(base, 7, "2026-11-20T08:59:00Z")];
        mark_indexed(last, back.iter_mut());
        assert!(back[0].indexed);
    }

    #[test]
    fn tags_are_carried_to_the_versions_that_did_not_store_them() {
        let base = normalize(
            &event(include_str!("../../events/fargate-web-v4-running.json")),
            context(Tags::none()),
        );
        let mut timeline: Vec<HistoryRecord> = (1..=4)
            .map(|v| at(base.clone(), v, "2026-11-20T03:14:07Z"))
            .collect();
        timeline[1].tags = described(&[("team", "a")]);
        timeline[3].tags = described(&[("team", "b")]);
        carry_tags(&mut timeline);
        let tags: Vec<(&str, TagSource)> = timeline
            .iter()
            .map(|r| (r.tags.values["team"].as_str(), r.tags.source))
            .collect();
        assert_eq!(
            tags,
            [
                ("a", TagSource::Snapshot),
                ("a", TagSource::DescribeTasks),
                ("a", TagSource::Snapshot),
                ("b", TagSource::DescribeTasks)
            ]
        );
        let mut unknown = vec![base];
        carry_tags(&mut unknown);
        assert_eq!(unknown[0].tags, Tags::none(), "nothing to carry");
    }

    #[test]
    fn a_record_reads_as_json_with_every_attribute_name_of_the_data_model() {
        let record = normalize(
            &event(include_str!("../../events/fargate-batch-stopped-oom.json")),
            context(described(&[("team", "data")])),
        );
        let json = serde_json::to_value(&record).unwrap();
        for name in [
            "taskArn",
            "taskId",
            "clusterArn",
            "clusterName",
            "family",
            "revision",
        ] {
            assert!(json.get(name).is_some(), "{name}");
        }
        assert_eq!(json["version"], 6);
        assert_eq!(json["tags"]["team"], "data");
        assert_eq!(json["tagsSource"], "describeTasks");
        assert_eq!(json["enriched"], true);
        assert_eq!(json["containers"][0]["exitCode"], 137);
        assert!(json["eventTime"].as_str().unwrap().ends_with('Z'));
        assert!(json.get("indexed").is_none() && json.get("startedAt").is_some());
        assert!(
            json.get("serviceName").is_none(),
            "absent values are absent"
        );
    }
}
