//! The Lambda function: configuration and AWS clients are built once per cold start, then every
//! invocation goes through the shared pipeline (`lambda::Function`).
// The handler's future nests the SDK's deeply; computing its layout needs more than the default 128.
#![recursion_limit = "256"]

use ecs_task_history::aws::{sdk_config, warm_up::warm_connections, Aws, Overrides};
use ecs_task_history::config::Config;
use ecs_task_history::lambda::Function;
use ecs_task_history::telemetry::init_json_logs;
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
    let aws = Aws::new(sdk_config(config.max_attempts, &Overrides::default()).await);
    let pipeline = aws.pipeline(&config);
    if config.warm_connections {
        warm_connections(&aws, &config, pipeline.describer()).await;
    }
    let function = &Function::new(pipeline, &config, aws.usage.clone());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move { function.invoke(&event.payload).await },
    ))
    .await
}
