//! One replay: a fresh table and a fresh function process behind the kit's Runtime API, fed one
//! event stream (SQS batches with batch item failures redelivered, or single EventBridge
//! invocations), and what it cost: AWS requests from the proxy's log, units from the function's
//! metrics lines and from the items, CPU and memory from /proc, what the table holds at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::fault_proxy::FaultProxy;
use crate::common::function::{start_binary_with, sum, Function};
use crate::common::runtime_api::Reply;
use crate::events::Stream;
use crate::prices::{SQS_CHUNK_BYTES, SQS_MESSAGES_PER_RECEIVE};
use crate::sizing::{Storage, Writes};
use crate::tls::TlsFront;

/// What every replay shares: the binary, its environment, the proxy (and TLS front) it talks to.
pub struct Bench {
    pub binary: PathBuf,
    /// Environment of every function process (besides the kit's), e.g. `ENRICH` or `--env`.
    pub env: Vec<(String, String)>,
    pub proxy: FaultProxy,
    /// The TLS front and the CA file the function must trust, unless `--no-tls`.
    pub front: Option<(TlsFront, PathBuf)>,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Bench {
    /// Deletes a replay's table once measured, so the emulator does not carry it into the next.
    pub async fn drop_table(&self, table: &str) {
        let _ = self.dynamodb.delete_table().table_name(table).send().await;
    }

    /// A function process on `table`, reaching AWS through the TLS front (`tls`) or straight
    /// through the proxy; returns it once its init is over, with the init's duration.
    pub async fn start(
        &self,
        table: &str,
        tls: bool,
        extra: &[(&str, &str)],
    ) -> (Function, Duration) {
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra);
        let endpoint = match (&self.front, tls) {
            (Some((front, ca)), true) => {
                env.push(("SSL_CERT_FILE", ca.to_str().expect("CA path")));
                front.endpoint.clone()
            }
            _ => self.proxy.endpoint.clone(),
        };
        let spawned = Instant::now();
        let mut function = start_binary_with(&self.binary, table, &endpoint, &env).await;
        let deadline = spawned + Duration::from_secs(30);
        loop {
            if let Some(first_next) = function.api.first_next() {
                return (function, first_next - spawned);
            }
            if let Ok(Some(status)) = function.child.try_wait() {
                panic!(
                    "the function exited during init ({status}): {:?}",
                    function.api.init_error()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the function did not finish its init in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// TLS handshakes the front has completed so far (0 without one).
    pub fn handshakes(&self) -> usize {
        self.front
            .as_ref()
            .map_or(0, |(front, _)| front.handshakes())
    }
}

/// Kills a function process and waits for it.
pub async fn stop(mut function: Function) {
    let _ = function.child.kill().await;
}

/// One replay to run.
pub struct Plan {
    pub name: &'static str,
    pub stream: Arc<Stream>,
    /// Records per SQS batch; 0 for single EventBridge invocations.
    pub batch: usize,
    pub enrich: &'static str,
    pub tls: bool,
}

/// How the stream went in.
#[derive(Default)]
struct Delivery {
    invocations: usize,
    redelivered: usize,
    /// Wall time of each invocation, ms.
    invocation_ms: Vec<f64>,
    /// The SQS requests the same delivery costs on AWS, besides one SendMessage per event.
    poller_requests: f64,
}

/// Delivers the stream; records an SQS batch reports as failed, or an event whose invocation
/// failed, go again after the pass, as SQS redelivers them after their visibility timeout.
async fn deliver(function: &Function, plan: &Plan) -> Delivery {
    let bodies = &plan.stream.bodies;
    let mut delivery = Delivery::default();
    let mut pending: Vec<usize> = (0..bodies.len()).collect();
    while !pending.is_empty() {
        let mut again = Vec::new();
        for chunk in pending.chunks(plan.batch.max(1)) {
            let records: Vec<String> = chunk.iter().map(|&n| bodies[n].clone()).collect();
            let payload = match plan.batch {
                0 => records[0].clone(),
                _ => crate::common::sqs_batch(&records).to_string(),
            };
            let started = Instant::now();
            let reply = function.api.invoke(&payload).await;
            delivery
                .invocation_ms
                .push(started.elapsed().as_secs_f64() * 1000.0);
            delivery.invocations += 1;
            if plan.batch > 0 {
                delivery.poller_requests += poller_requests(&records);
            }
            again.extend(failed(&reply, plan.batch).into_iter().map(|n| chunk[n]));
        }
        delivery.redelivered += again.len();
        assert!(
            delivery.redelivered <= bodies.len(),
            "{}: events keep failing ({} redeliveries)",
            plan.name,
            delivery.redelivered
        );
        pending = again;
    }
    delivery
}

/// Positions of the records to deliver again: an SQS batch's `batchItemFailures` (message ids
/// `m<n>`), or the one event of a failed EventBridge invocation.
fn failed(reply: &Reply, batch: usize) -> Vec<usize> {
    match reply {
        Reply::Response(answer) if batch > 0 => answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|failure| {
                failure["itemIdentifier"]
                    .as_str()?
                    .strip_prefix('m')?
                    .parse()
                    .ok()
            })
            .collect(),
        Reply::Response(_) => Vec::new(),
        Reply::Error(_) => (0..batch.max(1)).collect(),
    }
}

/// What Lambda's SQS poller spends on one batch: a ReceiveMessage per 10 messages (a request per
/// 64 KB of the messages it returns) and a DeleteMessageBatch per 10.
fn poller_requests(records: &[String]) -> f64 {
    records
        .chunks(SQS_MESSAGES_PER_RECEIVE)
        .map(|group| {
            let bytes: usize = group.iter().map(String::len).sum();
            (bytes.div_ceil(SQS_CHUNK_BYTES).max(1) + 1) as f64
        })
        .sum()
}

/// Everything one replay measured.
pub struct Measured {
    pub name: &'static str,
    pub batch: usize,
    pub enrich: &'static str,
    pub tls: bool,
    pub stream: Arc<Stream>,
    pub invocations: usize,
    pub redelivered: usize,
    pub invocation_ms: Vec<f64>,
    /// SQS requests on AWS: one SendMessage per event (a request per 64 KB) plus the poller's.
    pub sqs_requests: f64,
    pub requests: BTreeMap<String, usize>,
    /// The function's metrics lines, summed by metric.
    pub emf: BTreeMap<String, f64>,
    /// Bytes of those lines, as CloudWatch Logs would ingest them.
    pub emf_bytes: usize,
    /// How many lines: CloudWatch Logs adds its per-event overhead to each.
    pub emf_lines: usize,
    pub writes: Writes,
    pub storage: Storage,
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
    pub handshakes: usize,
    pub wall_seconds: f64,
}

/// The metrics summed from the function's EMF lines.
const EMF_METRICS: [&str; 9] = [
    "EventsReceived",
    "WriteCapacityUnits",
    "ReadCapacityUnits",
    "DynamoDbRequests",
    "DescribeTasksCalls",
    "StsCalls",
    "BatchItemFailures",
    "Retries",
    "Throttles",
];

/// Runs one replay from a fresh table to its measurements.
pub async fn replay(bench: &Bench, plan: &Plan) -> Measured {
    let table = crate::common::create_table(&bench.dynamodb).await;
    let (function, _) = bench
        .start(&table, plan.tls, &[("ENRICH", plan.enrich)])
        .await;
    // What the init sent (connection warm-up) is not the stream's.
    bench.proxy.take_log();
    let (cpu, handshakes, started) = (function.cpu_seconds(), bench.handshakes(), Instant::now());
    let delivery = deliver(&function, plan).await;
    let wall_seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = function.cpu_seconds() - cpu;
    let peak_rss_kib = function.peak_rss_kib();
    let handshakes = bench.handshakes() - handshakes;
    let lines = function.metrics(delivery.invocations).await;
    stop(function).await;
    let log = bench.proxy.take_log();
    let items = crate::common::scan_table(&bench.dynamodb, &table).await;
    bench.drop_table(&table).await;
    let mut requests = BTreeMap::new();
    for entry in &log {
        *requests.entry(entry.operation.clone()).or_default() += 1;
    }
    let sends: usize = plan
        .stream
        .bodies
        .iter()
        .map(|b| b.len().div_ceil(SQS_CHUNK_BYTES))
        .sum();
    Measured {
        name: plan.name,
        batch: plan.batch,
        enrich: plan.enrich,
        tls: plan.tls,
        stream: plan.stream.clone(),
        invocations: delivery.invocations,
        redelivered: delivery.redelivered,
        sqs_requests: if plan.batch > 0 {
            sends as f64 + delivery.poller_requests
        } else {
            0.0
        },
        invocation_ms: delivery.invocation_ms,
        requests,
        emf: EMF_METRICS
            .iter()
            .map(|m| (m.to_string(), sum(&lines, m)))
            .collect(),
        emf_bytes: lines.iter().map(|line| line.to_string().len() + 1).sum(),
        emf_lines: lines.len(),
        writes: Writes::of(&log),
        storage: Storage::of(&items),
        cpu_seconds,
        peak_rss_kib,
        handshakes,
        wall_seconds,
    }
}

impl Measured {
    pub fn events(&self) -> f64 {
        self.stream.bodies.len() as f64
    }

    pub fn per_event(&self, value: f64) -> f64 {
        value / self.events()
    }

    pub fn emf(&self, metric: &str) -> f64 {
        self.emf.get(metric).copied().unwrap_or_default()
    }

    pub fn requests_total(&self) -> usize {
        self.requests.values().sum()
    }

    pub fn describe_calls(&self) -> usize {
        self.requests
            .get("DescribeTasks")
            .copied()
            .unwrap_or_default()
    }

    /// Requests to DynamoDB (what is not ECS or STS).
    pub fn dynamodb_requests(&self) -> usize {
        let other = [
            "DescribeTasks",
            "AssumeRole",
            "GetCallerIdentity",
            "ListTasks",
        ];
        self.requests
            .iter()
            .filter(|(op, _)| !other.contains(&op.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Duration Lambda would bill at 1 ms granularity, from the wall time against the emulators.
    pub fn billed_ms(&self) -> f64 {
        self.invocation_ms.iter().map(|ms| ms.ceil()).sum()
    }

    /// History items the stream must leave: every version of every task.
    pub fn expected_history(&self) -> usize {
        self.stream.tasks * crate::common::LIFECYCLE.len()
    }

    /// A short note if the table does not hold every record the stream carried.
    pub fn check(&self) -> Option<String> {
        let (held, expected) = (self.storage.history_sizes.len(), self.expected_history());
        (held != expected)
            .then(|| format!("{}: {held} history items, {expected} expected", self.name))
    }
}
