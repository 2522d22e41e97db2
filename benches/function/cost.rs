//! Dollars per million events, from one replay's measurements and the prices of `prices.rs`: the
//! function's whole path (DynamoDB, Lambda, SQS, its own logs) beside keeping the same raw events
//! in CloudWatch Logs for the same 90 days.

use serde_json::{json, Value};

use crate::prices::*;
use crate::replay::Measured;

const MILLION: f64 = 1e6;

/// One line of the comparison; a column is `None` where the item does not apply.
pub struct Row {
    pub item: &'static str,
    pub quantity: String,
    pub standard: Option<f64>,
    pub infrequent: Option<f64>,
    pub cloudwatch: Option<f64>,
}

fn both(item: &'static str, quantity: String, standard: f64, infrequent: f64) -> Row {
    let (standard, infrequent) = (Some(standard), Some(infrequent));
    Row {
        item,
        quantity,
        standard,
        infrequent,
        cloudwatch: None,
    }
}

/// $ for `bytes_per_event` × a million events at `price` per GB (and month).
fn per_gb(bytes_per_event: f64, price: f64) -> f64 {
    bytes_per_event * MILLION / GB * price
}

/// Lambda duration in GB-seconds for `ms` at the template's memory, in $ per million events.
fn lambda_duration(ms_per_event: f64) -> f64 {
    ms_per_event / 1000.0 * (LAMBDA_MEMORY_MB / 1024.0) * MILLION * LAMBDA_ARM64_GB_SECOND
}

/// Billed ms per event if the handler's CPU time ran at 128 MB's share of a vCPU, each
/// invocation rounded up to the ms (no I/O wait counted: a floor, if a Graviton core matches
/// this machine's).
pub fn cpu_billed_ms_per_event(m: &Measured) -> f64 {
    let share = LAMBDA_MEMORY_MB / ONE_VCPU_MB;
    let per_invocation_ms = m.cpu_seconds * 1000.0 / share / m.invocations as f64;
    per_invocation_ms.ceil() * m.invocations as f64 / m.events()
}

/// The function's rows: each a quantity per event and its $ per million events, with the table's
/// throughput bought as `capacity` says.
fn function_rows(m: &Measured, capacity: Capacity) -> Vec<Row> {
    let (standard, infrequent) = (DYNAMODB_STANDARD, DYNAMODB_STANDARD_IA);
    let wru = m.per_event(m.emf("WriteCapacityUnits"));
    let rru = m.per_event(m.emf("ReadCapacityUnits"));
    let stored = m.per_event(m.storage.bytes() as f64);
    let invocations = m.per_event(m.invocations as f64);
    let (cpu_ms, wall_ms) = (cpu_billed_ms_per_event(m), m.per_event(m.billed_ms()));
    let sqs = m.per_event(m.sqs_requests);
    // The EMF lines as written, and per invocation Lambda's START, END and REPORT lines; each line
    // also carries CloudWatch's per-event overhead.
    let lines = m.emf_lines + LAMBDA_PLATFORM_LINES * m.invocations;
    let logs = m.per_event(
        (m.emf_bytes
            + LAMBDA_PLATFORM_LOG_BYTES * m.invocations
            + CLOUDWATCH_EVENT_OVERHEAD_BYTES * lines) as f64,
    );
    let log_cost = per_gb(logs, CLOUDWATCH_INGEST_GB)
        + per_gb(logs, CLOUDWATCH_STORAGE_GB_MONTH * FUNCTION_LOG_MONTHS);
    let lambda_requests = invocations * LAMBDA_PER_MILLION_REQUESTS;
    // Refused conditional puts are billed but answered without ConsumedCapacity (see sizing.rs).
    let refused = m.per_event(m.writes.refused_units);
    vec![
        both(
            "DynamoDB writes",
            format!("{wru:.2} WRU (EMF)"),
            wru * standard.write_price(capacity),
            wru * infrequent.write_price(capacity),
        ),
        both(
            "DynamoDB refused conditional puts",
            format!("{refused:.3} WRU (sized)"),
            refused * standard.write_price(capacity),
            refused * infrequent.write_price(capacity),
        ),
        both(
            "DynamoDB reads",
            format!("{rru:.2} RRU (EMF)"),
            rru * standard.read_price(capacity),
            rru * infrequent.read_price(capacity),
        ),
        both(
            "DynamoDB storage, 90 days",
            format!("{stored:.0} B"),
            per_gb(stored, standard.storage_gb_month * RETENTION_MONTHS),
            per_gb(stored, infrequent.storage_gb_month * RETENTION_MONTHS),
        ),
        both(
            "Lambda requests",
            format!("{invocations:.3} invocations"),
            lambda_requests,
            lambda_requests,
        ),
        both(
            "Lambda duration, CPU at 128 MB",
            format!("{cpu_ms:.2} ms"),
            lambda_duration(cpu_ms),
            lambda_duration(cpu_ms),
        ),
        both(
            "SQS requests",
            format!("{sqs:.3} requests"),
            sqs * SQS_PER_MILLION_REQUESTS,
            sqs * SQS_PER_MILLION_REQUESTS,
        ),
        both(
            "function logs (EMF, START/END/REPORT), 30 days",
            format!("{logs:.1} B"),
            log_cost,
            log_cost,
        ),
        Row {
            item: "(Lambda duration, emulator wall: not in total)",
            quantity: format!("{wall_ms:.2} ms"),
            standard: Some(lambda_duration(wall_ms)),
            infrequent: None,
            cloudwatch: None,
        },
    ]
}

/// The raw events kept in CloudWatch Logs for 90 days: ingested as delivered, stored compressed.
fn cloudwatch_rows(m: &Measured) -> Vec<Row> {
    let overhead = CLOUDWATCH_EVENT_OVERHEAD_BYTES as f64;
    let raw = m.per_event(m.stream.bytes() as f64) + overhead;
    let compressed = m.per_event(m.stream.gzip_bytes as f64) + overhead;
    let row = |item, quantity, cost| Row {
        item,
        quantity,
        standard: None,
        infrequent: None,
        cloudwatch: Some(cost),
    };
    vec![
        row(
            "raw events: Logs ingestion",
            format!("{raw:.0} B"),
            per_gb(raw, CLOUDWATCH_INGEST_GB),
        ),
        row(
            "raw events: Logs storage, 90 days",
            format!("{compressed:.0} B gzip"),
            per_gb(compressed, CLOUDWATCH_STORAGE_GB_MONTH * RETENTION_MONTHS),
        ),
    ]
}

/// The comparison's rows with on-demand capacity (the template's default), a total last.
pub fn rows(m: &Measured) -> Vec<Row> {
    rows_with(m, Capacity::OnDemand)
}

/// The totals with provisioned capacity: (Standard, Standard-IA) $ per million events.
pub fn provisioned_totals(m: &Measured) -> (f64, f64) {
    let rows = rows_with(m, Capacity::Provisioned);
    let total = rows.last();
    (
        total.and_then(|row| row.standard).unwrap_or_default(),
        total.and_then(|row| row.infrequent).unwrap_or_default(),
    )
}

fn rows_with(m: &Measured, capacity: Capacity) -> Vec<Row> {
    let mut rows = function_rows(m, capacity);
    rows.extend(cloudwatch_rows(m));
    let total = |pick: fn(&Row) -> Option<f64>| -> Option<f64> {
        let counted = rows.iter().filter(|row| !row.item.starts_with('('));
        Some(counted.filter_map(pick).sum())
    };
    let (standard, infrequent, cloudwatch) = (
        total(|r| r.standard),
        total(|r| r.infrequent),
        total(|r| r.cloudwatch),
    );
    rows.push(Row {
        item: "total",
        quantity: String::new(),
        standard,
        infrequent,
        cloudwatch,
    });
    rows
}

/// The rows as JSON: `{item: {quantity_per_event, standard, standard_ia, cloudwatch_logs}}`.
pub fn json(m: &Measured) -> Value {
    let rows: serde_json::Map<String, Value> = rows(m)
        .into_iter()
        .map(|row| {
            let figures = json!({
                "quantity_per_event": row.quantity,
                "standard": row.standard,
                "standard_ia": row.infrequent,
                "cloudwatch_logs": row.cloudwatch,
            });
            (row.item.to_owned(), figures)
        })
        .collect();
    let (standard, infrequent) = provisioned_totals(m);
    json!({
        "replay": m.name,
        "dollars_per_million_events": rows,
        "provisioned_total": {"utilization": PROVISIONED_UTILIZATION, "standard": standard, "standard_ia": infrequent},
        "retention_days": RETENTION_DAYS,
        "prices": prices(),
    })
}

/// Every price used, for the report.
fn prices() -> Value {
    let class = |c: TableClass| json!({"table_class": c.name, "write_per_million": c.write_per_million, "read_per_million": c.read_per_million, "write_unit_hour": c.write_unit_hour, "read_unit_hour": c.read_unit_hour, "storage_gb_month": c.storage_gb_month});
    json!({
        "as_of": AS_OF,
        "dynamodb_standard": class(DYNAMODB_STANDARD),
        "dynamodb_standard_ia": class(DYNAMODB_STANDARD_IA),
        "dynamodb_item_overhead_bytes": DYNAMODB_ITEM_OVERHEAD_BYTES,
        "lambda_arm64_gb_second": LAMBDA_ARM64_GB_SECOND,
        "lambda_per_million_requests": LAMBDA_PER_MILLION_REQUESTS,
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
        "one_vcpu_mb": ONE_VCPU_MB,
        "sqs_per_million_requests": SQS_PER_MILLION_REQUESTS,
        "sqs_chunk_bytes": SQS_CHUNK_BYTES,
        "cloudwatch_ingest_gb": CLOUDWATCH_INGEST_GB,
        "cloudwatch_storage_gb_month": CLOUDWATCH_STORAGE_GB_MONTH,
        "cloudwatch_event_overhead_bytes": CLOUDWATCH_EVENT_OVERHEAD_BYTES,
        "gb_bytes": GB,
    })
}
