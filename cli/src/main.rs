//! `ecs-task-history`: the person paged at 3 a.m. asks "why did task X stop?" and "what failed in
//! cluster C in the last 6 hours?"; this answers from the history table, and repairs it (replay,
//! backfill) through the very pipeline the Lambda function uses, with the function's AWS settings.

mod args;
mod commands;
mod context;
mod error;
mod output;
mod report;
mod table;
mod timespec;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, Format};
use context::Context;
use error::{CliError, ErrorKind};

fn main() -> ExitCode {
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
    let result = runtime.block_on(run(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr(),
    ));
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
        ecs_task_history::telemetry::install(layer, Some(&rust_log));
    }
}

/// Runs one parsed command line, writing results to `out` and progress to `err`.
async fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), CliError> {
    if cli.global.output == Format::Html && !matches!(cli.command, Command::Cluster(_)) {
        return Err(CliError::new(
            ErrorKind::Usage,
            "--output html is a report of a time window: only `cluster` writes it",
            "use `cluster NAME --since … --output html > report.html`, or --output table, json or jsonl",
        ));
    }
    let context = Context::load(&cli.global).await?;
    match cli.command {
        Command::Task(args) => commands::task::run(&context, &args, out).await,
        Command::Cluster(args) => commands::cluster::run(&context, &args, out).await,
        Command::Replay(args) => commands::replay::run(&context, &args, out, err).await,
        Command::Backfill(args) => commands::backfill::run(&context, &args, out, err).await,
        Command::Clusters => commands::clusters::run(&context, out).await,
        Command::CreateTable => commands::create_table(&context, out).await,
    }
}
