//! When a fresh event is worth a DescribeTasks call. Events carry no tags, and tags rarely change
//! after RunTask, so by default only tasks whose tags are not known yet (and the final STOPPED
//! transition) are described: most of the account-wide DescribeTasks budget stays free.

use crate::core::enums::TaskStatus;
use crate::core::history::Snapshot;

/// The `ENRICH` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EnrichMode {
    /// Describe every task with a fresh event.
    Always,
    /// Describe a task until its tags are known (or ECS says it is MISSING), and again when it
    /// reaches STOPPED (final tags; and a MISSING answer may have been ECS's eventual consistency).
    #[default]
    NewTasks,
    /// Never call DescribeTasks: history without tags, and no ECS permission needed.
    Never,
}

impl EnrichMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "always" => Some(Self::Always),
            "new-tasks" => Some(Self::NewTasks),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// Whether the task's newest fresh event (with `status`) should be described.
pub fn should_describe(
    mode: EnrichMode,
    snapshot: Option<&Snapshot>,
    status: Option<&TaskStatus>,
) -> bool {
    match mode {
        EnrichMode::Always => true,
        EnrichMode::Never => false,
        EnrichMode::NewTasks => {
            let settled =
                snapshot.is_some_and(|snapshot| snapshot.tags_known || snapshot.ecs_missing);
            !settled || status == Some(&TaskStatus::Stopped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn snapshot(tags_known: bool) -> Snapshot {
        snapshot_with(tags_known, false)
    }

    fn snapshot_with(tags_known: bool, ecs_missing: bool) -> Snapshot {
        Snapshot {
            task_arn: "t".into(),
            version: 3,
            last_status: Some(TaskStatus::Running),
            desired_status: Some(TaskStatus::Running),
            cluster_arn: "c".into(),
            task_definition_arn: None,
            tags: Default::default(),
            tags_known,
            ecs_missing,
            stop_code: None,
            updated_at: DateTime::default(),
            expires_at: 0,
            indexed_hour: None,
        }
    }

    #[test]
    fn modes_parse_case_insensitively_and_reject_the_rest() {
        assert_eq!(EnrichMode::parse("always"), Some(EnrichMode::Always));
        assert_eq!(EnrichMode::parse(" New-Tasks "), Some(EnrichMode::NewTasks));
        assert_eq!(EnrichMode::parse("never"), Some(EnrichMode::Never));
        assert_eq!(EnrichMode::parse("sometimes"), None);
        assert_eq!(EnrichMode::default(), EnrichMode::NewTasks);
    }

    #[test]
    fn new_tasks_describes_until_tags_are_known_and_again_when_stopped() {
        let running = Some(&TaskStatus::Running);
        let stopped = Some(&TaskStatus::Stopped);
        assert!(should_describe(EnrichMode::NewTasks, None, running));
        assert!(should_describe(
            EnrichMode::NewTasks,
            Some(&snapshot(false)),
            running
        ));
        assert!(!should_describe(
            EnrichMode::NewTasks,
            Some(&snapshot(true)),
            running
        ));
        assert!(!should_describe(
            EnrichMode::NewTasks,
            Some(&snapshot(true)),
            Some(&TaskStatus::Stopping)
        ));
        assert!(should_describe(
            EnrichMode::NewTasks,
            Some(&snapshot(true)),
            stopped
        ));
    }

    #[test]
    fn new_tasks_does_not_ask_again_for_a_task_ecs_said_is_missing_until_it_stops() {
        let missing = snapshot_with(false, true);
        assert!(!should_describe(
            EnrichMode::NewTasks,
            Some(&missing),
            Some(&TaskStatus::Running)
        ));
        assert!(should_describe(
            EnrichMode::NewTasks,
            Some(&missing),
            Some(&TaskStatus::Stopped)
        ));
    }

    #[test]
    fn always_and_never_ignore_the_snapshot() {
        assert!(should_describe(
            EnrichMode::Always,
            Some(&snapshot(true)),
            Some(&TaskStatus::Running)
        ));
        assert!(!should_describe(
            EnrichMode::Never,
            None,
            Some(&TaskStatus::Stopped)
        ));
    }
}
