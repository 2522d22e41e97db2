//! `clusters`: which clusters, of which accounts and regions, the table holds history of (the
//! catalog: one Query, never a scan), so an organization's operator knows what to ask about.

use std::io::Write;

use ecs_task_history::core::arn::last_segment;
use serde_json::json;

use crate::args::Format;
use crate::context::Context;
use crate::error::CliError;
use crate::table::Table;

pub async fn run(context: &Context, out: &mut dyn Write) -> Result<(), CliError> {
    let reader = context.reader()?;
    let mut clusters = reader
        .clusters()
        .await
        .map_err(|err| CliError::table(err, reader.table()))?;
    clusters.sort_by(|a, b| {
        (&a.account, &a.region, &a.cluster_arn).cmp(&(&b.account, &b.region, &b.cluster_arn))
    });
    let style = context.style;
    let written = match style.format {
        Format::Json => writeln!(out, "{:#}", json!({ "clusters": clusters })),
        Format::Jsonl => clusters
            .iter()
            .try_for_each(|cluster| writeln!(out, "{}", json!(cluster))),
        // Tables for people; a report (html) is for a window of one cluster, not this list.
        _ => {
            if clusters.is_empty() {
                writeln!(out, "The table holds no cluster yet (clusters are noted as their events are recorded).")
            } else {
                let mut table = Table::new(&[
                    "CLUSTER",
                    "ACCOUNT",
                    "REGION",
                    &format!("LAST NOTED ({})", style.zone()),
                    "ARN",
                ]);
                for cluster in &clusters {
                    table.row(vec![
                        last_segment(&cluster.cluster_arn).to_owned(),
                        cluster.account.clone(),
                        cluster.region.clone(),
                        cluster.last_seen.map(|t| style.time(t)).unwrap_or_default(),
                        cluster.cluster_arn.clone(),
                    ]);
                }
                out.write_all(table.render().as_bytes())
            }
        }
    };
    written.map_err(|err| CliError::io("writing the output", err))
}
