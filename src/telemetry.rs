//! Structured JSON logs through `tracing`, one object per line, as CloudWatch Logs Insights likes them.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber; `RUST_LOG` picks the level (default `info`).
pub fn init_json_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}
