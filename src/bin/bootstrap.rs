//! The Lambda function: configuration and AWS clients are built once per cold start, then every
//! invocation goes through the shared pipeline.
// The handler's future nests the SDK's deeply; computing its layout needs more than the default 128.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use ecs_task_history::config::Config;
use ecs_task_history::dynamodb::DynamoStore;
use ecs_task_history::ecs::EcsDescriber;
use ecs_task_history::enrich::EnrichMode;
use ecs_task_history::lambda::{handle_counted, Tally};
use ecs_task_history::metrics::emf_line;
use ecs_task_history::pipeline::Pipeline;
use ecs_task_history::rate_limit::RateLimiter;
use ecs_task_history::reconcile::{is_scheduled_event, parse_clusters, run_scheduled, Reconciler};
use ecs_task_history::telemetry::init_json_logs;
use ecs_task_history::usage::{Usage, UsageInterceptor};
use ecs_task_history::warm_up::warm_connections;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;

/// mimalloc: the function allocates many small strings per event, where glibc malloc spent a third
/// of the core's CPU (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One thread: a Lambda below 1,769 MB has less than one vCPU, and a multi-threaded scheduler only
/// adds cross-thread wake-ups (measured: a quarter of the handler's CPU in the kernel's task switch).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_json_logs();
    let config =
        Config::from_env().inspect_err(|err| tracing::error!(error = %err, "bad configuration"))?;

    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(40))
                .build(),
        )
        .load()
        .await;
    let usage = Arc::new(Usage::default());
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&sdk)
            .interceptor(UsageInterceptor(usage.clone()))
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(UsageInterceptor(usage.clone()))
            .build(),
    );
    if config.warm_connections {
        let describes = config.enrich != EnrichMode::Never;
        warm_connections(&dynamodb, &config.table_name, describes.then_some(&ecs)).await;
        usage.take();
    }
    // Scheduled reconciliation (an EventBridge schedule invoking this function): its own bucket of the
    // same rate, as an instance runs one invocation at a time and the two never overlap.
    let reconcile_clusters =
        parse_clusters(&std::env::var("RECONCILE_CLUSTERS").unwrap_or_default());
    let reconciler =
        Reconciler::new(ecs.clone(), config.settings()).with_rate_limit(RateLimiter::new(
            config.describe_tasks_per_second,
            config.describe_tasks_burst,
        ));
    let pipeline = Pipeline::new(
        EcsDescriber::new(ecs)
            .with_rate_limit(RateLimiter::new(
                config.describe_tasks_per_second,
                config.describe_tasks_burst,
            ))
            .with_usage(usage.clone()),
        DynamoStore::new(dynamodb, config.table_name.clone()).with_usage(usage.clone()),
        config.settings(),
    );

    let (pipeline, usage, metrics) = (&pipeline, &usage, &config.metrics);
    let (reconciler, reconcile_clusters) = (&reconciler, &reconcile_clusters);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            if is_scheduled_event(event.payload.get()) {
                let answer = run_scheduled(reconciler, pipeline.store(), reconcile_clusters).await;
                // Reconciliation logs its own summary lines; its requests are not event metrics.
                usage.take();
                return Ok(answer);
            }
            let mut tally = Tally::default();
            let result = handle_counted(pipeline, &event.payload, &mut tally).await;
            tally.log();
            let spent = usage.take();
            if let Some(target) = metrics {
                let line = emf_line(
                    target,
                    &tally,
                    &spent,
                    chrono::Utc::now().timestamp_millis(),
                );
                println!("{line}");
            }
            result
        },
    ))
    .await
}
