//! The timeline report of a window, laid out without I/O or markup: task histories become lanes
//! (one per task, grouped by service or task family, in time order), each in its phases, with the
//! versions never recorded, the versions recorded, the stop and its outcome, and the deployment the
//! task belongs to; plus the counts at the top and the time axis. The CLI draws it as HTML.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};

use crate::core::diagnosis::{diagnose, failures_by_kind, Category, Diagnosis, Failures, Kind};
use crate::core::enums::TaskStatus;
use crate::core::history::HistoryRecord;
use crate::core::timeline::{failing_exit, notes, phases, Note, Phase};

/// Lanes one report draws at most: 2,000 lanes render in a browser in well under 2 s and keep the
/// file under 5 MB (`cargo test -p ecs-task-history-cli --test report -- --ignored a_report_of_2000`).
/// Beyond that the failed tasks are kept first, then the most recently changed, and the page says
/// how many were left out. The counts at the top always cover every task of the window.
pub const MAX_LANES: usize = 2_000;

/// Every outcome, in legend order: still running, the clean stop, then the failures.
pub const CATEGORIES: [Category; 9] = [
    Category::StillRunning,
    Category::Clean,
    Category::ExitedNonZero,
    Category::OutOfMemory,
    Category::FailedToStart,
    Category::SpotInterruption,
    Category::HealthCheck,
    Category::HostGone,
    Category::Unknown,
];

/// Every phase a lane can be drawn in, in lifecycle order.
pub const PHASES: [Phase; 5] = [
    Phase::Provisioning,
    Phase::Pull,
    Phase::Starting,
    Phase::Running,
    Phase::Stopping,
];

/// A window's report: what to draw and what to count.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Services first, then task families, by name; lanes in time order within each.
    pub groups: Vec<Group<'a>>,
    /// Counts over every task of the window, drawn or not.
    pub summary: Summary,
    /// Tasks of the window not drawn, beyond the lane cap.
    pub omitted: usize,
}

impl Report<'_> {
    /// Where `at` falls in the window, 0.0 (start) to 1.0 (end), clamped.
    pub fn position(&self, at: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_milliseconds().max(1) as f64;
        ((at - self.from).num_milliseconds() as f64 / span).clamp(0.0, 1.0)
    }

    /// Lanes drawn, over every group.
    pub fn lanes(&self) -> usize {
        self.groups.iter().map(|group| group.lanes.len()).sum()
    }
}

/// Whose tasks a group holds: a service's, or a task family's (tasks started outside a service).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupKey {
    Service(String),
    Family(String),
    /// No group, no task definition recorded.
    Ungrouped,
}

impl GroupKey {
    pub fn label(&self) -> String {
        match self {
            Self::Service(name) => format!("service {name}"),
            Self::Family(name) => format!("task family {name}"),
            Self::Ungrouped => "tasks without a group".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Group<'a> {
    pub key: GroupKey,
    /// In the order their first task started; lanes point into this list.
    pub deployments: Vec<Deployment>,
    pub lanes: Vec<Lane<'a>>,
}

/// What tells one rollout from another: the task definition revision, and the service deployment
/// that started the task (`startedBy` `ecs-svc/…`), when it was one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeploymentKey {
    /// `family:revision`.
    pub task_definition: Option<String>,
    /// `ecs-svc/…`.
    pub started_by: Option<String>,
}

/// The tasks of one group started by one deployment of one task definition revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// `A`, `B`, … in the order of their first task, per group.
    pub label: String,
    pub key: DeploymentKey,
    /// When its first task (in this window) started.
    pub first_start: DateTime<Utc>,
    pub tasks: usize,
    pub failed: usize,
}

/// One task over the window.
#[derive(Clone, Debug)]
pub struct Lane<'a> {
    /// The task's versions up to the window's end, oldest first (never empty).
    pub records: &'a [HistoryRecord],
    pub newest: &'a HistoryRecord,
    /// When the task began, as far as its records tell (it may be before the window).
    pub start: DateTime<Utc>,
    /// The drawn extent, within the window.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Began before the window: the lane is cut at its start.
    pub started_before: bool,
    /// Not stopped by the window's end: drawn to it.
    pub running_at_end: bool,
    /// Phases, in order, within the window.
    pub segments: Vec<Segment>,
    /// Versions never recorded, within the window.
    pub gaps: Vec<Gap>,
    /// The versions recorded within the window.
    pub versions: Vec<VersionMark>,
    pub stop: Option<Stop>,
    pub diagnosis: Diagnosis,
    /// Index into its group's deployments.
    pub deployment: usize,
}

impl Lane<'_> {
    pub fn category(&self) -> Category {
        self.diagnosis.kind.category()
    }

    pub fn failed(&self) -> bool {
        self.diagnosis.kind.is_failure()
    }
}

/// A stretch of one phase. `inferred` when read from the versions' statuses and times because
/// the records carry no timestamps for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub phase: Phase,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub inferred: bool,
}

/// Versions `from_version..=to_version` were never recorded; they happened between `from` and `to`
/// (the versions recorded either side, or the task's start). May be zero-length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub from_version: u64,
    pub to_version: u64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A recorded version: its status change and what is worth saying about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMark {
    pub version: u64,
    pub at: DateTime<Utc>,
    pub status: Option<TaskStatus>,
    pub notes: Vec<Note>,
}

/// Where and why the task stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop {
    /// Within the window.
    pub at: DateTime<Utc>,
    pub kind: Kind,
    /// The first non-zero exit code.
    pub exit_code: Option<i64>,
}

/// The counts at the top of the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub tasks: usize,
    /// Created within the window.
    pub started: usize,
    /// Stopped within the window.
    pub stopped: usize,
    /// Of those, stopped by a failure.
    pub failed: usize,
    pub running_at_end: usize,
    /// Tasks by outcome, every category in [`CATEGORIES`] order, zeros included.
    pub by_category: Vec<(Category, usize)>,
    /// The failures by diagnosis kind, most frequent first (as `cluster --failed` sums them up).
    pub failures: Vec<Failures>,
}

/// Lays out `[from, to]`: one lane per task history (versions oldest first, as the reader returns
/// them), at most `max_lanes` drawn. Versions after `to` are left out, so the report shows the
/// window as it ended; a history with none up to `to` has no lane.
pub fn layout<'a>(
    timelines: impl IntoIterator<Item = &'a [HistoryRecord]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_lanes: usize,
) -> Report<'a> {
    let lanes: Vec<Lane<'a>> = timelines
        .into_iter()
        .filter_map(|records| lane(records, from, to))
        .collect();
    let summary = summarize(&lanes, from, to);
    let (drawn, omitted) = cap(lanes, max_lanes);
    Report {
        from,
        to,
        groups: group(drawn),
        summary,
        omitted,
    }
}

/// One task's lane, or `None` when none of its versions is at or before `to`.
fn lane(all: &[HistoryRecord], from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Lane<'_>> {
    let kept = all.iter().rposition(|record| record.event_time <= to)? + 1;
    let records = &all[..kept];
    let newest = records.last()?;
    let diagnosis = diagnose(records);
    let stopped = diagnosis.kind != Kind::StillRunning;
    let end = if stopped { stop_time(newest) } else { to };
    let spans = segments(records, end);
    let start = spans
        .iter()
        .map(|span| span.from)
        .chain(newest.created_at)
        .chain(records.iter().map(|record| record.event_time))
        .min()
        .unwrap_or(newest.event_time);
    let all_notes = notes(records);
    let stop = stopped.then(|| Stop {
        at: stop_time(newest).clamp(from, to),
        kind: diagnosis.kind,
        exit_code: failing_exit(newest).map(|(code, _)| code),
    });
    Some(Lane {
        records,
        newest,
        start,
        from: start.clamp(from, to),
        to: end.max(start).clamp(from, to),
        started_before: start < from,
        running_at_end: !stopped,
        segments: spans
            .into_iter()
            .filter_map(|span| clip_segment(span, from, to))
            .collect(),
        gaps: gaps(records, &all_notes, start)
            .into_iter()
            .filter_map(|gap| clip_gap(gap, from, to))
            .collect(),
        versions: version_marks(records, all_notes, from, to),
        stop,
        diagnosis,
        deployment: 0,
    })
}

/// When the task stopped: ECS's `stoppedAt`, else when its containers stopped, else the change.
fn stop_time(newest: &HistoryRecord) -> DateTime<Utc> {
    newest
        .stopped_at
        .or(newest.execution_stopped_at)
        .unwrap_or(newest.event_time)
}

/// The phases the newest record's timestamps delimit, the one still under way ending at `end`;
/// without any timestamp, the phases the recorded statuses imply.
fn segments(records: &[HistoryRecord], end: DateTime<Utc>) -> Vec<Segment> {
    let Some(newest) = records.last() else {
        return Vec::new();
    };
    let stopped = is_final(newest);
    let mut spans: Vec<Segment> = phases(newest)
        .into_iter()
        .map(|span| Segment {
            phase: span.phase,
            from: span.from,
            to: span.to.unwrap_or(end),
            inferred: false,
        })
        .collect();
    if !stopped {
        if let Some((phase, from)) = open_phase(newest) {
            spans.push(Segment {
                phase,
                from,
                to: end,
                inferred: false,
            });
        }
    }
    if spans.is_empty() {
        spans = from_versions(records, end);
    }
    spans.retain(|span| span.to > span.from);
    spans
}

fn is_final(record: &HistoryRecord) -> bool {
    matches!(
        record.last_status,
        Some(TaskStatus::Stopped | TaskStatus::Deleted)
    )
}

/// The phase a task that has not stopped is in when `phases` leaves it out (its end is unknown):
/// the latest one whose start is recorded. Running is `phases`' own.
fn open_phase(newest: &HistoryRecord) -> Option<(Phase, DateTime<Utc>)> {
    if let (Some(at), None) = (newest.stopping_at, newest.stopped_at) {
        return Some((Phase::Stopping, at));
    }
    if newest.started_at.is_some() {
        return None;
    }
    if let Some(at) = newest.pull_stopped_at {
        return Some((Phase::Starting, at));
    }
    if let Some(at) = newest.pull_started_at {
        return Some((Phase::Pull, at));
    }
    newest.created_at.map(|at| (Phase::Provisioning, at))
}

/// Phases from the recorded statuses: each version's status holds until the next version, the
/// newest one's until `end`.
fn from_versions(records: &[HistoryRecord], end: DateTime<Utc>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let nexts = records.iter().skip(1).map(|next| next.event_time);
    for (record, until) in records.iter().zip(nexts.chain([end])) {
        let Some(phase) = record.last_status.as_ref().and_then(status_phase) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.phase == phase && last.to == record.event_time => last.to = until,
            _ => out.push(Segment {
                phase,
                from: record.event_time,
                to: until,
                inferred: true,
            }),
        }
    }
    out
}

/// The phase a status belongs to; none for a stopped (or unknown) status.
pub fn status_phase(status: &TaskStatus) -> Option<Phase> {
    match status {
        TaskStatus::Provisioning | TaskStatus::Pending => Some(Phase::Provisioning),
        TaskStatus::Activating => Some(Phase::Starting),
        TaskStatus::Running => Some(Phase::Running),
        TaskStatus::Deactivating | TaskStatus::Stopping | TaskStatus::Deprovisioning => {
            Some(Phase::Stopping)
        }
        TaskStatus::Stopped | TaskStatus::Deleted | TaskStatus::Unknown(_) => None,
    }
}

/// The versions never recorded, in time: between the versions recorded either side (from the
/// task's start when the first versions are missing).
fn gaps(records: &[HistoryRecord], all_notes: &[Vec<Note>], start: DateTime<Utc>) -> Vec<Gap> {
    let mut out = Vec::new();
    let mut previous: Option<DateTime<Utc>> = None;
    for (record, notes) in records.iter().zip(all_notes) {
        for note in notes {
            if let Note::NeverRecorded { from, to } = note {
                let before = previous.unwrap_or(start);
                out.push(Gap {
                    from_version: *from,
                    to_version: *to,
                    from: before.min(record.event_time),
                    to: before.max(record.event_time),
                });
            }
        }
        previous = Some(record.event_time);
    }
    out
}

fn version_marks(
    records: &[HistoryRecord],
    all_notes: Vec<Vec<Note>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<VersionMark> {
    records
        .iter()
        .zip(all_notes)
        .filter(|(record, _)| record.event_time >= from && record.event_time <= to)
        .map(|(record, notes)| VersionMark {
            version: record.version,
            at: record.event_time,
            status: record.last_status.clone(),
            notes,
        })
        .collect()
}

fn clip_segment(span: Segment, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Segment> {
    let (start, end) = (span.from.max(from), span.to.min(to));
    (start < end).then_some(Segment {
        from: start,
        to: end,
        ..span
    })
}

fn clip_gap(gap: Gap, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Gap> {
    let (start, end) = (gap.from.max(from), gap.to.min(to));
    (start <= end).then_some(Gap {
        from: start,
        to: end,
        ..gap
    })
}

/// The counts at the top, over every lane.
fn summarize(lanes: &[Lane<'_>], from: DateTime<Utc>, to: DateTime<Utc>) -> Summary {
    let within = |at: DateTime<Utc>| at >= from && at <= to;
    let stopped_within = |lane: &&Lane<'_>| !lane.running_at_end && within(stop_time(lane.newest));
    let by_category = CATEGORIES
        .iter()
        .map(|category| {
            let count = lanes.iter().filter(|l| l.category() == *category).count();
            (*category, count)
        })
        .collect();
    let failed: Vec<&Lane<'_>> = lanes
        .iter()
        .filter(stopped_within)
        .filter(|lane| lane.failed())
        .collect();
    Summary {
        tasks: lanes.len(),
        started: lanes
            .iter()
            .filter(|lane| created_at(lane.records).is_some_and(within))
            .count(),
        stopped: lanes.iter().filter(stopped_within).count(),
        failed: failed.len(),
        running_at_end: lanes.iter().filter(|lane| lane.running_at_end).count(),
        by_category,
        failures: failures_by_kind(failed.iter().map(|lane| (lane.newest, &lane.diagnosis))),
    }
}

/// When the task was created: `createdAt`, else the time of version 1 when it was recorded.
fn created_at(records: &[HistoryRecord]) -> Option<DateTime<Utc>> {
    records
        .iter()
        .rev()
        .find_map(|record| record.created_at)
        .or_else(|| {
            records
                .first()
                .filter(|first| first.version == 1)
                .map(|first| first.event_time)
        })
}

/// At most `max` lanes: the failed ones first, then the most recently changed. Returns the lanes
/// kept and how many were left out.
fn cap(mut lanes: Vec<Lane<'_>>, max: usize) -> (Vec<Lane<'_>>, usize) {
    if lanes.len() <= max {
        return (lanes, 0);
    }
    let omitted = lanes.len() - max;
    lanes.sort_by(|a, b| {
        b.failed()
            .cmp(&a.failed())
            .then_with(|| b.newest.event_time.cmp(&a.newest.event_time))
            .then_with(|| a.newest.task_arn.cmp(&b.newest.task_arn))
    });
    lanes.truncate(max);
    (lanes, omitted)
}

/// Lanes by group, each group's lanes in the order their tasks began, and its deployments.
fn group(lanes: Vec<Lane<'_>>) -> Vec<Group<'_>> {
    let mut groups: BTreeMap<GroupKey, Vec<Lane<'_>>> = BTreeMap::new();
    for lane in lanes {
        groups.entry(group_key(lane.newest)).or_default().push(lane);
    }
    groups
        .into_iter()
        .map(|(key, mut lanes)| {
            lanes.sort_by(|a, b| {
                a.start
                    .cmp(&b.start)
                    .then_with(|| a.newest.task_arn.cmp(&b.newest.task_arn))
            });
            let deployments = deployments(&mut lanes);
            Group {
                key,
                deployments,
                lanes,
            }
        })
        .collect()
}

/// The group of a task: its service, else its family (`family:…` group, else task definition).
pub fn group_key(record: &HistoryRecord) -> GroupKey {
    if let Some(service) = record.service_name.as_ref().filter(|s| !s.is_empty()) {
        return GroupKey::Service(service.clone());
    }
    let family = record
        .group
        .as_deref()
        .and_then(|group| group.strip_prefix("family:"))
        .filter(|family| !family.is_empty())
        .map(str::to_owned)
        .or_else(|| record.family.clone());
    family.map_or(GroupKey::Ungrouped, GroupKey::Family)
}

/// The deployment of a task: its task definition revision, and the service deployment that
/// started it.
pub fn deployment_key(record: &HistoryRecord) -> DeploymentKey {
    let task_definition = match (&record.family, record.revision) {
        (Some(family), Some(revision)) => Some(format!("{family}:{revision}")),
        (Some(family), None) => Some(family.clone()),
        (None, _) => record.task_definition_arn.clone(),
    };
    DeploymentKey {
        task_definition,
        started_by: record
            .started_by
            .clone()
            .filter(|by| by.starts_with("ecs-svc/")),
    }
}

/// Labels the deployments of one group's lanes (in time order) `A`, `B`, … and points each lane
/// at its own.
fn deployments(lanes: &mut [Lane<'_>]) -> Vec<Deployment> {
    let mut found: Vec<Deployment> = Vec::new();
    for lane in lanes.iter_mut() {
        let key = deployment_key(lane.newest);
        let index = match found.iter().position(|deployment| deployment.key == key) {
            Some(index) => index,
            None => {
                found.push(Deployment {
                    label: letters(found.len()),
                    key,
                    first_start: lane.start,
                    tasks: 0,
                    failed: 0,
                });
                found.len() - 1
            }
        };
        if let Some(deployment) = found.get_mut(index) {
            deployment.tasks += 1;
            deployment.failed += usize::from(lane.failed());
        }
        lane.deployment = index;
    }
    found
}

/// `A` … `Z`, `AA`, `AB`, …: spreadsheet column names.
pub fn letters(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let digit = (n - 1) % 26;
        out.push(char::from(b'A' + digit as u8));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// One mark of the time axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    pub at: DateTime<Utc>,
    /// The time of day (`03:00`, `03:00:30`), or the date for ticks a day or more apart.
    pub label: String,
    /// The date (`2026-11-20`), on the first tick of each day.
    pub day: Option<String>,
}

/// Steps between ticks, in seconds: each divides a day, so ticks line up across midnight.
const TICK_STEPS: [i64; 18] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];
const DAY: i64 = 86_400;

/// At most `max` ticks over `[from, to]` at round times of `zone` (UTC, or the local zone with
/// `--local`): the smallest step of 1 s … 12 h, or whole days, that keeps them to `max`.
pub fn ticks<Tz: TimeZone>(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    zone: &Tz,
    max: usize,
) -> Vec<Tick> {
    let span = (to - from).num_seconds().max(1);
    let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
    let step = TICK_STEPS
        .iter()
        .copied()
        .find(|step| span / step < max)
        .unwrap_or_else(|| (span / DAY / max + 1) * DAY);
    let local_from = from.with_timezone(zone).naive_local();
    let mut at = first_tick(local_from, step);
    let mut out: Vec<Tick> = Vec::new();
    let mut last_day = None;
    while out.len() <= max as usize {
        if let Some(utc) = zone
            .from_local_datetime(&at)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
        {
            if utc > to {
                break;
            }
            if utc >= from {
                let day = at.format("%Y-%m-%d").to_string();
                out.push(Tick {
                    at: utc,
                    label: tick_label(at, step),
                    day: (last_day.as_ref() != Some(&day) && step < DAY).then(|| day.clone()),
                });
                last_day = Some(day);
            }
        }
        at += Duration::seconds(step);
    }
    out
}

/// The first round time at or after `from` (wall-clock), for `step` seconds.
fn first_tick(from: NaiveDateTime, step: i64) -> NaiveDateTime {
    let midnight = from.date().and_time(chrono::NaiveTime::MIN);
    let into_day = (from - midnight).num_milliseconds();
    let step_ms = step.min(DAY) * 1000;
    let steps = (into_day + step_ms - 1) / step_ms;
    midnight + Duration::milliseconds(steps * step_ms)
}

fn tick_label(at: NaiveDateTime, step: i64) -> String {
    let format = match step {
        s if s < 60 => "%H:%M:%S",
        s if s < DAY => "%H:%M",
        _ => "%Y-%m-%d",
    };
    at.format(format).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::tests::LIFECYCLE;
    use crate::core::history::tests::sample;
    use crate::core::history::Tags;
    use chrono::FixedOffset;

    const OOM: &str = include_str!("../../events/fargate-batch-stopped-oom.json");
    const FAILED_TO_START: &str = include_str!("../../events/fargate-failed-to-start.json");
    const WORKER: &str = include_str!("../../events/ec2-worker-running.json");

    fn record(json: &str) -> HistoryRecord {
        sample(json, Tags::none())
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The sample service task, versions 1–8 (03:14:07 → 03:53:09 on 2026-11-20).
    fn web() -> Vec<HistoryRecord> {
        LIFECYCLE.iter().map(|json| record(json)).collect()
    }

    /// The sample task as another task: its own ARN, versions `versions` of the lifecycle.
    fn web_task(id: &str, versions: &[usize]) -> Vec<HistoryRecord> {
        let all = web();
        versions
            .iter()
            .map(|v| {
                let mut record = all[v - 1].clone();
                record.task_arn = format!("arn:aws:ecs:us-east-1:123456789012:task/demo/{id}");
                record.task_id = id.to_owned();
                record
            })
            .collect()
    }

    fn window() -> (DateTime<Utc>, DateTime<Utc>) {
        (at("2026-11-20T00:00:00Z"), at("2026-11-20T06:00:00Z"))
    }

    fn one(records: &[HistoryRecord]) -> Lane<'_> {
        let (from, to) = window();
        lane(records, from, to).expect("a lane")
    }

    fn phase_names(lane: &Lane<'_>) -> Vec<&'static str> {
        lane.segments.iter().map(|s| s.phase.as_str()).collect()
    }

    #[test]
    fn a_stopped_task_is_drawn_in_its_phases_and_ends_with_its_stop() {
        let records = web();
        let lane = one(&records);
        assert_eq!(
            phase_names(&lane),
            ["provisioning", "pull", "starting", "running", "stopping"]
        );
        assert!(lane.segments.iter().all(|s| !s.inferred));
        assert_eq!(lane.from, at("2026-11-20T03:14:07.123Z"));
        assert_eq!(lane.to, at("2026-11-20T03:53:09.250Z"));
        assert!(!lane.started_before && !lane.running_at_end);
        assert!(lane.gaps.is_empty());
        let versions: Vec<u64> = lane.versions.iter().map(|v| v.version).collect();
        assert_eq!(versions, (1..=8).collect::<Vec<_>>());
        let stop = lane.stop.expect("stopped");
        assert_eq!(stop.at, lane.to);
        assert_eq!(stop.kind, Kind::ServiceScaledIn);
        assert_eq!(lane.category(), Category::Clean);
    }

    #[test]
    fn a_running_task_is_drawn_to_the_window_end() {
        let records = web_task("running", &[1, 2, 3, 4]);
        let lane = one(&records);
        let (_, to) = window();
        assert!(lane.running_at_end);
        assert_eq!(lane.stop, None);
        assert_eq!(lane.to, to);
        let last = lane.segments.last().unwrap();
        assert_eq!((last.phase, last.to), (Phase::Running, to));
        assert_eq!(lane.category(), Category::StillRunning);
    }

    #[test]
    fn a_pending_task_is_in_its_open_phase_until_the_window_end() {
        let (_, to) = window();
        let pending = web_task("pending", &[1, 2]);
        let lane = one(&pending);
        assert_eq!(phase_names(&lane), ["provisioning"]);
        assert_eq!(
            lane.segments[0].to, to,
            "still provisioning at the window's end"
        );
        let activating = web_task("activating", &[1, 2, 3]);
        let lane = one(&activating);
        assert_eq!(phase_names(&lane), ["provisioning", "pull", "starting"]);
        assert_eq!(lane.segments[2].to, to, "pulled, not started yet");
        let mut stopping = web_task("stopping", &[1, 2, 3, 4, 5]);
        stopping[4].stopped_at = None;
        let lane = one(&stopping);
        assert_eq!(
            lane.segments.last().map(|s| (s.phase, s.to)),
            Some((Phase::Stopping, to))
        );
    }

    #[test]
    fn versions_never_recorded_are_gaps_in_time() {
        // Versions 1–3 and 5–7 lost: the first gap runs from the task's creation to version 4,
        // the second between versions 4 and 8.
        let records = web_task("gappy", &[4, 8]);
        let lane = one(&records);
        assert_eq!(
            lane.gaps,
            vec![
                Gap {
                    from_version: 1,
                    to_version: 3,
                    from: at("2026-11-20T03:14:07.123Z"),
                    to: records[0].event_time,
                },
                Gap {
                    from_version: 5,
                    to_version: 7,
                    from: records[0].event_time,
                    to: records[1].event_time,
                },
            ]
        );
        assert_eq!(
            phase_names(&lane),
            ["provisioning", "pull", "starting", "running", "stopping"],
            "the newest record's timestamps still tell the phases"
        );
    }

    #[test]
    fn a_task_with_one_version_is_one_gap_then_its_state() {
        let records = web_task("single", &[4]);
        let lane = one(&records);
        assert_eq!(lane.versions.len(), 1);
        assert_eq!(lane.gaps.len(), 1);
        assert_eq!((lane.gaps[0].from_version, lane.gaps[0].to_version), (1, 3));
        assert!(lane.running_at_end);

        // No timestamps at all: the lane is the recorded status, from its version on.
        let mut bare = records.clone();
        let only = &mut bare[0];
        only.created_at = None;
        only.pull_started_at = None;
        only.pull_stopped_at = None;
        only.started_at = None;
        let lane = one(&bare);
        assert_eq!(lane.segments.len(), 1);
        let segment = lane.segments[0];
        assert!(segment.inferred);
        assert_eq!(
            (segment.phase, segment.from),
            (Phase::Running, bare[0].event_time)
        );
        assert_eq!(
            lane.gaps[0].from, lane.gaps[0].to,
            "no time known before it"
        );
    }

    #[test]
    fn statuses_give_the_phases_when_timestamps_are_missing() {
        let mut records = web_task("bare", &[1, 2, 3, 4, 5]);
        for record in &mut records {
            record.created_at = None;
            record.pull_started_at = None;
            record.pull_stopped_at = None;
            record.started_at = None;
            record.stopping_at = None;
        }
        let lane = one(&records);
        assert_eq!(
            phase_names(&lane),
            ["provisioning", "starting", "running", "stopping"],
            "PROVISIONING and PENDING are one phase"
        );
        assert!(lane.segments.iter().all(|s| s.inferred));
        assert_eq!(lane.segments[0].to, records[2].event_time);
        assert_eq!(lane.segments[3].to, window().1);
    }

    #[test]
    fn late_arrivals_and_reconciled_versions_carry_their_notes() {
        let mut records = web_task("late", &[1, 2, 3, 4]);
        records[2].late_arrival = true;
        records[3].event_id = Some("reconciled:late:4".into());
        let lane = one(&records);
        assert_eq!(lane.versions[2].notes, vec![Note::ArrivedLate]);
        assert_eq!(lane.versions[3].notes, vec![Note::Reconciled]);
        assert!(lane.versions[0].notes.is_empty());
    }

    #[test]
    fn a_task_begun_before_the_window_is_cut_at_its_start() {
        let records = web();
        let (from, to) = (at("2026-11-20T03:30:00Z"), at("2026-11-20T04:00:00Z"));
        let lane = lane(&records, from, to).unwrap();
        assert!(lane.started_before);
        assert_eq!(lane.start, at("2026-11-20T03:14:07.123Z"));
        assert_eq!(lane.from, from);
        assert_eq!(phase_names(&lane), ["running", "stopping"]);
        assert_eq!(lane.segments[0].from, from);
        let versions: Vec<u64> = lane.versions.iter().map(|v| v.version).collect();
        assert_eq!(
            versions,
            [5, 6, 7, 8],
            "only the versions within the window"
        );
    }

    #[test]
    fn versions_after_the_window_are_left_out() {
        let records = web();
        let (from, to) = (at("2026-11-20T03:00:00Z"), at("2026-11-20T03:20:00Z"));
        let lane = lane(&records, from, to).unwrap();
        assert_eq!(
            lane.newest.version, 4,
            "the task as it was at the window's end"
        );
        assert!(lane.running_at_end);
        assert_eq!(lane.to, to);
        let early = (at("2026-11-20T01:00:00Z"), at("2026-11-20T02:00:00Z"));
        assert!(super::lane(&records, early.0, early.1).is_none());
    }

    #[test]
    fn lanes_group_by_service_then_family_in_time_order_with_deployments() {
        let early = web_task("a-early", &[1, 2, 3, 4]);
        let mut late = web_task("b-late", &[1, 2, 3, 4]);
        for record in &mut late {
            record.created_at = Some(at("2026-11-20T04:00:00Z"));
            record.event_time += Duration::hours(1);
        }
        let failed = vec![record(FAILED_TO_START)];
        let oom = vec![record(OOM)];
        let worker = vec![record(WORKER)];
        let timelines = [&late, &oom, &failed, &worker, &early];
        let (from, to) = window();
        let report = layout(timelines.iter().map(|t| t.as_slice()), from, to, MAX_LANES);
        let keys: Vec<String> = report.groups.iter().map(|g| g.key.label()).collect();
        assert_eq!(
            keys,
            ["service web", "service worker", "task family batch-job"]
        );
        let web = &report.groups[0];
        let ids: Vec<&str> = web
            .lanes
            .iter()
            .map(|l| l.newest.task_id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["a-early", "b-late", "cacd517d557c303796ba0004383e5e65"],
            "in the order they began"
        );
        let labels: Vec<(&str, Option<&str>, usize, usize)> = web
            .deployments
            .iter()
            .map(|d| {
                (
                    d.label.as_str(),
                    d.key.task_definition.as_deref(),
                    d.tasks,
                    d.failed,
                )
            })
            .collect();
        assert_eq!(
            labels,
            [("A", Some("web:7"), 2, 0), ("B", Some("web:8"), 1, 1)]
        );
        let lane_deployments: Vec<usize> = web.lanes.iter().map(|l| l.deployment).collect();
        assert_eq!(lane_deployments, [0, 0, 1]);
        assert_eq!(
            web.deployments[1].key.started_by.as_deref(),
            Some("ecs-svc/2345678901234567890")
        );
        let batch = &report.groups[2].deployments[0];
        assert_eq!(batch.key.started_by, None, "not a service deployment");
        assert_eq!(report.lanes(), 5);
    }

    #[test]
    fn the_summary_counts_starts_stops_and_failures_by_kind() {
        let web = web();
        let oom = vec![record(OOM)];
        let failed = vec![record(FAILED_TO_START)];
        let running = web_task("running", &[1, 2, 3, 4]);
        let timelines = [&web, &oom, &failed, &running];
        let (from, to) = window();
        let report = layout(timelines.iter().map(|t| t.as_slice()), from, to, MAX_LANES);
        let summary = &report.summary;
        assert_eq!(summary.tasks, 4);
        assert_eq!(summary.started, 4, "every sample was created in the window");
        assert_eq!(summary.stopped, 3);
        assert_eq!(summary.failed, 2);
        assert_eq!(summary.running_at_end, 1);
        let kinds: Vec<(&str, usize, Vec<i64>)> = summary
            .failures
            .iter()
            .map(|f| {
                (
                    f.kind.slug(),
                    f.count,
                    f.exit_codes.iter().copied().collect(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("image-not-found", 1, vec![]),
                ("out-of-memory", 1, vec![137])
            ]
        );
        assert!(summary.failures[1].example.starts_with("OutOfMemoryError"));
        let count = |category| {
            summary
                .by_category
                .iter()
                .find(|(c, _)| *c == category)
                .map(|(_, n)| *n)
        };
        assert_eq!(count(Category::Clean), Some(1));
        assert_eq!(count(Category::StillRunning), Some(1));
        assert_eq!(count(Category::HostGone), Some(0));
        assert_eq!(summary.by_category.len(), CATEGORIES.len());

        // A task created before the window started is not counted as started in it.
        let (from, to) = (at("2026-11-20T03:30:00Z"), at("2026-11-20T06:00:00Z"));
        let report = layout([web.as_slice()], from, to, MAX_LANES);
        assert_eq!((report.summary.started, report.summary.stopped), (0, 1));
    }

    #[test]
    fn beyond_the_cap_failures_are_kept_first_and_the_rest_counted() {
        let clean: Vec<Vec<HistoryRecord>> = (0..5)
            .map(|n| web_task(&format!("clean-{n}"), &[1, 2, 3, 4, 5, 6, 7, 8]))
            .collect();
        let oom = vec![record(OOM)];
        let mut timelines: Vec<&[HistoryRecord]> = clean.iter().map(Vec::as_slice).collect();
        timelines.push(&oom);
        let (from, to) = window();
        let report = layout(timelines, from, to, 3);
        assert_eq!(report.lanes(), 3);
        assert_eq!(report.omitted, 3);
        assert_eq!(report.summary.tasks, 6, "the counts cover every task");
        assert!(report
            .groups
            .iter()
            .flat_map(|g| &g.lanes)
            .any(|lane| lane.category() == Category::OutOfMemory));
    }

    #[test]
    fn an_empty_window_has_no_groups_and_zero_counts() {
        let (from, to) = window();
        let report = layout(std::iter::empty(), from, to, MAX_LANES);
        assert!(report.groups.is_empty());
        assert_eq!(report.summary.tasks, 0);
        assert!(report.summary.failures.is_empty());
        assert_eq!(report.position(from), 0.0);
        assert_eq!(report.position(to), 1.0);
        assert_eq!(report.position(to + Duration::hours(1)), 1.0);
    }

    #[test]
    fn ticks_fall_on_round_times_of_the_zone() {
        let (from, to) = window();
        let hourly = ticks(from, to, &Utc, 10);
        let labels: Vec<&str> = hourly.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            labels,
            ["00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00"]
        );
        assert_eq!(hourly[0].day.as_deref(), Some("2026-11-20"));
        assert!(hourly[1..].iter().all(|t| t.day.is_none()));

        // India is UTC+5:30: its round hours fall on the half hour UTC.
        let india = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        let local = ticks(from, to, &india, 10);
        assert_eq!(local[0].at, at("2026-11-20T00:30:00Z"));
        assert_eq!(local[0].label, "06:00");

        let minutes = ticks(
            at("2026-11-20T23:52:10Z"),
            at("2026-11-21T00:21:00Z"),
            &Utc,
            8,
        );
        let labels: Vec<(&str, Option<&str>)> = minutes
            .iter()
            .map(|t| (t.label.as_str(), t.day.as_deref()))
            .collect();
        assert_eq!(
            labels,
            [
                ("23:55", Some("2026-11-20")),
                ("00:00", Some("2026-11-21")),
                ("00:05", None),
                ("00:10", None),
                ("00:15", None),
                ("00:20", None)
            ]
        );
        let seconds = ticks(from, from + Duration::seconds(20), &Utc, 10);
        assert_eq!(seconds[1].label, "00:00:05");
        let weeks = ticks(from, from + Duration::days(30), &Utc, 10);
        assert!(weeks.len() <= 10 && weeks.len() >= 5, "{weeks:?}");
        assert!(weeks.iter().all(|t| t.label.len() == 10 && t.day.is_none()));
    }

    #[test]
    fn deployment_letters_continue_past_z() {
        assert_eq!(letters(0), "A");
        assert_eq!(letters(25), "Z");
        assert_eq!(letters(26), "AA");
        assert_eq!(letters(27), "AB");
    }
}
