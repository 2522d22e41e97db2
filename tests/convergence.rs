//! Convergence: many tasks' lifecycles, shuffled and duplicated, delivered as SQS batches, must end
//! in exactly the snapshots and history that in-order delivery produces.

mod common;

use std::collections::BTreeMap;

use common::{run_tasks, sqs_batch, task_event, Harness, Item, LIFECYCLE};
use ecs_task_history::lambda::handle;
use serde_json::Value;

/// Attributes that say *how* an event arrived, which legitimately differs between the two orders.
const DELIVERY_ATTRIBUTES: [&str; 4] = ["lateArrival", "enriched", "tagsSource", "eventId"];

/// xorshift64*: a deterministic shuffle without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Delivers the events as SQS batches; failed records are delivered again in a later batch, as SQS does.
async fn deliver(harness: &Harness, events: Vec<Value>, batch_size: usize) -> usize {
    let mut pending: Vec<String> = events.iter().map(Value::to_string).collect();
    let mut invocations = 0;
    while !pending.is_empty() {
        let rest = pending.split_off(batch_size.min(pending.len()));
        let batch = sqs_batch(&pending);
        let raw = serde_json::value::RawValue::from_string(batch.to_string()).unwrap();
        let answer = handle(&harness.pipeline, &raw)
            .await
            .expect("batch answered");
        invocations += 1;
        let mut redeliver: Vec<String> = answer["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|failure| {
                let id = failure["itemIdentifier"].as_str().unwrap();
                pending[id[1..].parse::<usize>().unwrap()].clone()
            })
            .collect();
        assert!(invocations < 10_000, "deliveries do not converge");
        redeliver.extend(rest);
        pending = redeliver;
    }
    invocations
}

/// Every item of the table, keyed by (pk, sk), without the delivery attributes.
async fn table_state(harness: &Harness) -> BTreeMap<(String, String), Item> {
    harness
        .scan()
        .await
        .into_iter()
        .map(|mut item| {
            for name in DELIVERY_ATTRIBUTES {
                item.remove(name);
            }
            let key = (
                common::text(&item, "pk").unwrap().to_owned(),
                common::text(&item, "sk").unwrap().to_owned(),
            );
            (key, item)
        })
        .collect()
}

#[tokio::test]
async fn shuffled_duplicated_batches_converge_to_in_order_delivery() {
    let shuffled = Harness::new().await;
    let in_order = Harness::new().await;

    let mut lifecycles: Vec<Vec<Value>> = Vec::new();
    for cluster_number in 0..5 {
        let team = format!("team-{cluster_number}");
        let (cluster, tasks) =
            run_tasks(&shuffled.ecs, 10, &[("team", &team), ("env", "test")]).await;
        for task in tasks {
            lifecycles.push(
                LIFECYCLE
                    .iter()
                    .enumerate()
                    .map(|(n, fixture)| task_event(fixture, &task, &cluster, n as u64 + 1))
                    .collect(),
            );
        }
    }
    let total: usize = lifecycles.iter().map(Vec::len).sum();
    assert_eq!(total, 400);

    // Reference: each version of every task in order.
    let mut ordered = Vec::new();
    for version in 0..LIFECYCLE.len() {
        ordered.extend(lifecycles.iter().map(|events| events[version].clone()));
    }
    deliver(&in_order, ordered.clone(), 10).await;

    // Shuffled, with 10% redelivered copies under new event ids.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut stream = ordered;
    for n in 0..total / 10 {
        let mut copy = stream[rng.below(total)].clone();
        copy["id"] = Value::String(format!("redelivery-{n}"));
        stream.push(copy);
    }
    for i in (1..stream.len()).rev() {
        stream.swap(i, rng.below(i + 1));
    }
    let delivered = stream.len();
    let invocations = deliver(&shuffled, stream, 10).await;
    assert!(invocations >= 44);
    println!(
        "shuffled: {delivered} events in {invocations} invocations, AWS requests {:?} = {:.2}/event",
        shuffled.requests.snapshot(),
        shuffled.requests.total() as f64 / delivered as f64
    );
    println!(
        "in order: {total} events, AWS requests {:?} = {:.2}/event",
        in_order.requests.snapshot(),
        in_order.requests.total() as f64 / total as f64
    );

    let expected = table_state(&in_order).await;
    let actual = table_state(&shuffled).await;
    assert_eq!(expected.len(), 50 * 9, "50 tasks × (8 versions + snapshot)");
    assert_eq!(actual.len(), expected.len(), "same number of items");
    for (key, item) in &expected {
        assert_eq!(actual.get(key), Some(item), "item {key:?} differs");
    }
}
