//! BatchGetItem with its `UnprocessedKeys` asked for again, shared by the function's snapshot loads
//! and the readers' record fetches.

use std::time::Duration;

use aws_sdk_dynamodb::types::{ConsumedCapacity, KeysAndAttributes, ReturnConsumedCapacity};
use aws_sdk_dynamodb::Client;

use super::items::Item;
use crate::aws::error::service_error;
use crate::ports::{ErrorClass, ServiceError};

/// BatchGetItem reads at most this many keys per request.
pub const MAX_KEYS_PER_BATCH_GET: usize = 100;
/// Rounds of re-asking for `UnprocessedKeys` / `UnprocessedItems` before giving up (the function
/// then fails the affected events, which their source retries).
pub const UNPROCESSED_ROUNDS: u32 = 8;

/// The items found for at most [`MAX_KEYS_PER_BATCH_GET`] keys of `table`, in no particular order
/// (absent keys are simply not there). `on_capacity` sees what each request consumed.
pub async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    consistent: bool,
    mut on_capacity: impl FnMut(&[ConsumedCapacity]),
) -> Result<Vec<Item>, ServiceError> {
    let failure = |message: String, class| ServiceError {
        operation: "DynamoDB BatchGetItem",
        target: format!("table {table}"),
        message,
        class,
    };
    let mut request = KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .consistent_read(consistent)
        .build()
        .map_err(|err| failure(err.to_string(), ErrorClass::Validation))?;
    let mut found = Vec::new();
    for round in 0..UNPROCESSED_ROUNDS {
        let output = client
            .batch_get_item()
            .request_items(table, request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| {
                service_error("DynamoDB BatchGetItem", format!("table {table}"), &err)
            })?;
        on_capacity(output.consumed_capacity());
        if let Some(mut responses) = output.responses {
            found.extend(responses.remove(table).unwrap_or_default());
        }
        match output
            .unprocessed_keys
            .and_then(|mut unprocessed| unprocessed.remove(table))
        {
            Some(rest) if !rest.keys.is_empty() => {
                request = rest;
                tokio::time::sleep(backoff(round)).await;
            }
            _ => return Ok(found),
        }
    }
    Err(failure(
        format!("keys still unprocessed after {UNPROCESSED_ROUNDS} rounds"),
        ErrorClass::Throttling,
    ))
}

/// Pause before re-sending what DynamoDB left unprocessed: 25 ms, doubling, at most 1.6 s.
pub fn backoff(round: u32) -> Duration {
    Duration::from_millis(25u64 << round.min(6))
}
