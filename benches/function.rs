//! `make bench`, the function's part: what one event costs the release `bootstrap`, measured
//! behind the test kit's Lambda Runtime API against the emulators (dynoxide for DynamoDB, which
//! bills capacity like DynamoDB; moto for ECS and STS), through the kit's fault proxy with no rules
//! (a logging pass-through: every request with its operation and body) behind a local TLS front.
//!
//! 1. Replays, each on a fresh table and a fresh function process: N tasks (default 2,000) running
//!    in moto with tags, each task's 8-version Fargate lifecycle, shuffled, +10 % copies; as SQS
//!    batches of 100 and of 10 (batch item failures redelivered), as single EventBridge
//!    invocations, and with ENRICH=always and never, the last ones on the first 250 tasks; and
//!    the same lifecycles in order (copies late) as batches of 100, the write-heaviest order.
//! 2. Per replay: AWS requests per event by operation (the proxy's log); write units per event,
//!    the function's EMF `WriteCapacityUnits` beside DynamoDB's sizing rules on the written items;
//!    read units; bytes stored per event at the end; handler CPU (/proc) and peak RSS; the same
//!    batch-100 replay without TLS, to show what TLS costs.
//! 3. Dollars per million events (prices in `function/prices.rs`) against keeping the raw events
//!    in CloudWatch Logs; init and first invocations; binary sizes; criterion's core figures.
//!
//! Not a test: it asserts nothing about speed. Prints the tables and writes
//! `target/bench/report.json`. `cargo bench --profile bench-harness --bench function -- --help`.

#[path = "../tests/common/mod.rs"]
mod common;

// The bench's own modules, in benches/function/ (a crate root's modules would sit beside it).
#[path = "function/args.rs"]
mod args;
#[path = "function/cost.rs"]
mod cost;
#[path = "function/events.rs"]
mod events;
#[path = "function/prices.rs"]
mod prices;
#[path = "function/replay.rs"]
mod replay;
#[path = "function/report.rs"]
mod report;
#[path = "function/sizing.rs"]
mod sizing;
#[path = "function/startup.rs"]
mod startup;
#[path = "function/tls.rs"]
mod tls;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use args::Args;
use events::{Order, Stream};
use replay::{replay, Bench, Measured, Plan};

/// Tags every task carries, as in a real account.
const TAGS: [(&str, &str); 2] = [("team", "payments"), ("env", "bench")];

fn main() {
    let root = common::root().to_path_buf();
    let args = Args::from_env(&root);
    assert!(
        args.binary.exists(),
        "{} not found: run `cargo build --release --bin bootstrap` (make bench does)",
        args.binary.display()
    );
    // Start both emulators before the runtime: their helpers block while they wait for them.
    let _ = (common::moto::endpoint(), common::dynamodb_endpoint());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(&root, args));
}

async fn run(root: &std::path::Path, args: Args) {
    let started = Instant::now();
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    let mut report = json!({
        "binary": args.binary,
        "binary_bytes_x86_64": report::file_size(&args.binary),
        "binary_bytes_arm64": report::file_size(&root.join("target/lambda-arm64/bootstrap/bootstrap")),
        "core": report::criterion_results(root),
        "emulators": {"dynamodb": common::dynamodb_endpoint(), "other": common::moto::endpoint()},
    });
    let bench = bench(&args, &out).await;
    let config = common::sdk_config().await;
    // Without replays only the first invocations need tasks: the side stream's.
    let count = if args.no_replays {
        args.side_tasks.min(args.tasks)
    } else {
        args.tasks
    };
    println!("running {count} tasks in moto …");
    let (cluster, tasks) =
        common::run_many_tasks(&aws_sdk_ecs::Client::new(&config), count, &TAGS).await;
    let main = Arc::new(Stream::of(&cluster, &tasks, args.seed, Order::Shuffled));
    let side = Arc::new(Stream::of(
        &cluster,
        &tasks[..args.side_tasks.min(tasks.len())],
        args.seed + 1,
        Order::Shuffled,
    ));
    report["cold_start"] = startup::cold_starts(&bench, args.cold_starts).await;
    report["first_invocation"] =
        startup::first_invocations(&bench, &side, args.first_invocations).await;
    let mut replays = Vec::new();
    let in_order = Arc::new(Stream::of(&cluster, &tasks, args.seed, Order::InOrder));
    for plan in plans(&args, &main, &in_order, &side) {
        let (events, began) = (plan.stream.bodies.len(), Instant::now());
        replays.push(replay(&bench, &plan).await);
        println!(
            "replayed {events} events: {} ({:.0} s)",
            plan.name,
            began.elapsed().as_secs_f64()
        );
    }
    finish(report, &replays, &out, started);
}

/// The proxy (a pass-through logging every body) and, unless `--no-tls`, the TLS front before it.
async fn bench(args: &Args, out: &std::path::Path) -> Bench {
    let proxy = common::fault_proxy::FaultProxy::start(args.seed).await;
    proxy.log_bodies_in_full();
    let front = match args.tls {
        true => {
            let certificates = tls::certificates(&out.join("tls"));
            Some((
                tls::TlsFront::start(&proxy.endpoint, &certificates).await,
                certificates.ca,
            ))
        }
        false => None,
    };
    // As the template sets them: no DescribeTasks pacing here (the emulator has no quota), arenas
    // committed on demand, the account known without an STS call.
    let mut env: Vec<(String, String)> = [
        ("DESCRIBE_TASKS_PER_SECOND", "0"),
        ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
        ("ACCOUNT_ID", "123456789012"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .to_vec();
    env.extend(args.env.iter().cloned());
    let config = common::sdk_config().await;
    Bench {
        binary: args.binary.clone(),
        env,
        proxy,
        front,
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
    }
}

/// The replays: batch 100 shuffled (over TLS and plain HTTP, to compare) and in order, batch 10,
/// single invocations, and the ENRICH modes.
fn plans(args: &Args, main: &Arc<Stream>, in_order: &Arc<Stream>, side: &Arc<Stream>) -> Vec<Plan> {
    let plan = |name, stream: &Arc<Stream>, batch, enrich, tls| Plan {
        name,
        stream: stream.clone(),
        batch,
        enrich,
        tls,
    };
    let mut plans = vec![plan("batch100", main, 100, "new-tasks", args.tls)];
    if args.tls {
        plans.push(plan("batch100-plain", main, 100, "new-tasks", false));
    }
    plans.extend([
        plan("batch100-in-order", in_order, 100, "new-tasks", args.tls),
        plan("batch10", main, 10, "new-tasks", args.tls),
        // ENRICH matters where batches are small: at batch 100 nearly every batch has a task to
        // describe, so every mode makes one call per batch.
        plan("single", side, 0, "new-tasks", args.tls),
        plan("batch10-always", side, 10, "always", args.tls),
        plan("single-always", side, 0, "always", args.tls),
        plan("batch10-never", side, 10, "never", args.tls),
    ]);
    plans.retain(|plan| args.runs(plan.name));
    plans
}

/// Writes the report, prints the tables.
fn finish(mut report: Value, replays: &[Measured], out: &std::path::Path, started: Instant) {
    report["replays"] = replays
        .iter()
        .map(|m| (m.name.to_owned(), report::replay_json(m)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let cost_replay = replays
        .iter()
        .find(|m| m.name == "batch100")
        .or(replays.first());
    let tls = tls_comparison(replays);
    if let Some((with, without, handshakes)) = tls {
        report["tls_comparison"] = json!({"cpu_us_per_event_tls": with, "cpu_us_per_event_plain": without,
            "tls_handshakes": handshakes});
    }
    report["seconds"] = json!(started.elapsed().as_secs_f64());
    let path = out.join("report.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).expect("report"),
    )
    .expect("write report");
    report::print_header(&report);
    if !replays.is_empty() {
        report::print_replays(replays);
    }
    if let Some((with, without, handshakes)) = tls {
        println!(
            "TLS: handler CPU at batch 100 {with:.0} µs/event through the TLS front ({handshakes} \
             handshakes), {without:.0} over plain HTTP; runs differ by up to ~10 %"
        );
    }
    if let Some(m) = cost_replay {
        report::print_costs(m);
    }
    if !replays.is_empty() {
        report::print_cost_totals(replays);
    }
    // The in-order replay beside it: the write-heaviest delivery, to bound the cost from above.
    if let Some(m) =
        find(replays, "batch100-in-order").filter(|m| Some(m.name) != cost_replay.map(|c| c.name))
    {
        report::print_costs(m);
    }
    println!(
        "\nreport: {} ({:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
}

/// Handler CPU µs/event at batch 100 with and without the TLS front, and the front's handshakes.
fn tls_comparison(replays: &[Measured]) -> Option<(f64, f64, usize)> {
    let cpu = |m: &Measured| m.per_event(m.cpu_seconds * 1e6);
    let (tls, plain) = (find(replays, "batch100")?, find(replays, "batch100-plain")?);
    Some((cpu(tls), cpu(plain), tls.handshakes))
}

fn find<'a>(replays: &'a [Measured], name: &str) -> Option<&'a Measured> {
    replays.iter().find(|m| m.name == name)
}
