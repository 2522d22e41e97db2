//! Property tests (proptest) of the input path that needs no AWS: `event::parse_event` on arbitrary
//! bytes and on arbitrary, often huge, mutations of a real event; and, for whatever parses, that
//! `history::normalize` + `dynamodb::items::history_item` never panic and keep the item within
//! `MAX_ITEM_BYTES` (well under DynamoDB's 400 KB), with keys within DynamoDB's key limits.
//!
//! `make test` runs proptest's default 256 cases per property; `make fuzz` runs many more
//! (`PROPTEST_CASES`) for a bounded time. A failure found here becomes a named regression test
//! (in the module it concerns) and its seed is kept in `proptest-regressions/`.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use ecs_task_history::aws::dynamodb::items::{
    history_item, item_size, snapshot_item, DYNAMODB_ITEM_LIMIT, MAX_ITEM_BYTES,
};
use ecs_task_history::core::event::{parse_event, Parsed, TaskEvent};
use ecs_task_history::core::history::{normalize, RecordContext, Snapshot, TagSource, Tags};
use ecs_task_history::core::rejected::identify;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};

const SAMPLE: &str = include_str!("../events/ec2-worker-running.json");

/// Detail fields the model knows (the ones worth hitting with wrong types and sizes).
const DETAIL_FIELDS: [&str; 24] = [
    "taskArn",
    "version",
    "clusterArn",
    "containers",
    "lastStatus",
    "desiredStatus",
    "launchType",
    "healthStatus",
    "group",
    "stopCode",
    "stoppedReason",
    "startedBy",
    "createdAt",
    "updatedAt",
    "stoppedAt",
    "cpu",
    "memory",
    "overrides",
    "availabilityZone",
    "platformVersion",
    "taskDefinitionArn",
    "capacityProviderName",
    "containerInstanceArn",
    "attachments",
];

const CONTAINER_FIELDS: [&str; 9] = [
    "name",
    "image",
    "imageDigest",
    "runtimeId",
    "lastStatus",
    "exitCode",
    "reason",
    "healthStatus",
    "networkBindings",
];

fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Short random text, one character repeated up to 6,000 times (up to 24 KB), or 450 KB of text.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => text(24),
        8 => (any::<char>(), 0usize..6000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => (any::<char>()).prop_map(|c| c.to_string().repeat(450_000 / c.len_utf8())),
        2 => Just("2026-11-20T03:14:47.123Z".to_owned()),
        2 => Just("STOPPED".to_owned()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any_text().prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(text(8), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The sample's bytes cut at a random place (true: it was cut), or with a few bytes overwritten,
/// or random bytes.
fn damaged_sample() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let sample = SAMPLE.trim_end().as_bytes().to_vec();
    let length = sample.len();
    let cut = sample.clone();
    let overwritten = sample;
    prop_oneof![
        (0..length - 1).prop_map(move |at| (cut[..at].to_vec(), true)),
        vec((0..length, any::<u8>()), 1..8).prop_map(move |changes| {
            let mut bytes = overwritten.clone();
            for (at, byte) in changes {
                bytes[at] = byte;
            }
            (bytes, false)
        }),
        vec(any::<u8>(), 0..2048).prop_map(|bytes| (bytes, false)),
    ]
}

/// A well-typed value for a known detail field.
fn typed(field: &str) -> BoxedStrategy<Value> {
    match field {
        "version" => (0u64..20).prop_map(Value::from).boxed(),
        "taskArn" => text(40)
            .prop_map(|id| Value::from(format!("arn:aws:ecs:us-east-1:1:task/c/{id}")))
            .boxed(),
        "clusterArn" => Just(Value::from("arn:aws:ecs:us-east-1:1:cluster/c")).boxed(),
        "createdAt" | "updatedAt" | "stoppedAt" => {
            Just(Value::from("2026-11-20T03:14:47.123Z")).boxed()
        }
        "containers" | "attachments" => vec(btree_map(text(8), leaf(), 0..4), 0..3)
            .prop_map(|items| {
                Value::Array(
                    items
                        .into_iter()
                        .map(|map| Value::Object(map.into_iter().collect()))
                        .collect(),
                )
            })
            .boxed(),
        "overrides" => Just(serde_json::json!({})).boxed(),
        _ => any_text().prop_map(Value::String).boxed(),
    }
}

/// An ECS Task State Change whose every known detail field is well typed 49 times in 50 (so about one event in three has a wrong type somewhere).
fn task_event() -> impl Strategy<Value = Value> {
    let fields: Vec<BoxedStrategy<(String, Value)>> = DETAIL_FIELDS
        .iter()
        .map(|field| {
            prop_oneof![49 => typed(field), 1 => json()]
                .prop_map(move |value| ((*field).to_owned(), value))
                .boxed()
        })
        .collect();
    fields.prop_map(|fields| {
        serde_json::json!({
            "version": "0",
            "id": "e",
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "detail": Value::Object(fields.into_iter().collect()),
        })
    })
}

/// The generator above must keep reaching the item checks, not just the parser's errors.
#[test]
fn most_generated_task_events_parse() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = task_event();
    let parsed = (0..200)
        .filter(|_| {
            let value = strategy.new_tree(&mut runner).unwrap().current();
            matches!(parse_event(&value.to_string()), Ok(Parsed::Task(_)))
        })
        .count();
    assert!(parsed >= 80, "only {parsed} of 200 generated events parsed");
}

/// One change to the sample event.
#[derive(Clone, Debug)]
enum Mutation {
    Detail(usize, Value),
    Container(usize, Value),
    /// Copies of the first container (with this many network bindings each).
    Containers(usize, usize),
    Envelope(String, Value),
    Version(u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0..DETAIL_FIELDS.len(), json()).prop_map(|(f, v)| Mutation::Detail(f, v)),
        3 => (0..CONTAINER_FIELDS.len(), json()).prop_map(|(f, v)| Mutation::Container(f, v)),
        1 => (0usize..70, 0usize..130).prop_map(|(c, b)| Mutation::Containers(c, b)),
        1 => (prop_oneof![Just("id".to_owned()), Just("time".to_owned()), Just("detail".to_owned()), text(6)], json())
            .prop_map(|(k, v)| Mutation::Envelope(k, v)),
        1 => any::<u64>().prop_map(Mutation::Version),
    ]
}

fn apply(event: &mut Value, mutation: &Mutation) {
    if let Mutation::Envelope(key, value) = mutation {
        if let Some(envelope) = event.as_object_mut() {
            envelope.insert(key.clone(), value.clone());
        }
        return;
    }
    // An earlier mutation may have replaced the detail by something else: then there is no field.
    let Some(detail) = event.get_mut("detail").and_then(Value::as_object_mut) else {
        return;
    };
    let first_container = |detail: &mut Map<String, Value>| {
        detail
            .get_mut("containers")
            .and_then(Value::as_array_mut)
            .and_then(|containers| containers.first_mut())
            .and_then(Value::as_object_mut)
            .map(|container| container.clone())
    };
    match mutation {
        Mutation::Detail(field, value) => {
            detail.insert(DETAIL_FIELDS[*field].to_owned(), value.clone());
        }
        Mutation::Container(field, value) => {
            if let Some(mut container) = first_container(detail) {
                container.insert(CONTAINER_FIELDS[*field].to_owned(), value.clone());
                detail.insert(
                    "containers".into(),
                    Value::Array(vec![Value::Object(container)]),
                );
            }
        }
        Mutation::Containers(count, bindings) => {
            if let Some(mut container) = first_container(detail) {
                let binding = serde_json::json!({"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 32771, "protocol": "tcp"});
                container.insert(
                    "networkBindings".into(),
                    Value::Array(vec![binding; *bindings]),
                );
                detail.insert(
                    "containers".into(),
                    Value::Array(vec![Value::Object(container); *count]),
                );
            }
        }
        Mutation::Version(version) => {
            detail.insert("version".into(), Value::from(*version));
        }
        Mutation::Envelope(..) => {}
    }
}

fn long_tags() -> Tags {
    Tags {
        values: (0..50)
            .map(|n| (format!("{n:02}{}", "k".repeat(126)), "v".repeat(256)))
            .collect::<BTreeMap<_, _>>(),
        source: TagSource::DescribeTasks,
        enriched: true,
    }
}

/// Normalizes and encodes a parsed event the way the pipeline does; checks the DynamoDB limits.
fn check_items(event: &TaskEvent) {
    let received = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    for tags in [Tags::none(), long_tags()] {
        for late_arrival in [false, true] {
            let mut record = normalize(
                event,
                RecordContext {
                    tags: tags.clone(),
                    late_arrival,
                    received_at: received,
                    retention_days: 90,
                },
            );
            // With its index keys, which must fit the key limits too.
            record.indexed = true;
            let item = history_item(&record);
            let size = item_size(&item);
            assert!(size <= MAX_ITEM_BYTES, "history item of {size} bytes");
            for key in ["pk", "gsi1pk"] {
                if let Some(value) = item.get(key).and_then(|v| v.as_s().ok()) {
                    assert!(value.len() <= 2048, "{key} of {} bytes", value.len());
                }
            }
            for key in ["sk", "gsi1sk"] {
                if let Some(value) = item.get(key).and_then(|v| v.as_s().ok()) {
                    assert!(value.len() <= 1024, "{key} of {} bytes", value.len());
                }
            }
            let snapshot = snapshot_item(&Snapshot::from_record(&record, None));
            assert!(item_size(&snapshot) <= DYNAMODB_ITEM_LIMIT);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Bytes near a real event (cut short, or with bytes overwritten) and plain garbage: every
    /// unreadable one is an error that says why, and what the rejection log line reads off it stays
    /// short; a cut-off event can never parse.
    #[test]
    fn arbitrary_bytes_are_rejected_with_a_reason_or_parse_into_storable_items(
        (bytes, cut) in damaged_sample()
    ) {
        let text = String::from_utf8_lossy(&bytes);
        match parse_event(&text) {
            Err(err) => prop_assert!(!err.to_string().is_empty()),
            Ok(Parsed::Task(event)) => {
                prop_assert!(!cut, "a cut-off event parsed");
                check_items(&event);
            }
            Ok(Parsed::Other { .. }) => prop_assert!(!cut, "a cut-off event parsed"),
        }
        let who = identify(&text);
        for field in [&who.event_id, &who.task_arn, &who.version] {
            prop_assert!(field.chars().count() <= 601, "{} chars", field.chars().count());
        }
    }

    /// Task events whose known fields hold anything (well-typed values mostly, random JSON
    /// otherwise), so that most parse and reach the item checks; see
    /// `most_generated_task_events_parse` for the share.
    #[test]
    fn arbitrary_task_events_parse_or_fail_cleanly_and_always_fit_an_item(value in task_event()) {
        match parse_event(&value.to_string()) {
            Ok(Parsed::Task(event)) => check_items(&event),
            Ok(Parsed::Other { .. }) => prop_assert!(false, "a task state change was skipped"),
            Err(err) => prop_assert!(!err.to_string().is_empty()),
        }
    }

    #[test]
    fn mutated_events_parse_or_fail_cleanly_and_always_fit_an_item(
        mutations in vec(mutation(), 1..6)
    ) {
        let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
        for mutation in &mutations {
            apply(&mut event, mutation);
        }
        if let Ok(Parsed::Task(event)) = parse_event(&event.to_string()) {
            check_items(&event);
        }
    }
}
