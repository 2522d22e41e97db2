//! The table's schema, for the places that create it outside CloudFormation: the tests, the demo,
//! the benchmark and `ecs-task-history create-table` (local emulators). `template.yaml` declares
//! the same table for deployments; a test holds the two together.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::keys::{CLUSTER_INDEX, INDEX_PROJECTED};
use crate::aws::error::service_error;
use crate::ports::{ErrorClass, ServiceError};

/// Every attribute a key of the table or of an index is made of (all strings).
pub const KEY_ATTRIBUTES: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];
/// Each index: name, partition key, sort key.
pub const INDEXES: [(&str, &str, &str); 1] = [(CLUSTER_INDEX, "gsi1pk", "gsi1sk")];
/// The attribute DynamoDB's TTL deletes items by.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// Creates the history table (on-demand, its index, TTL) and waits until it is active.
pub async fn create_table(client: &Client, table: &str) -> Result<(), ServiceError> {
    let invalid = |err: aws_sdk_dynamodb::error::BuildError| ServiceError {
        operation: "DynamoDB CreateTable",
        target: table.to_owned(),
        message: err.to_string(),
        class: ErrorClass::Validation,
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash).map_err(invalid)?)
        .key_schema(key("sk", KeyType::Range).map_err(invalid)?);
    for name in KEY_ATTRIBUTES {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(invalid)?,
        );
    }
    for (index, pk, sk) in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key(pk, KeyType::Hash).map_err(invalid)?)
                .key_schema(key(sk, KeyType::Range).map_err(invalid)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            INDEX_PROJECTED.iter().map(|a| (*a).to_owned()).collect(),
                        ))
                        .build(),
                )
                .build()
                .map_err(invalid)?,
        );
    }
    request
        .send()
        .await
        .map_err(|err| service_error("DynamoDB CreateTable", table, &err))?;
    wait_until_active(client, table).await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(invalid)?,
        )
        .send()
        .await
        .map_err(|err| service_error("DynamoDB UpdateTimeToLive", table, &err))?;
    Ok(())
}

/// Emulators create tables at once; DynamoDB takes seconds, and refuses TTL settings until then.
async fn wait_until_active(client: &Client, table: &str) -> Result<(), ServiceError> {
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|err| service_error("DynamoDB DescribeTable", table, &err))?;
        let status = described.table().and_then(|t| t.table_status());
        if status.is_none_or(|status| status.as_str() == "ACTIVE") {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(ServiceError {
        operation: "DynamoDB DescribeTable",
        target: table.to_owned(),
        message: "the table did not become ACTIVE within a minute".to_owned(),
        class: ErrorClass::Transient,
    })
}
