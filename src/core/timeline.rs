//! A task's recorded versions read as a story: the phases it went through and the versions never
//! recorded (why it stopped is `diagnosis`). Shared by every reader (the CLI's tables, the report).

use chrono::{DateTime, Utc};

use crate::core::history::HistoryRecord;
use crate::core::reconcile::is_reconciled;

/// The stretches of a task's life ECS timestamps delimit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Created → image pull started (Fargate capacity, ENI, …).
    Provisioning,
    Pull,
    /// Pull done → containers started.
    Starting,
    Running,
    /// Stop requested → stopped.
    Stopping,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Pull => "pull",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
        }
    }
}

/// One phase: `to` is `None` while the task is still in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseSpan {
    pub phase: Phase,
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

/// The phases the newest record's timestamps delimit (each version carries every timestamp so
/// far, so the newest one tells the whole story). A phase whose start is unknown is left out.
pub fn phases(newest: &HistoryRecord) -> Vec<PhaseSpan> {
    let run_end = newest
        .stopping_at
        .or(newest.execution_stopped_at)
        .or(newest.stopped_at);
    let spans = [
        (
            Phase::Provisioning,
            newest.created_at,
            newest.pull_started_at.or(newest.started_at),
        ),
        (Phase::Pull, newest.pull_started_at, newest.pull_stopped_at),
        (Phase::Starting, newest.pull_stopped_at, newest.started_at),
        (Phase::Running, newest.started_at, run_end),
        (Phase::Stopping, newest.stopping_at, newest.stopped_at),
    ];
    spans
        .into_iter()
        .filter_map(|(phase, from, to)| {
            let from = from?;
            // Only running may still be under way; an earlier phase without an end is unknown.
            (to.is_some() || phase == Phase::Running).then_some(PhaseSpan { phase, from, to })
        })
        .collect()
}

/// Something worth saying about one recorded version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// Versions `from..=to` before this one were never recorded (lost events, or the history
    /// started after the task did).
    NeverRecorded { from: u64, to: u64 },
    /// Recorded after a newer version (an out-of-order delivery filling its gap).
    ArrivedLate,
    /// Written by reconciliation, not by an ECS event.
    Reconciled,
    /// Cut to the size limits.
    Truncated,
}

/// The notes of every record of a timeline (versions in order, oldest first). ECS numbers a task's
/// versions from 1, so a first record at version 5 means versions 1–4 were never recorded.
pub fn notes(timeline: &[HistoryRecord]) -> Vec<Vec<Note>> {
    let mut previous: Option<u64> = None;
    timeline
        .iter()
        .map(|record| {
            let mut notes = Vec::new();
            let first_missing = previous.map_or(1, |version| version + 1);
            if record.version > first_missing {
                notes.push(Note::NeverRecorded {
                    from: first_missing,
                    to: record.version - 1,
                });
            }
            previous = Some(record.version);
            if record.late_arrival {
                notes.push(Note::ArrivedLate);
            }
            if is_reconciled(record) {
                notes.push(Note::Reconciled);
            }
            if record.truncated {
                notes.push(Note::Truncated);
            }
            notes
        })
        .collect()
}

/// The first container that exited non-zero: its exit code and reason.
pub fn failing_exit(record: &HistoryRecord) -> Option<(i64, Option<&str>)> {
    record.containers.iter().find_map(|container| {
        container
            .exit_code
            .filter(|code| *code != 0)
            .map(|code| (code, container.reason.as_deref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::history::tests::sample;
    use crate::core::history::Tags;

    fn record(json: &str) -> HistoryRecord {
        sample(json, Tags::none())
    }

    fn at_version(mut record: HistoryRecord, version: u64) -> HistoryRecord {
        record.version = version;
        record
    }

    #[test]
    fn a_stopped_task_went_through_every_phase_in_order() {
        let stopped = record(include_str!("../../events/fargate-web-v8-stopped.json"));
        let spans = phases(&stopped);
        let names: Vec<&str> = spans.iter().map(|span| span.phase.as_str()).collect();
        assert_eq!(
            names,
            ["provisioning", "pull", "starting", "running", "stopping"]
        );
        assert!(spans
            .iter()
            .all(|span| span.to.is_some_and(|to| to >= span.from)));
    }

    #[test]
    fn a_running_task_is_still_in_its_running_phase() {
        let running = record(include_str!("../../events/fargate-web-v4-running.json"));
        let last = *phases(&running).last().unwrap();
        assert_eq!(last.phase, Phase::Running);
        assert_eq!(last.to, None);
        let pending = record(include_str!("../../events/fargate-web-v2-pending.json"));
        assert!(phases(&pending).is_empty(), "{:?}", phases(&pending));
    }

    #[test]
    fn versions_never_recorded_are_noted_before_the_first_record_too() {
        let base = record(include_str!("../../events/fargate-web-v4-running.json"));
        let timeline = [
            at_version(base.clone(), 5),
            at_version(base.clone(), 6),
            at_version(base.clone(), 9),
        ];
        let notes = notes(&timeline);
        assert_eq!(notes[0], vec![Note::NeverRecorded { from: 1, to: 4 }]);
        assert!(notes[1].is_empty());
        assert_eq!(notes[2], vec![Note::NeverRecorded { from: 7, to: 8 }]);
        let complete = [at_version(base.clone(), 1), at_version(base, 2)];
        assert!(super::notes(&complete).iter().all(Vec::is_empty));
    }

    #[test]
    fn late_reconciled_and_truncated_records_are_noted() {
        let mut late = record(include_str!(
            "../../events/fargate-web-v1-provisioning.json"
        ));
        late.late_arrival = true;
        late.truncated = true;
        late.event_id = Some("reconciled:abc:1".into());
        assert_eq!(
            notes(&[late]),
            vec![vec![Note::ArrivedLate, Note::Reconciled, Note::Truncated]]
        );
    }

    #[test]
    fn the_failing_exit_is_the_first_non_zero_one() {
        let oom = record(include_str!("../../events/fargate-batch-stopped-oom.json"));
        assert_eq!(failing_exit(&oom).map(|(code, _)| code), Some(137));
        let mut clean_exit = oom.clone();
        for container in &mut clean_exit.containers {
            container.exit_code = Some(0);
        }
        assert_eq!(failing_exit(&clean_exit), None);
    }
}
