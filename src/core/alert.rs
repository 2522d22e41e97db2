//! Failure alerts, the pure half: which stopped tasks alert (from their diagnosis, not from a second
//! set of rules), what the message says, and how a crash loop becomes one summary. Sending, and the
//! bookkeeping that makes an alert go out once, are the pipeline's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use crate::core::arn::last_segment;
use crate::core::diagnosis::{exit_code_meaning, Category, Diagnosis, Kind};
use crate::core::history::HistoryRecord;
use crate::core::timeline::failing_exit;

/// SNS subjects are limited to 100 characters.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// Which failures alert (`ALERT_*` settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRules {
    /// Failure categories that alert (`ALERT_ON`).
    pub on: BTreeSet<Category>,
    /// Clusters (names or ARNs) whose failures alert; empty: every cluster (`ALERT_CLUSTERS`).
    pub clusters: Vec<String>,
    /// Task groups (`service:web`, `family:job`) whose failures alert; empty: all (`ALERT_GROUPS`).
    pub groups: Vec<String>,
    /// Above this many failures of one service (or group) in one window, one summary instead of
    /// one message per task (`ALERT_CRASH_LOOP_THRESHOLD`).
    pub crash_loop_threshold: usize,
    /// The crash-loop window (`ALERT_CRASH_LOOP_WINDOW_MINUTES`).
    pub window: Duration,
    /// A failure recorded later than this after it happened (a redriven dead-letter queue, a
    /// backfill of old tasks) is recorded without alerting (`ALERT_MAX_AGE_MINUTES`).
    pub max_age: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            on: DEFAULT_CATEGORIES.into_iter().collect(),
            clusters: Vec::new(),
            groups: Vec::new(),
            crash_loop_threshold: 3,
            window: Duration::minutes(5),
            max_age: Duration::minutes(60),
        }
    }
}

/// What alerts unless configured otherwise: failures, never a clean stop; `unknown` and
/// `host-gone` stops are in the history and `cluster --failed`, but do not page by default.
pub const DEFAULT_CATEGORIES: [Category; 5] = [
    Category::FailedToStart,
    Category::OutOfMemory,
    Category::ExitedNonZero,
    Category::SpotInterruption,
    Category::HealthCheck,
];

/// A failure that alerts: its crash-loop window and the message to send on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub window: Window,
    /// What the window keeps of it, to summarize: `<task id>|<kind>|<exit code>`.
    pub entry: String,
    pub message: Message,
}

/// The crash-loop window a failure falls in: one service (or group) of one cluster, one span.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    pub cluster_arn: String,
    pub group: String,
    pub start: DateTime<Utc>,
    pub minutes: i64,
}

impl Window {
    /// The window just before this one, of the same service.
    pub fn previous(&self) -> Window {
        Window {
            start: self.start - Duration::minutes(self.minutes),
            ..self.clone()
        }
    }
}

/// What alerting did, by kind: the metrics of one invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTally {
    /// Alerts published, by what they were about.
    pub sent: BTreeMap<AlertKind, u64>,
    /// Failures a crash loop's summary speaks for.
    pub suppressed: u64,
    /// Alerts that failed to publish (retried with their event) or could never be sent.
    pub failed: u64,
}

/// What an alert was about: one task's failure, or a crash loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertKind {
    Task(Kind),
    CrashLoop,
}

impl AlertKind {
    /// The `kind` message attribute and metric dimension.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Task(kind) => kind.slug(),
            Self::CrashLoop => CRASH_LOOP,
        }
    }
}

/// The `kind` of a crash loop's summary.
pub const CRASH_LOOP: &str = "crash-loop";

impl AlertTally {
    pub fn add(&mut self, other: &AlertTally) {
        for (kind, count) in &other.sent {
            *self.sent.entry(*kind).or_default() += count;
        }
        self.suppressed += other.suppressed;
        self.failed += other.failed;
    }
}

/// An alert as SNS publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
    /// SNS message attributes (strings), for subscription filter policies.
    pub attributes: BTreeMap<&'static str, String>,
}

impl AlertRules {
    /// The failure to alert on for this stopped record and its diagnosis, or `None` (not a failure
    /// that alerts, filtered out, or too old to page about).
    pub fn failure(
        &self,
        record: &HistoryRecord,
        diagnosis: &Diagnosis,
        now: DateTime<Utc>,
    ) -> Option<Failure> {
        let category = diagnosis.kind.category();
        if !category.is_failure() || !self.on.contains(&category) || !self.selects(record) {
            return None;
        }
        let happened = record.stopped_at.unwrap_or(record.event_time);
        if now - happened > self.max_age {
            return None;
        }
        let minutes = self.window.num_minutes().max(1);
        let span = minutes * 60;
        let start = DateTime::from_timestamp(happened.timestamp().div_euclid(span) * span, 0)
            .unwrap_or(happened);
        let exit = failing_exit(record).map(|(code, _)| code);
        Some(Failure {
            kind: diagnosis.kind,
            window: Window {
                cluster_arn: record.cluster_arn.clone(),
                group: record.group.clone().unwrap_or_default(),
                start,
                minutes,
            },
            entry: format!(
                "{}|{}|{}",
                record.task_id,
                diagnosis.kind.slug(),
                exit.map(|c| c.to_string()).unwrap_or_default()
            ),
            message: task_message(record, diagnosis),
        })
    }

    fn selects(&self, record: &HistoryRecord) -> bool {
        let cluster = self.clusters.is_empty()
            || self
                .clusters
                .iter()
                .any(|c| *c == record.cluster_arn || *c == record.cluster_name);
        let group = self.groups.is_empty()
            || record
                .group
                .as_ref()
                .is_some_and(|group| self.groups.contains(group));
        cluster && group
    }
}

/// Whose failure it is, for subjects: the service, else the group, else the task id.
fn who(record: &HistoryRecord) -> String {
    record
        .service_name
        .as_ref()
        .map(|s| format!("service {s}"))
        .or_else(|| record.group.clone())
        .unwrap_or_else(|| format!("task {}", record.task_id))
}

/// Cuts a subject to SNS's limit on a character boundary; SNS refuses line breaks in subjects.
fn subject(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= MAX_SUBJECT_CHARS {
        return flat;
    }
    let kept: String = flat.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    format!("{kept}…")
}

/// The console page of a task.
pub fn console_link(record: &HistoryRecord) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task}/configuration?region={region}",
        region = record.region,
        cluster = record.cluster_name,
        task = record.task_id,
    )
}

/// The message for one failed task: what happened and what to check, then the facts.
pub fn task_message(record: &HistoryRecord, diagnosis: &Diagnosis) -> Message {
    let exit = failing_exit(record);
    let what = match exit {
        Some((code, _)) => format!("{} (exit {code})", diagnosis.kind.title()),
        None => diagnosis.kind.title().to_owned(),
    };
    let mut body = vec![
        format!("{} in cluster {}: {what}", who(record), record.cluster_name),
        String::new(),
        diagnosis.explanation.clone(),
    ];
    body.extend(diagnosis.next_steps.iter().map(|step| format!("- {step}")));
    body.push(String::new());
    body.extend(facts(record, diagnosis));
    body.push(String::new());
    body.push(format!("Console: {}", console_link(record)));
    body.push(format!(
        "Timeline: ecs-task-history task {} --cluster {}",
        record.task_id, record.cluster_arn
    ));
    let mut attributes = base_attributes(record);
    attributes.insert("kind", diagnosis.kind.slug().to_owned());
    attributes.insert("category", diagnosis.kind.category().slug().to_owned());
    if let Some(code) = &record.stop_code {
        attributes.insert("stopCode", code.as_str().to_owned());
    }
    if let Some((code, _)) = exit {
        attributes.insert("exitCode", code.to_string());
    }
    attributes.insert("taskArn", record.task_arn.clone());
    Message {
        subject: subject(&format!(
            "{what}: {} in {}",
            who(record),
            record.cluster_name
        )),
        body: body.join("\n"),
        attributes,
    }
}

fn base_attributes(record: &HistoryRecord) -> BTreeMap<&'static str, String> {
    let mut attributes = BTreeMap::from([
        ("cluster", record.cluster_name.clone()),
        ("account", record.account.clone()),
        ("region", record.region.clone()),
    ]);
    if let Some(service) = &record.service_name {
        attributes.insert("service", service.clone());
    }
    if let Some(group) = &record.group {
        attributes.insert("group", group.clone());
    }
    attributes.retain(|_, value| !value.is_empty());
    attributes
}

fn facts(record: &HistoryRecord, diagnosis: &Diagnosis) -> Vec<String> {
    let mut lines = vec![
        format!("Task: {}", record.task_arn),
        format!(
            "Account {} · region {} · cluster {}",
            record.account, record.region, record.cluster_arn
        ),
    ];
    if let Some(definition) = &record.task_definition_arn {
        lines.push(format!("Task definition: {definition}"));
    }
    if let Some(started_by) = &record.started_by {
        lines.push(format!("Started by: {started_by}"));
    }
    let stop = match (&record.stop_code, &record.stopped_reason) {
        (Some(code), Some(reason)) => format!("{code}: {reason}"),
        (Some(code), None) => code.to_string(),
        (None, Some(reason)) => reason.clone(),
        (None, None) => "(no stop code)".to_owned(),
    };
    lines.push(format!("Stopped: {stop}"));
    for container in &record.containers {
        let exit = container.exit_code.map_or_else(String::new, |code| {
            format!(" exit {code} ({})", exit_code_meaning(code))
        });
        let reason = container
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        lines.push(format!(
            "Container {}{exit}{reason}",
            container.name.as_deref().unwrap_or("?")
        ));
    }
    if !record.tags.values.is_empty() {
        let tags: Vec<String> = record
            .tags
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push(format!("Tags: {}", tags.join(" ")));
    }
    // The evidence the lines above do not already show (when it started, how long it ran, …).
    let shown = |field: &str| {
        matches!(field, "lastStatus" | "stopCode" | "stoppedReason")
            || field.starts_with("containers[")
    };
    lines.extend(
        diagnosis
            .evidence
            .iter()
            .filter(|e| !shown(&e.field))
            .map(|e| format!("Evidence: {} = {}", e.field, e.value)),
    );
    lines
}

/// The one message for a crash loop: the window's failures so far, by kind and exit code.
/// `continued`: the previous window was a crash loop too.
pub fn summary_message(
    window: &Window,
    record: &HistoryRecord,
    entries: &[String],
    continued: bool,
) -> Message {
    let mut by_cause: BTreeMap<(String, String), usize> = BTreeMap::new();
    for entry in entries {
        let mut parts = entry.split('|').skip(1);
        let kind = parts.next().unwrap_or("unknown").to_owned();
        let exit = parts.next().unwrap_or("").to_owned();
        *by_cause.entry((kind, exit)).or_default() += 1;
    }
    let causes: Vec<String> = by_cause
        .iter()
        .map(|((kind, exit), count)| match exit.as_str() {
            "" => format!("{count} × {kind}"),
            exit => format!("{count} × exit {exit} {kind}"),
        })
        .collect();
    let cluster = last_segment(&window.cluster_arn);
    let tasks = match entries.len() {
        1 => "1 task".to_owned(),
        n => format!("{n} tasks"),
    };
    let headline = format!(
        "{} in {cluster}: {tasks} failed in {} min, {}",
        who(record),
        window.minutes,
        causes.join(", ")
    );
    let why = if continued {
        "The crash loop goes on: the previous window had its summary too."
    } else {
        "A crash loop: more failures than the alert threshold in one window."
    };
    let body = [
        headline.clone(),
        String::new(),
        format!(
            "{why} This is the one message for the window from {} ({} min); further failures in it \
             are recorded without alerting.",
            window.start.format("%Y-%m-%d %H:%M UTC"),
            window.minutes
        ),
        format!(
            "See them all: ecs-task-history cluster {} --since {} --failed",
            window.cluster_arn,
            window.start.format("%Y-%m-%dT%H:%MZ")
        ),
        String::new(),
        format!("Latest: {}", record.task_arn),
    ]
    .join("\n");
    let mut attributes = base_attributes(record);
    attributes.insert("kind", CRASH_LOOP.to_owned());
    attributes.insert("failures", entries.len().to_string());
    Message {
        subject: subject(&headline),
        body,
        attributes,
    }
}

/// `ALERT_ON`: category slugs, comma-separated; `None` for a slug no category has.
pub fn parse_categories(text: &str) -> Option<BTreeSet<Category>> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|slug| !slug.is_empty())
        .map(|slug| Category::ALL.iter().copied().find(|c| c.slug() == slug))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::diagnosis::diagnose;
    use crate::core::history::tests::sample;
    use crate::core::history::{TagSource, Tags};

    fn record(json: &str) -> HistoryRecord {
        let team = [("team".to_owned(), "data".to_owned())].into();
        sample(
            json,
            Tags {
                values: team,
                source: TagSource::DescribeTasks,
                enriched: true,
            },
        )
    }

    fn oom() -> HistoryRecord {
        record(include_str!("../../events/fargate-batch-stopped-oom.json"))
    }

    fn soon_after(record: &HistoryRecord) -> DateTime<Utc> {
        record.stopped_at.unwrap() + Duration::minutes(1)
    }

    #[test]
    fn an_oom_kill_alerts_with_a_useful_message_and_filterable_attributes() {
        let stopped = oom();
        let diagnosis = diagnose(std::slice::from_ref(&stopped));
        let failure = AlertRules::default()
            .failure(&stopped, &diagnosis, soon_after(&stopped))
            .expect("an OOM kill alerts");
        let message = &failure.message;
        assert!(message.subject.chars().count() <= MAX_SUBJECT_CHARS);
        assert!(
            message.subject.contains("Out of memory (exit 137)"),
            "{}",
            message.subject
        );
        assert!(message.subject.contains("demo"), "{}", message.subject);
        for expected in [
            stopped.task_arn.as_str(),
            "EssentialContainerExited",
            "exit 137",
            "OutOfMemoryError",
            "team=data",
            "ecs-task-history task",
            "console.aws.amazon.com/ecs/v2/clusters/demo/tasks/",
            "Task definition:",
        ] {
            assert!(
                message.body.contains(expected),
                "{expected} missing:\n{}",
                message.body
            );
        }
        assert!(message.body.contains(&diagnosis.explanation));
        assert_eq!(message.attributes["kind"], "out-of-memory");
        assert_eq!(message.attributes["exitCode"], "137");
        assert_eq!(message.attributes["stopCode"], "EssentialContainerExited");
        assert_eq!(message.attributes["cluster"], "demo");
        assert!(failure.entry.ends_with("|out-of-memory|137"));
    }

    #[test]
    fn clean_stops_filtered_tasks_and_old_failures_do_not_alert() {
        let scaled_in = record(include_str!("../../events/fargate-web-v8-stopped.json"));
        let diagnosis = diagnose(std::slice::from_ref(&scaled_in));
        assert_eq!(
            AlertRules::default().failure(&scaled_in, &diagnosis, soon_after(&scaled_in)),
            None
        );
        let stopped = oom();
        let diagnosis = diagnose(std::slice::from_ref(&stopped));
        let now = soon_after(&stopped);
        let rules = |change: fn(&mut AlertRules)| {
            let mut rules = AlertRules::default();
            change(&mut rules);
            rules
        };
        assert!(rules(|r| r.clusters = vec!["prod".into()])
            .failure(&stopped, &diagnosis, now)
            .is_none());
        assert!(rules(|r| r.clusters = vec!["demo".into()])
            .failure(&stopped, &diagnosis, now)
            .is_some());
        assert!(rules(|r| r.groups = vec!["service:web".into()])
            .failure(&stopped, &diagnosis, now)
            .is_none());
        assert!(rules(|r| r.groups = vec!["family:batch-job".into()])
            .failure(&stopped, &diagnosis, now)
            .is_some());
        assert!(rules(|r| r.on = [Category::FailedToStart].into())
            .failure(&stopped, &diagnosis, now)
            .is_none());
        let late = stopped.stopped_at.unwrap() + Duration::minutes(61);
        assert!(
            AlertRules::default()
                .failure(&stopped, &diagnosis, late)
                .is_none(),
            "too old"
        );
    }

    #[test]
    fn failures_of_one_group_share_a_window() {
        let stopped = oom();
        let diagnosis = diagnose(std::slice::from_ref(&stopped));
        let window = AlertRules::default()
            .failure(&stopped, &diagnosis, soon_after(&stopped))
            .unwrap()
            .window;
        assert_eq!(window.start.timestamp() % 300, 0);
        assert!(window.start <= stopped.stopped_at.unwrap());
        assert_eq!(window.group, "family:batch-job");
        let entries: Vec<String> = (0..14).map(|n| format!("t{n}|out-of-memory|137")).collect();
        let summary = summary_message(&window, &stopped, &entries, false);
        assert!(
            summary
                .subject
                .contains("14 tasks failed in 5 min, 14 × exit 137 out-of-memory"),
            "{}",
            summary.subject
        );
        assert!(summary.subject.chars().count() <= MAX_SUBJECT_CHARS);
        assert_eq!(summary.attributes["kind"], "crash-loop");
        assert_eq!(summary.attributes["failures"], "14");
        let previous = window.previous();
        assert_eq!(previous.start, window.start - Duration::minutes(5));
        assert_eq!(
            (previous.group.as_str(), previous.minutes),
            ("family:batch-job", 5)
        );
        let continued = summary_message(&window, &stopped, &entries[..1], true);
        assert!(continued.body.contains("goes on"), "{}", continued.body);
        assert!(
            continued.subject.contains("1 task failed"),
            "{}",
            continued.subject
        );
    }

    #[test]
    fn subjects_are_cut_to_100_characters_and_one_line() {
        let long = format!("{}\n{}", "a".repeat(80), "b".repeat(80));
        let cut = subject(&long);
        assert_eq!(cut.chars().count(), MAX_SUBJECT_CHARS);
        assert!(!cut.contains('\n'));
        assert_eq!(subject("short"), "short");
    }

    #[test]
    fn alert_categories_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            parse_categories("out-of-memory, failed-to-start"),
            Some([Category::OutOfMemory, Category::FailedToStart].into())
        );
        assert_eq!(parse_categories("out-of-memory,pigs-flying"), None);
    }
}
