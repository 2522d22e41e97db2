//! CloudWatch Embedded Metric Format: one JSON line per invocation that CloudWatch Logs turns into
//! metrics, so failures and cost show on a dashboard without a metrics API call in the hot path.

use serde_json::{json, Map, Value};

use super::Invocation;
use crate::aws::usage::UsageCounts;
use crate::config::MetricsTarget;
use crate::core::alert::AlertTally;

/// Metrics every line carries, zero or not, so each invocation is a data point of each.
const ALWAYS: [&str; 2] = ["Invocations", "EventsReceived"];

/// Builds the EMF document for one invocation. Metric names are documented in the README. A count
/// that is zero is left out (no data point rather than a zero one): the line is billed as log
/// ingestion, and with one event per direct invocation a line of every metric costs about as much
/// as the event's own history.
pub fn emf_line(
    target: &MetricsTarget,
    invocation: &Invocation,
    usage: &UsageCounts,
    alerts: &AlertTally,
    timestamp_ms: i64,
) -> Value {
    let outcomes = &invocation.counts;
    let counts: [(&str, f64); 22] = [
        ("EventsReceived", outcomes.received() as f64),
        ("Fresh", outcomes.fresh as f64),
        ("Duplicate", outcomes.duplicate as f64),
        ("Stale", outcomes.stale as f64),
        ("GapFilled", outcomes.gap_filled as f64),
        ("Skipped", outcomes.skipped as f64),
        ("Rejected", outcomes.rejected as f64),
        ("Failed", outcomes.failed as f64),
        ("BatchItemFailures", invocation.batch_item_failures as f64),
        ("DescribeTasksCalls", usage.describe_calls as f64),
        ("DescribeTasksMissing", usage.describe_missing as f64),
        ("UnreachableAccountTasks", usage.unreachable_tasks as f64),
        ("StsCalls", usage.sts_calls as f64),
        ("DynamoDbRequests", usage.dynamodb_requests as f64),
        ("ReadCapacityUnits", usage.read_units),
        ("WriteCapacityUnits", usage.write_units),
        ("Retries", usage.retries as f64),
        ("Throttles", usage.throttles as f64),
        ("AlertsSent", alerts.sent.values().sum::<u64>() as f64),
        ("AlertsSuppressed", alerts.suppressed as f64),
        ("AlertsFailed", alerts.failed as f64),
        ("Invocations", 1.0),
    ];
    let carried: Vec<(&str, f64)> = counts
        .into_iter()
        .filter(|(name, value)| *value != 0.0 || ALWAYS.contains(name))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": target.namespace,
                "Dimensions": [["FunctionName"]],
                "Metrics": carried
                    .iter()
                    .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    document.insert("FunctionName".into(), json!(target.function_name));
    document.insert("Shape".into(), json!(invocation.shape.as_str()));
    for (name, value) in carried {
        document.insert(name.into(), json!(value));
    }
    Value::Object(document)
}

/// One EMF document per alert kind sent (`Alerts` by `FunctionName` and `Kind`): a dashboard or
/// alarm per kind, e.g. out-of-memory kills per hour, without a metric per kind in every line.
pub fn alert_lines(target: &MetricsTarget, alerts: &AlertTally, timestamp_ms: i64) -> Vec<Value> {
    alerts
        .sent
        .iter()
        .map(|(kind, count)| {
            json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": target.namespace,
                        "Dimensions": [["FunctionName", "Kind"]],
                        "Metrics": [{ "Name": "Alerts", "Unit": "Count" }],
                    }],
                },
                "FunctionName": target.function_name,
                "Kind": kind.slug(),
                "Alerts": *count as f64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_declares_every_metric_it_carries() {
        use crate::core::alert::AlertKind;
        use crate::core::diagnosis::Kind;
        use crate::core::outcome::{Counts, Outcome};
        let invocation = Invocation {
            shape: super::super::Shape::Sqs,
            counts: Counts::of(&[
                Outcome::Fresh { enriched: true },
                Outcome::Fresh { enriched: false },
                Outcome::Duplicate,
                Outcome::Rejected {
                    reason: "bad".into(),
                },
            ]),
            batch_item_failures: 1,
        };
        let usage = UsageCounts {
            describe_calls: 1,
            describe_missing: 2,
            unreachable_tasks: 3,
            sts_calls: 1,
            dynamodb_requests: 4,
            read_units: 1.5,
            write_units: 6.0,
            retries: 3,
            throttles: 2,
        };
        let target = MetricsTarget {
            namespace: "Test".into(),
            function_name: "fn".into(),
        };
        let alerts = AlertTally {
            sent: [
                (AlertKind::Task(Kind::OutOfMemory), 2),
                (AlertKind::CrashLoop, 1),
            ]
            .into(),
            suppressed: 7,
            failed: 0,
        };
        let line = emf_line(&target, &invocation, &usage, &alerts, 1_700_000_000_000);

        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Test");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(line["FunctionName"], "fn");
        for metric in directive["Metrics"].as_array().expect("metrics") {
            let name = metric["Name"].as_str().expect("name");
            assert!(line[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(line["EventsReceived"], 4.0);
        assert_eq!(line["Fresh"], 2.0);
        assert_eq!(line["Rejected"], 1.0);
        assert_eq!(line["DescribeTasksMissing"], 2.0);
        assert_eq!(line["WriteCapacityUnits"], 6.0);
        assert_eq!(line["Throttles"], 2.0);
        assert_eq!(line["UnreachableAccountTasks"], 3.0);
        assert_eq!(line["BatchItemFailures"], 1.0);
        assert_eq!(line["Shape"], "sqs");
        assert_eq!(line["AlertsSent"], 3.0);
        assert_eq!(line["AlertsSuppressed"], 7.0);
        // Zero counts are neither declared nor set; the two every line carries are.
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|metric| metric["Name"].as_str())
            .collect();
        for zero in ["Stale", "GapFilled", "Skipped", "Failed", "AlertsFailed"] {
            assert!(line.get(zero).is_none(), "{zero} is zero: {line}");
            assert!(!declared.contains(&zero), "{zero} declared: {declared:?}");
        }
        assert_eq!(line["Invocations"], 1.0);

        let by_kind = alert_lines(&target, &alerts, 1_700_000_000_000);
        let kinds: Vec<(&str, f64)> = by_kind
            .iter()
            .map(|line| {
                (
                    line["Kind"].as_str().unwrap(),
                    line["Alerts"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(kinds, [("out-of-memory", 2.0), ("crash-loop", 1.0)]);
        let directive = &by_kind[0]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["FunctionName", "Kind"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "Alerts");
    }

    #[test]
    fn an_invocation_with_nothing_to_count_carries_only_the_two_metrics_every_line_has() {
        let empty = Invocation {
            shape: super::super::Shape::EventBridge,
            counts: crate::core::outcome::Counts::of(&[]),
            batch_item_failures: 0,
        };
        let target = MetricsTarget {
            namespace: "Test".into(),
            function_name: "fn".into(),
        };
        let quiet = emf_line(
            &target,
            &empty,
            &UsageCounts::default(),
            &AlertTally::default(),
            0,
        );
        assert_eq!(quiet["Invocations"], 1.0);
        assert_eq!(quiet["EventsReceived"], 0.0);
        assert_eq!(
            quiet["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "{quiet}"
        );
    }
}
