//! The SNS adapter of [`AlertSink`]: one `Publish` per alert, its attributes as String message
//! attributes so subscribers can filter with SNS filter policies.

use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use super::error::service_error;
use crate::core::alert::Message;
use crate::ports::{AlertSink, ErrorClass, ServiceError};

/// The alert topic (`ALERT_TOPIC_ARN`).
pub struct SnsTopic {
    client: Client,
    topic_arn: String,
}

impl SnsTopic {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl AlertSink for SnsTopic {
    async fn publish(&self, message: &Message) -> Result<(), ServiceError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message(&message.body);
        for (name, value) in &message.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|err| ServiceError {
                    operation: "SNS Publish",
                    target: format!("topic {}", self.topic_arn),
                    message: format!("message attribute {name}: {err}"),
                    class: ErrorClass::Validation,
                })?;
            request = request.message_attributes(*name, attribute);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|err| service_error("SNS Publish", format!("topic {}", self.topic_arn), &err))
    }
}
