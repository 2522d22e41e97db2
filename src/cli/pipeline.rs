//! The pipeline exactly as the Lambda function builds it, for `replay` and `backfill`: same store,
//! same describer and rate limit, same settings from the same environment variables.

use super::error::{CliError, ErrorKind};
use super::Context;
use crate::config::Config;
use crate::dynamodb::DynamoStore;
use crate::ecs::EcsDescriber;
use crate::pipeline::Pipeline;
use crate::rate_limit::RateLimiter;

/// The function's configuration (RETENTION_DAYS, ENRICH, DESCRIBE_TASKS_PER_SECOND, …) from the
/// environment, with the CLI's table.
pub fn config(context: &Context) -> Result<Config, CliError> {
    let table = context.table()?.to_owned();
    Config::from_lookup(|name| {
        if name == "TABLE_NAME" {
            Some(table.clone())
        } else {
            std::env::var(name).ok()
        }
    })
    .map_err(|err| {
        CliError::new(
            ErrorKind::Usage,
            err.to_string(),
            "the CLI reads the function's settings from the same variables (README, Configuration)",
        )
    })
}

pub fn build(context: &Context) -> Result<Pipeline<EcsDescriber, DynamoStore>, CliError> {
    let config = config(context)?;
    Ok(Pipeline::new(
        EcsDescriber::new(context.ecs()).with_rate_limit(RateLimiter::new(
            config.describe_tasks_per_second,
            config.describe_tasks_burst,
        )),
        DynamoStore::new(context.dynamodb(), config.table_name.clone()),
        config.settings(),
    ))
}
