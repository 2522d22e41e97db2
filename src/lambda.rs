//! The Lambda boundary: the two payload shapes a deployment produces (one EventBridge event, or an
//! SQS batch of them) in; a summary or an SQS partial batch response out.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::Diagnostic;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::{error, info, warn};

use crate::describe::TaskDescriber;
use crate::event::{parse_event, Parsed, TaskEvent};
use crate::pipeline::{Outcome, Pipeline};
use crate::rejected::identify;
use crate::store::TaskStore;

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

/// What one invocation did: outcome counts for its summary line and its metrics.
#[derive(Debug, Default)]
pub struct Tally {
    shape: &'static str,
    outcomes: BTreeMap<&'static str, usize>,
    batch_item_failures: usize,
}

impl Tally {
    pub fn add(&mut self, label: &'static str) {
        *self.outcomes.entry(label).or_default() += 1;
    }

    pub fn get(&self, label: &str) -> usize {
        self.outcomes.get(label).copied().unwrap_or_default()
    }

    /// Events (or records) the invocation received, whatever became of them.
    pub fn received(&self) -> usize {
        self.outcomes.values().sum()
    }

    /// `sqs` or `eventbridge`.
    pub fn shape(&self) -> &'static str {
        self.shape
    }

    /// SQS records reported back for redelivery.
    pub fn batch_item_failures(&self) -> usize {
        self.batch_item_failures
    }

    pub fn log(&self) {
        info!(
            shape = self.shape,
            received = self.received(),
            fresh = self.get("fresh"),
            duplicate = self.get("duplicate"),
            stale = self.get("stale"),
            gap_filled = self.get("gap_filled"),
            skipped = self.get("skipped"),
            rejected = self.get("rejected"),
            failed = self.get("failed"),
            batch_item_failures = self.batch_item_failures,
            "invocation summary"
        );
    }
}

/// Only the key that tells the shapes apart.
#[derive(Deserialize)]
struct ShapeProbe {
    #[serde(rename = "Records")]
    records: Option<serde::de::IgnoredAny>,
}

/// Handles one invocation payload of either shape and logs its summary line.
pub async fn handle<D: TaskDescriber, S: TaskStore>(
    pipeline: &Pipeline<D, S>,
    payload: &RawValue,
) -> Result<Value, InvocationError> {
    let mut tally = Tally::default();
    let result = handle_counted(pipeline, payload, &mut tally).await;
    tally.log();
    result
}

/// Handles one invocation payload of either shape, counting what happened into `tally`.
pub async fn handle_counted<D: TaskDescriber, S: TaskStore>(
    pipeline: &Pipeline<D, S>,
    payload: &RawValue,
    tally: &mut Tally,
) -> Result<Value, InvocationError> {
    let is_sqs = serde_json::from_str::<ShapeProbe>(payload.get())
        .map(|probe| probe.records.is_some())
        .unwrap_or(false);
    if is_sqs {
        tally.shape = "sqs";
        let batch: SqsEvent = serde_json::from_str(payload.get()).map_err(|err| {
            error!(error = %err, "malformed SQS batch");
            InvocationError::MalformedBatch(err)
        })?;
        let response = handle_sqs(pipeline, batch, tally).await?;
        serde_json::to_value(response).map_err(InvocationError::Encode)
    } else {
        tally.shape = "eventbridge";
        handle_event(pipeline, payload.get(), tally).await
    }
}

/// An SQS batch: every record gets its own outcome; failures are reported by messageId only, so
/// SQS redelivers just those (and, after maxReceiveCount, moves them to the dead-letter queue).
pub async fn handle_sqs<D: TaskDescriber, S: TaskStore>(
    pipeline: &Pipeline<D, S>,
    batch: SqsEvent,
    tally: &mut Tally,
) -> Result<SqsBatchResponse, InvocationError> {
    let mut events: Vec<TaskEvent> = Vec::with_capacity(batch.records.len());
    let mut owners: Vec<usize> = Vec::with_capacity(batch.records.len());
    let mut failed: Vec<usize> = Vec::new();

    for (position, record) in batch.records.iter().enumerate() {
        let message_id = record.message_id.as_deref().unwrap_or("");
        let body = record.body.as_deref().unwrap_or("");
        match parse_event(body) {
            Ok(Parsed::Task(event)) => {
                events.push(*event);
                owners.push(position);
            }
            Ok(Parsed::Other {
                source,
                detail_type,
            }) => {
                info!(
                    message_id,
                    source,
                    detail_type,
                    outcome = "skipped",
                    "not a task state change; skipped"
                );
                tally.add("skipped");
            }
            Err(err) => {
                let who = identify(body);
                error!(message_id, event_id = who.event_id, task_arn = who.task_arn, version = who.version, error = %err, outcome = "rejected", "unreadable SQS record; reported as a batch item failure so it reaches the dead-letter queue");
                tally.add("rejected");
                failed.push(position);
            }
        }
    }

    let outcomes = pipeline.process(&events, Utc::now()).await;
    for (outcome, &position) in outcomes.iter().zip(&owners) {
        tally.add(outcome.label());
        if outcome.is_failure() {
            failed.push(position);
        }
    }
    tally.batch_item_failures = failed.len();

    let mut response = SqsBatchResponse::default();
    let mut unreportable = 0;
    failed.sort_unstable();
    for position in failed {
        match batch.records[position].message_id.as_deref() {
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
pub async fn handle_event<D: TaskDescriber, S: TaskStore>(
    pipeline: &Pipeline<D, S>,
    body: &str,
    tally: &mut Tally,
) -> Result<Value, InvocationError> {
    match parse_event(body) {
        Err(err) => {
            let who = identify(body);
            error!(event_id = who.event_id, task_arn = who.task_arn, version = who.version, error = %err, outcome = "rejected", "unreadable event");
            tally.add("rejected");
            Err(InvocationError::Rejected {
                event_id: who.event_id,
                reason: err.to_string(),
            })
        }
        Ok(Parsed::Other {
            source,
            detail_type,
        }) => {
            info!(
                source,
                detail_type,
                outcome = "skipped",
                "not a task state change; skipped"
            );
            tally.add("skipped");
            Ok(json!({ "outcome": "skipped", "detailType": detail_type }))
        }
        Ok(Parsed::Task(event)) => {
            let outcome = pipeline
                .process(std::slice::from_ref(&event), Utc::now())
                .await
                .pop()
                .unwrap_or(Outcome::Failed {
                    reason: "internal: no outcome".into(),
                });
            tally.add(outcome.label());
            let detail = &event.detail;
            match outcome {
                Outcome::Failed { reason } => {
                    warn!(event_id = event.id.as_deref().unwrap_or(""), task_arn = %detail.task_arn, version = detail.version, "failing the invocation so the event is retried");
                    Err(InvocationError::NotRecorded {
                        event_id: event.id.clone().unwrap_or_default(),
                        task_arn: detail.task_arn.clone(),
                        version: detail.version,
                        reason,
                    })
                }
                outcome => Ok(json!({
                    "outcome": outcome.label(),
                    "taskArn": detail.task_arn,
                    "version": detail.version,
                })),
            }
        }
    }
}
