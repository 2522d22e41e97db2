//! The DynamoDB adapter of [`TaskStore`]: batched snapshot reads, batched fresh-history writes and
//! conditional, idempotent single writes.

pub mod batch;
pub mod items;
pub mod keys;
pub mod ledger;
pub mod schema;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, PutRequest, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt};
use tracing::warn;

use super::error::service_error;
use super::usage::Usage;
use crate::core::history::{HistoryRecord, Snapshot};
use crate::ports::{ErrorClass, Inserted, ServiceError, SnapshotWrite, TaskStore};
use batch::{backoff, batch_get, MAX_KEYS_PER_BATCH_GET, UNPROCESSED_ROUNDS};
use items::{cluster_item, history_item, key, snapshot_from_item, snapshot_item, Item};
use keys::{task_pk, SNAPSHOT_SK};

/// BatchWriteItem writes at most this many items per request.
const MAX_ITEMS_PER_BATCH_WRITE: usize = 25;
/// BatchWriteItem requests of one call in flight at once.
const BATCH_WRITE_CONCURRENCY: usize = 4;

pub struct DynamoStore {
    client: Client,
    table: String,
    usage: Arc<Usage>,
    /// How long catalog entries are kept (history's `RETENTION_DAYS`).
    retention_days: u32,
    /// Clusters this process has noted in the catalog already: each is written once per execution
    /// environment, not once per event.
    noted: Mutex<HashSet<String>>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            usage: Arc::default(),
            retention_days: 90,
            noted: Mutex::default(),
        }
    }

    /// Keeps catalog entries as long as the history (`RETENTION_DAYS`).
    pub fn with_retention(mut self, retention_days: u32) -> Self {
        self.retention_days = retention_days;
        self
    }

    /// Adds the capacity DynamoDB reports consuming to these counters.
    pub fn with_usage(mut self, usage: Arc<Usage>) -> Self {
        self.usage = usage;
        self
    }

    fn count_capacity<'a>(
        &self,
        consumed: impl IntoIterator<Item = &'a ConsumedCapacity>,
        write: bool,
    ) {
        for capacity in consumed {
            let units = capacity.capacity_units().unwrap_or_default();
            if write {
                self.usage.write_units(units);
            } else {
                self.usage.read_units(units);
            }
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_batch(&self, task_arns: &[&str]) -> Result<Vec<Item>, ServiceError> {
        let keys: Vec<Item> = task_arns
            .iter()
            .map(|task_arn| key(task_pk(task_arn), SNAPSHOT_SK))
            .collect();
        batch_get(&self.client, &self.table, keys, true, |consumed| {
            self.count_capacity(consumed, false)
        })
        .await
    }

    pub(super) fn error(
        &self,
        operation: &'static str,
        message: String,
        class: ErrorClass,
    ) -> ServiceError {
        ServiceError {
            operation,
            target: format!("table {}", self.table),
            message,
            class,
        }
    }

    /// A conditional PutItem; a failed condition is an answer, not an error: it carries the item
    /// that stopped it (`ReturnValuesOnConditionCheckFailure=ALL_OLD`).
    pub(super) async fn put_if(
        &self,
        operation: &'static str,
        item: Item,
        condition: &str,
        values: Option<Item>,
        names: Option<HashMap<String, String>>,
    ) -> Result<Put, ServiceError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .set_expression_attribute_names(names)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.count_capacity(output.consumed_capacity(), true);
                Ok(Put::Written)
            }
            Err(SdkError::ServiceError(err))
                if matches!(err.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match err.into_err() {
                    PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                    _ => None,
                };
                Ok(Put::Refused(old.unwrap_or_default()))
            }
            Err(err) => Err(service_error(
                operation,
                format!("table {}", self.table),
                &err,
            )),
        }
    }

    /// The unconditional PutItem of one BatchWriteItem put request.
    async fn put_one(&self, request: WriteRequest) -> Result<(), ServiceError> {
        self.put_item(request.put_request.map(|put| put.item).unwrap_or_default())
            .await
    }

    /// An unconditional PutItem.
    async fn put_item(&self, item: Item) -> Result<(), ServiceError> {
        let output = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| {
                service_error("DynamoDB PutItem", format!("table {}", self.table), &err)
            })?;
        self.count_capacity(output.consumed_capacity(), true);
        Ok(())
    }

    /// A BatchWriteItem that failed as a whole. DynamoDB refuses the whole request for one
    /// invalid item: its items are then written one by one, so that only that item's event is
    /// rejected. Any other failure is every item's.
    async fn batch_refused(
        &self,
        failure: ServiceError,
        pending: Vec<(usize, WriteRequest)>,
        results: &mut [Result<(), ServiceError>],
    ) {
        if failure.class == ErrorClass::Validation && pending.len() > 1 {
            warn!(error = %failure, items = pending.len(), "BatchWriteItem refused; writing its items one by one");
            for (index, request) in pending {
                results[index] = self.put_one(request).await;
            }
        } else {
            for (index, _) in pending {
                results[index] = Err(failure.clone());
            }
        }
    }

    /// One BatchWriteItem of at most 25 records, re-sending `UnprocessedItems` with backoff; one
    /// result per record.
    async fn write_batch(&self, records: &[HistoryRecord]) -> Vec<Result<(), ServiceError>> {
        let mut pending: Vec<(usize, WriteRequest)> = Vec::with_capacity(records.len());
        let mut results: Vec<Result<(), ServiceError>> = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            match PutRequest::builder()
                .set_item(Some(history_item(record)))
                .build()
            {
                Ok(put) => {
                    pending.push((index, WriteRequest::builder().put_request(put).build()));
                    results.push(Ok(()));
                }
                Err(err) => results.push(Err(self.error(
                    "DynamoDB BatchWriteItem",
                    err.to_string(),
                    ErrorClass::Validation,
                ))),
            }
        }
        for round in 0..UNPROCESSED_ROUNDS {
            if pending.is_empty() {
                return results;
            }
            if round > 0 {
                tokio::time::sleep(backoff(round - 1)).await;
            }
            let output = self
                .client
                .batch_write_item()
                .request_items(
                    &self.table,
                    pending.iter().map(|(_, request)| request.clone()).collect(),
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let output = match output {
                Ok(output) => output,
                Err(err) => {
                    let target = format!("table {}", self.table);
                    let failure = service_error("DynamoDB BatchWriteItem", target, &err);
                    self.batch_refused(failure, pending, &mut results).await;
                    return results;
                }
            };
            self.count_capacity(output.consumed_capacity(), true);
            let unprocessed: Vec<WriteRequest> = output
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .unwrap_or_default();
            // Unprocessed items come back as sent; find them again by their key.
            let key_of = |request: &WriteRequest| {
                request
                    .put_request()
                    .map(|put| (put.item().get("pk").cloned(), put.item().get("sk").cloned()))
            };
            let left: Vec<_> = unprocessed.iter().filter_map(key_of).collect();
            pending.retain(|(_, request)| key_of(request).is_some_and(|key| left.contains(&key)));
        }
        for (index, _) in pending {
            results[index] = Err(self.error(
                "DynamoDB BatchWriteItem",
                format!("items still unprocessed after {UNPROCESSED_ROUNDS} rounds"),
                ErrorClass::Throttling,
            ));
        }
        results
    }
}

impl TaskStore for DynamoStore {
    async fn load_snapshots(
        &self,
        task_arns: &[&str],
    ) -> Result<HashMap<String, Snapshot>, ServiceError> {
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

    async fn put_fresh_history(&self, records: &[HistoryRecord]) -> Vec<Result<(), ServiceError>> {
        let writes: Vec<_> = records
            .chunks(MAX_ITEMS_PER_BATCH_WRITE)
            .map(|chunk| self.write_batch(chunk))
            .collect();
        let chunks: Vec<Vec<Result<(), ServiceError>>> = stream::iter(writes)
            .buffered(BATCH_WRITE_CONCURRENCY)
            .collect()
            .await;
        chunks.into_iter().flatten().collect()
    }

    async fn put_history_if_absent(
        &self,
        record: &HistoryRecord,
    ) -> Result<Inserted, ServiceError> {
        let put = self
            .put_if(
                "DynamoDB PutItem",
                history_item(record),
                "attribute_not_exists(pk)",
                None,
                None,
            )
            .await?;
        // A record in the way may be this very write, executed but its answer lost and retried by
        // the SDK; it cannot be told from an earlier delivery of the same event (same id), so both
        // count as already recorded: the record is there either way.
        Ok(match put {
            Put::Written => Inserted::New,
            Put::Refused(_) => Inserted::AlreadyRecorded,
        })
    }

    async fn advance_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotWrite, ServiceError> {
        let values = HashMap::from([(
            ":v".to_owned(),
            AttributeValue::N(snapshot.version.to_string()),
        )]);
        let put = self
            .put_if(
                "DynamoDB PutItem",
                snapshot_item(snapshot),
                "attribute_not_exists(pk) OR version < :v",
                Some(values),
                None,
            )
            .await?;
        Ok(match put {
            Put::Written => SnapshotWrite::Written,
            Put::Refused(old) => SnapshotWrite::Refused {
                stored_version: stored_version(&old),
            },
        })
    }

    async fn note_clusters(&self, cluster_arns: &[&str]) {
        let new: Vec<String> = {
            let noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
            cluster_arns
                .iter()
                .filter(|arn| !arn.is_empty() && !noted.contains(**arn))
                .map(|arn| (*arn).to_owned())
                .collect()
        };
        for cluster_arn in new {
            let item = cluster_item(&cluster_arn, chrono::Utc::now(), self.retention_days);
            match self.put_item(item).await {
                Ok(()) => {
                    self.noted
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(cluster_arn);
                }
                Err(err) => {
                    warn!(error = %err, cluster_arn, "could not note the cluster in the catalog; the next batch tries again")
                }
            }
        }
    }
}

/// The version of a stored snapshot item, if it has a readable one.
fn stored_version(item: &Item) -> Option<u64> {
    item.get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
}

/// What a conditional PutItem did.
pub(super) enum Put {
    Written,
    /// The condition failed; the item that failed it (empty if DynamoDB did not return it).
    Refused(Item),
}
