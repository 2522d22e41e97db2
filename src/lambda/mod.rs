//! The Lambda boundary: the payload shapes a deployment produces (an SQS batch of events, one
//! EventBridge event, or a scheduled event asking for reconciliation) in; an SQS partial batch
//! response, an answer or an invocation error out; one summary line and one metrics line each.

pub mod metrics;

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Diagnostic;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::{error, info, warn};

use crate::aws::usage::Usage;
use crate::config::Config;
use crate::config::MetricsTarget;
use crate::core::outcome::{Counts, Outcome};
use crate::pipeline::{Input, Pipeline};
use crate::ports::{AlertLedger, AlertSink, NoAlerts, TaskDescriber, TaskStore};
use crate::reconcile::run_scheduled;
use metrics::{alert_lines, emf_line};

/// The EventBridge `source` of scheduled events (rules with a schedule expression).
pub const SCHEDULE_SOURCE: &str = "aws.events";
/// The EventBridge `detail-type` of scheduled events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// Why an invocation as a whole failed. The variant decides whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The event can never be recorded; Lambda's async on-failure destination keeps it.
    #[error("rejected event {event_id}: {reason}")]
    Rejected { event_id: String, reason: String },
    /// A dependency failed; the same event delivered again will be recorded.
    #[error("event {event_id} for {task_arn} version {version} was not recorded: {reason}")]
    NotRecorded {
        event_id: String,
        task_arn: String,
        version: u64,
        reason: String,
    },
    /// The SQS envelope itself is unreadable, so no record can be reported on its own.
    #[error("malformed SQS batch: {0}")]
    MalformedBatch(serde_json::Error),
    /// The batch response could not be encoded; failing the invocation makes SQS retry the batch
    /// rather than read an empty failure list as "all done".
    #[error("could not encode the batch response: {0}")]
    Encode(serde_json::Error),
    /// Some records failed but carry no messageId to report them by: fail the whole batch instead.
    #[error("{0} failed SQS records have no messageId; failing the whole batch so none is lost")]
    UnreportableFailures(usize),
}

impl InvocationError {
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::NotRecorded { .. } | Self::UnreportableFailures(_)
        )
    }
}

impl From<InvocationError> for Diagnostic {
    fn from(err: InvocationError) -> Self {
        Diagnostic {
            error_type: if err.retryable() {
                "Retryable"
            } else {
                "NonRetryable"
            }
            .to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Which payload shape an invocation carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    #[default]
    EventBridge,
    Sqs,
    Schedule,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventBridge => "eventbridge",
            Self::Sqs => "sqs",
            Self::Schedule => "schedule",
        }
    }
}

/// What one invocation did: its summary line and metrics are built from this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    pub shape: Shape,
    pub counts: Counts,
    /// SQS records reported back for redelivery.
    pub batch_item_failures: usize,
}

impl Invocation {
    pub fn log(&self) {
        let counts = &self.counts;
        info!(
            shape = self.shape.as_str(),
            received = counts.received(),
            fresh = counts.fresh,
            duplicate = counts.duplicate,
            stale = counts.stale,
            gap_filled = counts.gap_filled,
            skipped = counts.skipped,
            rejected = counts.rejected,
            failed = counts.failed,
            batch_item_failures = self.batch_item_failures,
            "invocation summary"
        );
    }
}

/// The deployed function: the pipeline, what a schedule reconciles, and where metrics go.
pub struct Function<D, S, A = NoAlerts> {
    pub pipeline: Pipeline<D, S, A>,
    pub reconcile_clusters: Vec<String>,
    pub usage: Arc<Usage>,
    pub metrics: Option<MetricsTarget>,
}

impl<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink> Function<D, S, A> {
    pub fn new(pipeline: Pipeline<D, S, A>, config: &Config, usage: Arc<Usage>) -> Self {
        Self {
            pipeline,
            reconcile_clusters: config.reconcile_clusters.clone(),
            usage,
            metrics: config.metrics.clone(),
        }
    }

    /// One invocation, whatever its shape; prints its metrics line.
    pub async fn invoke(&self, payload: &RawValue) -> Result<Value, InvocationError> {
        if is_scheduled_event(payload.get()) {
            let answer = run_scheduled(&self.pipeline, &self.reconcile_clusters).await;
            // Reconciliation logs its own summary lines; its requests are not event metrics, but
            // the alerts it sent (failures whose events were lost) are counted by kind.
            self.usage.take();
            let alerts = self.pipeline.take_alert_tally();
            if let Some(target) = &self.metrics {
                let timestamp = chrono::Utc::now().timestamp_millis();
                for line in alert_lines(target, &alerts, timestamp) {
                    println!("{line}");
                }
            }
            return Ok(answer);
        }
        let (result, invocation) = handle_counted(&self.pipeline, payload).await;
        invocation.log();
        let spent = self.usage.take();
        let alerts = self.pipeline.take_alert_tally();
        if let Some(target) = &self.metrics {
            let timestamp = chrono::Utc::now().timestamp_millis();
            println!(
                "{}",
                emf_line(target, &invocation, &spent, &alerts, timestamp)
            );
            for line in alert_lines(target, &alerts, timestamp) {
                println!("{line}");
            }
        }
        result
    }
}

/// Whether a Lambda payload is an EventBridge scheduled event (`aws.events` / `Scheduled Event`).
pub fn is_scheduled_event(payload: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        source: Option<String>,
        #[serde(rename = "detail-type")]
        detail_type: Option<String>,
    }
    serde_json::from_str::<Probe>(payload).is_ok_and(|probe| {
        probe.source.as_deref() == Some(SCHEDULE_SOURCE)
            && probe.detail_type.as_deref() == Some(SCHEDULED_EVENT)
    })
}

/// Handles one payload of either event shape and logs its summary line.
pub async fn handle<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    payload: &RawValue,
) -> Result<Value, InvocationError> {
    let (result, invocation) = handle_counted(pipeline, payload).await;
    invocation.log();
    result
}

/// Only the key that tells the shapes apart.
#[derive(Deserialize)]
struct ShapeProbe {
    #[serde(rename = "Records")]
    records: Option<serde::de::IgnoredAny>,
}

/// Handles one payload of either event shape; says what it did.
pub async fn handle_counted<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    payload: &RawValue,
) -> (Result<Value, InvocationError>, Invocation) {
    let is_sqs = serde_json::from_str::<ShapeProbe>(payload.get())
        .is_ok_and(|probe| probe.records.is_some());
    if !is_sqs {
        return handle_event(pipeline, payload.get()).await;
    }
    let mut invocation = Invocation {
        shape: Shape::Sqs,
        ..Invocation::default()
    };
    let batch: SqsEvent = match serde_json::from_str(payload.get()) {
        Ok(batch) => batch,
        Err(err) => {
            error!(error = %err, "malformed SQS batch");
            return (Err(InvocationError::MalformedBatch(err)), invocation);
        }
    };
    let result = handle_sqs(pipeline, &batch, &mut invocation)
        .await
        .and_then(|response| serde_json::to_value(response).map_err(InvocationError::Encode));
    (result, invocation)
}

/// An SQS batch: every record gets its own outcome; failures are reported by messageId only, so
/// SQS redelivers just those (and, after maxReceiveCount, moves them to the dead-letter queue).
async fn handle_sqs<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    batch: &SqsEvent,
    invocation: &mut Invocation,
) -> Result<SqsBatchResponse, InvocationError> {
    let inputs = batch
        .records
        .iter()
        .map(|record| Input::Body {
            source: record.message_id.as_deref(),
            text: record.body.as_deref().unwrap_or(""),
        })
        .collect();
    let outcomes = pipeline.process(inputs).await;
    invocation.counts = Counts::of(&outcomes);
    let mut response = SqsBatchResponse::default();
    let mut unreportable = 0;
    for (record, outcome) in batch.records.iter().zip(&outcomes) {
        if !outcome.needs_redelivery() {
            continue;
        }
        invocation.batch_item_failures += 1;
        match record.message_id.as_deref() {
            Some(message_id) if !message_id.is_empty() => response.add_failure(message_id),
            _ => unreportable += 1,
        }
    }
    if unreportable > 0 {
        return Err(InvocationError::UnreportableFailures(unreportable));
    }
    Ok(response)
}

/// A single EventBridge event (rule → function): failure fails the invocation, so Lambda's async
/// retries and on-failure destination take over.
async fn handle_event<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    body: &str,
) -> (Result<Value, InvocationError>, Invocation) {
    let outcome = pipeline
        .process(vec![Input::Body {
            source: None,
            text: body,
        }])
        .await
        .pop()
        .unwrap_or(Outcome::Failed {
            reason: "internal: no outcome".into(),
        });
    let invocation = Invocation {
        shape: Shape::EventBridge,
        counts: Counts::of([&outcome]),
        batch_item_failures: 0,
    };
    let who = crate::core::rejected::identify(body);
    let answer = match outcome {
        Outcome::Rejected { reason } => Err(InvocationError::Rejected {
            event_id: who.event_id,
            reason,
        }),
        Outcome::Failed { reason } => {
            warn!(
                event_id = who.event_id,
                task_arn = who.task_arn,
                "failing the invocation so the event is retried"
            );
            Err(InvocationError::NotRecorded {
                version: who.version.parse().unwrap_or_default(),
                event_id: who.event_id,
                task_arn: who.task_arn,
                reason,
            })
        }
        Outcome::Skipped { detail_type, .. } => {
            Ok(json!({ "outcome": "skipped", "detailType": detail_type }))
        }
        outcome => Ok(json!({
            "outcome": outcome.label(),
            "taskArn": who.task_arn,
            "version": who.version.parse::<u64>().ok(),
        })),
    };
    (answer, invocation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheduled_events_are_recognised_as_such() {
        assert!(is_scheduled_event(
            r#"{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}"#
        ));
        assert!(!is_scheduled_event(include_str!(
            "../../events/fargate-web-v4-running.json"
        )));
        assert!(!is_scheduled_event("not json"));
    }
}
