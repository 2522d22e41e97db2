//! "Nothing lost" under AWS faults: the pipeline reaches moto through the fault-injecting proxy
//! (tests/common/fault_proxy.rs), which answers a share of every operation's requests (BatchGetItem,
//! BatchWriteItem, PutItem, DescribeTasks) with one fault kind. A stream of task lifecycles,
//! shuffled, with 10 % redelivered copies, delivered as SQS batches of 10 whose failed records are
//! redelivered (as Lambda + SQS do), must end in exactly the table that clean in-order delivery
//! produces, and no snapshot write may ever move a task backwards.
//!
//! Size: `make test` runs 60 tasks × 8 versions + 10 % copies = 528 events per fault kind (about
//! 15–40 s each against moto on 2 cores); `make soak` (`SOAK=1`) runs 650 tasks = 5,720 events per
//! fault kind. Each test prints a `fault report` line: events, rate, time, faults injected.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::fault_proxy::{assert_snapshots_never_went_back, Fault, FaultProxy, Rule};
use common::stream::{
    assert_same_state, deliver, in_order_lifecycles, shuffled_with_copies, table_state,
};
use common::{run_tasks, Harness, Rng, ATTEMPT_TIMEOUT};
use ecs_task_history::pipeline::Settings;

/// The tasks every fault kind replays, and the table their in-order delivery produced.
struct Reference {
    tasks: Vec<(String, String)>,
    state: BTreeMap<(String, String), serde_json::Value>,
}

/// Computed once per test binary, on a runtime of its own (the tests' runtimes come and go).
fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(build_reference())
        })
        .join()
        .expect("reference delivery")
    })
}

fn task_count() -> usize {
    if std::env::var_os("SOAK").is_some_and(|v| !v.is_empty() && v != "0") {
        650
    } else {
        60
    }
}

async fn build_reference() -> Reference {
    let harness = Harness::new().await;
    let count = task_count();
    let per_cluster = 10;
    let mut tasks = Vec::with_capacity(count);
    for cluster_number in 0..count.div_ceil(per_cluster) {
        let team = format!("team-{cluster_number}");
        let long = "v".repeat(200);
        let (cluster, arns) = run_tasks(
            &harness.ecs,
            per_cluster as i32,
            &[("team", &team), ("env", "fault-test"), ("note", &long)],
        )
        .await;
        tasks.extend(arns.into_iter().map(|task| (cluster.clone(), task)));
    }
    tasks.truncate(count);
    let started = Instant::now();
    let ordered = in_order_lifecycles(&tasks);
    let delivery = deliver(&harness.pipeline, &ordered, 10, &mut Rng(1)).await;
    assert_eq!(
        delivery.batch_item_failures, 0,
        "clean delivery fails nothing"
    );
    let state = table_state(&harness).await;
    assert_eq!(
        state.len(),
        count * 9 + count.div_ceil(per_cluster),
        "every task: 8 versions + snapshot; every cluster: its catalog entry"
    );
    println!(
        "reference: {} events in order in {:.1} s",
        ordered.len(),
        started.elapsed().as_secs_f64()
    );
    Reference { tasks, state }
}

/// Streams the reference tasks' shuffled, duplicated lifecycles through a proxy injecting `faults`
/// into `rate` of every operation's requests, then compares the end state with the reference.
async fn survives(kind: &str, rate: f64, faults: Vec<Fault>, seed: u64) {
    let reference = reference();
    let proxy = FaultProxy::start(seed).await;
    let harness = Harness::through(&proxy.endpoint, Settings::default()).await;
    proxy.add_rule(Rule::new("*", rate, faults));

    let mut rng = Rng(seed);
    let stream = shuffled_with_copies(&in_order_lifecycles(&reference.tasks), &mut rng);
    let started = Instant::now();
    let delivery = deliver(&harness.pipeline, &stream, 10, &mut rng).await;
    let elapsed = started.elapsed();
    proxy.clear_rules();

    let log = proxy.log();
    let injected = proxy.injected();
    let injected_total: usize = injected.values().sum();
    assert!(
        injected_total > 0,
        "{kind}: the proxy injected no fault in {} requests",
        log.len()
    );
    assert!(
        delivery.batch_item_failures > 0 || rate < 0.2,
        "{kind}: faults at {rate} never failed an event: are they reaching the SDK?"
    );
    let snapshot_writes = assert_snapshots_never_went_back(&log);
    assert_same_state(&reference.state, &table_state(&harness).await);
    println!(
        "fault report | {kind} | {} events | rate {:.0} % | {:.1} s | {} invocations | {} batch item failures | max receives {} (over 5: {}) | {} requests, injected {injected:?} | {snapshot_writes} snapshot writes checked | end state = in-order: yes",
        stream.len(),
        rate * 100.0,
        elapsed.as_secs_f64(),
        delivery.invocations,
        delivery.batch_item_failures,
        delivery.max_receives,
        delivery.beyond_max_receive_count,
        log.len(),
    );
}

fn slow() -> Fault {
    Fault::Slow(ATTEMPT_TIMEOUT + Duration::from_millis(300))
}

/// Every fault kind; `with_slow` adds answers past the attempt timeout, which at high rates cost
/// mostly waiting (each one 1.3 s), so the 50 % mix leaves them to their own test.
fn every_kind(with_slow: bool) -> Vec<Fault> {
    let mut faults = vec![
        Fault::Throttling,
        Fault::ProvisionedThroughputExceeded,
        Fault::ServerError {
            status: 500,
            forwarded: false,
        },
        Fault::ServerError {
            status: 503,
            forwarded: true,
        },
        Fault::Reset { forwarded: false },
        Fault::Reset { forwarded: true },
    ];
    if with_slow {
        faults.push(slow());
    }
    faults
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_at_20_percent_loses_nothing() {
    survives(
        "throttling (ThrottlingException, ProvisionedThroughputExceededException)",
        0.20,
        vec![Fault::Throttling, Fault::ProvisionedThroughputExceeded],
        11,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_at_10_percent_loses_nothing() {
    survives(
        "HTTP 500/503 (half of them after the emulator executed the request)",
        0.10,
        vec![
            Fault::ServerError {
                status: 500,
                forwarded: false,
            },
            Fault::ServerError {
                status: 503,
                forwarded: false,
            },
            Fault::ServerError {
                status: 500,
                forwarded: true,
            },
            Fault::ServerError {
                status: 503,
                forwarded: true,
            },
        ],
        12,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_at_10_percent_lose_nothing() {
    survives(
        "connection reset (half of them after the emulator executed the request)",
        0.10,
        vec![
            Fault::Reset { forwarded: false },
            Fault::Reset { forwarded: true },
        ],
        13,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_slower_than_the_attempt_timeout_at_3_percent_lose_nothing() {
    survives(
        "slow answers past the 1 s attempt timeout (executed by the emulator)",
        0.03,
        vec![slow()],
        14,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_at_1_percent_loses_nothing() {
    survives("every kind mixed", 0.01, every_kind(true), 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_at_50_percent_loses_nothing() {
    survives(
        "every kind mixed but slow answers",
        0.50,
        every_kind(false),
        16,
    )
    .await;
}
