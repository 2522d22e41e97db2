//! CPU cost per event of everything the function does between an event's bytes and its DynamoDB
//! items: the real pipeline (parse → classify → normalize → items → outcomes) on in-memory
//! adapters, so no I/O is counted. `make bench` runs it and reports events/s on one core
//! (target: ≥ 100,000 for a ~4 KB event).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ecs_task_history::core::enrich::EnrichMode;
use ecs_task_history::memory::{MemoryEcs, MemoryStore};
use ecs_task_history::pipeline::{Input, Pipeline, Settings};

/// The Lambda's allocator, so the figure is the function's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A fresh pipeline each time: every event of the batch is new to it, as on a first delivery.
fn process(runtime: &tokio::runtime::Runtime, bodies: &[String]) -> usize {
    let pipeline = Pipeline::new(
        MemoryEcs::default(),
        MemoryStore::default(),
        Settings {
            enrich: EnrichMode::Never,
            ..Settings::default()
        },
    );
    let inputs = bodies
        .iter()
        .map(|body| Input::Body {
            source: None,
            text: body,
        })
        .collect();
    runtime.block_on(pipeline.process(inputs)).len()
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|err| panic!("runtime: {err}"));
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
            b.iter(|| process(&runtime, black_box(&bodies)))
        });
    }
    let template = sample("fargate-batch-stopped-oom.json");
    let batch = distinct_tasks(&template, 100);
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("batch_of_100_distinct_tasks", |b| {
        b.iter_batched(
            || batch.clone(),
            |bodies| process(&runtime, black_box(&bodies)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
