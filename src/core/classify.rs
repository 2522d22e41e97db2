//! Version logic: decides, for each event, whether it moves its task forward, repeats what is already
//! recorded, or arrives late. ECS delivers at least once and out of order; `version` is the only truth.

use std::collections::BTreeMap;

/// How an event relates to what is recorded for its task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Newer than the snapshot (or no snapshot yet): enrich, record, advance the snapshot.
    Fresh,
    /// The version is already recorded (same as the snapshot, or repeated within this batch).
    Duplicate,
    /// Older than the snapshot: record it if missing, never move the snapshot back.
    Stale,
}

/// Compares one event's version with the task's snapshot version.
pub fn classify(version: u64, snapshot_version: Option<u64>) -> Class {
    match snapshot_version {
        None => Class::Fresh,
        Some(known) if version > known => Class::Fresh,
        Some(known) if version == known => Class::Duplicate,
        Some(_) => Class::Stale,
    }
}

/// One event of a batch, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// Position of the event in the caller's list.
    pub index: usize,
    pub version: u64,
    pub class: Class,
}

/// All of a batch's events for one task, in version order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskEvents<'a> {
    pub task_arn: &'a str,
    pub events: Vec<Classified>,
}

impl TaskEvents<'_> {
    /// The newest fresh event: the one the snapshot advances to.
    pub fn newest_fresh(&self) -> Option<Classified> {
        self.events
            .iter()
            .rev()
            .find(|event| event.class == Class::Fresh)
            .copied()
    }

    pub fn has_fresh(&self) -> bool {
        self.events.iter().any(|event| event.class == Class::Fresh)
    }
}

/// Groups a batch by task, orders each task's events by version, and classifies them against the
/// task's snapshot version. A version seen twice in the batch is classified once; its repeats are
/// duplicates, so a batch never writes the same version twice.
pub fn classify_batch<'a>(
    events: impl IntoIterator<Item = (usize, &'a str, u64)>,
    snapshot_version: impl Fn(&str) -> Option<u64>,
) -> Vec<TaskEvents<'a>> {
    let mut by_task: BTreeMap<&'a str, Vec<(usize, u64)>> = BTreeMap::new();
    for (index, task_arn, version) in events {
        by_task.entry(task_arn).or_default().push((index, version));
    }
    by_task
        .into_iter()
        .map(|(task_arn, mut versions)| {
            versions.sort_by_key(|&(index, version)| (version, index));
            let known = snapshot_version(task_arn);
            let mut previous = None;
            let events = versions
                .into_iter()
                .map(|(index, version)| {
                    let class = if previous == Some(version) {
                        Class::Duplicate
                    } else {
                        classify(version, known)
                    };
                    previous = Some(version);
                    Classified {
                        index,
                        version,
                        class,
                    }
                })
                .collect();
            TaskEvents { task_arn, events }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(batch: &TaskEvents<'_>) -> Vec<(usize, u64, Class)> {
        batch
            .events
            .iter()
            .map(|event| (event.index, event.version, event.class))
            .collect()
    }

    #[test]
    fn without_a_snapshot_every_version_is_fresh() {
        assert_eq!(classify(1, None), Class::Fresh);
        assert_eq!(classify(0, None), Class::Fresh);
    }

    #[test]
    fn versions_compare_with_the_snapshot() {
        assert_eq!(classify(5, Some(4)), Class::Fresh);
        assert_eq!(classify(4, Some(4)), Class::Duplicate);
        assert_eq!(classify(3, Some(4)), Class::Stale);
        assert_eq!(classify(0, Some(1)), Class::Stale);
        assert_eq!(classify(u64::MAX, Some(u64::MAX - 1)), Class::Fresh);
    }

    #[test]
    fn a_batch_is_grouped_by_task_and_ordered_by_version() {
        let batch = classify_batch(
            [
                (0, "task/b", 3),
                (1, "task/a", 2),
                (2, "task/b", 1),
                (3, "task/a", 1),
            ],
            |_| None,
        );
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].task_arn, "task/a");
        assert_eq!(
            classes(&batch[0]),
            vec![(3, 1, Class::Fresh), (1, 2, Class::Fresh)]
        );
        assert_eq!(batch[1].task_arn, "task/b");
        assert_eq!(
            classes(&batch[1]),
            vec![(2, 1, Class::Fresh), (0, 3, Class::Fresh)]
        );
    }

    #[test]
    fn repeats_inside_a_batch_are_duplicates_of_the_first_occurrence() {
        let batch = classify_batch([(0, "t", 4), (1, "t", 2), (2, "t", 4), (3, "t", 3)], |_| {
            Some(2)
        });
        assert_eq!(
            classes(&batch[0]),
            vec![
                (1, 2, Class::Duplicate),
                (3, 3, Class::Fresh),
                (0, 4, Class::Fresh),
                (2, 4, Class::Duplicate),
            ]
        );
        assert_eq!(batch[0].newest_fresh().map(|event| event.index), Some(0));
    }

    #[test]
    fn stale_duplicate_and_fresh_mix_around_the_snapshot() {
        let batch = classify_batch([(0, "t", 7), (1, "t", 5), (2, "t", 6), (3, "t", 5)], |_| {
            Some(6)
        });
        assert_eq!(
            classes(&batch[0]),
            vec![
                (1, 5, Class::Stale),
                (3, 5, Class::Duplicate),
                (2, 6, Class::Duplicate),
                (0, 7, Class::Fresh),
            ]
        );
        assert!(batch[0].has_fresh());
    }

    #[test]
    fn a_task_with_only_old_events_has_nothing_to_advance() {
        let batch = classify_batch([(0, "t", 1), (1, "t", 2)], |_| Some(9));
        assert!(!batch[0].has_fresh());
        assert_eq!(batch[0].newest_fresh(), None);
    }

    #[test]
    fn each_task_is_compared_with_its_own_snapshot() {
        let batch = classify_batch([(0, "a", 3), (1, "b", 3)], |task| match task {
            "a" => Some(3),
            _ => Some(1),
        });
        assert_eq!(classes(&batch[0]), vec![(0, 3, Class::Duplicate)]);
        assert_eq!(classes(&batch[1]), vec![(1, 3, Class::Fresh)]);
    }

    #[test]
    fn an_empty_batch_plans_nothing() {
        assert!(classify_batch(std::iter::empty(), |_| None).is_empty());
    }
}
