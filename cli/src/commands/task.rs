//! `task`: one task's timeline, version by version, from its history records (README access pattern 2).

use std::io::Write;

use ecs_task_history::core::diagnosis::{diagnose, Diagnosis};
use ecs_task_history::core::history::HistoryRecord;
use ecs_task_history::core::timeline::{notes, phases, Note, Phase};
use serde_json::{json, Value};

use super::resolve;
use crate::args::{Format, TaskArgs};
use crate::context::Context;
use crate::error::{CliError, ErrorKind};
use crate::output::{clip, clip_left, duration, status_colour, Colour, Style};
use crate::table::Table;

pub async fn run(context: &Context, args: &TaskArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let reader = context.reader()?;
    for task_arn in candidate_arns(context, args).await? {
        let timeline = reader
            .timeline(&task_arn)
            .await
            .map_err(|err| CliError::table(err, reader.table()))?;
        if !timeline.records.is_empty() {
            let home = context.home_account().await;
            return show(
                context.style,
                &task_arn,
                &timeline.records,
                home.as_deref(),
                out,
            );
        }
    }
    Err(CliError::new(
        ErrorKind::NotFound,
        format!(
            "task {} has no history in table {}",
            args.task,
            reader.table()
        ),
        "ECS keeps stopped tasks about an hour; this task has no history either — was the rule deployed then? \
         Check the task id, --cluster (an id needs its cluster) and --table",
    ))
}

/// The ARNs the argument may stand for: itself, the id in --cluster, or the id in every cluster.
async fn candidate_arns(context: &Context, args: &TaskArgs) -> Result<Vec<String>, CliError> {
    if args.task.starts_with("arn:") {
        return Ok(vec![args.task.clone()]);
    }
    let task_id = args.task.trim();
    if task_id.is_empty() || task_id.contains('/') || task_id.contains(':') {
        return Err(CliError::new(
            ErrorKind::Usage,
            format!("{:?} is neither a task ARN nor a task id", args.task),
            "pass the full task ARN, or the id after the last / with --cluster",
        ));
    }
    let clusters = match &args.cluster {
        Some(cluster) => vec![resolve::cluster(context, cluster, &args.place).await?],
        None => resolve::all_clusters(context).await?,
    };
    Ok(clusters
        .iter()
        .filter_map(|cluster_arn| resolve::task_arn(cluster_arn, task_id))
        .collect())
}

fn show(
    style: Style,
    task_arn: &str,
    records: &[HistoryRecord],
    home: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let write = |err| CliError::io("writing the output", err);
    let json = |record: &HistoryRecord| serde_json::to_value(record).unwrap_or(Value::Null);
    // Computed when read, so a better catalog improves old history too.
    let diagnosis = serde_json::to_value(diagnose(records)).unwrap_or(Value::Null);
    match style.format {
        Format::Json => {
            let document = json!({
                "taskArn": task_arn,
                "versions": records.iter().map(json).collect::<Vec<Value>>(),
                "diagnosis": diagnosis,
            });
            writeln!(out, "{document:#}").map_err(write)
        }
        Format::Jsonl => {
            // One line per version; the newest carries the task's diagnosis.
            for (position, record) in records.iter().enumerate() {
                let mut line = json(record);
                if position + 1 == records.len() {
                    line["diagnosis"] = diagnosis.clone();
                }
                writeln!(out, "{line}").map_err(write)?;
            }
            Ok(())
        }
        Format::Table | Format::Html => out
            .write_all(render(style, records, home).as_bytes())
            .map_err(write),
    }
}

/// The timeline as text: header, versions, phases, stop, containers of the newest version. `home`
/// is the caller's account: a task of another one says whose it is.
pub fn render(style: Style, records: &[HistoryRecord], home: Option<&str>) -> String {
    let Some(newest) = records.last() else {
        return String::new();
    };
    let diagnosis = diagnose(records);
    let mut text = header(style, newest, home);
    text.push('\n');
    text.push_str(&versions(style, records, diagnosis.kind.is_failure()));
    text.push_str(&stop(style, newest, &diagnosis));
    if !newest.containers.is_empty() {
        text.push('\n');
        text.push_str(&containers(style, newest));
    }
    text
}

fn header(style: Style, newest: &HistoryRecord, home: Option<&str>) -> String {
    let bold = |label: &str| style.paint(label, Colour::Bold);
    let mut facts = vec![format!("cluster {}", newest.cluster_name)];
    if home != Some(newest.account.as_str()) && !newest.account.is_empty() {
        facts.push(format!(
            "account {} · region {}",
            newest.account, newest.region
        ));
    }
    if let Some(service) = &newest.service_name {
        facts.push(format!("service {service}"));
    } else if let Some(group) = &newest.group {
        facts.push(format!("group {group}"));
    }
    if let Some(family) = &newest.family {
        let revision = newest.revision.map(|r| format!(":{r}")).unwrap_or_default();
        facts.push(format!("task definition {family}{revision}"));
    }
    if let Some(launch) = &newest.launch_type {
        facts.push(format!("launch type {launch}"));
    }
    if let Some(started_by) = &newest.started_by {
        facts.push(format!("started by {started_by}"));
    }
    let mut text = format!("{}  {}\n", bold("Task"), newest.task_arn);
    text.push_str(&format!("      {}\n", facts.join(" · ")));
    if !newest.tags.values.is_empty() {
        let tags: Vec<String> = newest
            .tags
            .values
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        text.push_str(&format!("{}  {}\n", bold("Tags"), tags.join(" ")));
    }
    text
}

pub(crate) fn note_text(note: &Note) -> String {
    match note {
        Note::NeverRecorded { from, to } if from == to => format!("version {from} never recorded"),
        Note::NeverRecorded { from, to } => format!("versions {from}–{to} never recorded"),
        Note::ArrivedLate => "arrived late".to_owned(),
        Note::Reconciled => "reconciled".to_owned(),
        Note::Truncated => "truncated".to_owned(),
    }
}

/// One row per version: time, status, how long it stayed, and notes; then the phases.
fn versions(style: Style, records: &[HistoryRecord], failed: bool) -> String {
    let mut table = Table::new(&[
        "VERSION",
        &format!("TIME ({})", style.zone()),
        "STATUS",
        "DESIRED",
        "FOR",
        "NOTE",
    ])
    .align_right(&[0, 4]);
    for ((record, next), notes) in records
        .iter()
        .zip(records.iter().skip(1).map(Some).chain([None]))
        .zip(notes(records))
    {
        let status = record.last_status.as_ref().map_or("?", |s| s.as_str());
        table.row(vec![
            record.version.to_string(),
            style.time(record.event_time),
            style.paint(status, status_colour(status, failed)),
            record
                .desired_status
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            next.map(|next| duration(record.event_time, next.event_time))
                .unwrap_or_default(),
            notes.iter().map(note_text).collect::<Vec<_>>().join(", "),
        ]);
    }
    let mut text = table.render();
    let spans: Vec<String> = records
        .last()
        .map(phases)
        .unwrap_or_default()
        .iter()
        .map(|span| match span.to {
            Some(to) => format!("{} {}", span.phase.as_str(), duration(span.from, to)),
            None if span.phase == Phase::Running => {
                format!("running since {}", style.time(span.from))
            }
            None => span.phase.as_str().to_owned(),
        })
        .collect();
    if !spans.is_empty() {
        let label = style.paint("Phases", Colour::Bold);
        text.push_str(&format!("\n{label}  {}\n", spans.join(" · ")));
    }
    text
}

/// The stop as ECS wrote it, then why in plain words and what to check.
fn stop(style: Style, newest: &HistoryRecord, diagnosis: &Diagnosis) -> String {
    let label = style.paint("Stopped", Colour::Bold);
    let colour = if diagnosis.kind.is_failure() {
        Colour::Red
    } else {
        Colour::Dim
    };
    let mut text = match (&newest.stop_code, &newest.stopped_reason) {
        (Some(code), reason) => {
            let line = format!("{code}: {}", reason.as_deref().unwrap_or(""));
            format!(
                "{label} {}\n",
                style.paint(line.trim_end_matches(": "), colour)
            )
        }
        (None, Some(reason)) => format!("{label} {reason}\n"),
        (None, None) => return String::new(),
    };
    let why = style.paint("Why", Colour::Bold);
    text.push_str(&format!(
        "{why}     {}\n",
        style.paint(&diagnosis.explanation, colour)
    ));
    for step in &diagnosis.next_steps {
        text.push_str(&format!("        → {step}\n"));
    }
    text
}

fn containers(style: Style, newest: &HistoryRecord) -> String {
    let mut table =
        Table::new(&["CONTAINER", "IMAGE", "STATUS", "EXIT", "REASON"]).align_right(&[3]);
    for container in &newest.containers {
        let exit_text = container
            .exit_code
            .map(|code| code.to_string())
            .unwrap_or_default();
        table.row(vec![
            container.name.clone().unwrap_or_default(),
            clip_left(container.image.as_deref().unwrap_or(""), 48),
            container
                .last_status
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            match container.exit_code {
                Some(code) if code != 0 => style.paint(&exit_text, Colour::Red),
                _ => exit_text,
            },
            clip(container.reason.as_deref().unwrap_or(""), 80),
        ]);
    }
    table.render()
}
