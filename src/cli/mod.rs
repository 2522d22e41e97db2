//! The `ecs-task-history` command-line tool: the person paged at 3 a.m. asks "why did task X stop?"
//! and "what failed in cluster C in the last 6 hours?"; this answers from the history table, and
//! repairs it (replay, backfill) through the very pipeline the Lambda function uses.

mod args;
mod backfill;
mod cluster;
mod error;
mod output;
mod pipeline;
mod replay;
mod resolve;
mod table;
mod task;
mod timespec;

use std::io::Write;
use std::process::ExitCode;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use clap::Parser;

pub use args::{Cli, Command, Format};
pub use error::{CliError, ErrorKind};
pub use output::Style;

/// Everything a command needs: AWS configuration, the table, and how to show results.
pub struct Context {
    pub sdk: SdkConfig,
    pub table: Option<String>,
    pub style: Style,
}

impl Context {
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

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }
}

/// The binary's `main`: parse, run, print one error line, return the documented exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(ErrorKind::Aws.exit_code());
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let result = runtime.block_on(run(cli, &mut stdout.lock(), &mut stderr.lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {err}");
            ExitCode::from(err.kind.exit_code())
        }
    }
}

/// Library logs (one line per decision) go to stderr, and only when asked for with RUST_LOG.
fn init_logs() {
    if let Ok(rust_log) = std::env::var("RUST_LOG") {
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        crate::telemetry::install(layer, Some(&rust_log));
    }
}

/// Runs one parsed command line, writing results to `out` and progress to `err`.
pub async fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    let context = Context {
        sdk: load_aws_config(&cli).await?,
        table: cli.global.table.clone().filter(|t| !t.trim().is_empty()),
        style: Style::detect(cli.global.output, cli.global.local),
    };
    match cli.command {
        Command::Task(args) => task::run(&context, &args, out).await,
        Command::Cluster(args) => cluster::run(&context, &args, out).await,
        Command::Replay(args) => replay::run(&context, &args, out, err).await,
        Command::Backfill(args) => backfill::run(&context, &args, out, err).await,
    }
}

/// The standard AWS chain, with --profile, --region and --endpoint-url on top.
async fn load_aws_config(cli: &Cli) -> Result<SdkConfig, CliError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &cli.global.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &cli.global.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &cli.global.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(CliError::new(
            ErrorKind::Credentials,
            "no AWS region configured",
            "pass --region, set AWS_REGION, or give the profile a region",
        ));
    }
    // Resolve credentials once, up front: a missing chain is then one clear line, not an error on the
    // first AWS call (the SDK caches what it resolves here).
    use aws_sdk_dynamodb::config::ProvideCredentials;
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
    if let Err(reason) = resolved {
        return Err(CliError::new(
            ErrorKind::Credentials,
            format!("no usable AWS credentials: {reason}"),
            "set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or log in with `aws sso login` / `aws configure`",
        ));
    }
    Ok(sdk)
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
