//! What every command needs: the AWS clients, built by the library's one wiring with the function's
//! settings (retries, timeouts, accounts) read from the same environment variables, the table, and
//! how to show results.

use aws_sdk_dynamodb::config::ProvideCredentials;
use ecs_task_history::aws::ecs::EcsTasks;
use ecs_task_history::aws::{sdk_config, Aws, Overrides};
use ecs_task_history::config::Config;
use ecs_task_history::read::HistoryReader;

use crate::args::Global;
use crate::error::{CliError, ErrorKind};
use crate::output::Style;

pub struct Context {
    pub aws: Aws,
    table: Option<String>,
    pub style: Style,
}

impl Context {
    /// The standard AWS chain with `--profile`, `--region` and `--endpoint-url` on top, and the
    /// function's retry and timeout settings; credentials are resolved once, up front.
    pub async fn load(global: &Global) -> Result<Self, CliError> {
        let overrides = Overrides {
            profile: global.profile.clone(),
            region: global.region.clone(),
            endpoint_url: global.endpoint_url.clone(),
        };
        let max_attempts = Config::max_attempts_from_env().map_err(config_error)?;
        let sdk = sdk_config(max_attempts, &overrides).await;
        if sdk.region().is_none() {
            return Err(CliError::new(
                ErrorKind::Credentials,
                "no AWS region configured",
                "pass --region, set AWS_REGION, or give the profile a region",
            ));
        }
        check_credentials(&sdk).await?;
        Ok(Self {
            aws: Aws::new(sdk),
            table: global.table.clone().filter(|t| !t.trim().is_empty()),
            style: Style::detect(global.output, global.local),
        })
    }

    /// The history table, or a usage error saying where to give it.
    pub fn table(&self) -> Result<&str, CliError> {
        self.table.as_deref().ok_or_else(|| {
            CliError::new(
                ErrorKind::Usage,
                "no history table given",
                "pass --table NAME or set TABLE_NAME (the stack's TableName output)",
            )
        })
    }

    /// The function's configuration (RETENTION_DAYS, ENRICH, DESCRIBE_TASKS_PER_SECOND,
    /// MEMBER_ROLE_NAME, …) from the environment, with the CLI's table.
    pub fn config(&self) -> Result<Config, CliError> {
        let table = self.table()?.to_owned();
        Config::from_lookup(|name| {
            if name == "TABLE_NAME" {
                Some(table.clone())
            } else {
                std::env::var(name).ok()
            }
        })
        .map_err(config_error)
    }

    /// The caller's own account, to say whose a task of another account is (`None`: unknown).
    pub async fn home_account(&self) -> Option<String> {
        self.aws.caller_account().await
    }

    pub fn reader(&self) -> Result<HistoryReader, CliError> {
        Ok(HistoryReader::new(self.aws.dynamodb.clone(), self.table()?))
    }

    /// ECS as the function reaches it (accounts, regions, rate), for name lookups.
    pub fn ecs(&self) -> Result<EcsTasks, CliError> {
        Ok(self.aws.ecs(&self.config()?.ecs))
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.aws.sdk)
    }
}

fn config_error(err: ecs_task_history::config::ConfigError) -> CliError {
    CliError::new(
        ErrorKind::Usage,
        err.to_string(),
        "the CLI reads the function's settings from the same variables (README, Configuration)",
    )
}

/// A missing credentials chain is one clear line here, not an error on the first AWS call (the SDK
/// caches what it resolves).
async fn check_credentials(sdk: &aws_config::SdkConfig) -> Result<(), CliError> {
    let resolved = match sdk.credentials_provider() {
        Some(provider) => provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|err| {
                first_line(&aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
            }),
        None => Err("no credentials provider".to_owned()),
    };
    resolved.map_err(|reason| {
        CliError::new(
            ErrorKind::Credentials,
            format!("no usable AWS credentials: {reason}"),
            "set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or log in with `aws sso login` / `aws configure`",
        )
    })
}

/// The first line of a multi-line error, without a trailing "Attempted:" list.
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches(" Attempted:")
        .trim_end_matches('.')
        .to_owned()
}
