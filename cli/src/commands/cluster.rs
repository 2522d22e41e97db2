//! `cluster`: tasks of a cluster (or service) that changed in a window, newest first, from the
//! sharded, hourly byCluster index (README access patterns); `--failed` adds a summary by diagnosis;
//! `--output html` writes the window's timeline report instead (`crate::report`).

use std::collections::BTreeSet;
use std::io::Write;

use chrono::{DateTime, Utc};
use ecs_task_history::aws::dynamodb::keys::iso_time;
use ecs_task_history::core::arn::{last_segment, Arn};
use ecs_task_history::core::diagnosis::{diagnose, failures_by_kind, Diagnosis, Failures, Kind};
use ecs_task_history::core::enums::TaskStatus;
use ecs_task_history::core::history::HistoryRecord;
use ecs_task_history::core::timeline::failing_exit;
use ecs_task_history::read::{Scope, Timeline};
use serde_json::{json, Value};

use super::resolve;
use crate::args::{ClusterArgs, Format};
use crate::context::Context;
use crate::error::{CliError, ErrorKind};
use crate::output::{clip, status_colour, Colour, Style};
use crate::report;
use crate::table::Table;
use crate::timespec;

/// One task's newest change in the window that the filters select, how many such changes it
/// had, and why it stopped (computed when read, so a better catalog improves old history too).
struct Row {
    record: HistoryRecord,
    changes: usize,
    diagnosis: Diagnosis,
}

impl Row {
    fn stopped(&self) -> bool {
        self.diagnosis.kind != Kind::StillRunning
    }

    /// The record as JSON (the data model's attribute names), with its diagnosis once it stopped.
    fn json(&self) -> Value {
        let mut json = serde_json::to_value(&self.record).unwrap_or(Value::Null);
        if self.stopped() {
            json["diagnosis"] = serde_json::to_value(&self.diagnosis).unwrap_or(Value::Null);
        }
        json
    }
}

/// Which changes in the window count: all, those in one status, or stops (`--failed`, which then
/// keeps the failed ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Filter {
    status: Option<TaskStatus>,
    failed: bool,
}

pub async fn run(
    context: &Context,
    args: &ClusterArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (from, to) = window_of(args, context.style.local)?;
    let filter = filter_of(args)?;
    let reader = context.reader()?;
    let cluster_arn = resolve::cluster(context, &args.cluster, &args.place).await?;
    let scope = match &args.service {
        Some(service) => Scope::Service {
            cluster_arn: cluster_arn.clone(),
            service: service.clone(),
        },
        None => Scope::Cluster {
            cluster_arn: cluster_arn.clone(),
        },
    };
    let timelines = reader
        .window(&scope, from, to)
        .await
        .map_err(|err| CliError::table(err, reader.table()))?;
    if context.style.format == Format::Html {
        return html(
            context,
            args,
            &cluster_arn,
            &timelines,
            (from, to),
            &filter,
            out,
        );
    }
    let rows: Vec<Row> = timelines
        .iter()
        .filter_map(|timeline| row(timeline, from, to, &filter))
        .collect();
    let home = context.home_account().await;
    let window = Window {
        cluster_arn: &cluster_arn,
        home: home.as_deref(),
        service: args.service.as_deref(),
        from,
        to,
        failed: args.failed,
    };
    show(context.style, &window, &rows, out).map_err(|err| CliError::io("writing the output", err))
}

/// `--output html`: the timeline report of the tasks the filter selects (every version of each up
/// to the window's end, not only its newest change).
fn html(
    context: &Context,
    args: &ClusterArgs,
    cluster_arn: &str,
    timelines: &[Timeline],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    filter: &Filter,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let selected: Vec<&Timeline> = timelines
        .iter()
        .filter(|timeline| row(timeline, from, to, filter).is_some())
        .collect();
    let filter = match (&filter.status, filter.failed) {
        (_, true) => Some("Only the tasks that failed in this window (--failed).".to_owned()),
        (Some(status), false) => Some(format!(
            "Only the tasks recorded as {status} in this window (--status)."
        )),
        (None, false) => None,
    };
    let page = report::Page {
        cluster_arn,
        service: args.service.as_deref(),
        table: context.table()?,
        filter,
        style: context.style,
        generated: Utc::now(),
    };
    report::write(&page, &selected, from, to, out)
        .map_err(|err| CliError::io("writing the output", err))
}

/// The row of a task: its newest change in the window the filter selects, diagnosed with the
/// versions up to it; `None` when the filter selects none of its changes (or, with `--failed`,
/// its stop was not a failure).
fn row(
    timeline: &Timeline,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: &Filter,
) -> Option<Row> {
    let selected: Vec<&HistoryRecord> = timeline
        .in_window(from, to)
        .into_iter()
        .filter(|record| match (&filter.status, filter.failed) {
            (_, true) => record.last_status == Some(TaskStatus::Stopped),
            (Some(status), false) => record.last_status.as_ref() == Some(status),
            (None, false) => true,
        })
        .collect();
    let newest = *selected.last()?;
    let until = timeline
        .records
        .iter()
        .position(|record| record.version == newest.version)
        .map_or(timeline.records.len(), |at| at + 1);
    let diagnosis = diagnose(&timeline.records[..until]);
    if filter.failed && !diagnosis.kind.is_failure() {
        return None;
    }
    Some(Row {
        record: newest.clone(),
        changes: selected.len(),
        diagnosis,
    })
}

/// `--since` and `--until` as a window.
fn window_of(args: &ClusterArgs, local: bool) -> Result<(DateTime<Utc>, DateTime<Utc>), CliError> {
    let now = Utc::now();
    let parse = |flag: &str, spec: &str, example: &str| {
        timespec::parse(spec, now, local)
            .map_err(|err| CliError::new(ErrorKind::Usage, format!("{flag}: {err}"), example))
    };
    let from = parse("--since", &args.since, "e.g. --since 6h")?;
    let to = match &args.until {
        Some(until) => parse("--until", until, "e.g. --until 1h")?,
        None => now,
    };
    if from > to {
        return Err(CliError::new(
            ErrorKind::Usage,
            format!(
                "the window starts ({}) after it ends ({})",
                iso_time(from),
                iso_time(to)
            ),
            "--since must be earlier than --until",
        ));
    }
    Ok((from, to))
}

/// `--status` and `--failed` as a filter on the changes in the window.
fn filter_of(args: &ClusterArgs) -> Result<Filter, CliError> {
    let status = args
        .status
        .as_ref()
        .map(|s| TaskStatus::from(s.trim().to_uppercase().as_str()));
    if args.failed && status.as_ref().is_some_and(|s| *s != TaskStatus::Stopped) {
        return Err(CliError::new(
            ErrorKind::Usage,
            "--failed selects STOPPED tasks and cannot be combined with another --status",
            "drop --status, or use --status STOPPED",
        ));
    }
    Ok(Filter {
        status,
        failed: args.failed,
    })
}

struct Window<'a> {
    cluster_arn: &'a str,
    /// The caller's account: a cluster of another one says whose it is.
    home: Option<&'a str>,
    service: Option<&'a str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    failed: bool,
}

/// Failures grouped by diagnosis kind, most frequent first.
fn summary(rows: &[Row]) -> Vec<Failures> {
    failures_by_kind(rows.iter().map(|row| (&row.record, &row.diagnosis)))
}

fn exit_list(codes: &BTreeSet<i64>) -> String {
    codes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn show(
    style: Style,
    window: &Window<'_>,
    rows: &[Row],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match style.format {
        Format::Json => {
            let mut document = json!({
                "clusterArn": window.cluster_arn,
                "service": window.service,
                "from": iso_time(window.from),
                "to": iso_time(window.to),
                "tasks": rows.iter().map(Row::json).collect::<Vec<Value>>(),
            });
            if window.failed {
                document["summary"] = summary(rows)
                    .into_iter()
                    .map(|group| {
                        json!({
                            "kind": group.kind.slug(),
                            "title": group.kind.title(),
                            "count": group.count,
                            "exitCodes": group.exit_codes,
                            "example": group.example,
                        })
                    })
                    .collect();
            }
            writeln!(out, "{document:#}")
        }
        Format::Jsonl => {
            for row in rows {
                writeln!(out, "{}", row.json())?;
            }
            Ok(())
        }
        Format::Table => out.write_all(render(style, window, rows).as_bytes()),
        // `run` writes the html report from the whole timelines, before rows are made.
        Format::Html => Ok(()),
    }
}

fn render(style: Style, window: &Window<'_>, rows: &[Row]) -> String {
    let scope = match window.service {
        Some(service) => format!(
            "service {service} of cluster {}",
            last_segment(window.cluster_arn)
        ),
        None => format!("cluster {}", last_segment(window.cluster_arn)),
    };
    let scope = match Arn::parse(window.cluster_arn) {
        Some(arn) if window.home != Some(arn.account) => {
            format!("{scope} (account {}, {})", arn.account, arn.region)
        }
        _ => scope,
    };
    let span = format!(
        "{} → {} {}",
        style.time(window.from),
        style.time(window.to),
        style.zone()
    );
    if rows.is_empty() {
        let what = if window.failed { "failed" } else { "changed" };
        return format!("No task of {scope} {what} between {span}.\n");
    }
    let changes: usize = rows.iter().map(|row| row.changes).sum();
    let title = if window.failed {
        "Failed tasks in"
    } else {
        "Tasks in"
    };
    let mut text = format!(
        "{} {scope}, {span}: {} task{}, {changes} change{}\n\n",
        style.paint(title, Colour::Bold),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if changes == 1 { "" } else { "s" },
    );
    text.push_str(&rows_table(style, rows));
    if window.failed {
        text.push_str(&format!(
            "\n{}\n",
            style.paint("By diagnosis", Colour::Bold)
        ));
        let mut table =
            Table::new(&["COUNT", "DIAGNOSIS", "EXIT", "EXAMPLE REASON"]).align_right(&[0]);
        for group in summary(rows) {
            table.row(vec![
                group.count.to_string(),
                group.kind.title().to_owned(),
                exit_list(&group.exit_codes),
                clip(&group.example, 80),
            ]);
        }
        text.push_str(&table.render());
    }
    text
}

/// One row per task: its newest change in the window, and why it stopped.
fn rows_table(style: Style, rows: &[Row]) -> String {
    let mut table = Table::new(&[
        &format!("TIME ({})", style.zone()),
        "TASK",
        "GROUP",
        "STATUS",
        "VER",
        "STOP CODE",
        "EXIT",
        "DIAGNOSIS",
        "REASON",
    ])
    .align_right(&[4, 6]);
    for row in rows {
        let record = &row.record;
        let status = record.last_status.as_ref().map_or("?", |s| s.as_str());
        let (exit, reason) = match failing_exit(record) {
            Some((code, reason)) => (
                style.paint(&code.to_string(), Colour::Red),
                reason.or(record.stopped_reason.as_deref()).unwrap_or(""),
            ),
            None => (
                record
                    .containers
                    .iter()
                    .find_map(|c| c.exit_code)
                    .map(|code| code.to_string())
                    .unwrap_or_default(),
                record.stopped_reason.as_deref().unwrap_or(""),
            ),
        };
        table.row(vec![
            style.time(record.event_time),
            record.task_id.clone(),
            record
                .service_name
                .as_ref()
                .map(|s| format!("service:{s}"))
                .or_else(|| record.group.clone())
                .unwrap_or_default(),
            style.paint(
                status,
                status_colour(status, row.diagnosis.kind.is_failure()),
            ),
            record.version.to_string(),
            record
                .stop_code
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            exit,
            if row.stopped() {
                row.diagnosis.kind.slug().to_owned()
            } else {
                String::new()
            },
            clip(reason, 60),
        ]);
    }
    table.render()
}
