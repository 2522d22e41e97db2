//! The alert ledger in the history table: a claim item beside each failed task's history
//! (`TASK#<arn>` / `ALERT`) and one item per crash-loop window (`ALERTS#<cluster>#<group>` /
//! `<window start>`), written with conditions so concurrent instances agree on who sends what.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, ReturnValue};
use chrono::Utc;

use super::keys::{iso_time, task_pk};
use super::{DynamoStore, Put};
use crate::aws::error::service_error;
use crate::core::alert::Window;
use crate::core::history::expiry;
use crate::ports::{AlertEnd, AlertLedger, Claim, ErrorClass, ServiceError};

/// The sort key of a task's alert claim.
pub const ALERT_SK: &str = "ALERT";
/// The claim's attributes (`state` is a reserved word in expressions: always `#state`).
const STATE: &str = "state";
const OWNER: &str = "owner";
const CLAIMED_AT: &str = "claimedAt";
const EXPIRES_AT: &str = "expiresAt";
const PENDING: &str = "pending";
/// A crash-loop window's attributes.
const FAILURES: &str = "failures";
const SUMMARY_BY: &str = "summaryBy";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The partition key of a crash-loop window.
pub fn window_pk(window: &Window) -> String {
    format!("ALERTS#{}#{}", window.cluster_arn, window.group)
}

impl DynamoStore {
    fn keys(pk: String, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
    }

    /// An UpdateItem of one item; `None` when its condition failed.
    async fn update(
        &self,
        key: HashMap<String, AttributeValue>,
        expression: &str,
        condition: Option<&str>,
        values: HashMap<String, AttributeValue>,
        names: Option<HashMap<String, String>>,
    ) -> Result<Option<HashMap<String, AttributeValue>>, ServiceError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(Some(values))
            .set_expression_attribute_names(names)
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.count_capacity(output.consumed_capacity(), true);
                Ok(Some(output.attributes.unwrap_or_default()))
            }
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(err))
                if matches!(
                    err.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(service_error(
                "DynamoDB UpdateItem",
                format!("table {}", self.table),
                &err,
            )),
        }
    }
}

fn state_names() -> Option<HashMap<String, String>> {
    Some(HashMap::from([("#state".to_owned(), STATE.to_owned())]))
}

impl AlertLedger for DynamoStore {
    async fn claim_alert(
        &self,
        task_arn: &str,
        owner: &str,
        lease: chrono::Duration,
    ) -> Result<Claim, ServiceError> {
        let now = Utc::now();
        let mut item = Self::keys(task_pk(task_arn), ALERT_SK);
        item.insert(STATE.to_owned(), s(PENDING));
        item.insert(OWNER.to_owned(), s(owner));
        item.insert(CLAIMED_AT.to_owned(), n(now.timestamp_millis()));
        item.insert(EXPIRES_AT.to_owned(), n(expiry(now, self.retention_days)));
        let values = HashMap::from([
            (":pending".to_owned(), s(PENDING)),
            (":expired".to_owned(), n((now - lease).timestamp_millis())),
        ]);
        let condition = "attribute_not_exists(pk) OR (#state = :pending AND claimedAt < :expired)";
        let put = self
            .put_if(
                "DynamoDB PutItem",
                item,
                condition,
                Some(values),
                state_names(),
            )
            .await?;
        let Put::Refused(old) = put else {
            return Ok(Claim::Won);
        };
        let text = |name: &str| {
            old.get(name)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        };
        Ok(match (text(STATE), text(OWNER)) {
            // Our own claim, its answer lost and the request retried by the SDK.
            (Some(PENDING), Some(holder)) if holder == owner => Claim::Won,
            (Some(PENDING), _) => Claim::Busy,
            _ => Claim::Done,
        })
    }

    async fn release_alert(&self, task_arn: &str, owner: &str) -> Result<(), ServiceError> {
        let values = HashMap::from([
            (":owner".to_owned(), s(owner)),
            (":pending".to_owned(), s(PENDING)),
            (":never".to_owned(), n(0)),
        ]);
        self.update(
            Self::keys(task_pk(task_arn), ALERT_SK),
            "SET claimedAt = :never",
            Some("#state = :pending AND #owner = :owner"),
            values,
            Some(HashMap::from([
                ("#state".to_owned(), STATE.to_owned()),
                ("#owner".to_owned(), OWNER.to_owned()),
            ])),
        )
        .await
        .map(|_| ())
    }

    async fn finish_alert(
        &self,
        task_arn: &str,
        owner: &str,
        end: AlertEnd,
    ) -> Result<(), ServiceError> {
        let state = match end {
            AlertEnd::Sent => "sent",
            AlertEnd::Suppressed => "suppressed",
            AlertEnd::Unsendable => "unsendable",
        };
        let values = HashMap::from([
            (":owner".to_owned(), s(owner)),
            (":state".to_owned(), s(state)),
        ]);
        let updated = self
            .update(
                Self::keys(task_pk(task_arn), ALERT_SK),
                "SET #state = :state",
                Some("#owner = :owner"),
                values,
                Some(HashMap::from([
                    ("#state".to_owned(), STATE.to_owned()),
                    ("#owner".to_owned(), OWNER.to_owned()),
                ])),
            )
            .await?;
        match updated {
            Some(_) => Ok(()),
            None => Err(self.error(
                "DynamoDB UpdateItem",
                format!("the alert claim of {task_arn} is no longer {owner}'s"),
                ErrorClass::Other,
            )),
        }
    }

    async fn add_to_window(
        &self,
        window: &Window,
        entry: &str,
    ) -> Result<Vec<String>, ServiceError> {
        let expires = expiry(window.start, self.retention_days);
        let values = HashMap::from([
            (
                ":entry".to_owned(),
                AttributeValue::Ss(vec![entry.to_owned()]),
            ),
            (":expires".to_owned(), n(expires)),
        ]);
        let item = self
            .update(
                Self::keys(window_pk(window), iso_time(window.start)),
                &format!("ADD {FAILURES} :entry SET {EXPIRES_AT} = :expires"),
                None,
                values,
                None,
            )
            .await?
            .unwrap_or_default();
        Ok(match item.get(FAILURES) {
            Some(AttributeValue::Ss(entries)) => entries.clone(),
            _ => vec![entry.to_owned()],
        })
    }

    async fn claim_summary(&self, window: &Window, task_id: &str) -> Result<bool, ServiceError> {
        let values = HashMap::from([(":task".to_owned(), s(task_id))]);
        let updated = self
            .update(
                Self::keys(window_pk(window), iso_time(window.start)),
                &format!("SET {SUMMARY_BY} = :task"),
                Some(&format!(
                    "attribute_not_exists({SUMMARY_BY}) OR {SUMMARY_BY} = :task"
                )),
                values,
                None,
            )
            .await?;
        Ok(updated.is_some())
    }

    async fn summarized(&self, window: &Window) -> Result<bool, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::keys(window_pk(window), iso_time(window.start))))
            .projection_expression(SUMMARY_BY)
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| {
                service_error("DynamoDB GetItem", format!("table {}", self.table), &err)
            })?;
        self.count_capacity(output.consumed_capacity(), false);
        Ok(output
            .item
            .is_some_and(|item| item.contains_key(SUMMARY_BY)))
    }
}
