//! Cold start: the init (exec → first `GET /next`) of fresh processes without connection warm-up,
//! and the first invocation of fresh processes with and without `WARM_CONNECTIONS`.

use serde_json::{json, Value};

use crate::events::Stream;
use crate::replay::{stop, Bench};
use crate::report::median;

fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `runs` inits without warm-up (no I/O in init); median, least and most, in ms.
pub async fn cold_starts(bench: &Bench, runs: usize) -> Value {
    let mut inits = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (function, init) = bench
            .start("bench-cold-start", true, &[("WARM_CONNECTIONS", "false")])
            .await;
        inits.push(ms(init));
        stop(function).await;
    }
    json!({
        "init_ms_median": median(&inits),
        "init_ms_min": inits.iter().copied().fold(f64::INFINITY, f64::min),
        "init_ms_max": inits.iter().copied().fold(0.0, f64::max),
        "runs": runs,
    })
}

/// For `WARM_CONNECTIONS` true and false, `runs` fresh processes (each on a fresh table) answering
/// a first batch of 10 records of the stream: init, the first invocation, the TLS handshakes during
/// it (medians).
pub async fn first_invocations(bench: &Bench, stream: &Stream, runs: usize) -> Value {
    let mut out = serde_json::Map::new();
    for warm in ["true", "false"] {
        let (mut inits, mut firsts, mut handshakes) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            let table = crate::common::create_table(&bench.dynamodb).await;
            let (function, init) = bench
                .start(&table, true, &[("WARM_CONNECTIONS", warm)])
                .await;
            let first = (run * 10).min(stream.bodies.len().saturating_sub(10));
            let records = &stream.bodies[first..(first + 10).min(stream.bodies.len())];
            let payload = crate::common::sqs_batch(records).to_string();
            let before = bench.handshakes();
            let started = std::time::Instant::now();
            let reply = function.api.invoke(&payload).await;
            firsts.push(ms(started.elapsed()));
            handshakes.push((bench.handshakes() - before) as f64);
            inits.push(ms(init));
            assert!(
                matches!(reply, crate::common::runtime_api::Reply::Response(_)),
                "first invocation failed: {reply:?}"
            );
            stop(function).await;
            bench.drop_table(&table).await;
        }
        out.insert(
            format!("warm_{warm}"),
            json!({
                "init_ms_median": median(&inits),
                "first_invocation_ms_median": median(&firsts),
                "tls_handshakes_in_first_invocation": median(&handshakes),
                "runs": runs,
            }),
        );
    }
    Value::Object(out)
}
