//! One short line for an AWS SDK error, shared by the adapters' error types and logs.

// Every SDK crate re-exports the same smithy types; these serve DynamoDB's errors as well as ECS's.
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// `Code: message` for service errors; the full chain for transport errors, which have no code.
pub fn concise<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    }
}
