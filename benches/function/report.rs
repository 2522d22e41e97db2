//! The figures as `target/bench/report.json` and as the printed tables (README "Performance").

use std::path::Path;

use serde_json::{json, Value};

use crate::replay::Measured;

pub fn median(values: &[f64]) -> f64 {
    percentile(values, 0.5)
}

/// The value below which `share` of the values fall (nearest rank); 0 for none.
pub fn percentile(values: &[f64], share: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if share == 0.5 && n % 2 == 0 => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        n => sorted[((n as f64 * share).ceil() as usize).clamp(1, n) - 1],
    }
}

/// Criterion's results for `benches/core.rs` (run before this harness), per benchmark: ns and
/// events per second, from `target/criterion/core/*/new/`.
pub fn criterion_results(root: &Path) -> Value {
    let mut results = serde_json::Map::new();
    let Ok(dirs) = std::fs::read_dir(root.join("target/criterion/core")) else {
        return Value::Object(results);
    };
    let read = |path: &Path| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let mut dirs: Vec<_> = dirs.flatten().map(|dir| dir.path().join("new")).collect();
    dirs.sort();
    for dir in dirs {
        let (Some(estimates), Some(bench)) = (
            read(&dir.join("estimates.json")),
            read(&dir.join("benchmark.json")),
        ) else {
            continue;
        };
        let mean_ns = estimates["mean"]["point_estimate"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let elements = bench["throughput"]["Elements"].as_f64().unwrap_or(1.0);
        let name = bench["function_id"].as_str().unwrap_or("?").to_owned();
        results.insert(name, json!({"ns_per_event": mean_ns / elements, "events_per_second": elements * 1e9 / mean_ns}));
    }
    Value::Object(results)
}

/// Bytes of a file, if it is there.
pub fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|meta| meta.len())
}

/// Every figure of one replay.
pub fn replay_json(m: &Measured) -> Value {
    let per_event = |value: f64| m.per_event(value);
    let (emf_units, sized_units) = (m.emf("WriteCapacityUnits"), m.writes.units());
    json!({
        "events": m.events(), "tasks": m.stream.tasks, "batch": m.batch.max(1),
        "shape": if m.batch > 0 { "sqs" } else { "eventbridge" }, "enrich": m.enrich, "tls": m.tls,
        "invocations": m.invocations, "redelivered": m.redelivered,
        "requests_by_operation": m.requests,
        "aws_requests_per_event": per_event(m.requests_total() as f64),
        "dynamodb_requests_per_event": per_event(m.dynamodb_requests() as f64),
        "describe_tasks_per_event": per_event(m.describe_calls() as f64),
        "describe_tasks_per_100_tasks": m.describe_calls() as f64 * 100.0 / m.stream.tasks as f64,
        "emf_sums": m.emf,
        "write_units_per_event_emf": per_event(emf_units),
        "write_units_per_event_sized": per_event(sized_units),
        "write_units_sized_minus_emf_percent": (sized_units - emf_units) / emf_units * 100.0,
        "write_units_sized": {
            "table": m.writes.table_units, "index": m.writes.index_units, "items_written": m.writes.puts,
            "refused_conditional_puts": m.writes.refused, "refused_snapshot_puts": m.writes.refused_snapshots,
            "refused_units_not_in_emf": m.writes.refused_units,
        },
        "read_units_per_event_emf": per_event(m.emf("ReadCapacityUnits")),
        "stored": stored_json(m),
        "event_bytes_median": m.stream.median_bytes(),
        "event_bytes_mean": per_event(m.stream.bytes() as f64),
        "event_bytes_gzip_per_event": per_event(m.stream.gzip_bytes as f64),
        "handler_cpu_us_per_event": per_event(m.cpu_seconds * 1e6),
        "peak_rss_mib": m.peak_rss_kib as f64 / 1024.0,
        "tls_handshakes": m.handshakes,
        "wall_ms_per_event_against_emulators": per_event(m.wall_seconds * 1000.0),
        "invocation_ms_median": median(&m.invocation_ms),
        "invocation_ms_p90": percentile(&m.invocation_ms, 0.9),
        "lambda_billed_ms_per_event_emulator_wall": per_event(m.billed_ms()),
        "lambda_billed_ms_per_event_cpu_at_128mb": crate::cost::cpu_billed_ms_per_event(m),
        "sqs_requests_per_event": per_event(m.sqs_requests),
        "emf_log_bytes_per_event": per_event(m.emf_bytes as f64),
        "cost": crate::cost::json(m),
        "problem": m.check(),
    })
}

fn stored_json(m: &Measured) -> Value {
    let storage = &m.storage;
    let sizes: Vec<f64> = storage.history_sizes.iter().map(|&s| s as f64).collect();
    json!({
        "items": storage.items, "snapshots": storage.snapshots, "history_items": storage.history_sizes.len(),
        "item_bytes_with_overhead": storage.item_bytes,
        "index_entries": storage.index_entries, "index_bytes_with_overhead": storage.index_bytes,
        "bytes_per_event": m.per_event(storage.bytes() as f64),
        "history_item_bytes_median": median(&sizes),
        "history_item_bytes_median_as_written": median(&m.writes.history_sizes.iter().map(|&s| s as f64).collect::<Vec<_>>()),
    })
}

fn mb(bytes: &Value) -> String {
    bytes.as_f64().map_or("not built (make build)".into(), |b| {
        format!("{:.2} MB", b / 1e6)
    })
}

/// The figures that are not replays: sizes, core CPU, init, first invocations.
pub fn print_header(report: &Value) {
    println!();
    let sizes = (
        mb(&report["binary_bytes_x86_64"]),
        mb(&report["binary_bytes_arm64"]),
    );
    println!(
        "binary (stripped)    x86-64 {}, arm64 {}   target ≤ 10 MB",
        sizes.0, sizes.1
    );
    for (name, r) in report["core"].as_object().into_iter().flatten() {
        let (rate, ns) = (
            r["events_per_second"].as_f64().unwrap_or(0.0),
            r["ns_per_event"].as_f64().unwrap_or(0.0),
        );
        println!("core CPU             {name}: {rate:.0} events/s/core ({:.1} µs/event)   target ≥ 100,000", ns / 1000.0);
    }
    let c = &report["cold_start"];
    if c.is_object() {
        println!(
            "init                 exec → first GET /next: median {:.1} ms (min {:.1}, max {:.1}, {} runs)   target ≤ 30 ms",
            c["init_ms_median"].as_f64().unwrap_or(0.0), c["init_ms_min"].as_f64().unwrap_or(0.0),
            c["init_ms_max"].as_f64().unwrap_or(0.0), c["runs"]
        );
    }
    for (warm, f) in report["first_invocation"].as_object().into_iter().flatten() {
        println!(
            "first invocation     {warm}: init {:.1} ms, first batch of 10 {:.1} ms, TLS handshakes during it {:.0} (median of {})",
            f["init_ms_median"].as_f64().unwrap_or(0.0), f["first_invocation_ms_median"].as_f64().unwrap_or(0.0),
            f["tls_handshakes_in_first_invocation"].as_f64().unwrap_or(0.0), f["runs"]
        );
    }
}

/// One line per replay, then each replay's requests by operation and write-unit cross-check.
pub fn print_replays(replays: &[Measured]) {
    println!();
    let header = format!(
        "{:<15}{:>7}{:>6}{:>11}{:>11}{:>9}{:>9}{:>7}{:>9}{:>9}{:>12}{:>10}{:>8}{:>12}",
        "replay",
        "events",
        "tasks",
        "AWS req/ev",
        "DDB req/ev",
        "WCU/ev",
        "sized",
        "RCU/ev",
        "Desc/ev",
        "Desc/100",
        "CPU µs/ev",
        "RSS MiB",
        "B/ev",
        "wall ms/ev"
    );
    println!("{header}\n{}", "-".repeat(header.chars().count()));
    for m in replays {
        let e = |v: f64| m.per_event(v);
        println!(
            "{:<15}{:>7}{:>6}{:>11.3}{:>11.3}{:>9.2}{:>9.2}{:>7.2}{:>9.3}{:>9.1}{:>12.0}{:>10.1}{:>8.0}{:>12.2}",
            m.name, m.events(), m.stream.tasks, e(m.requests_total() as f64), e(m.dynamodb_requests() as f64),
            e(m.emf("WriteCapacityUnits")), e(m.writes.units()), e(m.emf("ReadCapacityUnits")),
            e(m.describe_calls() as f64), m.describe_calls() as f64 * 100.0 / m.stream.tasks as f64, e(m.cpu_seconds * 1e6),
            m.peak_rss_kib as f64 / 1024.0, e(m.storage.bytes() as f64), e(m.wall_seconds * 1000.0),
        );
    }
    println!("WCU/ev: the function's EMF WriteCapacityUnits (dynoxide's ConsumedCapacity); sized: DynamoDB's");
    println!("rules on the items written; Desc: DescribeTasks calls per event and per 100 distinct tasks;");
    println!("B/ev: table + index bytes stored at the end (+100 B each) per event; wall: against the emulators");
    println!("targets at batch 100: ≤ 1.3 AWS requests/event, ≤ 1 DescribeTasks per 100 new tasks, peak RSS < 40 MiB");
    for m in replays {
        let refused = if m.writes.refused > 0 {
            format!(
                ", {} refused conditional puts ({} snapshots; +{:.0} units DynamoDB bills, not in EMF)",
                m.writes.refused, m.writes.refused_snapshots, m.writes.refused_units
            )
        } else {
            String::new()
        };
        println!(
            "  {}: {:?}, {} invocations, redelivered {}, TLS handshakes {}; sized units {:.0} = table {:.0} + index {:.0}{refused}",
            m.name, m.requests, m.invocations, m.redelivered, m.handshakes, m.writes.units(), m.writes.table_units, m.writes.index_units
        );
        if let Some(problem) = m.check() {
            println!("  WARNING {problem}");
        }
    }
}

/// The cost comparison of one replay, $ per million events.
pub fn print_costs(m: &Measured) {
    println!();
    println!(
        "$ per million events, RetentionDays 90: replay {} ({:.0} events), {}",
        m.name,
        m.events(),
        crate::prices::AS_OF
    );
    let header = format!(
        "{:<48}{:>20}{:>11}{:>13}{:>17}",
        "item", "per event", "Standard", "Standard-IA", "CloudWatch Logs"
    );
    println!("{header}\n{}", "-".repeat(header.chars().count()));
    let cell = |value: Option<f64>| value.map_or("".to_owned(), |v| format!("{v:.4}"));
    for row in crate::cost::rows(m) {
        println!(
            "{:<48}{:>20}{:>11}{:>13}{:>17}",
            row.item,
            row.quantity,
            cell(row.standard),
            cell(row.infrequent),
            cell(row.cloudwatch)
        );
    }
    let (standard, infrequent) = crate::cost::provisioned_totals(m);
    println!(
        "{:<68}{:>11}{:>13}",
        format!(
            "total, CapacityMode PROVISIONED at {:.0} % utilization",
            crate::prices::PROVISIONED_UTILIZATION * 100.0
        ),
        cell(Some(standard)),
        cell(Some(infrequent))
    );
}

/// Every replay's totals side by side: how the delivery (batch size, SQS or direct) and the
/// capacity mode move the price. Direct invocations' Lambda duration is their CPU only, a floor:
/// on AWS they also wait for DynamoDB.
pub fn print_cost_totals(replays: &[Measured]) {
    println!();
    let header = format!(
        "{:<20}{:>22}{:>22}{:>17}",
        "total $/M events", "on demand: Std / IA", "provisioned: Std / IA", "CloudWatch Logs"
    );
    println!("{header}\n{}", "-".repeat(header.chars().count()));
    for m in replays {
        let rows = crate::cost::rows(m);
        let Some(total) = rows.last() else { continue };
        let (standard, infrequent) = crate::cost::provisioned_totals(m);
        println!(
            "{:<20}{:>22}{:>22}{:>17}",
            m.name,
            format!(
                "{:.2} / {:.2}",
                total.standard.unwrap_or_default(),
                total.infrequent.unwrap_or_default()
            ),
            format!("{standard:.2} / {infrequent:.2}"),
            format!("{:.2}", total.cloudwatch.unwrap_or_default())
        );
    }
}
