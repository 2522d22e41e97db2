//! The AWS adapters, and the one place AWS clients are configured (credentials chain, region,
//! endpoint, retries, timeouts, request counting, accounts and regions), shared by the function
//! and the CLI so both behave alike under throttling and faults.

pub mod accounts;
pub mod dynamodb;
pub mod ecs;
pub mod error;
pub mod rate_limit;
pub mod sns;
pub mod usage;
pub mod warm_up;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::Config;
use crate::config::EcsSettings;
use crate::pipeline::Pipeline;
use accounts::Accounts;
use dynamodb::DynamoStore;
use ecs::EcsTasks;
use sns::SnsTopic;
use usage::{Usage, UsageInterceptor};

/// Connecting may take this long (a cold Lambda's first handshake included).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt of a call may take this long before the SDK retries it.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole call, retries included, below the function's 60 s timeout.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(40);

/// Where to reach AWS, beyond the standard chain (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `~/.aws/config`): the CLI's `--profile`, `--region` and `--endpoint-url`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The SDK configuration every client is built from: the standard chain with `overrides` on top,
/// standard retries (`max_attempts`, exponential backoff with jitter) and the timeouts above.
pub async fn sdk_config(max_attempts: u32, overrides: &Overrides) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(profile) = &overrides.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &overrides.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &overrides.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// The clients of one process, built once from one [`SdkConfig`], each counting what it spends.
pub struct Aws {
    pub sdk: SdkConfig,
    pub usage: Arc<Usage>,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Aws {
    pub fn new(sdk: SdkConfig) -> Self {
        let usage = Arc::new(Usage::default());
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(UsageInterceptor(usage.clone()))
                .build(),
        );
        Self {
            sdk,
            usage,
            dynamodb,
        }
    }

    /// The history store on `table`.
    pub fn store(&self, table: &str) -> DynamoStore {
        DynamoStore::new(self.dynamodb.clone(), table).with_usage(self.usage.clone())
    }

    /// The caller's own account (`sts:GetCallerIdentity`, which needs no permission), if STS answers.
    pub async fn caller_account(&self) -> Option<String> {
        aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .ok()?
            .account
    }

    /// ECS in every account and region `settings` reach, paced by their DescribeTasks rate.
    pub fn ecs(&self, settings: &EcsSettings) -> EcsTasks {
        EcsTasks::new(
            Accounts::new(&self.sdk, settings.clone(), self.usage.clone()),
            self.usage.clone(),
        )
    }

    /// The alert topic, its requests counted like every other client's.
    pub fn topic(&self, topic_arn: &str) -> SnsTopic {
        let client = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.sdk)
                .interceptor(UsageInterceptor(self.usage.clone()))
                .build(),
        );
        SnsTopic::new(client, topic_arn)
    }

    /// The pipeline as the function runs it; `replay` and `backfill` run this very one (alerting
    /// too, when `ALERT_TOPIC_ARN` is set).
    pub fn pipeline(&self, config: &Config) -> Pipeline<EcsTasks, DynamoStore, SnsTopic> {
        Pipeline::new(
            self.ecs(&config.ecs),
            self.store(&config.table_name)
                .with_retention(config.retention_days),
            config.settings(),
        )
        .with_alerts(
            config
                .alerts
                .as_ref()
                .map(|alerts| (self.topic(&alerts.topic_arn), alerts.rules.clone())),
        )
    }
}
