//! Shared set-up for the integration tests: the emulator, AWS clients, tables, ECS tasks, events.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod function;
pub mod moto;
pub mod runtime_api;
pub mod stream;

#[allow(unused_imports)]
pub use stream::Rng;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use ecs_task_history::describe::{DescribeError, Description, TaskDescriber};
use ecs_task_history::dynamodb::keys::{task_pk, CLUSTER_INDEX, INDEX_PROJECTED, SERVICE_INDEX};
use ecs_task_history::dynamodb::DynamoStore;
use ecs_task_history::ecs::EcsDescriber;
use ecs_task_history::pipeline::{Pipeline, Settings};
use serde_json::Value;

pub type Item = std::collections::HashMap<String, AttributeValue>;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name unique within this test process, so tests can share one emulator.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto::endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

/// The SDK's attempt timeout for clients behind the fault proxy: short, so a slow answer costs
/// about a second, yet far above the emulator's usual few milliseconds.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Clients for `endpoint` (the fault proxy) configured like the function's own (standard retry
/// mode), but with 3 attempts instead of `AWS_MAX_ATTEMPTS`' 5 so that faults get past the SDK and
/// exercise redelivery more often, a 10 ms base backoff instead of 1 s and a 1 s attempt timeout
/// instead of 10 s, so faults cost little time.
pub async fn sdk_config_through(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .load()
        .await
}

/// Creates a table with the production schema (see template.yaml) and returns its name.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let name = unique("history");
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let index = |index: &str, pk: &str, sk: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key(pk, KeyType::Hash))
            .key_schema(key(sk, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(
                        INDEX_PROJECTED.iter().map(|a| a.to_string()).collect(),
                    ))
                    .build(),
            )
            .build()
            .unwrap()
    };
    dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
                .map(attribute)
                .to_vec(),
        ))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(index(CLUSTER_INDEX, "gsi1pk", "gsi1sk"))
        .global_secondary_indexes(index(SERVICE_INDEX, "gsi2pk", "gsi2sk"))
        .send()
        .await
        .expect("create table");
    name
}

/// Counts DescribeTasks calls and tasks asked for, around the real ECS adapter.
#[derive(Clone)]
pub struct CountingDescriber {
    inner: Arc<EcsDescriber>,
    pub calls: Arc<AtomicUsize>,
    pub tasks: Arc<AtomicUsize>,
}

impl CountingDescriber {
    pub fn new(inner: EcsDescriber) -> Self {
        Self {
            inner: Arc::new(inner),
            calls: Arc::default(),
            tasks: Arc::default(),
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TaskDescriber for CountingDescriber {
    async fn describe_tasks(
        &self,
        cluster_arn: &str,
        task_arns: &[String],
    ) -> Result<Description, DescribeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.tasks.fetch_add(task_arns.len(), Ordering::SeqCst);
        self.inner.describe_tasks(cluster_arn, task_arns).await
    }
}

/// Counts every HTTP attempt an SDK client makes, by operation (from the JSON protocol's target
/// header), so tests can state exactly how many AWS requests an outcome costs.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<std::sync::Mutex<BTreeMap<String, usize>>>);

impl RequestCounter {
    pub fn get(&self, operation: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or_default()
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }

    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl aws_sdk_dynamodb::config::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

/// Everything a pipeline test needs, pointed at a fresh table.
pub struct Harness {
    pub config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub table: String,
    pub describer: CountingDescriber,
    pub pipeline: Pipeline<CountingDescriber, DynamoStore>,
    /// Requests the pipeline's own clients made (not the test's set-up and checks).
    pub requests: RequestCounter,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_settings(Settings::default()).await
    }

    pub async fn with_settings(settings: Settings) -> Self {
        Self::build(settings, None).await
    }

    /// A harness whose pipeline reaches AWS through `endpoint` (the fault proxy), with
    /// [`sdk_config_through`]'s retries and timeouts; set-up and checks still go straight to moto.
    pub async fn through(endpoint: &str, settings: Settings) -> Self {
        Self::build(settings, Some(sdk_config_through(endpoint).await)).await
    }

    async fn build(settings: Settings, pipeline_config: Option<SdkConfig>) -> Self {
        let config = sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let ecs = aws_sdk_ecs::Client::new(&config);
        let table = create_table(&dynamodb).await;
        let requests = RequestCounter::default();
        let pipeline_config = pipeline_config.unwrap_or_else(|| config.clone());
        let counted_ecs = aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::config::Builder::from(&pipeline_config)
                .interceptor(requests.clone())
                .build(),
        );
        let counted_dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&pipeline_config)
                .interceptor(requests.clone())
                .build(),
        );
        let describer = CountingDescriber::new(EcsDescriber::new(counted_ecs));
        let pipeline = Pipeline::new(
            describer.clone(),
            DynamoStore::new(counted_dynamodb, table.clone()),
            settings,
        );
        Self {
            config,
            dynamodb,
            ecs,
            table,
            describer,
            pipeline,
            requests,
        }
    }

    /// Every item of one task, sorted by sort key.
    pub async fn task_items(&self, task_arn: &str) -> Vec<Item> {
        let output = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(task_pk(task_arn)))
            .consistent_read(true)
            .send()
            .await
            .expect("query task");
        output.items.unwrap_or_default()
    }

    /// History records of one task as (version, item).
    pub async fn history(&self, task_arn: &str) -> Vec<(u64, Item)> {
        self.task_items(task_arn)
            .await
            .into_iter()
            .filter(|item| text(item, "sk").is_some_and(|sk| sk.starts_with("V#")))
            .map(|item| (number(&item, "version"), item))
            .collect()
    }

    pub async fn snapshot(&self, task_arn: &str) -> Option<Item> {
        self.task_items(task_arn)
            .await
            .into_iter()
            .find(|item| text(item, "sk") == Some("SNAPSHOT"))
    }

    /// Every item in the table (small tables only).
    pub async fn scan(&self) -> Vec<Item> {
        scan_table(&self.dynamodb, &self.table).await
    }
}

/// Every item in a table (small tables only).
pub async fn scan_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

pub fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

pub fn number(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("item has no numeric {name}: {item:?}"))
}

pub fn flag(item: &Item, name: &str) -> Option<bool> {
    item.get(name)
        .and_then(|value| value.as_bool().ok())
        .copied()
}

pub fn tags(item: &Item) -> Option<BTreeMap<String, String>> {
    let map = item.get("tags")?.as_m().ok()?;
    Some(
        map.iter()
            .map(|(key, value)| (key.clone(), value.as_s().cloned().unwrap_or_default()))
            .collect(),
    )
}

/// The sample task's whole lifecycle in `events/`, version 1 to 8.
pub const LIFECYCLE: [&str; 8] = [
    "fargate-web-v1-provisioning.json",
    "fargate-web-v2-pending.json",
    "fargate-web-v3-activating.json",
    "fargate-web-v4-running.json",
    "fargate-web-v5-deactivating.json",
    "fargate-web-v6-stopping.json",
    "fargate-web-v7-deprovisioning.json",
    "fargate-web-v8-stopped.json",
];

/// A sample from `events/`, as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// A sample task event re-pointed at another task, cluster and version, with its own event id.
pub fn task_event(fixture_name: &str, task_arn: &str, cluster_arn: &str, version: u64) -> Value {
    let mut event = fixture(fixture_name);
    event["id"] = Value::String(format!(
        "{}-{version}-{}",
        task_arn.rsplit('/').next().unwrap_or(""),
        unique("e")
    ));
    event["resources"] = serde_json::json!([task_arn]);
    let detail = &mut event["detail"];
    detail["taskArn"] = Value::String(task_arn.to_owned());
    detail["clusterArn"] = Value::String(cluster_arn.to_owned());
    detail["version"] = Value::from(version);
    if let Some(containers) = detail["containers"].as_array_mut() {
        for container in containers {
            container["taskArn"] = Value::String(task_arn.to_owned());
        }
    }
    event
}

/// An SQS batch whose records carry these bodies; message ids are `m0`, `m1`, ….
pub fn sqs_batch(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| {
            serde_json::json!({
                "messageId": format!("m{n}"),
                "receiptHandle": format!("handle-{n}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// A real Fargate task in the emulator: (cluster ARN, task ARNs), each task carrying `tags`.
pub async fn run_tasks(
    ecs: &aws_sdk_ecs::Client,
    count: i32,
    tags: &[(&str, &str)],
) -> (String, Vec<String>) {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType,
        NetworkConfiguration, NetworkMode, Tag,
    };
    let cluster = unique("cluster");
    let cluster_arn = ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .expect("create cluster")
        .cluster
        .and_then(|c| c.cluster_arn)
        .expect("cluster arn");
    let family = unique("web");
    ecs.register_task_definition()
        .family(&family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("public.ecr.aws/nginx/nginx:latest")
                .memory(512)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("register task definition");
    let subnet = moto::first_xml_value(&moto::ec2_query("DescribeSubnets"), "subnetId")
        .expect("a default subnet");
    let group = moto::first_xml_value(&moto::ec2_query("DescribeSecurityGroups"), "groupId")
        .expect("a security group");
    let mut request = ecs
        .run_task()
        .cluster(&cluster)
        .task_definition(&family)
        .launch_type(LaunchType::Fargate)
        .count(count)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets(subnet)
                        .security_groups(group)
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    for (key, value) in tags {
        request = request.tags(Tag::builder().key(*key).value(*value).build());
    }
    let output = request.send().await.expect("run task");
    let task_arns = output
        .tasks()
        .iter()
        .filter_map(|task| task.task_arn().map(str::to_owned))
        .collect();
    (cluster_arn, task_arns)
}
