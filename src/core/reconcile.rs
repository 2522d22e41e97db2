//! Reconciliation's pure half: a task as ECS describes it now becomes the state change ECS would
//! have sent at that version, so it goes through the same version check as every real event.

use chrono::{DateTime, Utc};

use crate::core::arn::{last_segment, Arn};
use crate::core::event::{
    validate, ParseError, TaskEvent, TaskStateChange, ECS_SOURCE, TASK_STATE_CHANGE,
};
use crate::core::history::HistoryRecord;

/// Prefix of the event id of records written by reconciliation (backfill or the scheduled run)
/// rather than by an ECS event: the id says where a record came from without another attribute.
pub const RECONCILED_EVENT_PREFIX: &str = "reconciled:";

/// The state change for a described task: id `reconciled:<task id>:<version>`, account and region
/// from the task ARN, and `time` at the task's latest timestamp (else `now`), so the record sorts
/// where the change happened.
pub fn reconciled_event(
    state: TaskStateChange,
    now: DateTime<Utc>,
) -> Result<TaskEvent, ParseError> {
    validate(&state)?;
    let latest = [
        state.created_at,
        state.pull_started_at,
        state.pull_stopped_at,
        state.started_at,
        state.stopping_at,
        state.stopped_at,
        state.execution_stopped_at,
    ]
    .into_iter()
    .flatten()
    .max();
    let arn = Arn::parse(&state.task_arn);
    let mut event = TaskEvent::default();
    event.version = Some("0".to_owned());
    event.id = Some(format!(
        "{RECONCILED_EVENT_PREFIX}{}:{}",
        last_segment(&state.task_arn),
        state.version
    ));
    event.detail_type = TASK_STATE_CHANGE.to_owned();
    event.source = ECS_SOURCE.to_owned();
    event.account = arn.map(|arn| arn.account.to_owned());
    event.region = arn.map(|arn| arn.region.to_owned());
    event.time = Some(latest.unwrap_or(now));
    event.resources = Some(vec![state.task_arn.clone()]);
    event.detail = state;
    Ok(event)
}

/// Whether a record was written by reconciliation rather than by an ECS event.
pub fn is_reconciled(record: &HistoryRecord) -> bool {
    record
        .event_id
        .as_deref()
        .is_some_and(|id| id.starts_with(RECONCILED_EVENT_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis((seconds * 1000.0) as i64).unwrap()
    }

    fn stopped() -> TaskStateChange {
        TaskStateChange {
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/demo/abc".into(),
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/demo".into(),
            version: 5,
            created_at: Some(at(1_763_608_000.5)),
            started_at: Some(at(1_763_608_100.0)),
            stopped_at: Some(at(1_763_608_447.25)),
            ..TaskStateChange::default()
        }
    }

    #[test]
    fn a_described_task_becomes_a_state_change_at_its_version_marked_reconciled() {
        let event = reconciled_event(stopped(), Utc::now()).unwrap();
        assert_eq!(event.detail.version, 5);
        assert_eq!(event.id.as_deref(), Some("reconciled:abc:5"));
        assert_eq!(event.account.as_deref(), Some("123456789012"));
        assert_eq!(event.region.as_deref(), Some("us-east-1"));
        assert_eq!(event.source, ECS_SOURCE);
        assert_eq!(event.detail_type, TASK_STATE_CHANGE);
        assert_eq!(event.time, event.detail.stopped_at, "the latest timestamp");
    }

    #[test]
    fn a_task_without_timestamps_is_placed_at_now_and_one_without_arn_is_refused() {
        let state = TaskStateChange {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c/x".into(),
            cluster_arn: "arn:aws:ecs:us-east-1:1:cluster/c".into(),
            ..TaskStateChange::default()
        };
        let now = DateTime::from_timestamp_millis(1_000_000).unwrap();
        let event = reconciled_event(state, now).unwrap();
        assert_eq!(event.time, Some(now));
        assert_eq!(event.detail.version, 0);
        assert!(reconciled_event(TaskStateChange::default(), now).is_err());
    }
}
