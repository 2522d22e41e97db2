//! A minimal local Lambda Runtime API (the HTTP interface a `provided.al2023` bootstrap talks to),
//! so the real function binary can be run and invoked without Docker or cargo-lambda.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Response(serde_json::Value),
    Error(serde_json::Value),
}

impl Reply {
    /// The message ids an SQS batch's answer reports for redelivery; panics when the invocation
    /// failed as a whole (an SQS batch must never).
    pub fn batch_item_failures(&self) -> Vec<String> {
        match self {
            Self::Response(value) => value["batchItemFailures"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            Self::Error(error) => panic!("the SQS batch failed as a whole: {error}"),
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    waiting: HashMap<String, oneshot::Sender<Reply>>,
    init_error: Option<String>,
    next_calls: usize,
    /// When the function first asked for an invocation: the end of its init.
    first_next: Option<std::time::Instant>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
}

impl RuntimeApi {
    /// Listens on 127.0.0.1 on a free port until the test's runtime ends.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime api");
        let address = listener.local_addr().expect("local addr").to_string();
        let api = Self {
            address,
            state: Arc::default(),
            queued: Arc::new(Notify::new()),
        };
        let server = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let api = server.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let api = api.clone();
                        async move { Ok::<_, Infallible>(api.route(request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        api
    }

    /// Queues one payload and waits for the function's answer.
    pub async fn invoke(&self, payload: &str) -> Reply {
        let (sender, receiver) = oneshot::channel();
        {
            let mut state = self.state.lock().unwrap();
            let request_id = format!(
                "req-{}",
                state.queue.len() + state.waiting.len() + state.next_calls
            );
            state.waiting.insert(request_id.clone(), sender);
            state.queue.push_back((request_id, payload.to_owned()));
        }
        self.queued.notify_one();
        receiver.await.expect("runtime api dropped the invocation")
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.lock().unwrap().init_error.clone()
    }

    pub fn next_calls(&self) -> usize {
        self.state.lock().unwrap().next_calls
    }

    /// When the function first called `GET /next` (its init ended), if it has.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        self.state.lock().unwrap().first_next
    }

    async fn route(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let json = || serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        match (method, path.as_str()) {
            (Method::GET, "/2018-06-01/runtime/invocation/next") => {
                let now = std::time::Instant::now();
                self.state.lock().unwrap().first_next.get_or_insert(now);
                self.next().await
            }
            (Method::POST, "/2018-06-01/runtime/init/error") => {
                self.state.lock().unwrap().init_error =
                    Some(String::from_utf8_lossy(&body).into_owned());
                reply(StatusCode::ACCEPTED, "{}")
            }
            (Method::POST, path) if path.starts_with("/2018-06-01/runtime/invocation/") => {
                let rest = &path["/2018-06-01/runtime/invocation/".len()..];
                let (request_id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                let answer = match kind {
                    "response" => Reply::Response(json()),
                    "error" => Reply::Error(json()),
                    _ => return reply(StatusCode::NOT_FOUND, "{}"),
                };
                if let Some(sender) = self.state.lock().unwrap().waiting.remove(request_id) {
                    let _ = sender.send(answer);
                }
                reply(StatusCode::ACCEPTED, "{}")
            }
            _ => reply(StatusCode::NOT_FOUND, "{}"),
        }
    }

    async fn next(&self) -> Response<Full<Bytes>> {
        loop {
            let notified = self.queued.notified();
            if let Some((request_id, payload)) = {
                let mut state = self.state.lock().unwrap();
                state.queue.pop_front().inspect(|_| state.next_calls += 1)
            } {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() + 60_000)
                    .unwrap_or_default();
                return Response::builder()
                    .status(StatusCode::OK)
                    .header("Lambda-Runtime-Aws-Request-Id", request_id)
                    .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                    .header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:ecs-task-history",
                    )
                    .header(
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000;Sampled=0",
                    )
                    .body(Full::new(Bytes::from(payload)))
                    .expect("response");
            }
            notified.await;
        }
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}
