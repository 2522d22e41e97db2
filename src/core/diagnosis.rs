//! Why did it stop? A pure classifier from a task's recorded history to a plain-words diagnosis.
//!
//! The newest record decides; earlier ones only refine (did the task ever reach RUNNING, for how
//! long). Every stop-reason family recognised here is in `CATALOG` or `BY_STOP_CODE`, each
//! entry with the AWS page or published event it was taken from. Anything else is `unknown` with
//! the raw reason quoted: a wrong guess costs more than an honest "don't know".

use serde::{Serialize, Serializer};

use crate::core::enums::{StopCode, TaskStatus};
use crate::core::history::{ContainerRecord, HistoryRecord};

/// Why a task stopped: what the CLI prints as its `diagnosis` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    pub kind: Kind,
    /// One line, plain words; names the container and exit code where they matter.
    pub explanation: String,
    /// The recorded fields the verdict rests on, so a reader can check it.
    pub evidence: Vec<Evidence>,
    /// One or two concrete things to look at or change.
    pub next_steps: Vec<String>,
}

/// One recorded field and its value, e.g. `containers[job].exitCode` = `137`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub field: String,
    pub value: String,
}

/// Coarse groups of kinds: timeline colours and default alerts key on these, not on kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    StillRunning,
    Clean,
    OutOfMemory,
    ExitedNonZero,
    FailedToStart,
    SpotInterruption,
    HealthCheck,
    HostGone,
    Unknown,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 9] = [
        Self::StillRunning,
        Self::Clean,
        Self::OutOfMemory,
        Self::ExitedNonZero,
        Self::FailedToStart,
        Self::SpotInterruption,
        Self::HealthCheck,
        Self::HostGone,
        Self::Unknown,
    ];

    /// Stable id for JSON, metrics dimensions and SNS attributes.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::StillRunning => "still-running",
            Self::Clean => "clean",
            Self::OutOfMemory => "out-of-memory",
            Self::ExitedNonZero => "exited-non-zero",
            Self::FailedToStart => "failed-to-start",
            Self::SpotInterruption => "spot-interruption",
            Self::HealthCheck => "health-check",
            Self::HostGone => "host-gone",
            Self::Unknown => "unknown",
        }
    }

    /// An unexplained stop counts as a failure: it is exactly what someone should look at.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Self::Clean | Self::StillRunning)
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

/// Declares [`Kind`] with its slug, title and category in one table, so they cannot drift apart.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $slug:literal, $title:literal, $category:ident;)+) => {
        /// What stopped the task. Serializes as its slug.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($(#[$doc])* $variant,)+
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            /// Stable kebab-case id used for grouping, JSON and SNS message attributes.
            pub fn slug(&self) -> &'static str {
                match self { $(Self::$variant => $slug,)+ }
            }

            /// Short human label.
            pub fn title(&self) -> &'static str {
                match self { $(Self::$variant => $title,)+ }
            }

            pub fn category(&self) -> Category {
                match self { $(Self::$variant => Category::$category,)+ }
            }
        }
    };
}

kinds! {
    OutOfMemory => "out-of-memory", "Out of memory", OutOfMemory;
    /// An essential container exited with a non-zero code (the explanation says what it means).
    ExitedNonZero => "exited-non-zero", "Container exited with an error", ExitedNonZero;
    /// The essential container exited 0: a batch job that finished.
    Completed => "completed", "Completed", Clean;
    ImageNotFound => "image-not-found", "Image not found", FailedToStart;
    ImageAccessDenied => "image-access-denied", "Image pull access denied", FailedToStart;
    ImagePullNetwork => "image-pull-network", "Image pull could not reach the registry", FailedToStart;
    /// Docker Hub's `toomanyrequests`.
    ImagePullRateLimited => "image-pull-rate-limited", "Image pull rate limited", FailedToStart;
    ImagePullFailed => "image-pull-failed", "Image pull failed", FailedToStart;
    /// Secrets Manager, SSM Parameter Store or registry credentials could not be fetched.
    InitSecrets => "init-secrets", "Could not fetch secrets or registry credentials", FailedToStart;
    InitLogging => "init-logging", "Could not set up logging", FailedToStart;
    InitNetworkInterface => "init-network-interface", "Could not set up the network interface", FailedToStart;
    InitVolumes => "init-volumes", "Could not mount volumes", FailedToStart;
    InitFailed => "init-failed", "Could not initialize task resources", FailedToStart;
    /// CannotStart/CannotCreate/CannotInspectContainerError and runtime timeouts.
    ContainerCouldNotStart => "container-could-not-start", "Container could not start", FailedToStart;
    NoCapacity => "no-capacity", "No capacity to place the task", FailedToStart;
    FailedToStart => "failed-to-start", "Failed to start", FailedToStart;
    ElbHealthCheck => "elb-health-check-failed", "Failed load balancer health checks", HealthCheck;
    ContainerHealthCheck => "container-health-check-failed", "Failed container health checks", HealthCheck;
    SpotInterruption => "spot-interruption", "Spot capacity reclaimed", SpotInterruption;
    /// The service scheduler scaled in or replaced the task in a deployment; ECS's reason is the
    /// same for both, so they are one kind.
    ServiceScaledIn => "service-scaled-in", "Scaled in or replaced by the service", Clean;
    StoppedByUser => "stopped-by-user", "Stopped by a user or API call", Clean;
    HostGone => "host-gone", "Host instance gone", HostGone;
    /// Fargate task retirement.
    InfrastructureMaintenance => "infrastructure-maintenance", "Retired for AWS maintenance", HostGone;
    StillRunning => "still-running", "Not stopped yet", StillRunning;
    Unknown => "unknown", "Unknown reason", Unknown;
}

impl Kind {
    /// A clean scale-in, deployment replacement, user stop or completed job is never a failure.
    pub fn is_failure(&self) -> bool {
        self.category().is_failure()
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

/// What an exit code usually means. Sources: Bash manual "Exit Status" (126, 127, 128 + n for
/// signal n), "Exit Codes With Special Meanings" in the Advanced Bash-Scripting Guide (1, 2, 128,
/// 130, 255), and the ECS API Reference "StopTask" (SIGTERM, then SIGKILL after the stop timeout).
pub fn exit_code_meaning(code: i64) -> &'static str {
    match code {
        0 => "success",
        1 => "application error",
        2 => "misuse of shell builtins",
        126 => "command found but not executable",
        127 => "command not found",
        128 => "invalid argument to exit",
        130 => "interrupted (SIGINT)",
        134 => "aborted (SIGABRT)",
        137 => "killed (SIGKILL), e.g. by the stop timeout or the kernel",
        139 => "segmentation fault (SIGSEGV)",
        143 => "terminated (SIGTERM)",
        255 => "exit status out of range",
        3..=125 => "application-defined error",
        129..=192 => "killed by a signal (128 + signal number)",
        _ => "not a standard exit status",
    }
}

/// One documented stop-reason family. Reasons are compared as normalized words (see [`words`]),
/// so ids, images, target groups and ARNs inside real reasons neither match nor get in the way.
struct Entry {
    /// Stop codes the entry is limited to; empty means any, or none.
    codes: &'static [&'static str],
    /// The reason must start with one of these phrases; empty means it may start with anything.
    starts: &'static [&'static str],
    /// Then one of these must follow somewhere; empty means nothing more is needed.
    contains: &'static [&'static str],
    kind: Kind,
    /// `{container}` becomes `container "name"` (or `a container`), `{reason}` the reason.
    explain: &'static str,
    steps: &'static [&'static str],
}

const PULL: &[&str] = &["cannotpullcontainererror"];
const INIT: &[&str] = &["resourceinitializationerror"];
const START: &[&str] = &["cannotstartcontainererror"];

/// Matched against the task's `stoppedReason`, then each container's `reason`; first match wins,
/// so the order matters.
static CATALOG: &[Entry] = &[
    // The stop code outranks the reason text. Source: "Handling Fargate Spot termination notices"
    // in "AWS Fargate capacity providers",
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
    Entry {
        codes: &["SpotInterruption"],
        starts: &[],
        contains: &[],
        kind: Kind::SpotInterruption,
        explain: "Spot interruption: AWS reclaimed the Spot capacity the task ran on.",
        steps: SPOT_STEPS,
    },
    // Same page: "Your Spot Task was interrupted." (stop code TerminationNotice in older copies).
    Entry {
        codes: &[],
        starts: &["your spot task was interrupted"],
        contains: &[],
        kind: Kind::SpotInterruption,
        explain: "Spot interruption: AWS reclaimed the Spot capacity the task ran on.",
        steps: SPOT_STEPS,
    },
    // "Host EC2 (instance id) stopped/terminated": "Checking stopped tasks for errors in the
    // Amazon ECS classic console" (awsdocs/amazon-ecs-developer-guide,
    // doc_source/stopped-task-errors-classic-console.md); real event with stop code
    // TerminationNotice: zebrunner/esg main.go, "Host EC2 (instance i-03dba81187d65ce7e) terminated."
    Entry {
        codes: &[],
        starts: &["host ec2 instance"],
        contains: &["terminated", "stopped"],
        kind: Kind::HostGone,
        explain: "Host gone: the EC2 container instance running the task was stopped or terminated ({reason}).",
        steps: &[
            "Check the Auto Scaling group's activity and CloudTrail (TerminateInstances, StopInstances) for what ended the instance.",
            "Use managed termination protection or drain instances first so service tasks move before the host goes.",
        ],
    },
    // Same classic-console page.
    Entry {
        codes: &[],
        starts: &["container instance deregistration forced by user"],
        contains: &[],
        kind: Kind::HostGone,
        explain: "Host gone: the container instance was force-deregistered while the task ran on it.",
        steps: &["Set container instances to DRAINING before deregistering them, so service tasks are replaced first."],
    },
    // "Task retirement and maintenance for AWS Fargate on Amazon ECS": a stoppedReason
    // *containing* this message, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-maintenance.html
    Entry {
        codes: &[],
        starts: &[],
        contains: &["ecs is performing maintenance on the underlying infrastructure hosting the task"],
        kind: Kind::InfrastructureMaintenance,
        explain: "AWS retired the task to maintain the infrastructure it ran on.",
        steps: &[
            "Nothing to fix for service tasks: the scheduler starts replacements.",
            "For standalone tasks, watch AWS Health for task retirement notices and restart the work.",
        ],
    },
    // "Task failed ELB health checks in (elb elb-name)": classic-console page above; "Why is my
    // Amazon ECS task stopped?" https://repost.aws/knowledge-center/ecs-task-stopped; real:
    // "task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:...)".
    Entry {
        codes: &[],
        starts: &["task failed elb health checks"],
        contains: &[],
        kind: Kind::ElbHealthCheck,
        explain: "The load balancer found the task unhealthy, so the service replaced it ({reason}).",
        steps: &[
            "Check the target group's health check path, port and success codes against what the app serves.",
            "Allow traffic from the load balancer's security group, and set healthCheckGracePeriodSeconds to cover startup.",
        ],
    },
    // "Why is my Amazon ECS task stopped?" (re:Post knowledge center, above).
    Entry {
        codes: &[],
        starts: &["task failed container health checks"],
        contains: &[],
        kind: Kind::ContainerHealthCheck,
        explain: "The container's healthCheck command kept failing, so ECS stopped the task.",
        steps: &[
            "Run the healthCheck command inside the image (is curl or wget installed?) and check its exit code.",
            "Raise startPeriod or retries if the app needs longer to become healthy.",
        ],
    },
    // "Scaling activity initiated by (deployment deployment-id)": classic-console page above;
    // real: events/fargate-web-v8-stopped.json.
    Entry {
        codes: &[],
        starts: &["scaling activity initiated by"],
        contains: &[],
        kind: Kind::ServiceScaledIn,
        explain: "The service scheduler stopped the task while scaling in or replacing it in a deployment ({reason}).",
        steps: &["Nothing to fix; the service's deployments and events show what changed."],
    },
    // "Task stopped by user" with stop code UserInitiated: re:Post "Why is my Amazon ECS task
    // stopped?"; the sample response of "StopTask" in the Amazon ECS API Reference,
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html
    Entry {
        codes: &[],
        starts: &["task stopped by user"],
        contains: &[],
        kind: Kind::StoppedByUser,
        explain: "A user or API call stopped the task (StopTask).",
        steps: USER_STEPS,
    },
    // "OutOfMemoryError: Container killed due to memory usage": events/fargate-batch-stopped-oom.json;
    // real: aws/amazon-ecs-agent#1187 (exit 137), #2467 (the same reason with exit code 0),
    // aws/copilot-cli#3470. "OutOfMemory:" is a spelling seen in write-ups, tolerated because the
    // family is unambiguous.
    Entry {
        codes: &[],
        starts: &["outofmemoryerror", "outofmemory"],
        contains: &[],
        kind: Kind::OutOfMemory,
        explain: "Out of memory: {container} was killed for using more memory than its limit.",
        steps: &[
            "Raise the memory of the container or task in the task definition, or lower the app's heap and cache sizes.",
            "Check memory utilization (Container Insights) in the minutes before the stop for a leak or spike.",
        ],
    },
    // CannotPullContainerError family: "CannotPullContainer task errors",
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html
    // (Docker Hub rate limiting: "toomanyrequests: Too Many Requests.", "You have reached your
    // pull rate limit"); real: apptension/saas-boilerplate#204.
    Entry {
        codes: &[],
        starts: PULL,
        contains: &["toomanyrequests", "too many requests", "pull rate limit"],
        kind: Kind::ImagePullRateLimited,
        explain: "Could not pull the image: the registry (Docker Hub) rate-limited the pulls ({reason}).",
        steps: &[
            "Authenticate Docker Hub pulls (repositoryCredentials) or serve the image from ECR (pull through cache).",
            "Spread out task starts that pull the same image.",
        ],
    },
    // Real: awslabs/ecs-task-kite#8, docker-archive/compose-cli#853,
    // aws-samples/amazon-chime-sdk-recording-demo#55; the agent's own wording for a missing
    // ecr:BatchGetImage permission: aws/amazon-ecs-agent ecs-agent/api/errors/error_messages.go.
    Entry {
        codes: &[],
        starts: PULL,
        contains: &["denied", "unauthorized", "not authorized", "forbidden", "no basic auth credentials", "403"],
        kind: Kind::ImageAccessDenied,
        explain: "Could not pull the image: access was denied, or the repository does not exist ({reason}).",
        steps: &[
            "Check the image URI, and that the task execution role may pull it (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, repository policy).",
            "For a private registry, check repositoryCredentials and the secret they point to.",
        ],
    },
    // "Image not found": "CannotPullContainerError: API error (404): repository ... not found" (doc
    // above); real: events/fargate-failed-to-start.json, aws/amazon-ecs-agent#422.
    Entry {
        codes: &[],
        starts: PULL,
        contains: &["not found", "manifest unknown", "does not exist", "404"],
        kind: Kind::ImageNotFound,
        explain: "Could not pull the image: the repository or tag does not exist ({reason}).",
        steps: &[
            "Check the image name and tag in the task definition, and that the tag was pushed to that registry and region.",
        ],
    },
    // "Connection timed out" / "Context canceled" sections of the doc above; real:
    // ActionIQ/terraform-aws-retool-ecs-fargate#20 ("dial tcp ...: i/o timeout").
    Entry {
        codes: &[],
        starts: PULL,
        contains: &[
            "timeout",
            "timed out",
            "deadline exceeded",
            "context canceled",
            "request canceled",
            "no such host",
            "connection refused",
            "connection reset",
            "network is unreachable",
        ],
        kind: Kind::ImagePullNetwork,
        explain: "Could not pull the image: the registry could not be reached in time ({reason}).",
        steps: NETWORK_STEPS,
    },
    // "Insufficient disk space" section of the doc above.
    Entry {
        codes: &[],
        starts: PULL,
        contains: &["no space left on device"],
        kind: Kind::ImagePullFailed,
        explain: "Could not pull the image: the container instance ran out of disk space ({reason}).",
        steps: &["Free disk on the container instance or give it a larger volume; cap json-file logs with max-size."],
    },
    // Anything else in the family, e.g. "Fail to copy image" in the doc above.
    Entry {
        codes: &[],
        starts: PULL,
        contains: &[],
        kind: Kind::ImagePullFailed,
        explain: "Could not pull the image: {reason}.",
        steps: &["Check the image URI, the registry's access rules and the task's network path to the registry."],
    },
    // ResourceInitializationError family: "Amazon ECS stopped tasks error codes",
    // https://docs.aws.amazon.com/AmazonECS/latest/userguide/stopped-task-error-codes.html, and
    // re:Post "ecs-unable-to-pull-secrets" (https://repost.aws/knowledge-center/ecs-unable-to-pull-secrets).
    // ECR registry auth, real: doctorray117/minecraft-ondemand#74, AndrewGuenther/fck-nat#99.
    Entry {
        codes: &[],
        starts: INIT,
        contains: &["ecr registry auth", "registry auth from amazon ecr"],
        kind: Kind::InitSecrets,
        explain: "Could not get registry credentials from Amazon ECR before starting ({reason}).",
        steps: &[
            "Give the task a network path to ECR (public IP, NAT gateway, or ecr.api, ecr.dkr and S3 VPC endpoints).",
            "Check the task execution role has ecr:GetAuthorizationToken.",
        ],
    },
    // Secrets Manager / SSM, real: Releem/releem-agent#195, aws/copilot-cli#3240,
    // GiamPy5/terraform-aws-directus#10; "pull command failed: : signal: killed" (re:Post above).
    Entry {
        codes: &[],
        starts: INIT,
        contains: &["unable to pull secrets or registry auth"],
        kind: Kind::InitSecrets,
        explain: "Could not fetch the task's secrets (Secrets Manager or SSM Parameter Store) or registry credentials ({reason}).",
        steps: &[
            "Check the task execution role may read them (secretsmanager:GetSecretValue, ssm:GetParameters, kms:Decrypt) and that the ARNs exist.",
            "Give the task a network path to Secrets Manager and SSM (NAT gateway or VPC endpoints).",
        ],
    },
    // "ResourceInitializationError: failed to initialize logging driver" (stopped task error codes
    // doc above); real: civiform/civiform#7648 ("failed to validate logger args: ...").
    Entry {
        codes: &[],
        starts: INIT,
        contains: &["logger", "logging driver", "log group", "log stream"],
        kind: Kind::InitLogging,
        explain: "Could not set up the task's logging ({reason}).",
        steps: LOGGING_STEPS,
    },
    // Real: aws/amazon-ecs-cli#1083, docker-archive/compose-cli#1490, acp-io/terraform-grafana#4.
    Entry {
        codes: &[],
        starts: INIT,
        contains: &["efs"],
        kind: Kind::InitVolumes,
        explain: "Could not mount the task's EFS volume ({reason}).",
        steps: &[
            "Check the file system ID, that it has a mount target in the task's subnets, and that security groups allow NFS (TCP 2049).",
            "Check the access point's path exists and the file system policy lets the task mount it.",
        ],
    },
    // Anything else in the family; the doc above names missing VPC DNS resolution as common.
    Entry {
        codes: &[],
        starts: INIT,
        contains: &[],
        kind: Kind::InitFailed,
        explain: "Could not set up the task's resources before starting ({reason}).",
        steps: &[
            "Check the VPC has DNS resolution and DNS hostnames enabled and a network path to the AWS endpoints the task needs.",
        ],
    },
    // Real: aws/amazon-ecs-agent#4825 (stop code TaskFailedToStart).
    Entry {
        codes: &[],
        starts: &["timeout waiting for network interface provisioning to complete"],
        contains: &[],
        kind: Kind::InitNetworkInterface,
        explain: "Could not attach a network interface (ENI) to the task in time.",
        steps: &[
            "Check the subnets have free IP addresses and the instance's ENI limit is not reached (awsvpcTrunking on EC2).",
            "Retry: this is often transient.",
        ],
    },
    // Real: paradisec-archive/nabu#1259 (tasks stopping in PROVISIONING with this reason).
    Entry {
        codes: &[],
        starts: &[],
        contains: &["insufficientfreeaddressesinsubnet"],
        kind: Kind::InitNetworkInterface,
        explain: "Could not give the task an IP address: its subnet has no free addresses.",
        steps: &["Add subnets with free addresses to the service or task, or free up addresses in the current ones."],
    },
    // CannotStartContainerError: stopped task error codes doc above and "Troubleshooting Amazon
    // ECS CannotStartContainerError errors"; logging driver, real: cn-terraform/terraform-aws-nexus#35,
    // aws/amazon-ecs-cli#752.
    Entry {
        codes: &[],
        starts: START,
        contains: &["failed to initialize logging driver"],
        kind: Kind::InitLogging,
        explain: "Could not start {container}: its logging driver failed ({reason}).",
        steps: LOGGING_STEPS,
    },
    // Real: aws/amazon-ecs-agent#3021 ("container init was OOM-killed (memory limit too low?)").
    Entry {
        codes: &[],
        starts: START,
        contains: &["memory limit too low"],
        kind: Kind::OutOfMemory,
        explain: "Out of memory: {container} was killed while starting because its memory limit is too low.",
        steps: &["Raise the memory of the container or task in the task definition."],
    },
    // Real: aws/amazon-ecs-cli#1136, jenkinsci/amazon-ecs-plugin#258.
    Entry {
        codes: &[],
        starts: START,
        contains: &["executable file not found", "no such file or directory"],
        kind: Kind::ContainerCouldNotStart,
        explain: "Could not start {container}: its command or entrypoint is not in the image ({reason}).",
        steps: &[
            "Check entryPoint and command in the task definition against the image: path, PATH, and exec form vs shell form.",
        ],
    },
    Entry {
        codes: &[],
        starts: START,
        contains: &[],
        kind: Kind::ContainerCouldNotStart,
        explain: "Could not start {container}: {reason}.",
        steps: &["Look up the runtime's message in the CannotStartContainerError troubleshooting page; check the container's logs."],
    },
    // "CannotCreateContainerError: API error (500): devmapper" (AWS troubleshooting page of that name).
    Entry {
        codes: &[],
        starts: &["cannotcreatecontainererror"],
        contains: &[],
        kind: Kind::ContainerCouldNotStart,
        explain: "The container runtime could not create {container} ({reason}).",
        steps: &["On EC2, check the instance's Docker storage and disk; remove stopped containers and unused images."],
    },
    // "Troubleshooting Amazon ECS CannotInspectContainerError errors"; real: aws/amazon-ecs-agent#336.
    Entry {
        codes: &[],
        starts: &["cannotinspectcontainererror"],
        contains: &[],
        kind: Kind::ContainerCouldNotStart,
        explain: "The container runtime could not inspect {container} ({reason}).",
        steps: &["On EC2, check the Docker daemon's health and the instance's disk I/O; replace the instance if it recurs."],
    },
    // "ContainerRuntimeTimeoutError: Could not transition to running" (stopped task error codes);
    // real, with AWS's typo: aws-actions/amazon-ecs-deploy-task-definition#232
    // ("DockerTimeoutError: Could not tranisition to started").
    Entry {
        codes: &[],
        starts: &["containerruntimetimeouterror", "dockertimeouterror"],
        contains: &["to running", "to started"],
        kind: Kind::ContainerCouldNotStart,
        explain: "{container} did not start within the container runtime's timeout ({reason}).",
        steps: &["Check the instance's load and disk, and the networking the container waits for at startup."],
    },
    // "Amazon ECS API failure reasons" (DescribeTasks "Failure reason or Stopped reason":
    // TaskFailedToStart: RESOURCE:*, AGENT, MemberOf placement constraint unsatisfied),
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html;
    // "TaskFailedToStart: EMPTY CAPACITY PROVIDER", real: a Stack Overflow question quoted in
    // https://openillumi.com/en/en-ecs-empty-capacity-provider-fix-resource-issue
    Entry {
        codes: &[],
        starts: &["taskfailedtostart"],
        contains: &["resource", "empty capacity provider", "placement constraint", "agent"],
        kind: Kind::NoCapacity,
        explain: "No capacity: ECS could not place the task on a container instance ({reason}).",
        steps: &[
            "Check the capacity provider's instances can fit the task's CPU, memory, GPUs and ports.",
            "Check placement constraints, and that the instances' ECS agents are connected.",
        ],
    },
    // "Capacity is unavailable at this time. Please try again later or in a different
    // availability zone": re:Post "ecs-fargate-runtask-capacity" (a RunTask failure; matched in
    // case it reaches a stopped reason).
    Entry {
        codes: &[],
        starts: &[],
        contains: &["capacity is unavailable at this time"],
        kind: Kind::NoCapacity,
        explain: "No capacity: Fargate had none for the task in the chosen Availability Zones.",
        steps: &["Retry later, use subnets in several Availability Zones, or try another CPU and memory size."],
    },
];

/// When no reason matched, the stop code alone still says something (ECS API reference, `Task.stopCode`).
static BY_STOP_CODE: &[Entry] = &[
    Entry {
        codes: &["TaskFailedToStart"],
        starts: &[],
        contains: &[],
        kind: Kind::FailedToStart,
        explain: "The task failed to start: {reason}.",
        steps: &["Look the reason up in the Amazon ECS stopped task error messages, and check the containers' reasons."],
    },
    Entry {
        codes: &["UserInitiated"],
        starts: &[],
        contains: &[],
        kind: Kind::StoppedByUser,
        explain: "A user or API call stopped the task: {reason}.",
        steps: USER_STEPS,
    },
    // Fargate Spot's documented stop code in older copies of the Spot page cited above.
    Entry {
        codes: &["TerminationNotice"],
        starts: &[],
        contains: &[],
        kind: Kind::SpotInterruption,
        explain: "AWS sent a termination notice for the task's capacity: {reason}.",
        steps: SPOT_STEPS,
    },
];

const SPOT_STEPS: &[&str] = &[
    "Handle SIGTERM and finish within stopTimeout (at most 120 seconds on Fargate Spot).",
    "Keep some on-demand capacity in the capacity provider strategy for work that must not be interrupted.",
];
const USER_STEPS: &[&str] = &["See CloudTrail's StopTask events for who stopped it and why."];
const NETWORK_STEPS: &[&str] = &[
    "Give the task a route to the registry: a public IP in a public subnet, a NAT gateway, or VPC endpoints.",
    "Check security groups and network ACLs allow outbound HTTPS.",
];
const LOGGING_STEPS: &[&str] = &[
    "Check the log group exists (or awslogs-create-group with logs:CreateLogGroup) and the execution role may write to it.",
    "Give the task a network path to CloudWatch Logs (NAT gateway or a logs VPC endpoint).",
];
const UNKNOWN_STEPS: &[&str] = &[
    "Look the reason up in the Amazon ECS stopped task error messages and the service's events.",
    "If it recurs, add it to the catalog in core::diagnosis so it is recognised.",
];

/// "Essential container in task exited": classic-console page and re:Post page cited above.
const ESSENTIAL_EXITED: &str = "essential container in task exited";
/// Stands in for an id-like token; no phrase contains it, so phrases cannot match across an id.
const ID: &str = "\u{1}";
/// Quoted reasons are cut so an explanation stays one readable line.
const MAX_QUOTE_CHARS: usize = 200;

impl Entry {
    fn matches(&self, code: Option<&str>, reason: Option<&[String]>) -> bool {
        if !self.codes.is_empty() && !code.is_some_and(|code| self.codes.contains(&code)) {
            return false;
        }
        if self.starts.is_empty() && self.contains.is_empty() {
            return !self.codes.is_empty();
        }
        let Some(words) = reason else {
            return false;
        };
        let rest = if self.starts.is_empty() {
            words
        } else {
            match self
                .starts
                .iter()
                .find_map(|phrase| after_prefix(words, phrase))
            {
                Some(rest) => rest,
                None => return false,
            }
        };
        self.contains.is_empty()
            || self
                .contains
                .iter()
                .any(|phrase| contains_phrase(rest, phrase))
    }

    fn verdict(&self, container: Option<&ContainerRecord>, reason: Option<&str>) -> Verdict {
        let container = container.map_or_else(|| "a container".to_owned(), label);
        let reason = reason.map_or_else(
            || "no reason given".to_owned(),
            |r| one_line(r, MAX_QUOTE_CHARS),
        );
        Verdict {
            kind: self.kind,
            explanation: render(self.explain, &container, &reason),
            steps: self.steps,
        }
    }
}

/// The first entry of `table` that matches.
fn find(
    table: &'static [Entry],
    code: Option<&str>,
    reason: Option<&str>,
) -> Option<&'static Entry> {
    let words = reason.map(words);
    table
        .iter()
        .find(|entry| entry.matches(code, words.as_deref()))
}

/// Lower-case words of a reason. Tokens that look like ids (ARNs, images, URLs, instance, task
/// and file system ids, IPs, hashes) become [`ID`]: they can neither match nor join two words.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let token = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if token.is_empty() {
            continue;
        }
        if token.contains(['/', '\\', '@', '=', '<', '>']) || is_image_ref(token) {
            out.push(ID.to_owned());
            continue;
        }
        for part in token.split(':') {
            let part = part.trim_matches(|c: char| !c.is_alphanumeric());
            if !part.is_empty() {
                out.push(if is_id(part) {
                    ID.to_owned()
                } else {
                    part.to_lowercase()
                });
            }
        }
    }
    out
}

/// A bare `name:tag` (Docker Hub short form, digest): all lower case, unlike ECS's own
/// `RESOURCE:MEMORY` or IAM's `ecr:BatchGetImage`, which are split into words.
fn is_image_ref(token: &str) -> bool {
    token.contains(':')
        && token
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':')
}

fn is_id(part: &str) -> bool {
    part.contains(['.', '-', '_'])
        || (part.len() >= 8
            && part.chars().all(|c| c.is_ascii_hexdigit())
            && part.chars().any(|c| c.is_ascii_digit()))
}

/// The words after `phrase`, if `words` starts with it.
fn after_prefix<'a>(words: &'a [String], phrase: &str) -> Option<&'a [String]> {
    let mut len = 0;
    for (index, expected) in phrase.split_whitespace().enumerate() {
        if words.get(index)? != expected {
            return None;
        }
        len = index + 1;
    }
    (len > 0).then(|| &words[len..])
}

fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let phrase: Vec<&str> = phrase.split_whitespace().collect();
    !phrase.is_empty()
        && words.windows(phrase.len()).any(|window| {
            window
                .iter()
                .zip(&phrase)
                .all(|(word, expected)| word == expected)
        })
}

/// What the classifier decided, before the evidence is attached.
struct Verdict {
    kind: Kind,
    explanation: String,
    steps: &'static [&'static str],
}

/// What the newest record and the history around it say about the stop.
struct Facts<'a> {
    record: &'a HistoryRecord,
    code: Option<&'a str>,
    reason: Option<&'a str>,
    reached_running: bool,
    started_at: Option<String>,
    ran_for: Option<String>,
}

impl<'a> Facts<'a> {
    fn new(record: &'a HistoryRecord, timeline: &'a [HistoryRecord]) -> Self {
        let started = record
            .started_at
            .or_else(|| timeline.iter().rev().find_map(|r| r.started_at));
        let reached_running = started.is_some()
            || timeline
                .iter()
                .any(|r| r.last_status == Some(TaskStatus::Running));
        let ended = record
            .stopped_at
            .or(record.execution_stopped_at)
            .unwrap_or(record.event_time);
        let ran_for = started
            .map(|started| (ended - started).num_seconds())
            .filter(|seconds| *seconds >= 0)
            .map(human_duration);
        Self {
            record,
            code: record.stop_code.as_ref().map(StopCode::as_str),
            reason: record
                .stopped_reason
                .as_deref()
                .filter(|r| !r.trim().is_empty()),
            reached_running,
            started_at: started.map(|at| at.to_rfc3339()),
            ran_for,
        }
    }

    /// ECS blames an essential container by reason text (older events) or by stop code.
    fn essential_exited(&self) -> bool {
        self.code == Some("EssentialContainerExited")
            || self
                .reason
                .is_some_and(|reason| after_prefix(&words(reason), ESSENTIAL_EXITED).is_some())
    }

    fn timing(&self) -> String {
        if !self.reached_running {
            return " before the task reached RUNNING".to_owned();
        }
        self.ran_for
            .as_ref()
            .map(|ran| format!(" after running {ran}"))
            .unwrap_or_default()
    }
}

/// Failures of one kind: how many, the exit codes seen, one example reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failures {
    pub kind: Kind,
    pub count: usize,
    pub exit_codes: std::collections::BTreeSet<i64>,
    pub example: String,
}

/// Failed tasks (each its newest record and diagnosis) grouped by diagnosis kind, most frequent
/// first: one cause is one row, whatever ids, images or target groups its reasons embed. The
/// summary of `cluster --failed` and of the HTML report.
pub fn failures_by_kind<'a>(
    failed: impl IntoIterator<Item = (&'a HistoryRecord, &'a Diagnosis)>,
) -> Vec<Failures> {
    let mut groups: std::collections::BTreeMap<&'static str, Failures> = Default::default();
    for (record, diagnosis) in failed {
        let kind = diagnosis.kind;
        let group = groups.entry(kind.slug()).or_insert_with(|| Failures {
            kind,
            count: 0,
            exit_codes: Default::default(),
            example: String::new(),
        });
        group.count += 1;
        let (exit, reason) = match crate::core::timeline::failing_exit(record) {
            Some((exit, reason)) => (Some(exit), reason.or(record.stopped_reason.as_deref())),
            None => (None, record.stopped_reason.as_deref()),
        };
        group.exit_codes.extend(exit);
        if group.example.is_empty() {
            group.example = reason.unwrap_or_default().to_owned();
        }
    }
    let mut out: Vec<Failures> = groups.into_values().collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.kind.slug().cmp(b.kind.slug()))
    });
    out
}

/// Diagnoses a task from its recorded versions, in order, newest last. One record (the STOPPED
/// one) is enough; an empty history gives `unknown`.
pub fn diagnose(timeline: &[HistoryRecord]) -> Diagnosis {
    let Some(newest) = timeline.last() else {
        return Diagnosis {
            kind: Kind::Unknown,
            explanation: "No history is recorded for this task.".to_owned(),
            evidence: Vec::new(),
            next_steps: vec![
                "Check that the EventBridge rule delivers this task's events, or backfill its cluster.".to_owned(),
            ],
        };
    };
    if !is_stopped(newest) {
        return not_stopped(newest);
    }
    let facts = Facts::new(newest, timeline);
    let verdict = classify(&facts);
    Diagnosis {
        kind: verdict.kind,
        explanation: verdict.explanation,
        evidence: stopped_evidence(&facts),
        next_steps: verdict
            .steps
            .iter()
            .map(|step| (*step).to_owned())
            .collect(),
    }
}

fn is_stopped(record: &HistoryRecord) -> bool {
    match &record.last_status {
        Some(TaskStatus::Stopped | TaskStatus::Deleted) => true,
        Some(_) => false,
        None => record.stopped_at.is_some(),
    }
}

/// The task's own reason first: it is ECS's verdict. Containers explain an essential exit, or a
/// stop whose reason is missing or unknown; the stop code is the last resort.
fn classify(facts: &Facts) -> Verdict {
    if let Some(entry) = find(CATALOG, facts.code, facts.reason) {
        return entry.verdict(None, facts.reason);
    }
    if facts.essential_exited() {
        return essential_exit(facts);
    }
    if let Some(verdict) = container_reason(facts) {
        return verdict;
    }
    if let Some(entry) = find(BY_STOP_CODE, facts.code, facts.reason) {
        return entry.verdict(None, facts.reason);
    }
    unknown(facts)
}

/// A container whose own reason is in the catalog; out of memory wins, since it usually explains
/// why the others were stopped.
fn container_reason(facts: &Facts) -> Option<Verdict> {
    let matched: Vec<(&ContainerRecord, &'static Entry, &str)> = facts
        .record
        .containers
        .iter()
        .filter_map(|container| {
            let reason = container.reason.as_deref()?;
            find(CATALOG, facts.code, Some(reason)).map(|entry| (container, entry, reason))
        })
        .collect();
    let (container, entry, reason) = matched
        .iter()
        .find(|(_, entry, _)| entry.kind == Kind::OutOfMemory)
        .or_else(|| matched.first())?;
    Some(entry.verdict(Some(container), Some(reason)))
}

/// Records do not carry `essential`, so the culprit is the container with a telling reason, else
/// a non-zero exit that is not ECS stopping the rest (137/143), else any non-zero exit.
fn essential_exit(facts: &Facts) -> Verdict {
    if let Some(verdict) = container_reason(facts) {
        return verdict;
    }
    let failed = || {
        facts
            .record
            .containers
            .iter()
            .filter_map(|c| Some((c, c.exit_code?)))
            .filter(|(_, code)| *code != 0)
    };
    let culprit = failed()
        .find(|(_, code)| !matches!(code, 137 | 143))
        .or_else(|| failed().next());
    if let Some((container, code)) = culprit {
        return Verdict {
            kind: Kind::ExitedNonZero,
            explanation: format!(
                "Essential container exited: {} exited with code {code} ({}){}.",
                label(container),
                exit_code_meaning(code),
                facts.timing()
            ),
            steps: exit_code_steps(code),
        };
    }
    if let Some(container) = facts
        .record
        .containers
        .iter()
        .find(|c| c.exit_code == Some(0))
    {
        return Verdict {
            kind: Kind::Completed,
            explanation: format!(
                "Completed: {} exited with code 0{}, which ended the task.",
                label(container),
                facts.timing()
            ),
            steps: &["Nothing to fix, unless the task was meant to keep running: then check why its process finished."],
        };
    }
    Verdict {
        kind: Kind::Unknown,
        explanation:
            "An essential container exited, but no exit code or container reason was recorded."
                .to_owned(),
        steps: UNKNOWN_STEPS,
    }
}

fn exit_code_steps(code: i64) -> &'static [&'static str] {
    match code {
        137 => &[
            "Check whether the app exits within stopTimeout after SIGTERM, and the host's kernel log for OOM kills.",
            "Read the container's logs just before it stopped.",
        ],
        134 | 139 => &["Look for a native crash in the container's logs; check native libraries and the image's CPU architecture."],
        126 | 127 => &[
            "Check entryPoint and command in the task definition: the executable must exist in the image, be on PATH and be executable.",
        ],
        143 => &["Something sent the container SIGTERM outside an ECS stop; look for a process or sidecar that stopped it."],
        _ => &[
            "Read the container's logs (awslogs) just before it stopped for the error.",
            "Reproduce locally with the same image, command and environment.",
        ],
    }
}

fn unknown(facts: &Facts) -> Verdict {
    let code = facts
        .code
        .map(|code| format!(" (stop code {})", one_line(code, 60)))
        .unwrap_or_default();
    let explanation = match facts.reason {
        Some(reason) => format!(
            "Stopped for a reason this diagnosis does not recognise{code}: \"{}\".",
            one_line(reason, MAX_QUOTE_CHARS)
        ),
        None => format!("Stopped without a recorded reason{code}."),
    };
    Verdict {
        kind: Kind::Unknown,
        explanation,
        steps: UNKNOWN_STEPS,
    }
}

fn not_stopped(record: &HistoryRecord) -> Diagnosis {
    let status = record
        .last_status
        .as_ref()
        .map_or("unknown", TaskStatus::as_str);
    let explanation = if record.desired_status == Some(TaskStatus::Stopped) {
        let reason = record
            .stopped_reason
            .as_deref()
            .map(|reason| format!(": {}", one_line(reason, MAX_QUOTE_CHARS)))
            .unwrap_or_default();
        format!(
            "Not stopped yet: the task is being stopped (last status {}){reason}.",
            one_line(status, 60)
        )
    } else {
        format!(
            "Still running: last status {}, not stopped.",
            one_line(status, 60)
        )
    };
    let mut found = vec![evidence("lastStatus", status)];
    if let Some(desired) = &record.desired_status {
        found.push(evidence("desiredStatus", desired.as_str()));
    }
    if let Some(reason) = &record.stopped_reason {
        found.push(evidence("stoppedReason", reason));
    }
    Diagnosis {
        kind: Kind::StillRunning,
        explanation,
        evidence: found,
        next_steps: vec!["The diagnosis is final once the STOPPED version is recorded.".to_owned()],
    }
}

fn stopped_evidence(facts: &Facts) -> Vec<Evidence> {
    let record = facts.record;
    let status = record
        .last_status
        .as_ref()
        .map_or("unknown", TaskStatus::as_str);
    let mut out = vec![evidence("lastStatus", status)];
    if let Some(code) = facts.code {
        out.push(evidence("stopCode", code));
    }
    if let Some(reason) = &record.stopped_reason {
        out.push(evidence("stoppedReason", reason));
    }
    for (index, container) in record.containers.iter().enumerate() {
        let key = match &container.name {
            Some(name) => format!("containers[{name}]"),
            None => format!("containers[#{index}]"),
        };
        if let Some(code) = container.exit_code {
            out.push(evidence(format!("{key}.exitCode"), code.to_string()));
        }
        if let Some(reason) = &container.reason {
            out.push(evidence(format!("{key}.reason"), reason));
        }
    }
    let started = match (&facts.started_at, facts.reached_running) {
        (Some(at), _) => at.clone(),
        (None, true) => "unknown (a RUNNING version is recorded)".to_owned(),
        (None, false) => "never: no recorded version reached RUNNING".to_owned(),
    };
    out.push(evidence("startedAt", started));
    out
}

fn evidence(field: impl Into<String>, value: impl Into<String>) -> Evidence {
    Evidence {
        field: field.into(),
        value: value.into(),
    }
}

fn label(container: &ContainerRecord) -> String {
    match &container.name {
        Some(name) => format!("container \"{}\"", one_line(name, 60)),
        None => "an unnamed container".to_owned(),
    }
}

/// Fills `{container}` and `{reason}` in one pass, so text inside a value is never substituted.
fn render(template: &str, container: &str, reason: &str) -> String {
    let mut out = String::with_capacity(template.len() + reason.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("{container}") {
            out.push_str(container);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{reason}") {
            out.push_str(reason);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Text from an event made safe for one line: no control, zero-width or bidi-override
/// characters, runs of whitespace collapsed, cut to `max_chars`.
fn one_line(text: &str, max_chars: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let cut: String = flat.chars().take(max_chars).collect();
    format!("{}…", cut.trim_end())
}

fn human_duration(seconds: i64) -> String {
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{minutes}m {secs}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::history::tests::sample;
    use crate::core::history::Tags;

    const V8: &str = include_str!("../../events/fargate-web-v8-stopped.json");
    const OOM: &str = include_str!("../../events/fargate-batch-stopped-oom.json");
    const PULL_FAILED: &str = include_str!("../../events/fargate-failed-to-start.json");

    fn record(json: &str) -> HistoryRecord {
        sample(json, Tags::none())
    }

    /// A STOPPED service task (started, so it reached RUNNING) with the given stop details.
    fn stopped(
        code: Option<&str>,
        reason: Option<&str>,
        containers: Vec<ContainerRecord>,
    ) -> HistoryRecord {
        let mut r = record(V8);
        r.stop_code = code.map(StopCode::from);
        r.stopped_reason = reason.map(str::to_owned);
        r.containers = containers;
        r
    }

    fn container(name: &str, exit_code: Option<i64>, reason: Option<&str>) -> ContainerRecord {
        ContainerRecord {
            name: Some(name.to_owned()),
            image: Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1".to_owned()),
            image_digest: None,
            runtime_id: None,
            last_status: Some(TaskStatus::Stopped),
            exit_code,
            reason: reason.map(str::to_owned),
            health_status: None,
            network_bindings: Vec::new(),
        }
    }

    fn essential(containers: Vec<ContainerRecord>) -> HistoryRecord {
        stopped(
            Some("EssentialContainerExited"),
            Some("Essential container in task exited"),
            containers,
        )
    }

    fn one(record: HistoryRecord) -> Diagnosis {
        diagnose(&[record])
    }

    /// Real stopped reasons (task level), the stop code they came with, and the kind they mean.
    /// Sources are the ones cited next to the catalog entries.
    const REASONS: &[(&str, Option<&str>, Kind)] = &[
        // events/fargate-failed-to-start.json
        ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:missing: not found", Some("TaskFailedToStart"), Kind::ImageNotFound),
        // task_cannot_pull_image doc, "Image not found"
        ("CannotPullContainerError: API error (404): repository 111122223333.dkr.ecr.us-east-1.amazonaws.com/<repo>/<image> not found", None, Kind::ImageNotFound),
        // aws/amazon-ecs-agent#422
        ("CannotPullContainerError: Tag latest not found in repository docker.io/library/owncloud", None, Kind::ImageNotFound),
        // awslabs/ecs-task-kite#8
        ("CannotPullContainerError: Error response from daemon: pull access denied for ecs-task-kite, repository does not exist or may require 'docker login'", Some("TaskFailedToStart"), Kind::ImageAccessDenied),
        // docker-archive/compose-cli#853
        ("CannotPullContainerError: failed to resolve ref \"docker.io/library/chatalicious_braid:latest\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed", None, Kind::ImageAccessDenied),
        // aws-samples/amazon-chime-sdk-recording-demo#55
        ("CannotPullContainerError: Error response from daemon: pull access denied for my-docker-image, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", None, Kind::ImageAccessDenied),
        // aws/amazon-ecs-agent ecs-agent/api/errors/error_messages.go (augmented message)
        ("CannotPullContainerError: Check if image exists and role 'ecsTaskExecutionRole' has permissions to pull images from Amazon ECR. Error response from daemon: pull access denied for 123123123123.dkr.ecr.us-east-1.amazonaws.com/test_image, repository does not exist or may require 'docker login': denied: User: arn:aws:sts::123123123123:assumed-role/BrokenRole/xyz is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:region:123123123123:repository/test_image because no identity-based policy allows the ecr:BatchGetImage action", Some("TaskFailedToStart"), Kind::ImageAccessDenied),
        // ActionIQ/terraform-aws-retool-ecs-fargate#20
        ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/tryretool/backend:2.110.5: failed to do request: Head \"https://registry-1.docker.io/v2/tryretool/backend/manifests/2.110.5\": dial tcp 34.205.13.154:443: i/o timeout", Some("TaskFailedToStart"), Kind::ImagePullNetwork),
        // task_cannot_pull_image doc, "Connection timed out"
        ("CannotPullContainerError: API error (500): Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/: net/http: request canceled while waiting for connection", None, Kind::ImagePullNetwork),
        // task_cannot_pull_image doc, "Docker Hub rate limiting"
        ("CannotPullContainerError: toomanyrequests: Too Many Requests.", None, Kind::ImagePullRateLimited),
        // Docker Hub's message as in apptension/saas-boilerplate#204, under ECS's prefix
        ("CannotPullContainerError: failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/nginx/manifests/sha256:86e3bff9634b85a5239a65974ac3c98f51277a8e1519fbd57b5e528f55ab8bf7: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit", Some("TaskFailedToStart"), Kind::ImagePullRateLimited),
        // task_cannot_pull_image doc, "Insufficient disk space" and "Fail to copy image"
        ("CannotPullContainerError: write /var/lib/docker/tmp/GetImageBlob111111111: no space left on device", None, Kind::ImagePullFailed),
        ("CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: httpReaderSeeker: failed open: unexpected status code", None, Kind::ImagePullFailed),
        // Releem/releem-agent#195
        ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch secret arn:aws:secretsmanager:us-west-2:*:secret:DBPasswordSecret-* from secrets manager: RequestCanceled: request context canceled caused by: context deadline exceeded. Please check your task network configuration.", Some("TaskFailedToStart"), Kind::InitSecrets),
        // aws/copilot-cli#3240
        ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): AccessDeniedException: User: ...", None, Kind::InitSecrets),
        // GiamPy5/terraform-aws-directus#10
        ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:eu-central-1:account_id:secret:algo-dev-directus-secret20240626183203358800000004-EaPYTy from secrets manager: AccessDeniedException: Access to KMS is not allowed status code: 400, request id: a87a66d9-f839-4353-b8c2-9984b1465695", None, Kind::InitSecrets),
        // re:Post ecs-unable-to-pull-secrets
        ("ResourceInitializationError: unable to pull secrets or registry auth: pull command failed: : signal: killed", Some("TaskFailedToStart"), Kind::InitSecrets),
        // doctorray117/minecraft-ondemand#74
        ("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.us-east-2.amazonaws.com/\": dial tcp [ANIPADDRESSIDONTWANTTOSHARE]: i/o timeout. Please check your task network configuration.", None, Kind::InitSecrets),
        // AndrewGuenther/fck-nat#99
        ("ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth from Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task network configuration. RequestError: send request failed caused by: Post \"https://api.ecr.us-east-1.amazonaws.com/\": dial tcp <SOME_IP>:443: i/o timeout.", None, Kind::InitSecrets),
        // civiform/civiform#7648
        ("ResourceInitializationError: failed to validate logger args: The task cannot find the Amazon CloudWatch log group defined in the task definition. There is a connection issue between the task and Amazon CloudWatch. Check your network configuration. : signal: killed", Some("TaskFailedToStart"), Kind::InitLogging),
        // stopped task error codes doc
        ("ResourceInitializationError: failed to initialize logging driver: <reason>", None, Kind::InitLogging),
        // aws/amazon-ecs-cli#1083
        ("ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: Failed to resolve \"fs-00000000.efs.us-east-1.amazonaws.com\" - check that your file system ID is correct.", Some("TaskFailedToStart"), Kind::InitVolumes),
        // docker-archive/compose-cli#1490
        ("ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: mount.nfs4: Connection reset by peer : unsuccessful EFS utils command execution; code: 32", None, Kind::InitVolumes),
        // stopped task error codes doc (family with an unlisted cause)
        ("ResourceInitializationError: failed to create new container runtime task", None, Kind::InitFailed),
        // aws/amazon-ecs-agent#4825
        ("Timeout waiting for network interface provisioning to complete.", Some("TaskFailedToStart"), Kind::InitNetworkInterface),
        // paradisec-archive/nabu#1259
        ("InsufficientFreeAddressesInSubnet", Some("TaskFailedToStart"), Kind::InitNetworkInterface),
        // cn-terraform/terraform-aws-nexus#35
        ("CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist", None, Kind::InitLogging),
        // aws/amazon-ecs-agent#3021
        ("CannotStartContainerError: Error response from daemon: OCI runtime create failed: container_linux.go:380: starting container process caused: container init was OOM-killed (memory limit too low?): unknown", None, Kind::OutOfMemory),
        // aws/amazon-ecs-cli#1136
        ("CannotStartContainerError: Error response from daemon: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"python\": executable file not found in $PATH: unknown", None, Kind::ContainerCouldNotStart),
        // jenkinsci/amazon-ecs-plugin#258: the leading family decides, not the nested one
        ("CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: failed to create shim: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: \"-url\": executable file not found in", None, Kind::ContainerCouldNotStart),
        // cannot-start-container doc
        ("CannotStartContainerError: failed to get container status: <reason>", None, Kind::ContainerCouldNotStart),
        // CannotCreateContainerError doc
        ("CannotCreateContainerError: API error (500): devmapper: Thin Pool has 4350 free data blocks which is less than minimum required 4454 free data blocks. Create more free space in thin pool or use dm.min_free_space option to change behavior", None, Kind::ContainerCouldNotStart),
        // aws/amazon-ecs-agent#336
        ("CannotInspectContainerError: Could not transition to inspecting; timed out after waiting 30s", None, Kind::ContainerCouldNotStart),
        // aws-actions/amazon-ecs-deploy-task-definition#232 (sic)
        ("DockerTimeoutError: Could not tranisition to started; timed out after waiting 8m0s", None, Kind::ContainerCouldNotStart),
        // stopped task error codes doc
        ("ContainerRuntimeTimeoutError: Could not transition to running; timed out after waiting 1m: <reason>", None, Kind::ContainerCouldNotStart),
        // api_failures_messages doc
        ("TaskFailedToStart: RESOURCE:MEMORY", Some("TaskFailedToStart"), Kind::NoCapacity),
        ("TaskFailedToStart: AGENT", Some("TaskFailedToStart"), Kind::NoCapacity),
        // a Stack Overflow question quoted by openillumi.com
        ("TaskFailedToStart: EMPTY CAPACITY PROVIDER", Some("TaskFailedToStart"), Kind::NoCapacity),
        // re:Post ecs-fargate-runtask-capacity
        ("Capacity is unavailable at this time. Please try again later or in a different availability zone", None, Kind::NoCapacity),
        // real target group, as published; classic-console doc form
        ("task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:ap-northeast-1:629895769338:targetgroup/public-tg2/1c38bf81f6e9e283)", Some("ServiceSchedulerInitiated"), Kind::ElbHealthCheck),
        ("Task failed ELB health checks in (elb elb-name)", Some("ServiceSchedulerInitiated"), Kind::ElbHealthCheck),
        // re:Post ecs-task-stopped
        ("Task failed container health checks", Some("ServiceSchedulerInitiated"), Kind::ContainerHealthCheck),
        // events/fargate-web-v8-stopped.json
        ("Scaling activity initiated by (deployment ecs-svc/1234567890123456789)", Some("ServiceSchedulerInitiated"), Kind::ServiceScaledIn),
        // ECS API Reference, StopTask sample response
        ("Task stopped by user", Some("UserInitiated"), Kind::StoppedByUser),
        // zebrunner/esg: TerminationNotice with a host reason is the host going away
        ("Host EC2 (instance i-03dba81187d65ce7e) terminated.", Some("TerminationNotice"), Kind::HostGone),
        ("Host EC2 (instance i-06aab15feb4568492) stopped.", None, Kind::HostGone),
        ("Container instance deregistration forced by user", None, Kind::HostGone),
        // fargate-capacity-providers doc, old and current stop codes
        ("Your Spot Task was interrupted.", Some("TerminationNotice"), Kind::SpotInterruption),
        ("Your Spot Task was interrupted.", Some("SpotInterruption"), Kind::SpotInterruption),
        ("Host EC2 (instance i-0abc123) terminated.", Some("SpotInterruption"), Kind::SpotInterruption),
        // task-maintenance doc ("containing")
        ("ECS is performing maintenance on the underlying infrastructure hosting the task", Some("ServiceSchedulerInitiated"), Kind::InfrastructureMaintenance),
        // OutOfMemoryError as the task's own reason
        ("OutOfMemoryError: Container killed due to memory usage", None, Kind::OutOfMemory),
        // Stop code alone: custom StopTask reasons, unknown failures, old Spot notices.
        ("Stopped by deploy script 42", Some("UserInitiated"), Kind::StoppedByUser),
        ("Something new went wrong", Some("TaskFailedToStart"), Kind::FailedToStart),
        ("Capacity rebalancing", Some("TerminationNotice"), Kind::SpotInterruption),
    ];

    /// Reasons that look close to catalog entries but must not be read as them.
    const NEAR_MISSES: &[(&str, Option<&str>, Kind)] = &[
        ("Stopped by deploy script 42", None, Kind::Unknown),
        ("CannotPullContainerErrors are retried by the agent", None, Kind::Unknown),
        ("Non-essential container in task exited", None, Kind::Unknown),
        ("OutOfMemoryErrorHandler registered", None, Kind::Unknown),
        ("Job aborted: OutOfMemoryError: Container killed due to memory usage", None, Kind::Unknown),
        ("Task stopped by username rotation", None, Kind::Unknown),
        ("Host EC2 (instance i-1234) rebooting", None, Kind::Unknown),
        ("Your Spot Task was not interrupted", None, Kind::Unknown),
        ("Scaling activity", Some("ServiceSchedulerInitiated"), Kind::Unknown),
        ("TaskFailedToStart", None, Kind::Unknown),
        // Ids and image names that contain keywords must not decide the kind.
        ("CannotPullContainerError: failed to resolve ref docker.io/acme/access-denied-reporter:1.0: not found", None, Kind::ImageNotFound),
        ("CannotPullContainerError: failed to resolve ref docker.io/library/timeout:latest: not found", None, Kind::ImageNotFound),
        ("CannotPullContainerError: failed to resolve ref toomanyrequests-bot:1.0: not found", None, Kind::ImageNotFound),
        ("CannotPullContainerError: failed to copy: unexpected status code for timeout:latest", None, Kind::ImagePullFailed),
        ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/outofmemory-tools:latest: not found", None, Kind::ImageNotFound),
        ("ResourceInitializationError: failed to invoke EFS utils commands: stderr: mount of fs-awslogs-logger.efs.us-east-1.amazonaws.com failed", None, Kind::InitVolumes),
        ("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/spot-task-was-interrupted/abc)", None, Kind::ElbHealthCheck),
    ];

    #[test]
    fn real_reasons_map_to_their_kind() {
        assert!(REASONS.len() >= 30);
        for (reason, code, kind) in REASONS.iter().chain(NEAR_MISSES) {
            let got = one(stopped(*code, Some(reason), Vec::new()));
            assert_eq!(
                got.kind, *kind,
                "{reason:?} (stop code {code:?}): {}",
                got.explanation
            );
        }
    }

    #[test]
    fn every_catalog_entry_is_exercised_by_a_real_reason() {
        let mut catalog = vec![false; CATALOG.len()];
        let mut by_code = vec![false; BY_STOP_CODE.len()];
        let position =
            |table: &[Entry], entry: &Entry| table.iter().position(|e| std::ptr::eq(e, entry));
        for (reason, code, _) in REASONS {
            if let Some(entry) = find(CATALOG, *code, Some(reason)) {
                catalog[position(CATALOG, entry).unwrap_or(usize::MAX)] = true;
            } else if let Some(entry) = find(BY_STOP_CODE, *code, Some(reason)) {
                by_code[position(BY_STOP_CODE, entry).unwrap_or(usize::MAX)] = true;
            }
        }
        for (index, hit) in catalog.iter().enumerate() {
            assert!(
                hit,
                "catalog entry {index} ({:?}) has no sample",
                CATALOG[index].explain
            );
        }
        for (index, hit) in by_code.iter().enumerate() {
            assert!(
                hit,
                "stop code entry {index} ({:?}) has no sample",
                BY_STOP_CODE[index].codes
            );
        }
    }

    #[test]
    fn catalog_entries_are_well_formed() {
        for entry in CATALOG.iter().chain(BY_STOP_CODE) {
            assert!(
                !(entry.codes.is_empty() && entry.starts.is_empty() && entry.contains.is_empty())
            );
            assert!((1..=2).contains(&entry.steps.len()), "{}", entry.explain);
            assert!(!entry.explain.is_empty());
            for phrase in entry.starts.iter().chain(entry.contains) {
                assert_eq!(
                    words(phrase).join(" "),
                    *phrase,
                    "phrase must be written normalized"
                );
            }
        }
    }

    #[test]
    fn the_project_samples_read_right() {
        let oom = one(record(OOM));
        assert_eq!(oom.kind, Kind::OutOfMemory);
        assert!(oom.explanation.contains("\"job\""), "{}", oom.explanation);
        assert!(oom
            .evidence
            .contains(&evidence("containers[job].exitCode", "137")));
        assert!(oom.kind.is_failure());

        let pull = one(record(PULL_FAILED));
        assert_eq!(pull.kind, Kind::ImageNotFound);
        assert!(pull.evidence.contains(&evidence(
            "startedAt",
            "never: no recorded version reached RUNNING"
        )));

        let scaled = one(record(V8));
        assert_eq!(scaled.kind, Kind::ServiceScaledIn);
        assert!(!scaled.kind.is_failure());
        assert!(scaled.explanation.contains("ecs-svc/1234567890123456789"));
    }

    #[test]
    fn the_newest_record_decides_and_only_stopped_is_final() {
        let files = [
            include_str!("../../events/fargate-web-v1-provisioning.json"),
            include_str!("../../events/fargate-web-v4-running.json"),
            include_str!("../../events/fargate-web-v5-deactivating.json"),
            include_str!("../../events/fargate-web-v7-deprovisioning.json"),
            V8,
        ];
        let timeline: Vec<HistoryRecord> = files.iter().map(|json| record(json)).collect();
        assert_eq!(diagnose(&timeline).kind, Kind::ServiceScaledIn);

        let running = diagnose(&timeline[..2]);
        assert_eq!(running.kind, Kind::StillRunning);
        assert!(
            running
                .explanation
                .starts_with("Still running: last status RUNNING"),
            "{}",
            running.explanation
        );
        let stopping = diagnose(&timeline[..3]);
        assert_eq!(stopping.kind, Kind::StillRunning);
        assert!(stopping
            .explanation
            .contains("being stopped (last status DEACTIVATING): Scaling activity"));

        let future = one(record(include_str!(
            "../../events/unknown-enum-values.json"
        )));
        assert_eq!(future.kind, Kind::StillRunning);
        assert!(future.explanation.contains("HIBERNATING"));

        let empty = diagnose(&[]);
        assert_eq!(empty.kind, Kind::Unknown);
        assert!(!empty.explanation.is_empty() && !empty.next_steps.is_empty());
    }

    #[test]
    fn exit_137_is_out_of_memory_only_when_the_reason_says_so() {
        let oom = one(essential(vec![container(
            "app",
            Some(137),
            Some("OutOfMemoryError: Container killed due to memory usage"),
        )]));
        assert_eq!(oom.kind, Kind::OutOfMemory);
        let killed = one(essential(vec![container("app", Some(137), None)]));
        assert_eq!(killed.kind, Kind::ExitedNonZero);
        assert!(
            killed
                .explanation
                .contains("code 137 (killed (SIGKILL), e.g. by the stop timeout or the kernel)"),
            "{}",
            killed.explanation
        );
    }

    /// aws/amazon-ecs-agent#2467: ECS reports the OOM reason with exit code 0 too.
    #[test]
    fn an_oom_reason_wins_even_with_exit_0_or_no_exit_code() {
        for code in [Some(0), None] {
            let got = one(essential(vec![
                container("sidecar", Some(143), None),
                container(
                    "app",
                    code,
                    Some("OutOfMemoryError: Container killed due to memory usage"),
                ),
            ]));
            assert_eq!(got.kind, Kind::OutOfMemory, "exit code {code:?}");
            assert!(got.explanation.contains("\"app\""));
        }
    }

    #[test]
    fn exit_143_is_clean_in_a_scale_in_and_a_failure_while_running() {
        let scale_in = one(stopped(
            Some("ServiceSchedulerInitiated"),
            Some("Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"),
            vec![container("web", Some(143), None)],
        ));
        assert_eq!(scale_in.kind, Kind::ServiceScaledIn);
        assert!(!scale_in.kind.is_failure());
        let by_user = one(stopped(
            Some("UserInitiated"),
            Some("Task stopped by user"),
            vec![container("web", Some(143), None)],
        ));
        assert_eq!(by_user.kind, Kind::StoppedByUser);

        let running = one(essential(vec![container("web", Some(143), None)]));
        assert_eq!(running.kind, Kind::ExitedNonZero);
        assert!(running.kind.is_failure());
        assert!(running.explanation.contains("terminated (SIGTERM)"));
    }

    #[test]
    fn exit_codes_are_named_with_their_meaning() {
        for (code, meaning) in [
            (139, "segmentation fault (SIGSEGV)"),
            (1, "application error"),
            (127, "command not found"),
            (255, "exit status out of range"),
            (2, "misuse of shell builtins"),
            (126, "command found but not executable"),
        ] {
            let got = one(essential(vec![container("job", Some(code), None)]));
            assert_eq!(got.kind, Kind::ExitedNonZero);
            assert!(
                got.explanation
                    .contains(&format!("\"job\" exited with code {code} ({meaning})")),
                "{}",
                got.explanation
            );
            assert!(got
                .evidence
                .contains(&evidence("containers[job].exitCode", code.to_string())));
        }
        assert_eq!(exit_code_meaning(0), "success");
        assert_eq!(exit_code_meaning(143), "terminated (SIGTERM)");
        assert_eq!(exit_code_meaning(42), "application-defined error");
        assert_eq!(exit_code_meaning(-1), "not a standard exit status");
        assert_eq!(
            exit_code_meaning(3_221_225_477),
            "not a standard exit status"
        );
    }

    #[test]
    fn exit_0_of_the_essential_container_is_a_completed_job() {
        let got = one(essential(vec![
            container("job", Some(0), None),
            container("log-router", Some(0), None),
        ]));
        assert_eq!(got.kind, Kind::Completed);
        assert!(!got.kind.is_failure());
        let unknown = one(essential(vec![container("job", None, None)]));
        assert_eq!(unknown.kind, Kind::Unknown);
    }

    #[test]
    fn the_failing_container_is_the_one_ecs_did_not_stop() {
        let got = one(essential(vec![
            container("sidecar", Some(143), None),
            container("app", Some(1), None),
        ]));
        assert!(
            got.explanation
                .contains("\"app\" exited with code 1 (application error)"),
            "{}",
            got.explanation
        );
        let pulled = one(essential(vec![container(
            "app",
            None,
            Some("CannotPullContainerError: API error (404): repository serverless-batch not found: does not exist or no pull access"),
        )]));
        assert_eq!(pulled.kind, Kind::ImageNotFound);
    }

    #[test]
    fn earlier_versions_tell_whether_the_task_ever_ran() {
        let mut never = essential(vec![container("app", Some(1), None)]);
        never.started_at = None;
        let got = diagnose(&[never.clone()]);
        assert!(
            got.explanation.contains("before the task reached RUNNING"),
            "{}",
            got.explanation
        );

        let running = record(include_str!("../../events/fargate-web-v4-running.json"));
        let got = diagnose(&[running, never]);
        assert!(
            got.explanation.contains("after running 38m"),
            "{}",
            got.explanation
        );
        assert!(!got.evidence.iter().any(|e| e.value.starts_with("never")));
    }

    #[test]
    fn unknown_quotes_the_raw_reason_on_one_line() {
        let got = one(stopped(
            Some("InfrastructureHealth"),
            Some("Ошибка:\nline two\u{202E}reversed\u{202C}"),
            Vec::new(),
        ));
        assert_eq!(got.kind, Kind::Unknown);
        assert_eq!(got.explanation, "Stopped for a reason this diagnosis does not recognise (stop code InfrastructureHealth): \"Ошибка: line tworeversed\".");
        assert!(got.evidence.contains(&evidence(
            "stoppedReason",
            "Ошибка:\nline two\u{202E}reversed\u{202C}"
        )));
        let long = one(stopped(None, Some(&"x".repeat(5000)), Vec::new()));
        assert!(long.explanation.chars().count() < 300);
        let none = one(stopped(None, None, Vec::new()));
        assert_eq!(none.explanation, "Stopped without a recorded reason.");
    }

    #[test]
    fn ids_never_become_words() {
        assert_eq!(
            words("Host EC2 (instance i-0abc) terminated."),
            ["host", "ec2", "instance", ID, "terminated"]
        );
        assert_eq!(
            words("TaskFailedToStart: RESOURCE:MEMORY"),
            ["taskfailedtostart", "resource", "memory"]
        );
        assert_eq!(
            words("ref docker.io/a/b:1 sha256:0123456789abcdef (404):"),
            ["ref", ID, ID, "404"]
        );
        assert_eq!(
            words("ref timeout:latest: not found"),
            ["ref", ID, "not", "found"]
        );
        assert_eq!(
            words("perform: ecr:BatchGetImage on"),
            ["perform", "ecr", "batchgetimage", "on"]
        );
        assert!(words("").is_empty());
    }

    #[test]
    fn kinds_have_stable_kebab_case_slugs_and_consistent_failure() {
        let mut slugs = std::collections::HashSet::new();
        for kind in Kind::ALL {
            let slug = kind.slug();
            assert!(slugs.insert(slug), "duplicate slug {slug}");
            assert!(
                slug.split('-')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase())),
                "{slug}"
            );
            assert!(!kind.title().is_empty());
            assert_eq!(
                kind.is_failure(),
                !matches!(kind.category(), Category::Clean | Category::StillRunning)
            );
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::json!(slug))
            );
        }
        for clean in [Kind::ServiceScaledIn, Kind::StoppedByUser, Kind::Completed] {
            assert!(!clean.is_failure(), "{clean:?}");
        }
        assert_eq!(Kind::OutOfMemory.slug(), "out-of-memory");
        assert_eq!(Category::FailedToStart.slug(), "failed-to-start");
        assert!(!Kind::StillRunning.is_failure() && Kind::Unknown.is_failure());
    }

    #[test]
    fn serializes_as_the_cli_prints_it() {
        let json = serde_json::to_value(one(record(OOM))).unwrap_or_default();
        assert_eq!(json["kind"], "out-of-memory");
        assert!(json["explanation"].is_string());
        assert_eq!(
            json["evidence"][0],
            serde_json::json!({"field": "lastStatus", "value": "STOPPED"})
        );
        assert!(json["nextSteps"]
            .as_array()
            .is_some_and(|steps| !steps.is_empty()));
        assert_eq!(
            serde_json::to_value(Category::HealthCheck).ok(),
            Some(serde_json::json!("health-check"))
        );
    }

    #[test]
    fn templates_are_filled_once() {
        assert_eq!(
            render("{container}: {reason} {x}", "{reason}", "{container}"),
            "{reason}: {container} {x}"
        );
        assert_eq!(render("{", "a", "b"), "{");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn reasons() -> impl Strategy<Value = Option<String>> {
            let real: Vec<String> = REASONS
                .iter()
                .map(|(reason, _, _)| (*reason).to_owned())
                .collect();
            prop::option::of(prop_oneof![
                any::<String>(),
                prop::sample::select(real),
                "[A-Za-z :()/.-]{0,60}"
            ])
        }

        fn containers() -> impl Strategy<Value = Vec<ContainerRecord>> {
            prop::collection::vec(
                (
                    prop::option::of(any::<String>()),
                    prop::option::of(any::<i64>()),
                    reasons(),
                ),
                0..4,
            )
            .prop_map(|specs| {
                specs
                    .into_iter()
                    .map(|(name, exit_code, reason)| ContainerRecord {
                        name,
                        exit_code,
                        reason,
                        ..container("x", None, None)
                    })
                    .collect()
            })
        }

        proptest! {
            #[test]
            fn any_history_gets_a_sane_diagnosis(
                status in prop::sample::select(vec!["STOPPED", "DELETED", "RUNNING", "PENDING", "DEPROVISIONING", "HIBERNATING"]),
                code in prop::option::of(prop_oneof![
                    prop::sample::select(vec!["TaskFailedToStart", "EssentialContainerExited", "UserInitiated",
                        "ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice"]).prop_map(str::to_owned),
                    any::<String>(),
                ]),
                reason in reasons(),
                containers in containers(),
                started in any::<bool>(),
                versions in 1usize..3,
            ) {
                let mut r = stopped(code.as_deref(), reason.as_deref(), containers);
                r.last_status = Some(TaskStatus::from(status));
                if !started {
                    r.started_at = None;
                }
                let timeline = vec![r; versions];
                let got = diagnose(&timeline);
                prop_assert!(!got.explanation.is_empty());
                prop_assert!(!got.explanation.chars().any(char::is_control));
                prop_assert!((1..=2).contains(&got.next_steps.len()));
                prop_assert_eq!(got.kind.is_failure(), got.kind.category().is_failure());
                prop_assert_eq!(
                    got.kind == Kind::StillRunning,
                    !matches!(status, "STOPPED" | "DELETED")
                );
                prop_assert!(serde_json::to_string(&got).is_ok());
            }
        }
    }
}
