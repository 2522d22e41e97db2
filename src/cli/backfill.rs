//! `backfill`: records the current state of clusters' tasks through the version-checked pipeline
//! (see `reconcile`), with progress on stderr: a rewritten line on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};

use serde_json::json;

use super::error::{CliError, ErrorKind};
use super::table::Table;
use super::{args::BackfillArgs, pipeline, resolve, Context, Format};
use crate::dynamodb::DynamoStore;
use crate::history::last_segment;
use crate::rate_limit::RateLimiter;
use crate::reconcile::{Progress, Reconciler, Report};

pub async fn run(
    context: &Context,
    args: &BackfillArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let config = pipeline::config(context)?;
    let ecs = context.ecs();
    let clusters = if args.all_clusters {
        resolve::all_clusters(&ecs).await?
    } else {
        let mut arns = Vec::with_capacity(args.cluster.len());
        for cluster in &args.cluster {
            arns.push(resolve::cluster_arn(&ecs, cluster).await?);
        }
        arns
    };
    let reconciler = Reconciler::new(ecs, config.settings())
        .with_rate_limit(RateLimiter::new(args.rate.max(0.0), 10));
    let store = DynamoStore::new(context.dynamodb(), config.table_name.clone());
    let terminal = std::io::stderr().is_terminal();

    let mut reports = Vec::with_capacity(clusters.len());
    for cluster in &clusters {
        let report = reconciler
            .reconcile_cluster(&store, cluster, |progress| show_progress(err, terminal, &progress))
            .await
            .map_err(|failure| {
                let kind = if failure.cluster_not_found {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Aws
                };
                CliError::new(
                    kind,
                    failure.to_string(),
                    "the caller needs ecs:ListTasks and ecs:DescribeTasks; tasks recorded so far stay recorded, so it is safe to run again",
                )
            })?;
        if terminal {
            let _ = writeln!(err);
        }
        reports.push(report);
    }
    show(context.style.format, &reports, out)
        .map_err(|err| CliError::io("writing the output", err))?;
    let not_recorded: usize = reports.iter().map(Report::not_recorded).sum();
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
    let as_json = |report: &Report| {
        json!({
            "clusterArn": report.cluster,
            "listed": report.listed,
            "described": report.described,
            "outcomes": report.outcomes,
            "failures": report.failures,
        })
    };
    match format {
        Format::Json => writeln!(
            out,
            "{:#}",
            json!({ "clusters": reports.iter().map(as_json).collect::<Vec<_>>() })
        ),
        Format::Jsonl => {
            for report in reports {
                writeln!(out, "{}", as_json(report))?;
            }
            Ok(())
        }
        Format::Table => {
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
                table.row(vec![
                    last_segment(&report.cluster).to_owned(),
                    report.listed.to_string(),
                    report.described.to_string(),
                    report.count("fresh").to_string(),
                    report.count("duplicate").to_string(),
                    (report.count("stale") + report.count("gap_filled")).to_string(),
                    report.not_recorded().to_string(),
                ]);
            }
            out.write_all(table.render().as_bytes())
        }
    }
}
