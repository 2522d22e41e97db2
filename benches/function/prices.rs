//! Every price the benchmark uses, in one place: us-east-1, on demand, USD, after the DynamoDB
//! on-demand price cut of 1 November 2024 (looked up 2026-12-02; change them here only).
//! Sources, as found with the docs/pages search of this project's library; where the official page
//! itself could not be read there, the price is the one the task stated and a comment says so.

/// When these prices were stated, for the report.
pub const AS_OF: &str =
    "us-east-1, on demand unless marked provisioned, prices after the DynamoDB cut of 1 Nov 2024 (checked 2026-12-02)";

/// One DynamoDB table class: $ per million write / read request units (on demand), $ per
/// write / read capacity unit-hour (provisioned), $ per GB-month stored.
#[derive(Clone, Copy, Debug)]
pub struct TableClass {
    pub name: &'static str,
    pub write_per_million: f64,
    pub read_per_million: f64,
    pub write_unit_hour: f64,
    pub read_unit_hour: f64,
    pub storage_gb_month: f64,
}

/// How the table's throughput is bought (the template's `CapacityMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    OnDemand,
    /// Auto scaled to keep `PROVISIONED_UTILIZATION` of the units in use: each unit used costs
    /// its hourly price over the seconds of an hour at that utilization.
    Provisioned,
}

/// The template's target-tracking value: 70 % of provisioned units in use (a steady stream; a
/// spiky one wastes more).
pub const PROVISIONED_UTILIZATION: f64 = 0.70;

impl TableClass {
    /// $ per million write units consumed.
    pub fn write_price(&self, capacity: Capacity) -> f64 {
        match capacity {
            Capacity::OnDemand => self.write_per_million,
            Capacity::Provisioned => per_million_at_utilization(self.write_unit_hour),
        }
    }

    /// $ per million read units consumed.
    pub fn read_price(&self, capacity: Capacity) -> f64 {
        match capacity {
            Capacity::OnDemand => self.read_per_million,
            Capacity::Provisioned => per_million_at_utilization(self.read_unit_hour),
        }
    }
}

/// A unit-hour's price spread over the units it serves at `PROVISIONED_UTILIZATION`, per million.
fn per_million_at_utilization(unit_hour: f64) -> f64 {
    unit_hour / (3600.0 * PROVISIONED_UTILIZATION) * 1e6
}

/// Provisioned capacity, us-east-1: $0.00065 per write unit-hour and $0.00013 per read unit-hour
/// (Standard), $0.00081 and $0.00016 (Standard-IA), from aws.amazon.com/dynamodb/pricing/provisioned/;
/// the library's copies of that page stop before the figures, but its China-region page confirms
/// the ratios (a read unit-hour a fifth of a write unit-hour; Standard-IA 1.25 times Standard).
///
/// DynamoDB Standard, on demand. $0.625 / $0.125: aws.amazon.com/dynamodb/pricing/on-demand/ (the
/// 50 % cut effective 1 Nov 2024, from $1.25 / $0.25), the figures quoted by airbyte.com's
/// "DynamoDB pricing" (Jul 2025) and jusdb.com (Aug 2025). Storage $0.25 per GB-month (beyond the
/// free 25 GB): the same pricing page; quoted by third parties only in the library.
pub const DYNAMODB_STANDARD: TableClass = TableClass {
    name: "Standard",
    write_per_million: 0.625,
    read_per_million: 0.125,
    write_unit_hour: 0.000_65,
    read_unit_hour: 0.000_13,
    storage_gb_month: 0.25,
};

/// DynamoDB Standard-IA, on demand. NOT confirmed from AWS's page in the library: only its ratios
/// are ("~25 % higher reads and writes, ~60 % lower storage": finops.com.py and nOps' help pages,
/// AWS's "Considerations when choosing a table class"). 1.25 × $0.625 = $0.78125 and 1.25 ×
/// $0.125 = $0.15625, shown as $0.78 / $0.155 as stated in the task; 0.4 × $0.25 = $0.10.
pub const DYNAMODB_STANDARD_IA: TableClass = TableClass {
    name: "Standard-IA",
    write_per_million: 0.78,
    read_per_million: 0.155,
    write_unit_hour: 0.000_81,
    read_unit_hour: 0.000_16,
    storage_gb_month: 0.10,
};

/// Bytes DynamoDB adds to every item, and to every index entry, when it bills storage: developer
/// guide "DynamoDB item sizes and formats" (100 bytes per item, confirmed); for index entries
/// ("Storage considerations" of the GSI page) as stated in the task, not confirmed in the library.
pub const DYNAMODB_ITEM_OVERHEAD_BYTES: usize = 100;

/// Lambda arm64, first 7.5 billion GB-seconds a month: $0.0000133334 per GB-second, $0.20 per
/// million requests (cloudchipr.com "AWS Lambda pricing", artillery's prices.js: 1333340e-11).
pub const LAMBDA_ARM64_GB_SECOND: f64 = 0.000_013_333_4;
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// The template's `MemorySize`, and the memory at which Lambda gives one full vCPU (Lambda developer
/// guide, "Configure memory"; quoted by lambda_local_runner's docs in the library): at 128 MB a
/// function has 128/1,769 of one.
pub const LAMBDA_MEMORY_MB: f64 = 128.0;
pub const ONE_VCPU_MB: f64 = 1769.0;

/// SQS standard queue, first 100 billion requests a month: $0.40 per million; every 64 KB chunk
/// of a request's payload is billed as one request (factualminds.com, cloudburn.io, unanswered.io
/// quoting aws.amazon.com/sqs/pricing/).
pub const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
pub const SQS_CHUNK_BYTES: usize = 64 * 1024;
/// Lambda's SQS poller takes up to 10 messages per ReceiveMessage and deletes them with one
/// DeleteMessageBatch (at most 10 entries).
pub const SQS_MESSAGES_PER_RECEIVE: usize = 10;

/// CloudWatch Logs, Standard log class: $0.50 per GB ingested, $0.03 per GB-month stored
/// (hykell.com and c3x.dev, us-east-1, 2026).
pub const CLOUDWATCH_INGEST_GB: f64 = 0.50;
pub const CLOUDWATCH_STORAGE_GB_MONTH: f64 = 0.03;
/// Bytes CloudWatch Logs counts per log event on top of its message. Confirmed for PutLogEvents'
/// batch size ("the sum of all event messages in UTF-8, plus 26 bytes for each log event": AWS
/// OpsWorks API reference, CloudWatchLogsLogStream); that archived (billed) data carries the same
/// 26 bytes and is gzip-6 compressed is CloudWatch's pricing page, not confirmed in the library.
pub const CLOUDWATCH_EVENT_OVERHEAD_BYTES: usize = 26;

/// What Lambda itself logs per invocation in the text format: `START RequestId: <id> Version:
/// $LATEST`, `END RequestId: <id>` and the `REPORT` line (duration, billed duration, memory size,
/// max memory used): about 280 bytes with a 36-character request id, estimated from the Lambda
/// developer guide's example lines (not a billed figure).
pub const LAMBDA_PLATFORM_LINES: usize = 3;
pub const LAMBDA_PLATFORM_LOG_BYTES: usize = 280;

/// AWS bills storage and log volume in GB of 2^30 bytes.
pub const GB: f64 = 1_073_741_824.0;
/// The template's default `RetentionDays`, and the months a record is therefore stored for (the
/// whole retention: each event's items are paid for during all of it; 30-day months).
pub const RETENTION_DAYS: f64 = 90.0;
pub const RETENTION_MONTHS: f64 = RETENTION_DAYS / 30.0;
/// The function's own log group keeps its lines for the template's `LogRetentionDays` (30).
pub const FUNCTION_LOG_RETENTION_DAYS: f64 = 30.0;
pub const FUNCTION_LOG_MONTHS: f64 = FUNCTION_LOG_RETENTION_DAYS / 30.0;
