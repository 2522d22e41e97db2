//! `cluster`: tasks of a cluster (or service) that changed in a window, newest first, from the
//! sharded byCluster / byService index (README access patterns 4–6); `--failed` adds a summary.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;

use chrono::{DateTime, Utc};
use ecs_task_history::aws::dynamodb::items::{history_from_item, item_json, item_key, Item};
use ecs_task_history::aws::dynamodb::keys::{iso_time, task_arn_of, version_of};
use ecs_task_history::core::arn::last_segment;
use ecs_task_history::core::enums::TaskStatus;
use ecs_task_history::core::history::HistoryRecord;
use ecs_task_history::core::diagnosis::{diagnose, Diagnosis, Kind};
use ecs_task_history::core::timeline::failing_exit;
use ecs_task_history::read::{HistoryReader, Scope, WindowFilter};
use serde_json::{json, Value};

use super::resolve;
use crate::args::{ClusterArgs, Format};
use crate::context::Context;
use crate::error::{CliError, ErrorKind};
use crate::output::{clip, status_colour, Colour, Style};
use crate::table::Table;
use crate::timespec;

/// One task's newest record in the window, how many of its changes fell in the window, and why it
/// stopped (computed when read, so a better catalog improves old history too).
struct Row {
    item: Item,
    record: HistoryRecord,
    changes: usize,
    diagnosis: Diagnosis,
}

impl Row {
    fn stopped(&self) -> bool {
        self.diagnosis.kind != Kind::StillRunning
    }

    /// The record as JSON (the table's attribute names), with its diagnosis once it stopped.
    fn json(&self) -> Value {
        let mut json = item_json(&self.item);
        if self.stopped() {
            json["diagnosis"] = serde_json::to_value(&self.diagnosis).unwrap_or(Value::Null);
        }
        json
    }
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
    let mut rows = fetch_rows(&reader, &scope, from, to, &filter)
        .await
        .map_err(|err| CliError::table(err, reader.table()))?;
    if args.failed {
        rows.retain(|row| row.diagnosis.kind.is_failure());
    }
    let window = Window {
        cluster_arn: &cluster_arn,
        service: args.service.as_deref(),
        from,
        to,
        failed: args.failed,
    };
    show(context.style, &window, &rows, out).map_err(|err| CliError::io("writing the output", err))
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

/// `--status` and `--failed` as the index query's filter (README access pattern 6).
fn filter_of(args: &ClusterArgs) -> Result<WindowFilter, CliError> {
    let mut filter = WindowFilter {
        last_status: args.status.as_ref().map(|s| s.trim().to_uppercase()),
        stop_codes: Vec::new(),
    };
    if args.failed {
        if filter
            .last_status
            .as_deref()
            .is_some_and(|s| s != "STOPPED")
        {
            return Err(CliError::new(
                ErrorKind::Usage,
                "--failed selects STOPPED tasks and cannot be combined with another --status",
                "drop --status, or use --status STOPPED",
            ));
        }
        // Which stops are failures is the diagnosis's call, made on the records: a Spot
        // interruption or a failed health check has no failure stop code.
        filter.last_status = Some(TaskStatus::Stopped.as_str().to_owned());
    }
    Ok(filter)
}

/// Each task's newest record in the window: the index entries, then the records by key.
async fn fetch_rows(
    reader: &HistoryReader,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: &WindowFilter,
) -> Result<Vec<Row>, ecs_task_history::ports::ServiceError> {
    let entries = reader.window(scope, from, to, filter).await?;
    let (keys, changes): (Vec<(String, String)>, Vec<usize>) =
        newest_per_task(&entries).into_iter().unzip();
    let records = reader.records(&keys).await?;
    Ok(changes
        .into_iter()
        .zip(records)
        .filter_map(|(changes, item)| {
            let item = item?;
            let record = history_from_item(&item).ok()?;
            let diagnosis = diagnose(std::slice::from_ref(&record));
            Some(Row {
                item,
                record,
                changes,
                diagnosis,
            })
        })
        .collect())
}

/// Entries arrive newest first; the first one seen of each task is its newest in the window. Gives
/// that entry's key and the number of the task's changes in the window, newest task first.
fn newest_per_task(entries: &[Item]) -> Vec<((String, String), usize)> {
    let mut rows: Vec<((String, String), usize)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut seen = HashSet::new();
    for entry in entries {
        let Some((pk, sk)) = item_key(entry) else {
            continue;
        };
        let (Some(task_arn), Some(version)) = (task_arn_of(pk), version_of(sk)) else {
            continue;
        };
        if !seen.insert((task_arn, version)) {
            continue;
        }
        match index.get(task_arn) {
            Some(&position) => rows[position].1 += 1,
            None => {
                index.insert(task_arn, rows.len());
                rows.push(((pk.to_owned(), sk.to_owned()), 1));
            }
        }
    }
    rows
}

struct Window<'a> {
    cluster_arn: &'a str,
    service: Option<&'a str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    failed: bool,
}

/// Failures of one kind: how many, the exit codes seen, one example reason.
struct Group {
    kind: Kind,
    count: usize,
    exit_codes: BTreeSet<i64>,
    example: String,
}

/// Failures grouped by diagnosis kind, most frequent first: one cause is one row, whatever ids,
/// images or target groups its reasons embed.
fn summary(rows: &[Row]) -> Vec<Group> {
    let mut groups: BTreeMap<&'static str, Group> = BTreeMap::new();
    for row in rows {
        let record = &row.record;
        let group = groups.entry(row.diagnosis.kind.slug()).or_insert_with(|| Group {
            kind: row.diagnosis.kind,
            count: 0,
            exit_codes: BTreeSet::new(),
            example: String::new(),
        });
        group.count += 1;
        let (exit, reason) = match failing_exit(record) {
            Some((exit, reason)) => (Some(exit), reason.or(record.stopped_reason.as_deref())),
            None => (None, record.stopped_reason.as_deref()),
        };
        group.exit_codes.extend(exit);
        if group.example.is_empty() {
            group.example = reason.unwrap_or("").to_owned();
        }
    }
    let mut summary: Vec<Group> = groups.into_values().collect();
    summary.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.slug().cmp(b.kind.slug())));
    summary
}

fn exit_list(codes: &BTreeSet<i64>) -> String {
    codes.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
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
        text.push_str(&format!("\n{}\n", style.paint("By diagnosis", Colour::Bold)));
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
            style.paint(status, status_colour(status, row.diagnosis.kind.is_failure())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_task_history::aws::dynamodb::items::key;
    use ecs_task_history::aws::dynamodb::keys::{history_sk, task_pk};
    use aws_sdk_dynamodb::types::AttributeValue;

    fn entry(task: &str, version: u64) -> Item {
        let mut entry = key(task_pk(task), history_sk(version));
        entry.insert("lastStatus".to_owned(), AttributeValue::S("RUNNING".into()));
        entry
    }

    #[test]
    fn the_newest_entry_of_each_task_is_kept_and_its_changes_counted_once_each() {
        // Newest first, as the window query returns them; the same entry twice (two shards can
        // never hold one, but a reader must not count it twice) and one entry without keys.
        let entries = vec![
            entry("b", 5),
            entry("a", 8),
            entry("b", 4),
            entry("b", 4),
            HashMap::new(),
            entry("a", 7),
            entry("c", 1),
        ];
        let rows = newest_per_task(&entries);
        let got: Vec<(&str, &str, usize)> = rows
            .iter()
            .map(|((pk, sk), changes)| (pk.as_str(), sk.as_str(), *changes))
            .collect();
        assert_eq!(
            got,
            vec![
                ("TASK#b", "V#0000000005", 2),
                ("TASK#a", "V#0000000008", 2),
                ("TASK#c", "V#0000000001", 1),
            ]
        );
    }
}
