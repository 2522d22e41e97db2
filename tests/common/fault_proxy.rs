//! A fault-injecting HTTP proxy on 127.0.0.1 between the SDK clients and the emulator: per operation
//! (the `x-amz-target` header), at a seeded rate, it answers with AWS throttling or server errors,
//! resets the connection, answers too late, holds a request for ever, or rewrites a DescribeTasks
//! answer; and it logs every request so a test can check what reached the emulator.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::stream::Rng;

/// What the proxy does instead of (or on top of) forwarding a request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException` (the service's JSON error shape); not forwarded.
    Throttling,
    /// HTTP 400 `ProvisionedThroughputExceededException`; not forwarded.
    ProvisionedThroughputExceeded,
    /// HTTP 400 with this error code (e.g. `ValidationException`); not forwarded.
    ClientError(&'static str),
    /// An HTTP 500 (`InternalServerError`) or 503 (`ServiceUnavailable`). With `forwarded` the
    /// emulator has already executed the request: an ambiguous failure, as a lost answer is.
    ServerError { status: u16, forwarded: bool },
    /// A TCP reset instead of an answer; with `forwarded`, after the emulator executed the request.
    Reset { forwarded: bool },
    /// Forwarded, but answered only after this delay (longer than the client's attempt timeout).
    Slow(Duration),
    /// Never forwarded and never answered; [`FaultProxy::held`] wakes up (a process to kill).
    Hang,
    /// Forwarded; then each task of the DescribeTasks answer whose id is a key here is replaced by a
    /// `failures` entry with that reason (`MISSING`, or any other).
    DescribeFailures(BTreeMap<String, String>),
}

impl Fault {
    pub fn label(&self) -> String {
        match self {
            Self::Throttling => "ThrottlingException".into(),
            Self::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException".into(),
            Self::ClientError(code) => (*code).into(),
            Self::ServerError { status, forwarded } => {
                format!(
                    "{status}{}",
                    if *forwarded { " after forwarding" } else { "" }
                )
            }
            Self::Reset { forwarded } => {
                format!("reset{}", if *forwarded { " after forwarding" } else { "" })
            }
            Self::Slow(delay) => format!("slow {} ms", delay.as_millis()),
            Self::Hang => "hang".into(),
            Self::DescribeFailures(_) => "describe failures".into(),
        }
    }
}

/// When a fault applies: to which operation, which bodies, how often and how many times.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The operation name (`PutItem`, `BatchWriteItem`, `DescribeTasks`, …), or `*` for every one.
    pub operation: String,
    /// Only requests whose body contains this text (e.g. `"SNAPSHOT"` for snapshot writes).
    pub body_contains: Option<String>,
    /// Probability per matching request, 0.0 to 1.0.
    pub rate: f64,
    /// One is picked uniformly for each injection.
    pub faults: Vec<Fault>,
    /// At most this many injections (then the rule stays quiet).
    pub limit: Option<usize>,
    injected: usize,
}

impl Rule {
    pub fn new(operation: &str, rate: f64, faults: Vec<Fault>) -> Self {
        Self {
            operation: operation.to_owned(),
            body_contains: None,
            rate,
            faults,
            limit: None,
            injected: 0,
        }
    }

    pub fn body_contains(mut self, text: &str) -> Self {
        self.body_contains = Some(text.to_owned());
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    fn matches(&self, operation: &str, body: &str) -> bool {
        (self.operation == "*" || self.operation == operation)
            && self
                .body_contains
                .as_deref()
                .is_none_or(|text| body.contains(text))
            && self.limit.is_none_or(|limit| self.injected < limit)
    }
}

/// Operations whose bodies the log keeps whole (the others: their first 512 bytes).
pub const LOGGED_IN_FULL: [&str; 2] = ["PutItem", "DescribeTasks"];

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub operation: String,
    /// The access key id and region the request was signed with: whose credentials, which region.
    pub access_key: String,
    pub region: String,
    pub body: String,
    /// The fault injected, if any.
    pub fault: Option<String>,
    /// The emulator's status, if the request was forwarded.
    pub upstream_status: Option<u16>,
    /// Position of the request's arrival in one sequence shared with `answered`.
    pub arrived: u64,
    /// Position of the emulator's answer in the same sequence (0 if not forwarded).
    pub answered: u64,
}

impl Logged {
    /// The emulator executed it successfully (whatever the client then saw).
    pub fn succeeded(&self) -> bool {
        self.upstream_status == Some(200)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct State {
    /// Where requests go: DynamoDB's to its emulator, every other service's to moto.
    upstream: String,
    dynamodb: String,
    rules: Mutex<Vec<Rule>>,
    rng: Mutex<Rng>,
    log: Mutex<Vec<Logged>>,
    sequence: AtomicU64,
    held: Arc<Notify>,
    /// Keep every body whole (see [`FaultProxy::log_bodies_in_full`]).
    full_bodies: AtomicBool,
}

#[derive(Clone)]
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: the endpoint to give the SDK clients.
    pub endpoint: String,
    state: Arc<State>,
}

impl FaultProxy {
    /// Listens on a free 127.0.0.1 port, forwarding DynamoDB requests to the tests' DynamoDB
    /// emulator and the others to moto, until the test's runtime ends.
    pub async fn start(seed: u64) -> Self {
        let upstream = super::moto::endpoint();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fault proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(State {
            upstream: upstream.trim_start_matches("http://").to_owned(),
            dynamodb: super::dynamodb_endpoint()
                .trim_start_matches("http://")
                .to_owned(),
            rules: Mutex::default(),
            rng: Mutex::new(Rng(seed | 1)),
            log: Mutex::default(),
            sequence: AtomicU64::new(1),
            held: Arc::new(Notify::new()),
            full_bodies: AtomicBool::new(false),
        });
        let server = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = server.clone();
                let fd = stream.as_raw_fd();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { state.handle(request, fd).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { endpoint, state }
    }

    pub fn add_rule(&self, rule: Rule) {
        self.state.rules.lock().unwrap().push(rule);
    }

    pub fn clear_rules(&self) {
        self.state.rules.lock().unwrap().clear();
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }

    /// Faults injected so far, by label.
    pub fn injected(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.state.log.lock().unwrap().iter() {
            if let Some(fault) = &entry.fault {
                *counts.entry(fault.clone()).or_default() += 1;
            }
        }
        counts
    }

    /// Wakes up when a request is held by [`Fault::Hang`].
    pub fn held(&self) -> Arc<Notify> {
        self.state.held.clone()
    }

    /// From now on the log keeps every body whole, not only [`LOGGED_IN_FULL`]'s: the benchmark
    /// sizes every item written from it (and, with no rules, the proxy is a logging pass-through).
    pub fn log_bodies_in_full(&self) {
        self.state.full_bodies.store(true, Ordering::SeqCst);
    }

    /// Every request so far, in arrival order, emptying the log.
    pub fn take_log(&self) -> Vec<Logged> {
        std::mem::take(&mut *self.state.log.lock().unwrap())
    }
}

impl State {
    fn next(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::SeqCst)
    }

    fn pick_fault(&self, operation: &str, body: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let mut rng = self.rng.lock().unwrap();
        for rule in rules.iter_mut() {
            if rule.matches(operation, body) && rng.chance(rule.rate) && !rule.faults.is_empty() {
                rule.injected += 1;
                return Some(rule.faults[rng.below(rule.faults.len())].clone());
            }
        }
        None
    }

    async fn handle(
        &self,
        request: Request<Incoming>,
        fd: RawFd,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let arrived = self.next();
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(std::io::Error::other)?;
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("unknown");
        let mut text = String::from_utf8_lossy(&body).into_owned();
        // JSON protocols (DynamoDB, ECS) name the operation in a header; query protocols (STS,
        // SNS, SQS's older form) in the form body's `Action`.
        let query_action = query_action(&text);
        let operation = match &query_action {
            Some(action) if target == "unknown" => action.clone(),
            _ => target.rsplit('.').next().unwrap_or(target).to_owned(),
        };
        let (access_key, region) = credential_scope(&parts.headers);
        let fault = self.pick_fault(&operation, &text);
        if !LOGGED_IN_FULL.contains(&operation.as_str()) && !self.full_bodies.load(Ordering::SeqCst)
        {
            // Batches are big and the soak sends thousands: keep their beginning only.
            let mut end = text.len().min(512);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        let mut entry = Logged {
            operation: operation.clone(),
            access_key,
            region,
            body: text,
            fault: fault.as_ref().map(Fault::label),
            upstream_status: None,
            arrived,
            answered: 0,
        };

        let forwards = match &fault {
            None | Some(Fault::Slow(_)) | Some(Fault::DescribeFailures(_)) => true,
            Some(Fault::ServerError { forwarded, .. }) | Some(Fault::Reset { forwarded }) => {
                *forwarded
            }
            Some(_) => false,
        };
        let mut upstream = None;
        if forwards {
            let is_dynamodb = parts
                .headers
                .get("x-amz-target")
                .and_then(|target| target.to_str().ok())
                .is_some_and(|target| target.starts_with("DynamoDB"));
            let to = if is_dynamodb {
                &self.dynamodb
            } else {
                &self.upstream
            };
            let answer = forward(to, &parts, body).await;
            entry.answered = self.next();
            match answer {
                Ok(answer) => {
                    entry.upstream_status = Some(answer.0.as_u16());
                    upstream = Some(answer);
                }
                Err(err) => {
                    self.log.lock().unwrap().push(entry);
                    return Err(err);
                }
            }
        }
        self.log.lock().unwrap().push(entry);

        let service_prefix = target.split('.').next().unwrap_or("");
        if query_action.is_some() && target == "unknown" {
            if let Some(Fault::ClientError(code)) = &fault {
                return Ok(query_error(code));
            }
        }
        match fault {
            None => Ok(respond(upstream.expect("forwarded"))),
            Some(Fault::Throttling) => Ok(aws_error(
                400,
                &error_type(service_prefix, "ThrottlingException"),
                "Rate of requests exceeds the allowed throughput.",
            )),
            Some(Fault::ProvisionedThroughputExceeded) => Ok(aws_error(
                400,
                &error_type(service_prefix, "ProvisionedThroughputExceededException"),
                "The level of configured provisioned throughput for the table was exceeded.",
            )),
            Some(Fault::ClientError(code)) => Ok(aws_error(
                400,
                &error_type(service_prefix, code),
                "injected client error",
            )),
            Some(Fault::ServerError { status, .. }) => {
                let code = if status == 503 {
                    "ServiceUnavailable"
                } else {
                    "InternalServerError"
                };
                Ok(aws_error(
                    status,
                    &error_type(service_prefix, code),
                    "injected server error",
                ))
            }
            Some(Fault::Reset { .. }) => {
                reset_on_close(fd);
                Err(std::io::Error::other("injected connection reset"))
            }
            Some(Fault::Slow(delay)) => {
                tokio::time::sleep(delay).await;
                Ok(respond(upstream.expect("forwarded")))
            }
            Some(Fault::Hang) => {
                self.held.notify_one();
                std::future::pending().await
            }
            Some(Fault::DescribeFailures(reasons)) => {
                let (status, headers, body) = upstream.expect("forwarded");
                Ok(respond((
                    status,
                    headers,
                    describe_failures(&body, &reasons),
                )))
            }
        }
    }
}

type Answer = (StatusCode, HeaderMap, Bytes);

async fn forward(
    upstream: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Answer, std::io::Error> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone());
    for (name, value) in &parts.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((parts.status, parts.headers, body))
}

fn respond((status, headers, body): Answer) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            response = response.header(name, value);
        }
    }
    response.body(Full::new(body)).expect("response")
}

/// The `Action` of a query-protocol form body (`Action=AssumeRole&Version=…`).
fn query_action(body: &str) -> Option<String> {
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
}

/// `Credential=AKID/20260101/us-east-1/ecs/aws4_request` of a SigV4 `Authorization` header.
fn credential_scope(headers: &HeaderMap) -> (String, String) {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let credential = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or("");
    let mut parts = credential.split('/');
    let access_key = parts.next().unwrap_or("").to_owned();
    let region = parts.nth(1).unwrap_or("").to_owned();
    (access_key, region)
}

/// A query-protocol service's error (STS): XML, HTTP 403 for a denial, 400 otherwise.
fn query_error(code: &str) -> Response<Full<Bytes>> {
    let status = if code.starts_with("AccessDenied") {
        403
    } else {
        400
    };
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected {code}</Message></Error><RequestId>injected-fault</RequestId></ErrorResponse>"
    );
    Response::builder()
        .status(status)
        .header("content-type", HeaderValue::from_static("text/xml"))
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

/// DynamoDB qualifies error types with its namespace; ECS does not.
fn error_type(service_prefix: &str, code: &str) -> String {
    if service_prefix.starts_with("DynamoDB") {
        format!("com.amazonaws.dynamodb.v20120810#{code}")
    } else {
        code.to_owned()
    }
}

/// An error answer in the AWS JSON protocol's shape.
fn aws_error(status: u16, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({ "__type": error_type, "message": message }).to_string();
    Response::builder()
        .status(status)
        .header(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0"),
        )
        .header("x-amzn-requestid", "injected-fault")
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

/// Moves the named tasks of a DescribeTasks answer into its `failures` list.
fn describe_failures(body: &Bytes, reasons: &BTreeMap<String, String>) -> Bytes {
    let Ok(mut answer) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let id_of = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_owned();
    let mut failures: Vec<Value> = answer["failures"].as_array().cloned().unwrap_or_default();
    if let Some(tasks) = answer["tasks"].as_array_mut() {
        tasks.retain(|task| {
            let arn = task["taskArn"].as_str().unwrap_or_default();
            match reasons.get(&id_of(arn)) {
                Some(reason) => {
                    failures.push(json!({ "arn": arn, "reason": reason, "detail": "injected" }));
                    false
                }
                None => true,
            }
        });
    }
    answer["failures"] = Value::Array(failures);
    Bytes::from(answer.to_string())
}

/// Makes the kernel answer with RST instead of FIN when the connection is closed.
fn reset_on_close(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is the connection's socket, open while its service future runs; SO_LINGER
    // takes a `linger` struct of exactly this size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Checks, from the proxy's log, that no task's snapshot ever moved backwards: whenever one
/// snapshot write had been executed before another was even sent, the later one carries a higher
/// version. (Writes in flight at the same time are ordered by the emulator alone; their outcome
/// shows in the final table.) Returns how many successful snapshot writes it checked.
pub fn assert_snapshots_never_went_back(log: &[Logged]) -> usize {
    let mut by_task: BTreeMap<String, Vec<(u64, u64, u64)>> = BTreeMap::new();
    for entry in log
        .iter()
        .filter(|e| e.operation == "PutItem" && e.succeeded())
    {
        let body = entry.json();
        let item = &body["Item"];
        if item["sk"]["S"] != "SNAPSHOT" {
            continue;
        }
        let task = item["pk"]["S"].as_str().unwrap_or_default().to_owned();
        let version: u64 = item["version"]["N"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .expect("snapshot version");
        by_task
            .entry(task)
            .or_default()
            .push((entry.arrived, entry.answered, version));
    }
    let mut checked = 0;
    for (task, writes) in &by_task {
        for earlier in writes {
            for later in writes {
                if earlier.1 < later.0 {
                    assert!(
                        earlier.2 < later.2,
                        "snapshot of {task} went from version {} back to {}",
                        earlier.2,
                        later.2
                    );
                }
            }
        }
        checked += writes.len();
    }
    checked
}
