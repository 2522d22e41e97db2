//! CPU cost of the pure core per event: parse → classify → normalize → DynamoDB items, with no I/O.
//! `make bench` runs it and reports events/s on one core (target: ≥ 100,000 for a ~4 KB event).

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ecs_task_history::classify::{classify_batch, Class};
use ecs_task_history::dynamodb::items::{history_item, snapshot_item};
use ecs_task_history::event::{parse_event, Parsed};
use ecs_task_history::history::{normalize, RecordContext, Snapshot, Tags};

/// The Lambda's allocator, so the figure is the function's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Everything the Lambda does to an event between its bytes and its DynamoDB items.
fn process(bodies: &[String]) -> usize {
    let received_at = Utc
        .timestamp_opt(1_700_000_000, 0)
        .single()
        .unwrap_or_default();
    let events: Vec<_> = bodies
        .iter()
        .filter_map(|body| match parse_event(body) {
            Ok(Parsed::Task(event)) => Some(*event),
            _ => None,
        })
        .collect();
    let plan = classify_batch(
        events
            .iter()
            .enumerate()
            .map(|(index, e)| (index, e.detail.task_arn.as_str(), e.detail.version)),
        |_| None,
    );
    let mut attributes = 0;
    for task in &plan {
        let mut newest = None;
        for planned in task.events.iter().filter(|e| e.class == Class::Fresh) {
            let context = RecordContext {
                tags: Tags::none(),
                late_arrival: false,
                received_at,
                retention_days: 90,
            };
            let record = normalize(&events[planned.index], context);
            attributes += history_item(&record).len();
            newest = Some(record);
        }
        if let Some(record) = newest {
            attributes += snapshot_item(&Snapshot::from_record(&record, None)).len();
        }
    }
    attributes
}

fn sample(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// `count` copies of a sample, each for its own task, so none is a duplicate of another.
fn distinct_tasks(template: &str, count: usize) -> Vec<String> {
    let arn_tail = "9f4d7ac84452463f2f15eade2fa29161";
    (0..count)
        .map(|n| template.replace(arn_tail, &format!("{n:032x}")))
        .collect()
}

fn core(c: &mut Criterion) {
    let mut group = c.benchmark_group("core");
    for name in [
        "fargate-batch-stopped-oom.json",
        "fargate-web-v4-running.json",
    ] {
        let body = sample(name);
        group.throughput(Throughput::Elements(1));
        // `core/one_event_<bytes>B`: the report names the sample size, the typical event being ~4 KB.
        group.bench_function(format!("one_event_{}B", body.len()), |b| {
            let bodies = vec![body.clone()];
            b.iter(|| process(black_box(&bodies)))
        });
    }
    let template = sample("fargate-batch-stopped-oom.json");
    let batch = distinct_tasks(&template, 100);
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("batch_of_100_distinct_tasks", |b| {
        b.iter_batched(
            || batch.clone(),
            |bodies| process(black_box(&bodies)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
