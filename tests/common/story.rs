//! A task's life as the `ECS Task State Change` events ECS sends for it, one per version, for real
//! (emulated) task ARNs: timestamps that only increase, containers, the ENI attachment, and each
//! field only from the point in the lifecycle at which ECS sets it. For the demo and for tests that
//! want realistic events rather than the fixtures of `events/`.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::Rng;

/// A container of a task definition, as the events show it.
#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    pub essential: bool,
}

impl Container {
    pub fn new(name: &str, image: &str, cpu: u32, memory: u32, essential: bool) -> Self {
        Self {
            name: name.to_owned(),
            image: image.to_owned(),
            cpu,
            memory,
            essential,
        }
    }
}

/// Everything about a task that does not change over its life.
#[derive(Clone, Debug)]
pub struct Task {
    pub task_arn: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    pub group: String,
    pub started_by: String,
    pub cpu: String,
    pub memory: String,
    pub containers: Vec<Container>,
    /// `detail.overrides` (`{"containerOverrides": […]}`).
    pub overrides: Value,
    pub subnet_id: String,
    pub availability_zone: String,
}

impl Task {
    pub fn id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or_default()
    }

    /// (region, account), from the task ARN `arn:aws:ecs:<region>:<account>:task/…`.
    pub fn region_account(&self) -> (&str, &str) {
        let mut parts = self.task_arn.split(':').skip(3);
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    }
}

/// How the task's life ends.
#[derive(Clone, Debug)]
pub enum Ending {
    /// It reaches RUNNING (version 4) and is still running.
    Running,
    /// ECS or a user stops it `after` its creation; every container exits 0 (versions 1–8).
    Stopped {
        after: Duration,
        stop_code: String,
        reason: String,
    },
    /// An essential container exits `after` the task's creation and takes the task down
    /// (`EssentialContainerExited`, versions 1–8); the other containers exit 0.
    Crashed {
        after: Duration,
        container: String,
        exit_code: i64,
        reason: String,
    },
    /// The image pull fails: `TaskFailedToStart`, never RUNNING (versions 1–5).
    FailedToStart { reason: String },
}

/// When each step of the life happened; `None` for steps it never reached.
#[derive(Clone, Debug, Default)]
struct Stamps {
    created: DateTime<Utc>,
    connectivity: Option<DateTime<Utc>>,
    pull_started: Option<DateTime<Utc>>,
    pull_stopped: Option<DateTime<Utc>>,
    started: Option<DateTime<Utc>>,
    stopping: Option<DateTime<Utc>>,
    /// When the container that took the task down exited (`Crashed` only).
    crashed: Option<DateTime<Utc>>,
    execution_stopped: Option<DateTime<Utc>>,
    stopped: Option<DateTime<Utc>>,
}

fn ms(millis: i64) -> Duration {
    Duration::milliseconds(millis)
}

/// ISO-8601 UTC with milliseconds, as ECS writes its timestamps.
pub fn iso_ms(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO-8601 UTC to the second, as EventBridge writes `time`.
pub fn iso_s(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A random-looking but seeded UUID (v4 layout), so a story's ids are reproducible.
pub fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// One task's events: `(lastStatus, time)` per version, details built on demand.
#[derive(Clone, Debug)]
pub struct TaskStory {
    pub task: Task,
    pub ending: Ending,
    /// Version `n` is `versions[n - 1]`: its lastStatus and `updatedAt`.
    versions: Vec<(&'static str, DateTime<Utc>)>,
    stamps: Stamps,
    rng: Rng,
    eni: String,
    ip: String,
    attachment_id: String,
    container_arns: Vec<String>,
}

impl TaskStory {
    /// The life of `task`, created at `created_at`; `seed` makes its ids (ENI, event ids, …).
    pub fn new(task: Task, created_at: DateTime<Utc>, ending: Ending, seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let eni = format!("eni-0{:016x}", rng.next());
        let ip = format!("172.31.{}.{}", 3 + rng.below(12), 20 + rng.below(200));
        let attachment_id = uuid(&mut rng);
        let container_arns = task
            .containers
            .iter()
            .map(|_| {
                let (region, account) = task.region_account();
                let cluster = task.cluster_arn.rsplit('/').next().unwrap_or_default();
                let id = uuid(&mut rng);
                format!(
                    "arn:aws:ecs:{region}:{account}:container/{cluster}/{}/{id}",
                    task.id()
                )
            })
            .collect();
        let (stamps, versions) = lifecycle(created_at, &ending);
        Self {
            task,
            ending,
            versions,
            stamps,
            rng,
            eni,
            ip,
            attachment_id,
            container_arns,
        }
    }

    /// The newest version of this story.
    pub fn last_version(&self) -> u64 {
        self.versions.len() as u64
    }

    pub fn status(&self, version: u64) -> &'static str {
        self.versions[version as usize - 1].0
    }

    pub fn time(&self, version: u64) -> DateTime<Utc> {
        self.versions[version as usize - 1].1
    }

    /// The EventBridge event of one version, under a new event id, sent `delay` after the change
    /// (a redelivery is the same detail under another id, later).
    pub fn event(&mut self, version: u64, delay: Duration) -> Value {
        let (region, account) = self.task.region_account();
        json!({
            "version": "0",
            "id": uuid(&mut self.rng),
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": account,
            "time": iso_s(self.time(version) + delay),
            "region": region,
            "resources": [self.task.task_arn],
            "detail": self.detail(version),
        })
    }

    /// `detail` at one version: a field appears once the step that sets it has happened.
    pub fn detail(&self, version: u64) -> Value {
        let (status, now) = self.versions[version as usize - 1];
        let task = &self.task;
        let stamps = &self.stamps;
        let reached = |stamp: Option<DateTime<Utc>>| stamp.filter(|at| *at <= now);
        let stopping = reached(stamps.stopping).is_some();
        let mut detail = json!({
            "attachments": [self.attachment(status)],
            "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
            "availabilityZone": task.availability_zone,
            "clusterArn": task.cluster_arn,
            "containers": (0..task.containers.len())
                .map(|n| self.container(n, now))
                .collect::<Vec<_>>(),
            "cpu": task.cpu,
            "createdAt": iso_ms(stamps.created),
            "desiredStatus": if stopping { "STOPPED" } else { "RUNNING" },
            "enableExecuteCommand": false,
            "ephemeralStorage": {"sizeInGiB": 20},
            "group": task.group,
            "launchType": "FARGATE",
            "lastStatus": status,
            "memory": task.memory,
            "overrides": task.overrides,
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "startedBy": task.started_by,
            "taskArn": task.task_arn,
            "taskDefinitionArn": task.task_definition_arn,
            "updatedAt": iso_ms(now),
            "version": version,
        });
        let fields = [
            ("connectivityAt", stamps.connectivity),
            ("pullStartedAt", stamps.pull_started),
            ("pullStoppedAt", stamps.pull_stopped),
            ("startedAt", stamps.started),
            ("stoppingAt", stamps.stopping),
            ("executionStoppedAt", stamps.execution_stopped),
            ("stoppedAt", stamps.stopped),
        ];
        for (name, stamp) in fields {
            if let Some(at) = reached(stamp) {
                detail[name] = json!(iso_ms(at));
            }
        }
        if reached(stamps.connectivity).is_some() {
            detail["connectivity"] = json!("CONNECTED");
        }
        if stopping {
            let (code, reason) = self.stop_reason();
            detail["stopCode"] = json!(code);
            detail["stoppedReason"] = json!(reason);
        }
        detail
    }

    /// (stopCode, stoppedReason), once the task is stopping.
    fn stop_reason(&self) -> (&str, &str) {
        match &self.ending {
            Ending::Running => ("", ""),
            Ending::Stopped {
                stop_code, reason, ..
            } => (stop_code, reason),
            Ending::Crashed { .. } => (
                "EssentialContainerExited",
                "Essential container in task exited",
            ),
            Ending::FailedToStart { reason } => ("TaskFailedToStart", reason),
        }
    }

    /// The task's ENI: created at PROVISIONING, attached, detached while deprovisioning.
    fn attachment(&self, status: &str) -> Value {
        let state = match status {
            "PROVISIONING" => "PRECREATED",
            "DEPROVISIONING" => "DETACHING",
            "STOPPED" => "DELETED",
            _ => "ATTACHED",
        };
        let mut details = vec![json!({"name": "subnetId", "value": self.task.subnet_id})];
        if status != "PROVISIONING" {
            details.extend([
                json!({"name": "networkInterfaceId", "value": self.eni}),
                json!({
                    "name": "privateDnsName",
                    "value": format!("ip-{}.ec2.internal", self.ip.replace('.', "-")),
                }),
                json!({"name": "privateIPv4Address", "value": self.ip}),
            ]);
        }
        json!({"id": self.attachment_id, "type": "eni", "status": state, "details": details})
    }

    /// Container `n` at time `now`: pulled, running, then stopped with its exit code (or reason).
    fn container(&self, n: usize, now: DateTime<Utc>) -> Value {
        let spec = &self.task.containers[n];
        let stamps = &self.stamps;
        let reached = |stamp: Option<DateTime<Utc>>| stamp.is_some_and(|at| at <= now);
        let (exit_code, reason, stopped_at) = match &self.ending {
            Ending::Crashed {
                container,
                exit_code,
                reason,
                ..
            } if *container == spec.name => {
                (Some(*exit_code), Some(reason.as_str()), stamps.crashed)
            }
            Ending::FailedToStart { reason } => (None, Some(reason.as_str()), stamps.stopping),
            _ => (Some(0), None, stamps.execution_stopped),
        };
        let status = if reached(stopped_at) {
            "STOPPED"
        } else if reached(stamps.pull_stopped) {
            "RUNNING"
        } else {
            "PENDING"
        };
        let mut container = json!({
            "containerArn": self.container_arns[n],
            "lastStatus": status,
            "name": spec.name,
            "image": spec.image,
            "taskArn": self.task.task_arn,
            "networkInterfaces": [],
            "cpu": spec.cpu.to_string(),
            "memory": spec.memory.to_string(),
        });
        if reached(stamps.connectivity) {
            container["networkInterfaces"] =
                json!([{"attachmentId": self.attachment_id, "privateIpv4Address": self.ip}]);
        }
        if reached(stamps.pull_stopped) && !matches!(self.ending, Ending::FailedToStart { .. }) {
            let digest = format!("{:016x}", digest_of(&spec.image)).repeat(4);
            container["runtimeId"] = json!(format!("{}-{}", self.task.id(), 1_000_000_000 + n));
            container["imageDigest"] = json!(format!("sha256:{digest}"));
        }
        if status == "STOPPED" {
            if let Some(code) = exit_code {
                container["exitCode"] = json!(code);
            }
            if let Some(reason) = reason {
                container["reason"] = json!(reason);
            }
        }
        container
    }
}

/// A stable stand-in for an image digest (FNV-1a of the image name).
fn digest_of(image: &str) -> u64 {
    image.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The steps of a Fargate task's life and its versions, with the gaps real tasks show between them.
fn lifecycle(
    created: DateTime<Utc>,
    ending: &Ending,
) -> (Stamps, Vec<(&'static str, DateTime<Utc>)>) {
    let mut stamps = Stamps {
        created,
        connectivity: Some(created + ms(11_779)),
        pull_started: Some(created + ms(14_188)),
        ..Stamps::default()
    };
    let mut versions = vec![
        ("PROVISIONING", created + ms(312)),
        ("PENDING", created + ms(12_333)),
    ];
    let stop_at = match ending {
        Ending::FailedToStart { .. } => {
            // The pull is retried for ~40 s, then the task stops without having started.
            let failed = created + ms(52_408);
            stamps.pull_stopped = Some(failed);
            stamps.stopping = Some(failed + ms(291));
            stamps.execution_stopped = Some(failed + ms(514));
            let stopping = failed + ms(532);
            let deprovisioning = stopping + ms(4_250);
            stamps.stopped = Some(deprovisioning + ms(20_917));
            versions.extend([
                ("STOPPING", stopping),
                ("DEPROVISIONING", deprovisioning),
                ("STOPPED", deprovisioning + ms(20_917)),
            ]);
            return (stamps, versions);
        }
        Ending::Running => None,
        Ending::Stopped { after, .. } | Ending::Crashed { after, .. } => Some(created + *after),
    };
    stamps.pull_stopped = Some(created + ms(26_747));
    stamps.started = Some(created + ms(39_892));
    versions.extend([
        ("ACTIVATING", created + ms(27_105)),
        ("RUNNING", created + ms(39_892)),
    ]);
    if let Some(stop_at) = stop_at {
        if matches!(ending, Ending::Crashed { .. }) {
            stamps.crashed = Some(stop_at - ms(187));
        }
        stamps.stopping = Some(stop_at);
        let execution_stopped = stop_at + ms(31_402);
        stamps.execution_stopped = Some(execution_stopped);
        let stopping = execution_stopped + ms(18);
        let deprovisioning = stopping + ms(4_250);
        let stopped = deprovisioning + ms(21_664);
        stamps.stopped = Some(stopped);
        versions.extend([
            ("DEACTIVATING", stop_at + ms(41)),
            ("STOPPING", stopping),
            ("DEPROVISIONING", deprovisioning),
            ("STOPPED", stopped),
        ]);
    }
    (stamps, versions)
}

/// An `ECS Container Instance State Change` event (an event this function skips) in `cluster_arn`.
pub fn container_instance_event(cluster_arn: &str, time: DateTime<Utc>, rng: &mut Rng) -> Value {
    let mut parts = cluster_arn.split(':').skip(3);
    let (region, account) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let cluster = cluster_arn.rsplit('/').next().unwrap_or_default();
    let instance = format!("{:016x}{:016x}", rng.next(), rng.next());
    let instance_arn =
        format!("arn:aws:ecs:{region}:{account}:container-instance/{cluster}/{instance}");
    json!({
        "version": "0",
        "id": uuid(rng),
        "detail-type": "ECS Container Instance State Change",
        "source": "aws.ecs",
        "account": account,
        "time": iso_s(time),
        "region": region,
        "resources": [instance_arn],
        "detail": {
            "agentConnected": true,
            "clusterArn": cluster_arn,
            "containerInstanceArn": instance_arn,
            "ec2InstanceId": format!("i-0{:016x}", rng.next()),
            "status": "ACTIVE",
            "runningTasksCount": 0,
            "pendingTasksCount": 0,
            "version": 14,
            "updatedAt": iso_ms(time),
            "registeredAt": iso_ms(time - Duration::hours(3)),
        },
    })
}
