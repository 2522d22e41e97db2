//! `replay`: saved events, or the dead-letter queue's messages, through the same pipeline as the
//! function. A DLQ message is deleted only after all its events were recorded or found already
//! recorded (fresh, duplicate, stale, gap filled); failed, unreadable and foreign messages are kept.

use std::io::{Read, Write};
use std::path::Path;

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use ecs_task_history::aws::error::service_error;
use ecs_task_history::core::outcome::{Counts, Outcome};
use ecs_task_history::pipeline::{Input, Pipeline};
use ecs_task_history::ports::{AlertLedger, AlertSink, TaskDescriber, TaskStore};
use serde_json::{json, Value};

use crate::args::{Format, ReplayArgs};
use crate::context::Context;
use crate::error::{CliError, ErrorKind};
use crate::output::clip;
use crate::table::Table;

/// Sources sent through the pipeline together: one batch, like an SQS batch of the function.
const BATCH: usize = 100;
/// Seconds a received DLQ message stays hidden while this run works on it.
const DLQ_VISIBILITY_SECONDS: i32 = 120;

/// One thing to replay: a file, a line of a file, or a DLQ message.
#[derive(Clone, Debug)]
pub struct Source {
    pub label: String,
    pub body: String,
    /// The DLQ receipt handle, for deleting the message once processed.
    pub receipt: Option<String>,
}

/// What became of one source's events.
#[derive(Clone, Debug, Default)]
pub struct Replayed {
    pub outcomes: Vec<Outcome>,
}

impl Replayed {
    /// Every event recorded or already recorded: safe to delete from the DLQ.
    pub fn processed(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(Outcome::is_recorded)
    }
}

/// What to list about an outcome that left its event out of the history.
fn problem(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Skipped {
            source,
            detail_type,
        } => Some(format!("not a task state change: {source} / {detail_type}")),
        other => other.reason().map(str::to_owned),
    }
}

pub async fn run(
    context: &Context,
    args: &ReplayArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let pipeline = context.aws.pipeline(&context.config()?);
    let mut summary = Summary::default();
    if let Some(queue_url) = &args.dlq {
        summary.origin = format!("dead-letter queue {queue_url}");
        drain_dlq(context, &pipeline, queue_url, &mut summary, err).await?;
    } else if let Some(path) = &args.path {
        let sources = read_sources(path)?;
        summary.origin = format!("{}", path.display());
        for chunk in sources.chunks(BATCH) {
            let results = replay(&pipeline, chunk).await;
            summary.add(chunk, &results);
        }
    }
    summary
        .show(context.style.format, out)
        .map_err(|err| CliError::io("writing the output", err))?;
    let not_recorded = summary.counts.not_recorded();
    if not_recorded > 0 {
        return Err(CliError::new(
            ErrorKind::NotRecorded,
            format!("{not_recorded} event(s) were not recorded"),
            "failed ones can be replayed again once the cause is fixed; rejected ones can never be recorded as they are",
        ));
    }
    Ok(())
}

/// Files and directories (every `*.json`, sorted) or standard input, as sources.
fn read_sources(path: &Path) -> Result<Vec<Source>, CliError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| CliError::io("reading standard input", err))?;
        return Ok(split("stdin", text));
    }
    let metadata = std::fs::metadata(path)
        .map_err(|err| CliError::io(&format!("reading {}", path.display()), err))?;
    if !metadata.is_dir() {
        let text = std::fs::read_to_string(path)
            .map_err(|err| CliError::io(&format!("reading {}", path.display()), err))?;
        return Ok(split(&path.display().to_string(), text));
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .map_err(|err| CliError::io(&format!("listing {}", path.display()), err))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|file| {
            file.extension()
                .is_some_and(|ext| ext == "json" || ext == "jsonl")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::new(
            ErrorKind::NotFound,
            format!("no *.json files in {}", path.display()),
            "point replay at a file, a directory of saved events, or - for standard input",
        ));
    }
    let mut sources = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|err| CliError::io(&format!("reading {}", file.display()), err))?;
        sources.extend(split(&file.display().to_string(), text));
    }
    Ok(sources)
}

/// One JSON document is one source; otherwise every non-empty line is one (JSON lines).
fn split(label: &str, text: String) -> Vec<Source> {
    if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok() || !text.trim().contains('\n') {
        return vec![Source {
            label: label.to_owned(),
            body: text,
            receipt: None,
        }];
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| Source {
            label: format!("{label}:{}", number + 1),
            body: line.to_owned(),
            receipt: None,
        })
        .collect()
}

/// The events a body holds: itself, a JSON array of events, an SQS batch (`Records[].body`), or a
/// Lambda on-failure destination record (`requestPayload`). A body that is not JSON is returned as
/// it is, for the pipeline to reject like the function would.
pub fn unwrap(body: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return vec![body.to_owned()];
    };
    let mut events = Vec::new();
    expand(value, &mut events);
    events
}

fn expand(value: Value, events: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|item| expand(item, events)),
        Value::Object(mut map) if map.contains_key("requestPayload") => {
            expand(map.remove("requestPayload").unwrap_or_default(), events)
        }
        Value::Object(mut map) if map.get("Records").is_some_and(Value::is_array) => {
            if let Some(Value::Array(records)) = map.remove("Records") {
                for record in records {
                    match record.get("body") {
                        Some(Value::String(body)) => events.push(body.clone()),
                        _ => events.push(record.to_string()),
                    }
                }
            }
        }
        other => events.push(other.to_string()),
    }
}

/// Sends every source's events through the pipeline as one batch; what became of each source.
pub async fn replay<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    sources: &[Source],
) -> Vec<Replayed> {
    let bodies: Vec<(usize, String)> = sources
        .iter()
        .enumerate()
        .flat_map(|(position, source)| {
            unwrap(&source.body)
                .into_iter()
                .map(move |body| (position, body))
        })
        .collect();
    let inputs = bodies
        .iter()
        .map(|(position, body)| Input::Body {
            source: Some(sources[*position].label.as_str()),
            text: body,
        })
        .collect();
    let mut results = vec![Replayed::default(); sources.len()];
    for ((position, _), outcome) in bodies.iter().zip(pipeline.process(inputs).await) {
        results[*position].outcomes.push(outcome);
    }
    results
}

/// The dead-letter queue being drained.
struct Dlq<'a> {
    sqs: aws_sdk_sqs::Client,
    queue_url: &'a str,
}

impl Dlq<'_> {
    /// The next messages (hidden from other readers while this run works on them); none at the end.
    async fn receive(&self) -> Result<Vec<Source>, CliError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(DLQ_VISIBILITY_SECONDS)
            .send()
            .await
            .map_err(|err| {
                CliError::aws(
                    service_error("SQS ReceiveMessage", self.queue_url, &err),
                    "sqs:ReceiveMessage on the queue",
                )
            })?;
        Ok(output
            .messages
            .unwrap_or_default()
            .iter()
            .map(|message| Source {
                label: format!("message {}", message.message_id().unwrap_or("?")),
                body: message.body().unwrap_or_default().to_owned(),
                receipt: message.receipt_handle().map(str::to_owned),
            })
            .collect())
    }

    /// Deletes these messages; counts them, and lists any SQS would not delete.
    async fn delete(&self, receipts: &[&str], summary: &mut Summary) -> Result<(), CliError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut entries = Vec::with_capacity(receipts.len());
        for (position, receipt) in receipts.iter().enumerate() {
            entries.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(position.to_string())
                    .receipt_handle(*receipt)
                    .build()
                    .map_err(|err| {
                        CliError::new(ErrorKind::Aws, err.to_string(), "report this as a bug")
                    })?,
            );
        }
        let deleted = self
            .sqs
            .delete_message_batch()
            .queue_url(self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| {
                CliError::aws(
                    service_error("SQS DeleteMessageBatch", self.queue_url, &err),
                    "sqs:DeleteMessage on the queue",
                )
            })?;
        summary.deleted += deleted.successful().len();
        for failure in deleted.failed() {
            summary.problems.push((
                "kept".to_owned(),
                "failed",
                format!(
                    "could not delete message: {}",
                    failure.message().unwrap_or(failure.code())
                ),
            ));
        }
        Ok(())
    }

    /// Kept messages become visible again at once, for inspection or the next replay.
    async fn release(&self, receipts: Vec<String>) {
        for receipt in receipts {
            let _ = self
                .sqs
                .change_message_visibility()
                .queue_url(self.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }
}

/// Replays the queue's messages until it is empty, deleting each one whose events are all in the
/// history now and keeping the others.
async fn drain_dlq<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    context: &Context,
    pipeline: &Pipeline<D, S, A>,
    queue_url: &str,
    summary: &mut Summary,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let dlq = Dlq {
        sqs: context.sqs(),
        queue_url,
    };
    let mut kept = Vec::new();
    loop {
        let sources = dlq.receive().await?;
        if sources.is_empty() {
            break;
        }
        let results = replay(pipeline, &sources).await;
        let mut done = Vec::new();
        for (source, result) in sources.iter().zip(&results) {
            match &source.receipt {
                Some(receipt) if result.processed() => done.push(receipt.as_str()),
                Some(receipt) => kept.push(receipt.clone()),
                None => {}
            }
        }
        dlq.delete(&done, summary).await?;
        summary.add(&sources, &results);
        let _ = writeln!(
            err,
            "replay: {} messages processed, {} deleted",
            summary.sources, summary.deleted
        );
    }
    summary.kept = kept.len();
    dlq.release(kept).await;
    Ok(())
}

/// Counts per outcome, and what went wrong where.
#[derive(Debug, Default)]
struct Summary {
    origin: String,
    sources: usize,
    counts: Counts,
    /// (source, outcome, reason)
    problems: Vec<(String, &'static str, String)>,
    deleted: usize,
    kept: usize,
}

impl Summary {
    fn add(&mut self, sources: &[Source], results: &[Replayed]) {
        self.sources += sources.len();
        for (source, result) in sources.iter().zip(results) {
            for outcome in &result.outcomes {
                self.counts.add(outcome);
                if let Some(reason) = problem(outcome) {
                    self.problems
                        .push((source.label.clone(), outcome.label(), reason));
                }
            }
        }
    }

    fn show(&self, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
        let is_dlq = self.origin.starts_with("dead-letter");
        let document = json!({
            "source": self.origin,
            "messages": self.sources,
            "outcomes": self.counts.to_json(),
            "problems": self.problems.iter().map(|(source, outcome, reason)| {
                json!({"source": source, "outcome": outcome, "reason": reason})
            }).collect::<Vec<Value>>(),
            "deleted": if is_dlq { Some(self.deleted) } else { None },
            "kept": if is_dlq { Some(self.kept) } else { None },
        });
        match format {
            Format::Json => writeln!(out, "{document:#}"),
            Format::Jsonl => writeln!(out, "{document}"),
            Format::Table | Format::Html => {
                let events = self.counts.received();
                writeln!(
                    out,
                    "Replayed {events} event(s) from {} source(s) of {}",
                    self.sources, self.origin
                )?;
                let mut table = Table::new(&["OUTCOME", "COUNT"]).align_right(&[1]);
                for (label, count) in self.counts.by_label() {
                    table.row(vec![label.to_owned(), count.to_string()]);
                }
                out.write_all(table.render().as_bytes())?;
                if is_dlq {
                    writeln!(
                        out,
                        "DLQ: {} message(s) deleted, {} kept",
                        self.deleted, self.kept
                    )?;
                }
                if !self.problems.is_empty() {
                    writeln!(out)?;
                    let mut table = Table::new(&["SOURCE", "OUTCOME", "REASON"]);
                    for (source, outcome, reason) in &self.problems {
                        table.row(vec![
                            source.clone(),
                            (*outcome).to_owned(),
                            clip(reason, 100),
                        ]);
                    }
                    out.write_all(table.render().as_bytes())?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_unwrap_from_every_shape_the_dlq_and_files_hold() {
        let event = r#"{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{}}"#;
        assert_eq!(unwrap(event).len(), 1);
        let destination = format!(
            r#"{{"version":"1.0","requestContext":{{"condition":"RetriesExhausted"}},"requestPayload":{event},"responsePayload":{{}}}}"#
        );
        let unwrapped = unwrap(&destination);
        assert_eq!(unwrapped.len(), 1);
        assert!(unwrapped[0].contains("ECS Task State Change"));
        let batch = json!({"Records": [{"body": event}, {"body": "not json"}]}).to_string();
        assert_eq!(
            unwrap(&batch),
            vec![event.to_owned(), "not json".to_owned()]
        );
        assert_eq!(unwrap(&format!("[{event},{event}]")).len(), 2);
        assert_eq!(
            unwrap("{broken"),
            vec!["{broken".to_owned()],
            "left to the parser"
        );
    }

    #[test]
    fn json_lines_split_into_one_source_per_line() {
        let sources = split("f", "{\"a\":1}\n\n{\"b\":2}\n".to_owned());
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[1].label, "f:3");
        let whole = split("f", "{\n \"a\": 1\n}\n".to_owned());
        assert_eq!(whole.len(), 1);
    }
}
