//! Shared set-up for the integration tests: the emulator, AWS clients, tables, ECS tasks, events.
#![allow(dead_code)]

pub mod accounts;
pub mod browser;
pub mod dynoxide;
pub mod emulator;
pub mod fargate;
pub mod fault_proxy;
pub mod function;
pub mod moto;
pub mod runtime_api;
pub mod sns;
pub mod story;
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
use aws_sdk_dynamodb::types::AttributeValue;
use ecs_task_history::aws::dynamodb::keys::task_pk;
use ecs_task_history::aws::dynamodb::DynamoStore;
use ecs_task_history::aws::ecs::EcsTasks;
use ecs_task_history::aws::usage::Usage;
use ecs_task_history::aws::Aws;
use ecs_task_history::config::EcsSettings;
use ecs_task_history::core::arn::Location;
use ecs_task_history::pipeline::{Pipeline, Settings};
use ecs_task_history::ports::{Description, ServiceError, TaskDescriber};
use serde_json::Value;

pub type Item = std::collections::HashMap<String, AttributeValue>;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The workspace's root: the test kit serves the root package's tests and the CLI crate's.
pub fn root() -> &'static std::path::Path {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("events").is_dir())
        .unwrap_or(manifest)
}

/// A name unique within this test process, so tests can share one emulator.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The DynamoDB the tests use: dynoxide, which bills capacity like DynamoDB; `TEST_DYNAMODB=moto`
/// runs the suite against moto's DynamoDB instead (to compare the emulators).
pub fn dynamodb_endpoint() -> &'static str {
    match std::env::var("TEST_DYNAMODB").as_deref() {
        Ok("moto") => moto::endpoint(),
        _ => dynoxide::endpoint(),
    }
}

/// The endpoints a child process (the function, the CLI) reaches the emulators at: DynamoDB's
/// own, everything else moto, as the SDK reads them from the environment.
pub fn emulator_env() -> [(&'static str, &'static str); 2] {
    [
        ("AWS_ENDPOINT_URL", moto::endpoint()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint()),
    ]
}

/// The CLI binary at `binary` on `table`, reaching the emulators and nothing of the developer's
/// AWS set-up (no profile, no config files, no instance metadata).
pub fn cli_command(binary: &std::path::Path, table: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(emulator_env())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("TABLE_NAME", table)
        .kill_on_drop(true);
    command
}

/// Per-service endpoints for in-process clients, as `AWS_ENDPOINT_URL_<SERVICE>` gives them to a
/// process: DynamoDB to its emulator, every other service to moto.
#[derive(Debug)]
struct Emulators;

impl aws_types::service_config::LoadServiceConfig for Emulators {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        (key.env() == "AWS_ENDPOINT_URL").then(|| {
            if key.service_id() == "DynamoDB" {
                dynamodb_endpoint().to_owned()
            } else {
                moto::endpoint().to_owned()
            }
        })
    }
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
        .into_builder()
        .service_config(Emulators)
        .build()
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

/// Creates a table with the production schema (the one `template.yaml` declares) and returns its name.
pub async fn create_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let name = unique("history");
    ecs_task_history::aws::dynamodb::schema::create_table(dynamodb, &name)
        .await
        .expect("create table");
    name
}

/// ECS settings for tests: no pacing, the emulator's one account.
pub fn ecs_settings() -> EcsSettings {
    EcsSettings {
        describe_tasks_per_second: 0.0,
        describe_tasks_burst: 10,
        ..EcsSettings::default()
    }
}

/// Counts DescribeTasks calls and tasks asked for, around the real ECS adapter.
#[derive(Clone)]
pub struct CountingDescriber {
    inner: Arc<EcsTasks>,
    pub calls: Arc<AtomicUsize>,
    pub tasks: Arc<AtomicUsize>,
}

impl CountingDescriber {
    pub fn new(inner: EcsTasks) -> Self {
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
    ) -> Result<Description, ServiceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.tasks.fetch_add(task_arns.len(), Ordering::SeqCst);
        self.inner.describe_tasks(cluster_arn, task_arns).await
    }

    async fn list_tasks(&self, cluster_arn: &str) -> Result<Vec<String>, ServiceError> {
        self.inner.list_tasks(cluster_arn).await
    }

    async fn list_clusters(
        &self,
        location: Option<&Location>,
    ) -> Result<Vec<String>, ServiceError> {
        self.inner.list_clusters(location).await
    }
}

/// Every HTTP attempt a pipeline's clients made, by operation (the adapters' own usage counters),
/// so tests can state exactly how many AWS requests an outcome costs.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(pub Arc<Usage>);

impl RequestCounter {
    pub fn get(&self, operation: &str) -> usize {
        self.snapshot().get(operation).copied().unwrap_or_default()
    }

    pub fn total(&self) -> usize {
        self.snapshot().values().sum()
    }

    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0
            .requests()
            .into_iter()
            .map(|(operation, count)| (operation, count as usize))
            .collect()
    }

    pub fn reset(&self) {
        self.0.reset_requests();
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
    /// The pipeline's clients, as the function builds them.
    pub aws: Aws,
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
        let aws = Aws::new(pipeline_config.unwrap_or_else(|| config.clone()));
        let requests = RequestCounter(aws.usage.clone());
        let describer = CountingDescriber::new(aws.ecs(&ecs_settings()));
        let pipeline = Pipeline::new(describer.clone(), aws.store(&table), settings);
        Self {
            config,
            dynamodb,
            ecs,
            table,
            describer,
            pipeline,
            aws,
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
            .filter_map(|item| {
                let version = text(&item, "sk")
                    .and_then(ecs_task_history::aws::dynamodb::keys::version_of)?;
                Some((version, item))
            })
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

/// A flag of an item; items store flags only when true, so absent is false.
pub fn flag(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|value| value.as_bool().ok())
        .is_some_and(|flag| *flag)
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
    let path = root().join("events").join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
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
    run_tasks_as(ecs, ("test", "us-east-1"), count, tags).await
}

/// The same in another account or region: `place` is the access key of `ecs`'s credentials and its
/// region, where moto's default VPC is looked up.
pub async fn run_tasks_as(
    ecs: &aws_sdk_ecs::Client,
    place: (&str, &str),
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
    let (subnet, group) = default_network(place);
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

/// moto's default VPC subnet and security group in the account `place`'s access key maps to, in
/// its region (Fargate `run_task` needs both to exist).
pub fn default_network((access_key, region): (&str, &str)) -> (String, String) {
    let query = |action| moto::ec2_query_as(access_key, region, action);
    let subnet =
        moto::first_xml_value(&query("DescribeSubnets"), "subnetId").expect("a default subnet");
    let group = moto::first_xml_value(&query("DescribeSecurityGroups"), "groupId")
        .expect("a security group");
    (subnet, group)
}

/// `count` real Fargate tasks in one new cluster, beyond RunTask's 10 a call (the benchmark runs
/// thousands): (cluster ARN, task ARNs), each task carrying `tags`.
pub async fn run_many_tasks(
    ecs: &aws_sdk_ecs::Client,
    count: usize,
    tags: &[(&str, &str)],
) -> (String, Vec<String>) {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, LaunchType, NetworkConfiguration, Tag,
    };
    let (cluster_arn, mut task_arns) = run_tasks(ecs, count.min(10) as i32, tags).await;
    // The rest from the task definition run_tasks registered, in the same network.
    let first = ecs
        .describe_tasks()
        .cluster(&cluster_arn)
        .tasks(&task_arns[0])
        .send()
        .await
        .expect("describe the first task");
    let definition = first.tasks()[0]
        .task_definition_arn()
        .expect("task definition")
        .to_owned();
    let (subnet, group) = default_network(("test", "us-east-1"));
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .subnets(subnet)
                .security_groups(group)
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .expect("awsvpc configuration"),
        )
        .build();
    while task_arns.len() < count {
        let mut request = ecs
            .run_task()
            .cluster(&cluster_arn)
            .task_definition(&definition)
            .launch_type(LaunchType::Fargate)
            .count((count - task_arns.len()).min(10) as i32)
            .network_configuration(network.clone());
        for (key, value) in tags {
            request = request.tags(Tag::builder().key(*key).value(*value).build());
        }
        let output = request.send().await.expect("run tasks");
        let before = task_arns.len();
        task_arns.extend(
            output
                .tasks()
                .iter()
                .filter_map(|t| t.task_arn().map(str::to_owned)),
        );
        assert!(
            task_arns.len() > before,
            "RunTask started nothing: {output:?}"
        );
    }
    (cluster_arn, task_arns)
}

/// Sends already-read events through the pipeline, as one batch.
pub async fn process_events<
    D: TaskDescriber,
    S: ecs_task_history::ports::TaskStore + ecs_task_history::ports::AlertLedger,
    A: ecs_task_history::ports::AlertSink,
>(
    pipeline: &Pipeline<D, S, A>,
    events: &[ecs_task_history::core::event::TaskEvent],
) -> Vec<ecs_task_history::core::outcome::Outcome> {
    let inputs = events
        .iter()
        .map(|event| ecs_task_history::pipeline::Input::Event(Box::new(event.clone())))
        .collect();
    pipeline.process(inputs).await
}
