//! The CLI's one error type: a cause and a hint on one line, and the exit code scripts can test.

use crate::dynamodb::query::{QueryError, QueryErrorKind};

/// What went wrong, as far as the exit code is concerned (documented in `--help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 1: an AWS call or local I/O failed.
    Aws,
    /// 2: the command line is wrong (clap uses 2 for its own errors too).
    Usage,
    /// 3: the task, table or cluster does not exist.
    NotFound,
    /// 4: no credentials or region, or the caller lacks permission.
    Credentials,
    /// 5: replay or backfill left some events unrecorded.
    NotRecorded,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Aws => 1,
            Self::Usage => 2,
            Self::NotFound => 3,
            Self::Credentials => 4,
            Self::NotRecorded => 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message} (hint: {hint})")]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: String,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn io(what: &str, err: std::io::Error) -> Self {
        Self::new(
            ErrorKind::Aws,
            format!("{what}: {err}"),
            "check the path and permissions",
        )
    }
}

impl From<QueryError> for CliError {
    fn from(err: QueryError) -> Self {
        let table = err.table.clone();
        match err.kind {
            QueryErrorKind::TableNotFound => Self::new(
                ErrorKind::NotFound,
                format!("table {table} not found"),
                "check --table / TABLE_NAME and the region (--region, AWS_REGION); the stack's TableName output has the name",
            ),
            QueryErrorKind::Credentials => Self::new(
                ErrorKind::Credentials,
                format!(
                    "AWS rejected the credentials: {}",
                    err.message.lines().next().unwrap_or_default()
                ),
                "set AWS_PROFILE (or --profile), or log in with `aws sso login` / `aws configure`",
            ),
            QueryErrorKind::AccessDenied => Self::new(
                ErrorKind::Credentials,
                format!("access denied reading table {table}: {}", err.message),
                "the caller needs dynamodb:Query on the table and its indexes",
            ),
            QueryErrorKind::Other => Self::new(
                ErrorKind::Aws,
                err.to_string(),
                "retry; if it persists, check the network, endpoint (AWS_ENDPOINT_URL) and service health",
            ),
        }
    }
}

/// Maps an SDK error of any service to a CLI error, with a hint for the permission it lacks.
pub fn sdk_error<E, R>(
    operation: &str,
    err: &aws_sdk_ecs::error::SdkError<E, R>,
    permission: &str,
) -> CliError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = format!("{operation} failed: {}", crate::aws_error::concise(err));
    match crate::dynamodb::query::error_kind(err) {
        QueryErrorKind::Credentials => CliError::new(
            ErrorKind::Credentials,
            message,
            "set AWS_PROFILE (or --profile), or log in with `aws sso login` / `aws configure`",
        ),
        QueryErrorKind::AccessDenied => CliError::new(
            ErrorKind::Credentials,
            message,
            format!("the caller needs {permission}"),
        ),
        QueryErrorKind::TableNotFound => CliError::new(
            ErrorKind::NotFound,
            message,
            "check the name or URL and the region",
        ),
        QueryErrorKind::Other => CliError::new(
            ErrorKind::Aws,
            message,
            "retry; if it persists, check the network, endpoint (AWS_ENDPOINT_URL) and service health",
        ),
    }
}
