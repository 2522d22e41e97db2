//! Event streams for the convergence and fault tests: task lifecycles in order, or shuffled with
//! redelivered copies; delivery as SQS batches with failed records redelivered as Lambda + SQS do;
//! and the table state two deliveries are compared by.

use std::collections::{BTreeMap, VecDeque};

use ecs_task_history::lambda::handle;
use ecs_task_history::pipeline::Pipeline;
use ecs_task_history::ports::TaskDescriber;
use ecs_task_history::ports::{AlertLedger, AlertSink, TaskStore};
use serde_json::Value;

use super::{sqs_batch, task_event, text, Harness, Item, LIFECYCLE};

/// Attributes of a record that say *how* its event arrived, which legitimately differ between two
/// deliveries (as do which versions store the tags DescribeTasks gave, and which version carries
/// the task's index entry for its hour: the state compares records with their tags carried, and
/// checks the index separately).
pub const DELIVERY_ATTRIBUTES: [&str; 4] = ["lateArrival", "enriched", "tagsSource", "eventId"];

/// xorshift64*: a deterministic, seeded generator without a dependency.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    /// True with probability `rate` (0.0 to 1.0).
    pub fn chance(&mut self, rate: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= rate && rate > 0.0
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// The sample lifecycle (versions 1 to 8) of each `(cluster ARN, task ARN)`, version by version
/// across tasks: the order a perfect delivery would have.
pub fn in_order_lifecycles(tasks: &[(String, String)]) -> Vec<Value> {
    let mut ordered = Vec::with_capacity(tasks.len() * LIFECYCLE.len());
    for (version, fixture) in LIFECYCLE.iter().enumerate() {
        for (cluster, task) in tasks {
            ordered.push(task_event(fixture, task, cluster, version as u64 + 1));
        }
    }
    ordered
}

/// The events shuffled, with one redelivered copy (under a new event id) per ten events.
pub fn shuffled_with_copies(ordered: &[Value], rng: &mut Rng) -> Vec<Value> {
    let mut stream = ordered.to_vec();
    for n in 0..ordered.len() / 10 {
        let mut copy = ordered[rng.below(ordered.len())].clone();
        copy["id"] = Value::String(format!("redelivery-{n}"));
        stream.push(copy);
    }
    rng.shuffle(&mut stream);
    stream
}

/// The events in order with one redelivered copy (under a new event id) per ten events, each copy
/// placed at a random point after its original: ECS's usual delivery, where every version of a
/// task arrives in a batch of its own and redeliveries come late.
pub fn in_order_with_copies(ordered: &[Value], rng: &mut Rng) -> Vec<Value> {
    let mut later: Vec<Vec<Value>> = vec![Vec::new(); ordered.len() + 1];
    for n in 0..ordered.len() / 10 {
        let original = rng.below(ordered.len());
        let mut copy = ordered[original].clone();
        copy["id"] = Value::String(format!("redelivery-{n}"));
        let at = original + 1 + rng.below(ordered.len() - original);
        later[at].push(copy);
    }
    let mut stream = Vec::with_capacity(ordered.len() + ordered.len() / 10);
    for (position, copies) in later.into_iter().enumerate() {
        stream.extend(copies);
        if let Some(event) = ordered.get(position) {
            stream.push(event.clone());
        }
    }
    stream
}

/// What a delivery took.
#[derive(Debug, Default)]
pub struct Delivery {
    pub invocations: usize,
    /// Records reported back as batch item failures, over all invocations.
    pub batch_item_failures: usize,
    /// The most times one message was received.
    pub max_receives: usize,
    /// Messages received more often than the template's default `MaxReceiveCount` (5): with that
    /// setting they would be parked in the dead-letter queue instead of being redelivered.
    pub beyond_max_receive_count: usize,
}

/// Delivers the events as SQS batches of `batch_size`. A failed record goes back into the queue
/// at a random place among the next few batches (its visibility timeout), as SQS does.
pub async fn deliver<D: TaskDescriber, S: TaskStore + AlertLedger, A: AlertSink>(
    pipeline: &Pipeline<D, S, A>,
    events: &[Value],
    batch_size: usize,
    rng: &mut Rng,
) -> Delivery {
    // (body, receive count)
    let mut queue: VecDeque<(String, usize)> =
        events.iter().map(|event| (event.to_string(), 0)).collect();
    let mut delivery = Delivery::default();
    while !queue.is_empty() {
        let take = batch_size.min(queue.len());
        let mut batch: Vec<(String, usize)> = queue.drain(..take).collect();
        for (_, receives) in &mut batch {
            *receives += 1;
            delivery.max_receives = delivery.max_receives.max(*receives);
            if *receives == 6 {
                delivery.beyond_max_receive_count += 1;
            }
        }
        let bodies: Vec<String> = batch.iter().map(|(body, _)| body.clone()).collect();
        let payload = serde_json::value::RawValue::from_string(sqs_batch(&bodies).to_string())
            .expect("raw payload");
        let answer = handle(pipeline, &payload).await.expect("batch answered");
        delivery.invocations += 1;
        let failures = answer["batchItemFailures"].as_array().expect("failures");
        delivery.batch_item_failures += failures.len();
        for failure in failures {
            let id = failure["itemIdentifier"].as_str().expect("item identifier");
            let position: usize = id[1..].parse().expect("message id m<n>");
            let message = batch[position].clone();
            assert!(
                message.1 < 50,
                "a message was received 50 times without being recorded: {}",
                message.0
            );
            let at = rng.below((batch_size * 4).min(queue.len()) + 1);
            queue.insert(at, message);
        }
    }
    delivery
}

/// What the harness's table holds, keyed by (pk, sk) (see [`state_of`]).
pub async fn table_state(harness: &Harness) -> BTreeMap<(String, String), Value> {
    state_of(harness.scan().await)
}

/// What these items hold, keyed by (pk, sk): each history record as its timeline reads it (tags
/// carried), without the delivery attributes; each snapshot without its index hour; any other item
/// (catalog, alert bookkeeping) by its key alone. Checks on the
/// way that every hour a task changed in has one of its records carrying the index entry, or a
/// window query would miss the task.
pub fn state_of(items: Vec<Item>) -> BTreeMap<(String, String), Value> {
    use ecs_task_history::aws::dynamodb::items::{history_from_item, snapshot_from_item};
    use ecs_task_history::core::history::{carry_tags, index_hour};
    let mut timelines: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut state = BTreeMap::new();
    for item in items {
        let key = (
            text(&item, "pk").expect("pk").to_owned(),
            text(&item, "sk").expect("sk").to_owned(),
        );
        if key.1 == "SNAPSHOT" {
            let mut snapshot = snapshot_from_item(&item).expect("readable snapshot");
            snapshot.indexed_hour = None;
            state.insert(key, Value::String(format!("{snapshot:?}")));
        } else if key.1.starts_with("V#") {
            let record = history_from_item(&item).expect("readable record");
            timelines.entry(key.0).or_default().push(record);
        } else {
            // The cluster catalog, alert claims and crash-loop windows: the same ones must exist.
            state.insert(key, Value::String("present".to_owned()));
        }
    }
    for (pk, mut records) in timelines {
        records.sort_by_key(|record| record.version);
        let hours: std::collections::BTreeSet<i64> =
            records.iter().map(|r| index_hour(r.event_time)).collect();
        let indexed: std::collections::BTreeSet<i64> = records
            .iter()
            .filter(|r| r.indexed)
            .map(|r| index_hour(r.event_time))
            .collect();
        assert_eq!(
            indexed, hours,
            "{pk}: hours with an index entry vs hours it changed in"
        );
        carry_tags(&mut records);
        for record in records {
            let mut json = serde_json::to_value(&record).expect("record as JSON");
            for name in DELIVERY_ATTRIBUTES {
                json.as_object_mut().map(|fields| fields.remove(name));
            }
            state.insert((pk.clone(), format!("V#{:010}", record.version)), json);
        }
    }
    state
}

/// Asserts two table states are the same item for item; names the first difference.
pub fn assert_same_state(
    expected: &BTreeMap<(String, String), Value>,
    actual: &BTreeMap<(String, String), Value>,
) {
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} items missing (first {:?}), {} unexpected (first {:?})",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    for (key, item) in expected {
        assert_eq!(actual.get(key), Some(item), "item {key:?} differs");
    }
}
