//! `backfill`: records the current state of clusters' tasks through the version-checked pipeline
//! (see `reconcile`), with progress on stderr: a rewritten line on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};

use ecs_task_history::core::arn::last_segment;
use ecs_task_history::ports::ErrorClass;
use ecs_task_history::reconcile::{reconcile_cluster, Progress, Report};
use serde_json::json;

use super::resolve;
use crate::args::{BackfillArgs, Format, Where};
use crate::context::Context;
use crate::error::{CliError, ErrorKind};
use crate::table::Table;

pub async fn run(
    context: &Context,
    args: &BackfillArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let mut config = context.config()?;
    if let Some(rate) = args.rate {
        config.ecs.describe_tasks_per_second = rate.max(0.0);
    }
    let clusters = if args.all_clusters {
        resolve::all_clusters(context).await?
    } else {
        let mut arns = Vec::with_capacity(args.cluster.len());
        for cluster in &args.cluster {
            arns.push(resolve::cluster(context, cluster, &Where::default()).await?);
        }
        arns
    };
    let pipeline = context.aws.pipeline(&config);
    let terminal = std::io::stderr().is_terminal();

    let mut reports = Vec::with_capacity(clusters.len());
    for cluster in &clusters {
        let report = reconcile_cluster(&pipeline, cluster, |progress| {
            show_progress(err, terminal, &progress)
        })
        .await
        .map_err(|failure| {
            let kind = match failure.class {
                ErrorClass::NotFound => ErrorKind::NotFound,
                ErrorClass::AccessDenied | ErrorClass::Credentials => ErrorKind::Credentials,
                _ => ErrorKind::Aws,
            };
            CliError::new(
                kind,
                failure.to_string(),
                "the caller needs ecs:ListTasks and ecs:DescribeTasks (in a member account, through its reader role); tasks recorded so far stay recorded, so it is safe to run again",
            )
        })?;
        if terminal {
            let _ = writeln!(err);
        }
        reports.push(report);
    }
    show(context.style.format, &reports, out)
        .map_err(|err| CliError::io("writing the output", err))?;
    let not_recorded: usize = reports.iter().map(|r| r.counts.not_recorded()).sum();
    if not_recorded > 0 {
        return Err(CliError::new(
            ErrorKind::NotRecorded,
            format!(
                "{not_recorded} task(s) were not recorded: {}",
                reports
                    .iter()
                    .flat_map(|r| r.failures.iter())
                    .next()
                    .map(String::as_str)
                    .unwrap_or("")
            ),
            "run backfill again once the cause is fixed; recorded tasks are not written twice",
        ));
    }
    Ok(())
}

fn show_progress(err: &mut dyn Write, terminal: bool, progress: &Progress<'_>) {
    let name = last_segment(progress.cluster);
    if terminal {
        const WIDTH: usize = 30;
        let filled = (progress.done * WIDTH)
            .checked_div(progress.listed)
            .unwrap_or(WIDTH);
        let _ = write!(
            err,
            "\rbackfill {name} [{}{}] {}/{} tasks",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled.min(WIDTH)),
            progress.done,
            progress.listed
        );
        let _ = err.flush();
    } else {
        let _ = writeln!(
            err,
            "backfill {name}: {}/{} tasks",
            progress.done, progress.listed
        );
    }
}

fn show(format: Format, reports: &[Report], out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Json => writeln!(
            out,
            "{:#}",
            json!({ "clusters": reports.iter().map(Report::json).collect::<Vec<_>>() })
        ),
        Format::Jsonl => {
            for report in reports {
                writeln!(out, "{}", report.json())?;
            }
            Ok(())
        }
        Format::Table | Format::Html => {
            let mut table = Table::new(&[
                "CLUSTER",
                "LISTED",
                "DESCRIBED",
                "FRESH",
                "DUPLICATE",
                "STALE",
                "NOT RECORDED",
            ])
            .align_right(&[1, 2, 3, 4, 5, 6]);
            for report in reports {
                let counts = &report.counts;
                table.row(vec![
                    last_segment(&report.cluster).to_owned(),
                    report.listed.to_string(),
                    report.described.to_string(),
                    counts.fresh.to_string(),
                    counts.duplicate.to_string(),
                    (counts.stale + counts.gap_filled).to_string(),
                    counts.not_recorded().to_string(),
                ]);
            }
            out.write_all(table.render().as_bytes())
        }
    }
}
