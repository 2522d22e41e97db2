//! `task`: one task's timeline, version by version, from its history records (README access pattern 2).

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::cluster::is_failed;
use super::error::{CliError, ErrorKind};
use super::output::{clip, clip_left, duration, status_colour, Colour, Style};
use super::table::Table;
use super::{args::TaskArgs, resolve, Context, Format};
use crate::dynamodb::items::Item;
use crate::dynamodb::query::HistoryReader;
use crate::dynamodb::records::{history_from_item, is_reconciled, item_to_json};
use crate::history::HistoryRecord;

pub async fn run(context: &Context, args: &TaskArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let reader = HistoryReader::new(context.dynamodb(), context.table()?);
    let candidates = candidate_arns(context, args).await?;
    for task_arn in &candidates {
        let items = reader.task_history(task_arn).await?;
        if !items.is_empty() {
            return show(context.style, task_arn, &items, out);
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
    let ecs = context.ecs();
    let clusters = match &args.cluster {
        Some(cluster) => vec![resolve::cluster_arn(&ecs, cluster).await?],
        None => resolve::all_clusters(&ecs).await?,
    };
    Ok(clusters
        .iter()
        .filter_map(|cluster_arn| resolve::task_arn_in(cluster_arn, task_id))
        .collect())
}

fn show(style: Style, task_arn: &str, items: &[Item], out: &mut dyn Write) -> Result<(), CliError> {
    let write = |err| CliError::io("writing the output", err);
    match style.format {
        Format::Json => {
            let document = json!({
                "taskArn": task_arn,
                "versions": items.iter().map(item_to_json).collect::<Vec<Value>>(),
            });
            writeln!(out, "{document:#}").map_err(write)
        }
        Format::Jsonl => {
            for item in items {
                writeln!(out, "{}", item_to_json(item)).map_err(write)?;
            }
            Ok(())
        }
        Format::Table => {
            let mut records = Vec::with_capacity(items.len());
            for item in items {
                match history_from_item(item) {
                    Ok(record) => records.push(record),
                    Err(err) => writeln!(out, "warning: skipping {err}").map_err(write)?,
                }
            }
            out.write_all(render(style, &records).as_bytes())
                .map_err(write)
        }
    }
}

/// The timeline as text: header, versions, phases, stop, containers of the newest version.
pub fn render(style: Style, records: &[HistoryRecord]) -> String {
    let Some(newest) = records.last() else {
        return String::new();
    };
    let mut text = String::new();
    let bold = |label: &str| style.paint(label, Colour::Bold);
    text.push_str(&format!("{}  {}\n", bold("Task"), newest.task_arn));
    let mut facts = vec![format!("cluster {}", newest.cluster_name)];
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
    text.push('\n');

    let mut table = Table::new(&[
        "VERSION",
        &format!("TIME ({})", style.zone()),
        "STATUS",
        "DESIRED",
        "FOR",
        "NOTE",
    ])
    .align_right(&[0, 4]);
    for (position, record) in records.iter().enumerate() {
        let next = records.get(position + 1);
        let status = record
            .last_status
            .as_ref()
            .map(|s| s.as_str())
            .unwrap_or("?");
        let mut notes = Vec::new();
        if position > 0 && record.version > records[position - 1].version + 1 {
            let from = records[position - 1].version + 1;
            let to = record.version - 1;
            notes.push(if from == to {
                format!("version {from} never recorded")
            } else {
                format!("versions {from}–{to} never recorded")
            });
        }
        if record.late_arrival {
            notes.push("arrived late".to_owned());
        }
        if is_reconciled(record) {
            notes.push("reconciled".to_owned());
        }
        if record.truncated {
            notes.push("truncated".to_owned());
        }
        table.row(vec![
            record.version.to_string(),
            style.time(record.event_time),
            style.paint(status, status_colour(status, is_failed(record))),
            record
                .desired_status
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            next.map(|next| duration(record.event_time, next.event_time))
                .unwrap_or_default(),
            notes.join(", "),
        ]);
    }
    text.push_str(&table.render());

    let phases = phases(newest, style);
    if !phases.is_empty() {
        text.push_str(&format!("\n{}  {}\n", bold("Phases"), phases.join(" · ")));
    }
    if let Some(code) = &newest.stop_code {
        let reason = newest.stopped_reason.as_deref().unwrap_or("");
        let line = format!("{code}: {reason}");
        text.push_str(&format!(
            "{} {}\n",
            bold("Stopped"),
            style.paint(
                line.trim_end_matches(": "),
                if is_failed(newest) {
                    Colour::Red
                } else {
                    Colour::Dim
                }
            )
        ));
    } else if let Some(reason) = &newest.stopped_reason {
        text.push_str(&format!("{} {reason}\n", bold("Stopped")));
    }

    if !newest.containers.is_empty() {
        text.push('\n');
        let mut table =
            Table::new(&["CONTAINER", "IMAGE", "STATUS", "EXIT", "REASON"]).align_right(&[3]);
        for container in &newest.containers {
            let exit = container.exit_code;
            let exit_text = exit.map(|code| code.to_string()).unwrap_or_default();
            table.row(vec![
                container.name.clone().unwrap_or_default(),
                clip_left(container.image.as_deref().unwrap_or(""), 48),
                container
                    .last_status
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                match exit {
                    Some(code) if code != 0 => style.paint(&exit_text, Colour::Red),
                    _ => exit_text,
                },
                clip(container.reason.as_deref().unwrap_or(""), 80),
            ]);
        }
        text.push_str(&table.render());
    }
    text
}

/// Time spent in each phase, from the newest record's timestamps (each version carries them all).
fn phases(record: &HistoryRecord, style: Style) -> Vec<String> {
    let mut phases = Vec::new();
    let mut span = |name: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| {
        if let (Some(from), Some(to)) = (from, to) {
            phases.push(format!("{name} {}", duration(from, to)));
        }
    };
    span(
        "provisioning",
        record.created_at,
        record.pull_started_at.or(record.started_at),
    );
    span("pull", record.pull_started_at, record.pull_stopped_at);
    span("starting", record.pull_stopped_at, record.started_at);
    let run_end = record
        .stopping_at
        .or(record.execution_stopped_at)
        .or(record.stopped_at);
    span("running", record.started_at, run_end);
    span("stopping", record.stopping_at, record.stopped_at);
    if let (Some(started), None) = (record.started_at, run_end) {
        phases.push(format!("running since {}", style.time(started)));
    }
    phases
}
