//! An SNS topic in moto with SQS queues subscribed to it, read back as the alerts that arrived:
//! what an email, Chatbot or Lambda subscriber would get, filter policies included.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::Value;

/// One alert as a subscriber received it (the SNS envelope's fields).
#[derive(Clone, Debug)]
pub struct Received {
    pub subject: String,
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

impl Received {
    pub fn kind(&self) -> &str {
        self.attributes.get("kind").map_or("", String::as_str)
    }
}

/// A topic of its own for one test.
pub async fn topic(config: &SdkConfig) -> String {
    let sns = aws_sdk_sns::Client::new(config);
    sns.create_topic()
        .name(super::unique("alerts"))
        .send()
        .await
        .expect("create topic")
        .topic_arn
        .expect("topic ARN")
}

/// An SQS queue subscribed to `topic_arn`, with an optional filter policy on message attributes.
pub struct Subscriber {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

pub async fn subscribe(
    config: &SdkConfig,
    topic_arn: &str,
    filter_policy: Option<&str>,
) -> Subscriber {
    let sqs = aws_sdk_sqs::Client::new(config);
    let queue_url = sqs
        .create_queue()
        .queue_name(super::unique("subscriber"))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue ARN")
        .attributes
        .and_then(|mut attributes| {
            attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        })
        .expect("queue ARN");
    let mut subscribe = aws_sdk_sns::Client::new(config)
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn);
    if let Some(policy) = filter_policy {
        subscribe = subscribe.attributes("FilterPolicy", policy);
    }
    subscribe.send().await.expect("subscribe");
    Subscriber { sqs, queue_url }
}

impl Subscriber {
    /// Every alert that has arrived (and is deleted from the queue), once two polls in a row find
    /// nothing more.
    pub async fn drain(&self) -> Vec<Received> {
        let mut received = Vec::new();
        let mut empty_polls = 0;
        while empty_polls < 2 {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                empty_polls += 1;
                continue;
            }
            empty_polls = 0;
            for message in messages {
                received.push(read_envelope(message.body().unwrap_or("{}")));
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
        received
    }

    /// Waits up to `timeout` for at least `count` alerts, then drains the rest.
    pub async fn expect_at_least(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut received = Vec::new();
        while received.len() < count && tokio::time::Instant::now() < deadline {
            received.extend(self.drain().await);
        }
        received
    }
}

/// The SNS notification an SQS subscriber gets (raw delivery off).
fn read_envelope(body: &str) -> Received {
    let envelope: Value = serde_json::from_str(body).expect("SNS envelope");
    let attributes = envelope["MessageAttributes"]
        .as_object()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        value["Value"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Received {
        subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
        message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
        attributes,
    }
}
