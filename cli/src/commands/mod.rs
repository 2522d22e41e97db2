//! One module per command; each reads its arguments, asks the library, and formats the answer.

pub mod backfill;
pub mod cluster;
pub mod clusters;
pub mod replay;
pub mod resolve;
pub mod task;

use std::io::Write;

use crate::context::Context;
use crate::error::{CliError, ErrorKind};

/// `create-table`: the history table with the schema `template.yaml` declares, for local emulators
/// and tests (deployments create it with the stack).
pub async fn create_table(context: &Context, out: &mut dyn Write) -> Result<(), CliError> {
    let table = context.table()?;
    ecs_task_history::aws::dynamodb::schema::create_table(&context.aws.dynamodb, table)
        .await
        .map_err(|err| match err.class {
            ecs_task_history::ports::ErrorClass::Validation => {
                CliError::new(ErrorKind::Usage, err.to_string(), "check the table name")
            }
            _ => CliError::aws(err, "dynamodb:CreateTable, dynamodb:UpdateTimeToLive"),
        })?;
    writeln!(out, "created table {table}").map_err(|err| CliError::io("writing the output", err))
}
