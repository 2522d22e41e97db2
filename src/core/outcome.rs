//! What became of one input, and the counts every summary, log line and metric is built from.

/// What became of one input (an event body, an event, or a described task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded and the task's snapshot moved to it (`enriched`: DescribeTasks knew the task).
    Fresh { enriched: bool },
    /// This version was already recorded: nothing written.
    Duplicate,
    /// Older than the snapshot and its record was missing: recorded now, marked `lateArrival`.
    GapFilled,
    /// Older than the snapshot and already recorded: nothing written.
    Stale,
    /// A well-formed event of another kind (a rule or queue shared on purpose): nothing to record.
    Skipped { source: String, detail_type: String },
    /// Can never be recorded as it is (unreadable, or refused by the store as invalid): retrying
    /// the same bytes cannot help, so it goes to the dead-letter queue or on-failure destination.
    Rejected { reason: String },
    /// A dependency failed; delivering the same input again is safe and will record it.
    Failed { reason: String },
}

impl Outcome {
    /// The label of logs, JSON summaries and the README.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Fresh { .. } => "fresh",
            Self::Duplicate => "duplicate",
            Self::GapFilled => "gap_filled",
            Self::Stale => "stale",
            Self::Skipped { .. } => "skipped",
            Self::Rejected { .. } => "rejected",
            Self::Failed { .. } => "failed",
        }
    }

    /// The event is in the history now, whether this delivery wrote it or an earlier one did:
    /// nothing is left to do for it (a dead-letter message holding it may be deleted).
    pub fn is_recorded(&self) -> bool {
        matches!(
            self,
            Self::Fresh { .. } | Self::Duplicate | Self::GapFilled | Self::Stale
        )
    }

    /// The source must deliver it again (SQS batch item failure, failed invocation).
    pub fn needs_redelivery(&self) -> bool {
        matches!(self, Self::Rejected { .. } | Self::Failed { .. })
    }

    /// Why it was not recorded, for rejected and failed inputs.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Rejected { reason } | Self::Failed { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Outcomes counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub fresh: usize,
    /// Fresh records DescribeTasks answered for (a subset of `fresh`).
    pub enriched: usize,
    pub duplicate: usize,
    pub gap_filled: usize,
    pub stale: usize,
    pub skipped: usize,
    pub rejected: usize,
    pub failed: usize,
}

impl Counts {
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Fresh { enriched } => {
                self.fresh += 1;
                self.enriched += usize::from(*enriched);
            }
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::GapFilled => self.gap_filled += 1,
            Outcome::Stale => self.stale += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Rejected { .. } => self.rejected += 1,
            Outcome::Failed { .. } => self.failed += 1,
        }
    }

    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Self {
        let mut counts = Self::default();
        outcomes.into_iter().for_each(|outcome| counts.add(outcome));
        counts
    }

    pub fn merge(&mut self, other: &Counts) {
        self.fresh += other.fresh;
        self.enriched += other.enriched;
        self.duplicate += other.duplicate;
        self.gap_filled += other.gap_filled;
        self.stale += other.stale;
        self.skipped += other.skipped;
        self.rejected += other.rejected;
        self.failed += other.failed;
    }

    /// Inputs counted, whatever became of them.
    pub fn received(&self) -> usize {
        self.fresh
            + self.duplicate
            + self.gap_filled
            + self.stale
            + self.skipped
            + self.rejected
            + self.failed
    }

    /// Inputs that are not in the history and need attention (rejected) or another try (failed).
    pub fn not_recorded(&self) -> usize {
        self.rejected + self.failed
    }

    /// `(label, count)` of every outcome that occurred, in label order (the JSON summaries' shape).
    pub fn by_label(&self) -> Vec<(&'static str, usize)> {
        let mut pairs = vec![
            ("duplicate", self.duplicate),
            ("failed", self.failed),
            ("fresh", self.fresh),
            ("gap_filled", self.gap_filled),
            ("rejected", self.rejected),
            ("skipped", self.skipped),
            ("stale", self.stale),
        ];
        pairs.retain(|(_, count)| *count > 0);
        pairs
    }

    /// `{label: count}` of every outcome that occurred, as JSON summaries show them.
    pub fn to_json(&self) -> serde_json::Value {
        self.by_label()
            .into_iter()
            .map(|(label, count)| (label.to_owned(), serde_json::Value::from(count)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_outcome() -> Vec<Outcome> {
        vec![
            Outcome::Fresh { enriched: true },
            Outcome::Fresh { enriched: false },
            Outcome::Duplicate,
            Outcome::GapFilled,
            Outcome::Stale,
            Outcome::Skipped {
                source: "aws.ecs".into(),
                detail_type: "ECS Container Instance State Change".into(),
            },
            Outcome::Rejected {
                reason: "bad".into(),
            },
            Outcome::Failed {
                reason: "throttled".into(),
            },
        ]
    }

    #[test]
    fn every_outcome_is_counted_once_under_its_label() {
        let outcomes = every_outcome();
        let counts = Counts::of(&outcomes);
        assert_eq!(counts.received(), outcomes.len());
        assert_eq!((counts.fresh, counts.enriched), (2, 1));
        assert_eq!(counts.not_recorded(), 2);
        assert_eq!(
            counts.by_label(),
            vec![
                ("duplicate", 1),
                ("failed", 1),
                ("fresh", 2),
                ("gap_filled", 1),
                ("rejected", 1),
                ("skipped", 1),
                ("stale", 1)
            ]
        );
        let mut twice = counts;
        twice.merge(&counts);
        assert_eq!(twice.received(), 2 * outcomes.len());
        assert!(Counts::default().by_label().is_empty());
    }

    #[test]
    fn recorded_and_redelivered_outcomes_are_disjoint() {
        for outcome in every_outcome() {
            let skipped = matches!(outcome, Outcome::Skipped { .. });
            assert!(
                outcome.is_recorded() || outcome.needs_redelivery() || skipped,
                "{outcome:?}"
            );
            assert!(!(outcome.is_recorded() && outcome.needs_redelivery()));
            assert_eq!(outcome.reason().is_some(), outcome.needs_redelivery());
        }
    }
}
