//! The DynamoDB adapter of [`TaskStore`]: batched snapshot reads and conditional, idempotent writes.

pub mod items;
pub mod keys;
pub mod query;
pub mod records;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use tracing::warn;

use crate::aws_error::concise;
use crate::history::{HistoryRecord, Snapshot};
use crate::store::{Advance, Inserted, StoreError, TaskStore};
use items::{history_item, snapshot_from_item, snapshot_item, Item};
use keys::{task_pk, SNAPSHOT_SK};

/// BatchGetItem reads at most this many keys per request.
const MAX_KEYS_PER_BATCH_GET: usize = 100;
/// Rounds of re-asking for `UnprocessedKeys` before the batch is failed (and retried by its source).
const UNPROCESSED_ROUNDS: u32 = 8;

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_batch(&self, task_arns: &[&str]) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = task_arns
            .iter()
            .map(|task_arn| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(task_pk(task_arn))),
                    ("sk".to_owned(), AttributeValue::S(SNAPSHOT_SK.to_owned())),
                ])
            })
            .collect();
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|err| store_error("BatchGetItem", err.to_string(), false))?;
        let mut found = Vec::with_capacity(task_arns.len());
        for round in 0..UNPROCESSED_ROUNDS {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|err| sdk_error("BatchGetItem", &err))?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            match output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
            {
                Some(rest) if !rest.keys.is_empty() => {
                    request = rest;
                    tokio::time::sleep(backoff(round)).await;
                }
                _ => return Ok(found),
            }
        }
        Err(store_error(
            "BatchGetItem",
            format!("keys still unprocessed after {UNPROCESSED_ROUNDS} rounds"),
            true,
        ))
    }

    /// A conditional PutItem; a failed condition is an answer, not an error.
    async fn put_if(
        &self,
        operation: &'static str,
        item: Item,
        condition: &str,
        values: Option<Item>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(err))
                if matches!(err.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_error(operation, &err)),
        }
    }
}

impl TaskStore for DynamoStore {
    async fn load_snapshots(
        &self,
        task_arns: &[&str],
    ) -> Result<HashMap<String, Snapshot>, StoreError> {
        let mut snapshots = HashMap::with_capacity(task_arns.len());
        for chunk in task_arns.chunks(MAX_KEYS_PER_BATCH_GET) {
            for item in self.get_batch(chunk).await? {
                match snapshot_from_item(&item) {
                    Ok(snapshot) => {
                        snapshots.insert(snapshot.task_arn.clone(), snapshot);
                    }
                    // Treating it as absent is safe: the conditional writes still refuse to go backwards.
                    Err(err) => warn!(error = %err, "ignoring unreadable snapshot"),
                }
            }
        }
        Ok(snapshots)
    }

    async fn put_history(&self, record: &HistoryRecord) -> Result<Inserted, StoreError> {
        let written = self
            .put_if(
                "PutItem(history)",
                history_item(record),
                "attribute_not_exists(pk)",
                None,
            )
            .await?;
        Ok(if written {
            Inserted::New
        } else {
            Inserted::AlreadyRecorded
        })
    }

    async fn advance_snapshot(&self, snapshot: &Snapshot) -> Result<Advance, StoreError> {
        let values = HashMap::from([(
            ":v".to_owned(),
            AttributeValue::N(snapshot.version.to_string()),
        )]);
        let written = self
            .put_if(
                "PutItem(snapshot)",
                snapshot_item(snapshot),
                "attribute_not_exists(pk) OR version < :v",
                Some(values),
            )
            .await?;
        Ok(if written {
            Advance::Advanced
        } else {
            Advance::Superseded
        })
    }
}

fn backoff(round: u32) -> Duration {
    Duration::from_millis(25u64 << round.min(6))
}

fn store_error(operation: &'static str, message: String, throttled: bool) -> StoreError {
    StoreError {
        operation,
        message,
        throttled,
    }
}

fn sdk_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let throttled = matches!(
        err.code(),
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
        )
    );
    store_error(operation, concise(err), throttled)
}
