//! Opens the AWS connections during init. An SDK Lambda's first request pays for DNS, TCP, the TLS
//! handshake and credential resolution (hundreds of milliseconds); init runs on a boosted CPU before
//! the first event waits, so paying there shortens the first invocation. Bounded, and never fatal.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::KeysAndAttributes;
use tracing::{debug, info};

use super::dynamodb::items::key;
use super::ecs::EcsTasks;
use super::Aws;
use crate::config::Config;
use crate::core::enrich::EnrichMode;

/// Longest the warm-up may hold up init.
pub const WARM_UP_BUDGET: Duration = Duration::from_millis(1500);

/// One cheap request per service whose answer (even an error) leaves a pooled connection behind:
/// a BatchGetItem of a key that never exists (no extra IAM permission) and, when the function
/// describes tasks at all, ECS ListClusters with one result (it does not draw on the DescribeTasks
/// rate limit).
/// What the warm-up spends is not an invocation's: the counters are reset after it.
pub async fn warm_connections(aws: &Aws, config: &Config, ecs: &EcsTasks) {
    let started = Instant::now();
    let (dynamodb, table) = (&aws.dynamodb, config.table_name.as_str());
    let ecs = (config.enrich != EnrichMode::Never).then(|| ecs.home_client());
    let dynamodb_request = async {
        let key = KeysAndAttributes::builder()
            .keys(key("WARM-UP", "WARM-UP"))
            .build();
        match key {
            Ok(key) => {
                let result = dynamodb
                    .batch_get_item()
                    .request_items(table, key)
                    .send()
                    .await;
                debug!(ok = result.is_ok(), "DynamoDB connection warmed");
            }
            Err(err) => debug!(error = %err, "DynamoDB warm-up request not built"),
        }
    };
    let ecs_request = async {
        if let Some(ecs) = ecs {
            let result = ecs.list_clusters().max_results(1).send().await;
            debug!(ok = result.is_ok(), "ECS connection warmed");
        }
    };
    let finished = tokio::time::timeout(
        WARM_UP_BUDGET,
        futures::future::join(dynamodb_request, ecs_request),
    )
    .await
    .is_ok();
    aws.usage.take();
    info!(
        warm_up_ms = started.elapsed().as_millis() as u64,
        finished, "connections warmed during init"
    );
}
