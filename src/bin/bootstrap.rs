//! The Lambda function: configuration and AWS clients are built once per cold start, then every
//! invocation goes through the shared pipeline.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use ecs_task_history::config::Config;
use ecs_task_history::dynamodb::DynamoStore;
use ecs_task_history::ecs::EcsDescriber;
use ecs_task_history::lambda::handle;
use ecs_task_history::pipeline::Pipeline;
use ecs_task_history::rate_limit::RateLimiter;
use ecs_task_history::reconcile::{is_scheduled_event, parse_clusters, run_scheduled, Reconciler};
use ecs_task_history::telemetry::init_json_logs;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main]
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
    let ecs = aws_sdk_ecs::Client::new(&sdk);
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
        EcsDescriber::new(ecs).with_rate_limit(RateLimiter::new(
            config.describe_tasks_per_second,
            config.describe_tasks_burst,
        )),
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.table_name.clone(),
        ),
        config.settings(),
    );

    let (pipeline, reconciler, reconcile_clusters) = (&pipeline, &reconciler, &reconcile_clusters);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            if is_scheduled_event(event.payload.get()) {
                return Ok::<_, Diagnostic>(
                    run_scheduled(reconciler, pipeline.store(), reconcile_clusters).await,
                );
            }
            handle(pipeline, &event.payload)
                .await
                .map_err(Diagnostic::from)
        },
    ))
    .await
}
