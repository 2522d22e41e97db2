//! Structured JSON logs through `tracing`, one object per line, as CloudWatch Logs Insights likes them.

use std::str::FromStr;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// `RUST_LOG` read as `level` or `target=level,…` directives, with `info` when it is unset. An
/// unreadable value also gives `info`, and the reason to log once the logger is up. (`Targets`, not
/// the regex-based `EnvFilter`, which would add its regex engine to the function's binary.)
pub fn log_filter(rust_log: Option<&str>) -> (Targets, Option<String>) {
    let default = || Targets::new().with_default(Level::INFO);
    match rust_log.map(str::trim).filter(|value| !value.is_empty()) {
        None => (default(), None),
        Some(value) => match Targets::from_str(value) {
            Ok(targets) => (targets, None),
            Err(err) => (
                default(),
                Some(format!("RUST_LOG={value:?} ignored: {err}")),
            ),
        },
    }
}

/// Installs the JSON subscriber; `RUST_LOG` picks the level (default `info`).
pub fn init_json_logs() {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);
    install(layer, std::env::var("RUST_LOG").ok().as_deref());
}

/// Installs `layer` as the process's subscriber, filtered by `rust_log` (see [`log_filter`]), and
/// says so in a warning if `rust_log` could not be read.
pub fn install<L: Layer<Registry> + Send + Sync>(layer: L, rust_log: Option<&str>) {
    let (filter, problem) = log_filter(rust_log);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn rust_log_levels_and_directives_are_read_and_nonsense_falls_back_to_info() {
        let (filter, problem) = log_filter(None);
        assert!(filter.would_enable("anything", &Level::INFO));
        assert!(!filter.would_enable("anything", &Level::DEBUG));
        assert!(problem.is_none());

        let (filter, _) = log_filter(Some("warn"));
        assert!(!filter.would_enable("ecs_task_history", &Level::INFO));

        let (filter, _) = log_filter(Some("info,ecs_task_history=debug,aws_smithy_runtime=off"));
        assert!(filter.would_enable("ecs_task_history::pipeline", &Level::DEBUG));
        assert!(!filter.would_enable("aws_smithy_runtime::client", &Level::ERROR));
        assert!(filter.would_enable("hyper", &Level::INFO));

        let (filter, problem) = log_filter(Some("loud=please"));
        assert_eq!(filter.default_level(), Some(LevelFilter::INFO));
        assert!(problem.is_some_and(|p| p.contains("loud=please")));
    }
}
