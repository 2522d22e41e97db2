//! The command line, declared with clap: every flag, its environment fallback and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  ecs-task-history task 0a1b2c3d4e5f --cluster prod
  ecs-task-history cluster prod --since 6h --failed
  ecs-task-history cluster prod --since 2026-11-20T00:00 --until 2026-11-20T06:00 --service web -o jsonl
  ecs-task-history cluster prod --service web --since 12h --output html > web.html
  ecs-task-history replay saved-events/            # or a file, or - for stdin
  ecs-task-history replay --dlq https://sqs.us-east-1.amazonaws.com/123456789012/history-dlq
  ecs-task-history backfill --cluster prod

AWS credentials, region and endpoint come from the standard AWS configuration (AWS_PROFILE,
AWS_REGION, ~/.aws/config, AWS_ENDPOINT_URL, ...).

Exit codes: 0 ok (an empty window too), 1 AWS or I/O error, 2 usage error, 3 not found (task,
table, cluster), 4 credentials/permissions, 5 some events were not recorded (replay, backfill).";

/// Read and repair the ECS task history that the ecs-task-history Lambda function records in DynamoDB.
#[derive(Debug, Parser)]
#[command(name = "ecs-task-history", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The history table (the stack's TableName output).
    #[arg(long, env = "TABLE_NAME", global = true)]
    pub table: Option<String>,
    /// Output format; `table` is meant for people, `json` (one document) and `jsonl` (one object a
    /// line) for scripts; `html` (`cluster` only) a self-contained timeline report page.
    #[arg(short, long, value_enum, default_value_t = Format::Table, global = true)]
    pub output: Format,
    /// Show times in the local time zone instead of UTC (table and html output; JSON stays UTC).
    #[arg(long, global = true)]
    pub local: bool,
    /// AWS profile (else AWS_PROFILE, else the default chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (else AWS_REGION / the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service, e.g. a local emulator (else AWS_ENDPOINT_URL).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    /// A timeline report of a window, one HTML file with everything inline (`cluster`).
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A task's timeline, version by version: status, time, time spent in each phase, containers
    /// with exit codes and reasons, stop code and reason, tags.
    Task(TaskArgs),
    /// Tasks of a cluster that changed in a time window, newest first (served by the hourly
    /// byCluster index; never a table scan).
    Cluster(ClusterArgs),
    /// Push saved events, or the dead-letter queue's messages, through the same pipeline as the
    /// function. DLQ messages are deleted only once recorded (or found already recorded).
    Replay(ReplayArgs),
    /// Record the current state of a cluster's tasks (ListTasks RUNNING and STOPPED + DescribeTasks)
    /// through the version-checked pipeline; harmless to repeat or to run beside the function.
    Backfill(BackfillArgs),
    /// The clusters the table holds history of, with their accounts and regions (one query of the
    /// table's cluster catalog, never a scan).
    Clusters,
    /// Create the history table (the schema template.yaml declares), for local emulators and tests.
    CreateTable,
}

/// Where a cluster given by name lives, when it is not the caller's own account and region.
#[derive(Clone, Debug, Default, Args)]
pub struct Where {
    /// The cluster's account (a member account of an organization-wide deployment): its name then
    /// becomes an ARN without any call into that account.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: Option<String>,
    /// The cluster's region, with --account (default: the CLI's region, which is the table's).
    #[arg(long, value_name = "REGION", requires = "account")]
    pub cluster_region: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Task ARN, or task id (then the cluster is needed: --cluster, or every cluster ECS lists).
    pub task: String,
    /// Cluster name or ARN, to turn a task id into the task's ARN.
    #[arg(long)]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub place: Where,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Start of the window: a duration ago (90s, 30m, 6h, 2d, 1w) or a time (2026-11-20T03:00,
    /// 2026-11-20T03:00:00Z, 2026-11-20).
    #[arg(long, default_value = "6h")]
    pub since: String,
    /// End of the window, same forms as --since (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Only tasks of this service (their group is `service:<name>`).
    #[arg(long)]
    pub service: Option<String>,
    /// Only tasks recorded in this status in the window (e.g. STOPPED, RUNNING).
    #[arg(long)]
    pub status: Option<String>,
    /// Only tasks whose stop was a failure (failed to start, out of memory, non-zero exit, Spot
    /// interruption, health checks, host gone, unknown); ends with a summary by diagnosis.
    #[arg(long)]
    pub failed: bool,
    #[command(flatten)]
    pub place: Where,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["path", "dlq"]))]
pub struct ReplayArgs {
    /// A file (one event, a JSON array, an SQS batch, or JSON lines), a directory of *.json files,
    /// or - for standard input.
    pub path: Option<PathBuf>,
    /// Read the messages of this SQS dead-letter queue instead (raw events, or Lambda on-failure
    /// records wrapping the event in requestPayload).
    #[arg(long, value_name = "QUEUE_URL")]
    pub dlq: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["cluster", "all_clusters"]))]
pub struct BackfillArgs {
    /// Cluster name or ARN (repeatable); a member account's cluster ARN is reached through its
    /// reader role (MEMBER_ROLE_NAME), like the function does.
    #[arg(long)]
    pub cluster: Vec<String>,
    /// Every cluster ECS lists in the account and region.
    #[arg(long)]
    pub all_clusters: bool,
    /// DescribeTasks calls per second per account and region (the account's budget is shared with
    /// deploy tooling; 0 = no limit). Default: DESCRIBE_TASKS_PER_SECOND, as the function.
    #[arg(long)]
    pub rate: Option<f64>,
}
