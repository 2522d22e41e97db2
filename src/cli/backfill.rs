//! placeholder
use super::{args::BackfillArgs, error::CliError, Context};
use std::io::Write;
pub async fn run(
    _c: &Context,
    _a: &BackfillArgs,
    _o: &mut dyn Write,
    _e: &mut dyn Write,
) -> Result<(), CliError> {
    Ok(())
}
