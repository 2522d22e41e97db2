//! The pipeline's alert step. A task's failure is sent by the delivery that records its STOPPED
//! version as fresh, after a conditional claim in the table, so duplicates, redeliveries, replays,
//! backfills and concurrent instances do not send it again; a crash loop becomes one summary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use tracing::{error, info, warn};

use super::Pipeline;
use crate::core::alert::{summary_message, AlertKind, AlertRules, AlertTally, Failure};
use crate::core::diagnosis::diagnose;
use crate::core::enums::TaskStatus;
use crate::core::history::HistoryRecord;
use crate::ports::{AlertEnd, AlertLedger, AlertSink, Claim, ServiceError, TaskStore};

/// How long a claim keeps other deliveries off a task's alert: far longer than a publish takes, and
/// shorter than the queue's visibility timeout, so the redelivery after a crash takes over.
pub const ALERT_LEASE_SECONDS: i64 = 60;

/// Where alerts go and which failures alert.
pub(super) struct Alerting<A> {
    pub(super) sink: A,
    pub(super) rules: AlertRules,
    /// Names this process in claims; each alert attempt adds a number of its own.
    process: String,
    attempts: AtomicU64,
    tally: Mutex<AlertTally>,
}

impl<A> Alerting<A> {
    pub(super) fn new(sink: A, rules: AlertRules) -> Self {
        let started = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        Self {
            sink,
            rules,
            process: format!("{:x}-{started:x}", std::process::id()),
            attempts: AtomicU64::new(0),
            tally: Mutex::default(),
        }
    }

    fn owner(&self) -> String {
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed);
        format!("{}-{attempt}", self.process)
    }

    fn count(&self, update: impl FnOnce(&mut AlertTally)) {
        update(
            &mut self
                .tally
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    pub(super) fn take(&self) -> AlertTally {
        std::mem::take(
            &mut *self
                .tally
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// Why a stop's alert is not done yet: its events must be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("another delivery is sending this task's alert; retried once its lease of {ALERT_LEASE_SECONDS} s runs out")]
    Busy,
    #[error("alert not sent: {0}")]
    Service(#[from] ServiceError),
}

fn is_stop(record: &HistoryRecord) -> bool {
    matches!(
        record.last_status,
        Some(TaskStatus::Stopped | TaskStatus::Deleted)
    )
}

impl<D, S: TaskStore + AlertLedger, A: AlertSink> Pipeline<D, S, A> {
    /// What alerting did since the last call (the function's metrics).
    pub fn take_alert_tally(&self) -> AlertTally {
        self.alerting
            .as_ref()
            .map(Alerting::take)
            .unwrap_or_default()
    }

    /// Sends the alert of `record`, a task's newest fresh record just stored, if it is a stop that
    /// alerts and no delivery sent it before. An error means: do not advance the snapshot, deliver
    /// the event again.
    pub(super) async fn alert_once(
        &self,
        record: &HistoryRecord,
        received_at: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        let Some(alerting) = &self.alerting else {
            return Ok(());
        };
        if !is_stop(record) {
            return Ok(());
        }
        let diagnosis = diagnose(std::slice::from_ref(record));
        let Some(failure) = alerting.rules.failure(record, &diagnosis, received_at) else {
            return Ok(());
        };
        let owner = alerting.owner();
        let lease = Duration::seconds(ALERT_LEASE_SECONDS);
        match self
            .store
            .claim_alert(&record.task_arn, &owner, lease)
            .await?
        {
            Claim::Done => return Ok(()),
            Claim::Busy => return Err(AlertError::Busy),
            Claim::Won => {}
        }
        let end = match self.send(alerting, record, &failure).await {
            Ok(end) => end,
            Err(err) if !err.class.retryable() => {
                error!(task_arn = %record.task_arn, error = %err, "the alert can never be sent as it is; recorded without it");
                alerting.count(|tally| tally.failed += 1);
                AlertEnd::Unsendable
            }
            Err(err) => {
                alerting.count(|tally| tally.failed += 1);
                if let Err(release) = self.store.release_alert(&record.task_arn, &owner).await {
                    warn!(task_arn = %record.task_arn, error = %release, "could not release the alert claim; a redelivery takes it over when the lease runs out");
                }
                return Err(err.into());
            }
        };
        // SNS has the alert: a failure from here on must not send it again, so the event is
        // recorded as usual; only a later redelivery after the lease could repeat it.
        if let Err(err) = self.store.finish_alert(&record.task_arn, &owner, end).await {
            warn!(task_arn = %record.task_arn, error = %err, "alert sent but not marked sent; a replay of this stop after the lease would send it again");
        }
        Ok(())
    }

    /// Sends the failure on its own, or as its window's crash-loop summary, or not at all when
    /// another failure sends that summary.
    async fn send(
        &self,
        alerting: &Alerting<A>,
        record: &HistoryRecord,
        failure: &Failure,
    ) -> Result<AlertEnd, ServiceError> {
        let window = &failure.window;
        let failures = self.store.add_to_window(window, &failure.entry).await?;
        let threshold = alerting.rules.crash_loop_threshold;
        let continued =
            failures.len() <= threshold && self.store.summarized(&window.previous()).await?;
        if failures.len() <= threshold && !continued {
            alerting.sink.publish(&failure.message).await?;
            let kind = failure.kind;
            alerting.count(|tally| *tally.sent.entry(AlertKind::Task(kind)).or_default() += 1);
            info!(task_arn = %record.task_arn, kind = kind.slug(), subject = %failure.message.subject, "alert sent");
            return Ok(AlertEnd::Sent);
        }
        if !self.store.claim_summary(window, &record.task_id).await? {
            alerting.count(|tally| tally.suppressed += 1);
            info!(task_arn = %record.task_arn, group = %window.group, "failure recorded without an alert: its crash loop has one summary");
            return Ok(AlertEnd::Suppressed);
        }
        let summary = summary_message(window, record, &failures, continued);
        alerting.sink.publish(&summary).await?;
        alerting.count(|tally| *tally.sent.entry(AlertKind::CrashLoop).or_default() += 1);
        info!(task_arn = %record.task_arn, group = %window.group, failures = failures.len(), subject = %summary.subject, "crash-loop summary sent");
        Ok(AlertEnd::Sent)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::core::alert::{Message, CRASH_LOOP};
    use crate::core::event::tests::task;
    use crate::core::event::TaskEvent;
    use crate::core::outcome::Outcome;
    use crate::memory::{MemoryEcs, MemoryStore, MemoryTopic};
    use crate::pipeline::{Input, Settings};
    use crate::ports::ErrorClass;

    const OOM: &str = include_str!("../../events/fargate-batch-stopped-oom.json");
    const CLEAN_STOP: &str = include_str!("../../events/fargate-web-v8-stopped.json");

    /// A topic that refuses its first `failures` messages.
    #[derive(Default)]
    struct FlakyTopic {
        failures: AtomicUsize,
        class: Option<ErrorClass>,
        topic: MemoryTopic,
    }

    impl AlertSink for FlakyTopic {
        async fn publish(&self, message: &Message) -> Result<(), ServiceError> {
            let left = self.failures.load(Ordering::SeqCst);
            if left > 0 {
                self.failures.store(left - 1, Ordering::SeqCst);
                return Err(ServiceError {
                    operation: "SNS Publish",
                    target: "topic t".into(),
                    message: "refused".into(),
                    class: self.class.unwrap_or(ErrorClass::Transient),
                });
            }
            self.topic.publish(message).await
        }
    }

    /// The sample events are from the past: alert on them as if they had just happened.
    fn rules() -> AlertRules {
        AlertRules {
            max_age: Duration::days(36_500),
            ..AlertRules::default()
        }
    }

    fn alerting(topic: FlakyTopic) -> Pipeline<MemoryEcs, MemoryStore, FlakyTopic> {
        Pipeline::new(
            MemoryEcs::default(),
            MemoryStore::default(),
            Settings::default(),
        )
        .with_alerts(Some((topic, rules())))
    }

    fn sent(pipeline: &Pipeline<MemoryEcs, MemoryStore, FlakyTopic>) -> Vec<Message> {
        pipeline
            .alert_sink()
            .map(|t| t.topic.sent())
            .unwrap_or_default()
    }

    /// The OOM-killed task's event at `version`, as task `n` of its crash loop.
    fn oom(n: usize, version: u64) -> TaskEvent {
        let mut event = task(OOM);
        event.detail.task_arn = format!(
            "{}{n:04}",
            &event.detail.task_arn[..event.detail.task_arn.len() - 4]
        );
        event.detail.version = version;
        if version < 6 {
            event.detail.last_status = Some(TaskStatus::Running);
            event.detail.stop_code = None;
            event.detail.stopped_at = None;
        }
        event
    }

    fn inputs(events: &[TaskEvent]) -> Vec<Input<'static>> {
        events
            .iter()
            .map(|e| Input::Event(Box::new(e.clone())))
            .collect()
    }

    #[tokio::test]
    async fn a_failed_stop_alerts_once_whatever_delivers_it_how_often() {
        let pipeline = alerting(FlakyTopic::default());
        // Shuffled, duplicated, over several batches: the stop first, then older versions, then the
        // stop again (a duplicate), then a batch holding it twice.
        let batches = [
            vec![oom(0, 6), oom(0, 4)],
            vec![oom(0, 5), oom(0, 6)],
            vec![oom(0, 6), oom(0, 6)],
        ];
        for batch in &batches {
            pipeline.process(inputs(batch)).await;
        }
        let messages = sent(&pipeline);
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert_eq!(messages[0].attributes["kind"], "out-of-memory");
        assert_eq!(
            pipeline.store().alert_ends().values().collect::<Vec<_>>(),
            [&AlertEnd::Sent]
        );
        let tally = pipeline.take_alert_tally();
        assert_eq!(
            tally.sent[&AlertKind::Task(crate::core::diagnosis::Kind::OutOfMemory)],
            1
        );
        assert_eq!(pipeline.take_alert_tally(), AlertTally::default(), "taken");
    }

    #[tokio::test]
    async fn a_clean_stop_and_a_stop_too_old_to_page_about_alert_nothing() {
        let pipeline = alerting(FlakyTopic::default());
        let outcomes = pipeline
            .process(vec![Input::Body {
                source: None,
                text: CLEAN_STOP,
            }])
            .await;
        assert_eq!(outcomes, [Outcome::Fresh { enriched: false }]);
        assert!(
            pipeline.store().alert_ends().is_empty(),
            "no claim for a clean stop"
        );

        let recent_only = Pipeline::new(
            MemoryEcs::default(),
            MemoryStore::default(),
            Settings::default(),
        )
        .with_alerts(Some((MemoryTopic::default(), AlertRules::default())));
        let outcomes = recent_only.process(inputs(&[oom(0, 6)])).await;
        assert_eq!(
            outcomes,
            [Outcome::Fresh { enriched: false }],
            "recorded all the same"
        );
        assert!(
            recent_only.alert_sink().unwrap().sent().is_empty(),
            "from 2026-11-20: too old"
        );
    }

    #[tokio::test]
    async fn a_failed_publish_fails_the_event_and_its_redelivery_sends_the_alert() {
        let pipeline = alerting(FlakyTopic {
            failures: AtomicUsize::new(1),
            ..FlakyTopic::default()
        });
        let first = pipeline.process(inputs(&[oom(0, 5), oom(0, 6)])).await;
        assert!(
            first
                .iter()
                .all(|o| matches!(o, Outcome::Failed { reason } if reason.contains("alert"))),
            "{first:?}"
        );
        assert!(
            pipeline
                .store()
                .snapshot(&oom(0, 6).detail.task_arn)
                .is_none(),
            "not advanced"
        );
        assert_eq!(
            pipeline.store().history(&oom(0, 6).detail.task_arn).len(),
            2,
            "recorded"
        );
        assert_eq!(pipeline.take_alert_tally().failed, 1);

        let again = pipeline.process(inputs(&[oom(0, 6)])).await;
        assert_eq!(again, [Outcome::Fresh { enriched: false }]);
        assert_eq!(sent(&pipeline).len(), 1);
        assert_eq!(
            pipeline.process(inputs(&[oom(0, 6)])).await,
            [Outcome::Duplicate]
        );
        assert_eq!(sent(&pipeline).len(), 1);
    }

    #[tokio::test]
    async fn a_message_sns_refuses_for_good_is_given_up_and_the_event_recorded() {
        let pipeline = alerting(FlakyTopic {
            failures: AtomicUsize::new(1),
            class: Some(ErrorClass::Validation),
            ..FlakyTopic::default()
        });
        assert_eq!(
            pipeline.process(inputs(&[oom(0, 6)])).await,
            [Outcome::Fresh { enriched: false }]
        );
        assert_eq!(
            pipeline.store().alert_ends().values().collect::<Vec<_>>(),
            [&AlertEnd::Unsendable]
        );
        pipeline.process(inputs(&[oom(0, 6)])).await;
        assert!(sent(&pipeline).is_empty());
    }

    #[tokio::test]
    async fn another_deliverys_claim_holds_off_a_second_alert_until_its_lease_runs_out() {
        let pipeline = alerting(FlakyTopic::default());
        let task_arn = oom(0, 6).detail.task_arn;
        let lease = Duration::seconds(ALERT_LEASE_SECONDS);
        // A delivery that claimed the alert and is still at it (or died a moment ago).
        let claim = pipeline
            .store()
            .claim_alert(&task_arn, "other", lease)
            .await;
        assert_eq!(claim.unwrap(), Claim::Won);
        let outcomes = pipeline.process(inputs(&[oom(0, 6)])).await;
        assert!(
            matches!(&outcomes[0], Outcome::Failed { reason } if reason.contains("lease")),
            "{outcomes:?}"
        );
        assert!(sent(&pipeline).is_empty());
        // Its lease runs out (a release ends it at once): this delivery sends the alert.
        pipeline
            .store()
            .release_alert(&task_arn, "other")
            .await
            .unwrap();
        assert_eq!(
            pipeline.process(inputs(&[oom(0, 6)])).await,
            [Outcome::Fresh { enriched: false }]
        );
        assert_eq!(sent(&pipeline).len(), 1);
    }

    /// 30 tasks of one group fail within one window: the first three alert on their own, the
    /// fourth sends the window's summary, the other 26 are recorded without a message.
    #[tokio::test]
    async fn a_crash_loop_sends_three_alerts_and_one_summary() {
        let pipeline = alerting(FlakyTopic::default());
        for chunk in (0..30).map(|n| oom(n, 6)).collect::<Vec<_>>().chunks(10) {
            let outcomes = pipeline.process(inputs(chunk)).await;
            assert!(outcomes
                .iter()
                .all(|o| *o == Outcome::Fresh { enriched: false }));
        }
        let messages = sent(&pipeline);
        let kinds: Vec<&str> = messages
            .iter()
            .map(|m| m.attributes["kind"].as_str())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "out-of-memory").count(),
            3,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == CRASH_LOOP).count(),
            1,
            "{kinds:?}"
        );
        let summary = messages
            .iter()
            .find(|m| m.attributes["kind"] == CRASH_LOOP)
            .unwrap();
        let counted: usize = summary.attributes["failures"].parse().unwrap();
        assert!(counted >= 4, "{}", summary.subject);
        assert!(
            summary.subject.contains("exit 137 out-of-memory"),
            "{}",
            summary.subject
        );
        let tally = pipeline.take_alert_tally();
        assert_eq!(tally.suppressed, 26);
        let ends = pipeline.store().alert_ends();
        assert_eq!(ends.len(), 30);
        assert_eq!(
            ends.values()
                .filter(|e| **e == AlertEnd::Suppressed)
                .count(),
            26
        );

        // The loop goes on into the next window: one summary at its first failure, then quiet.
        let next = |n: usize| {
            let mut event = oom(n, 6);
            event.detail.stopped_at = event.detail.stopped_at.map(|t| t + Duration::minutes(5));
            event
        };
        pipeline.process(inputs(&[next(100), next(101)])).await;
        let messages = sent(&pipeline);
        assert_eq!(messages.len(), 5, "{:#?}", &messages[4..]);
        assert_eq!(messages[4].attributes["kind"], CRASH_LOOP);
        assert!(messages[4].body.contains("goes on"), "{}", messages[4].body);
    }
}
