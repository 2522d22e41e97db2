//! The CLI's one error type: a cause and a hint on one line, and the exit code scripts can test.

use ecs_task_history::ports::{ErrorClass, ServiceError};

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

    /// A failed AWS call, with the permission the caller would need if it was refused.
    pub fn aws(err: ServiceError, permission: &str) -> Self {
        let message = err.to_string();
        match err.class {
            ErrorClass::Credentials => Self::new(
                ErrorKind::Credentials,
                format!(
                    "AWS rejected the credentials: {}",
                    message.lines().next().unwrap_or_default()
                ),
                "set AWS_PROFILE (or --profile), or log in with `aws sso login` / `aws configure`",
            ),
            ErrorClass::AccessDenied => Self::new(
                ErrorKind::Credentials,
                message,
                format!("the caller needs {permission}"),
            ),
            ErrorClass::NotFound => {
                Self::new(ErrorKind::NotFound, message, "check the name and the region")
            }
            _ => Self::new(
                ErrorKind::Aws,
                message,
                "retry; if it persists, check the network, endpoint (AWS_ENDPOINT_URL) and service health",
            ),
        }
    }

    /// A failed read of the history table.
    pub fn table(err: ServiceError, table: &str) -> Self {
        match err.class {
            ErrorClass::NotFound => Self::new(
                ErrorKind::NotFound,
                format!("table {table} not found"),
                "check --table / TABLE_NAME and the region (--region, AWS_REGION); the stack's TableName output has the name",
            ),
            ErrorClass::AccessDenied => Self::new(
                ErrorKind::Credentials,
                format!("access denied reading table {table}: {}", err.message),
                "the caller needs dynamodb:Query on the table and its index",
            ),
            _ => Self::aws(err, "dynamodb:Query on the table"),
        }
    }
}
