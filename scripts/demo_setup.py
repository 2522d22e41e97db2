#!/usr/bin/env python3
"""Prepares the `make demo` world in a local moto server and writes the events to feed the function.

1. Creates the history table (same keys, indexes and TTL as template.yaml), an ECS cluster `demo`, the
   Fargate task definitions `web` and `batch-job`, and runs real tasks in moto (3 x web as if started
   by the `web` service, 1 x batch-job), tagged, so the function's DescribeTasks finds them.
2. Writes realistic EventBridge "ECS Task State Change" events for those task ARNs, following each
   task's lifecycle (PROVISIONING v1 ... STOPPED v8), into <out>/events/: some as single direct
   invocations, some as SQS batches (shuffled, with redelivered duplicates), an out-of-order pair and
   one event of another kind. <out>/feed.txt lists the files in the order demo.sh feeds them, and
   <out>/expected.json what each should do.

Run with the moto venv's python (needs boto3):
    .venv/moto/bin/python scripts/demo_setup.py --endpoint http://127.0.0.1:5000 --out target/demo
"""

import argparse
import copy
import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3

REGION = "us-east-1"
CLUSTER = "demo"
QUEUE_ARN = "arn:aws:sqs:us-east-1:{account}:ecs-task-history-TaskEventsQueue"

WEB_IMAGE = "{account}.dkr.ecr.us-east-1.amazonaws.com/web:1.42.0"
JOB_IMAGE = "{account}.dkr.ecr.us-east-1.amazonaws.com/batch-job:2026.11.3"
LOG_ROUTER_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"

SERVICE_DEPLOYMENT = "ecs-svc/7418852096310258"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"

# Lifecycle of a Fargate (awsvpc) task: version → lastStatus.
LIFECYCLE = {
    1: "PROVISIONING",
    2: "PENDING",
    3: "ACTIVATING",
    4: "RUNNING",
    5: "DEACTIVATING",
    6: "STOPPING",
    7: "DEPROVISIONING",
    8: "STOPPED",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--out", required=True, help="output directory (events/, feed.txt, expected.json)")
    parser.add_argument("--table", default="ecs-task-history-demo")
    parser.add_argument("--seed", type=int, default=7, help="shuffle seed (the demo is reproducible)")
    return parser.parse_args()


def iso_ms(time):
    return time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{time.microsecond // 1000:03d}Z"


def iso_s(time):
    return time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# AWS resources in moto
# ---------------------------------------------------------------------------------------------


# As template.yaml: index entries carry the keys and what window queries filter on (INDEX_PROJECTED).
INDEX_PROJECTION = {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["lastStatus", "stopCode"]}


def create_table(dynamodb, table):
    existing = dynamodb.list_tables()["TableNames"]
    if table in existing:
        dynamodb.delete_table(TableName=table)
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byCluster",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": INDEX_PROJECTION,
            },
            {
                "IndexName": "byService",
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                ],
                "Projection": INDEX_PROJECTION,
            },
        ],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
    )


def register_task_definitions(ecs, account):
    web = ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {
                "name": "web",
                "image": WEB_IMAGE.format(account=account),
                "memory": 1024,  # moto: every container needs its own memory for FARGATE run_task
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            }
        ],
    )["taskDefinition"]
    job = ecs.register_task_definition(
        family="batch-job",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="3072",
        containerDefinitions=[
            {
                "name": "job",
                "image": JOB_IMAGE.format(account=account),
                "memory": 2048,
                "cpu": 1024,
                "essential": True,
            },
            {
                "name": "log-router",
                "image": LOG_ROUTER_IMAGE,
                "memory": 256,
                "essential": False,
            },
        ],
    )["taskDefinition"]
    return web, job


def run_tasks(ecs, ec2):
    subnet = ec2.describe_subnets()["Subnets"][0]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    security_group = next((g for g in groups if g.get("GroupName") == "default"), groups[0])
    network = {
        "awsvpcConfiguration": {
            "subnets": [subnet["SubnetId"]],
            "securityGroups": [security_group["GroupId"]],
            "assignPublicIp": "DISABLED",
        }
    }
    web = ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="web",
        launchType="FARGATE",
        count=3,
        group="service:web",
        startedBy=SERVICE_DEPLOYMENT,
        networkConfiguration=network,
        tags=[
            {"key": "team", "value": "payments"},
            {"key": "env", "value": "demo"},
            {"key": "service", "value": "web"},
        ],
    )
    job = ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="batch-job",
        launchType="FARGATE",
        count=1,
        group="family:batch-job",
        startedBy="events-rule/nightly-rollup",
        networkConfiguration=network,
        overrides={
            "containerOverrides": [
                {"name": "job", "command": ["python", "-m", "jobs.nightly_rollup", "--date", "yesterday"]}
            ]
        },
        tags=[
            {"key": "team", "value": "data"},
            {"key": "env", "value": "demo"},
            {"key": "service", "value": "batch-job"},
        ],
    )
    for answer in (web, job):
        if answer.get("failures"):
            sys.exit(f"run_task failed: {answer['failures']}")
    return web["tasks"], job["tasks"][0], subnet


# ---------------------------------------------------------------------------------------------
# Event generation
# ---------------------------------------------------------------------------------------------


class TaskStory:
    """The EventBridge events of one task, one per version, with timestamps that only increase."""

    def __init__(self, *, account, task, task_definition, subnet, created_at, containers, group,
                 started_by, cpu, memory, overrides, index, label):
        self.label = label
        self.account = account
        self.task_arn = task["taskArn"]
        self.task_id = self.task_arn.rsplit("/", 1)[-1]
        self.cluster_arn = task["clusterArn"]
        self.task_definition_arn = task_definition["taskDefinitionArn"]
        self.subnet = subnet
        self.created_at = created_at
        self.container_specs = containers  # [(name, image, cpu, memory)]
        self.group = group
        self.started_by = started_by
        self.cpu = cpu
        self.memory = memory
        self.overrides = overrides
        self.ip = f"172.31.{3 + index}.{20 + 7 * index}"
        self.eni = "eni-0" + uuid.uuid4().hex[:16]
        self.attachment_id = str(uuid.uuid4())
        self.container_arns = {
            name: f"arn:aws:ecs:{REGION}:{account}:container/{CLUSTER}/{self.task_id}/{uuid.uuid4()}"
            for name, *_ in containers
        }
        self.details = {}  # version → detail
        self.times = {}    # version → event time

    def build(self, last_version, stop=None):
        """Builds details v1..last_version. stop: dict(stopCode, stoppedReason, exits={name: (code, reason)}),
        needed when last_version ≥ 5."""
        t = self.created_at
        stamps = {}
        stamps["createdAt"] = t
        stamps[1] = t + timedelta(milliseconds=312)
        stamps["connectivityAt"] = t + timedelta(seconds=11, milliseconds=779)
        stamps[2] = t + timedelta(seconds=12, milliseconds=333)
        stamps["pullStartedAt"] = t + timedelta(seconds=14, milliseconds=188)
        stamps["pullStoppedAt"] = t + timedelta(seconds=26, milliseconds=747)
        stamps[3] = t + timedelta(seconds=27, milliseconds=105)
        stamps["startedAt"] = t + timedelta(seconds=39, milliseconds=892)
        stamps[4] = stamps["startedAt"]
        if last_version >= 5:
            stop_at = t + timedelta(minutes=stop["after_minutes"])
            stamps["stoppingAt"] = stop_at
            stamps[5] = stop_at + timedelta(milliseconds=41)
            stamps["executionStoppedAt"] = stop_at + timedelta(seconds=31, milliseconds=402)
            stamps[6] = stamps["executionStoppedAt"] + timedelta(milliseconds=18)
            stamps[7] = stamps[6] + timedelta(seconds=4, milliseconds=250)
            stamps["stoppedAt"] = stamps[7] + timedelta(seconds=21, milliseconds=664)
            stamps[8] = stamps["stoppedAt"]

        for version in range(1, last_version + 1):
            status = LIFECYCLE[version]
            detail = {
                "attachments": [self._attachment(version)],
                "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
                "availabilityZone": self.subnet["AvailabilityZone"],
                "clusterArn": self.cluster_arn,
                "containers": [self._container(version, spec, stop) for spec in self.container_specs],
                "cpu": self.cpu,
                "createdAt": iso_ms(stamps["createdAt"]),
                "desiredStatus": "STOPPED" if version >= 5 else "RUNNING",
                "enableExecuteCommand": False,
                "ephemeralStorage": {"sizeInGiB": 20},
                "group": self.group,
                "launchType": "FARGATE",
                "lastStatus": status,
                "memory": self.memory,
                "overrides": self.overrides,
                "platformVersion": "1.4.0",
                "platformFamily": "Linux",
                "startedBy": self.started_by,
                "taskArn": self.task_arn,
                "taskDefinitionArn": self.task_definition_arn,
                "updatedAt": iso_ms(stamps[version]),
                "version": version,
            }
            if version >= 2:
                detail["connectivity"] = "CONNECTED"
                detail["connectivityAt"] = iso_ms(stamps["connectivityAt"])
            if version >= 3:
                detail["pullStartedAt"] = iso_ms(stamps["pullStartedAt"])
                detail["pullStoppedAt"] = iso_ms(stamps["pullStoppedAt"])
            if version >= 4:
                detail["startedAt"] = iso_ms(stamps["startedAt"])
            if version >= 5:
                detail["stopCode"] = stop["stopCode"]
                detail["stoppedReason"] = stop["stoppedReason"]
                detail["stoppingAt"] = iso_ms(stamps["stoppingAt"])
            if version >= 6:
                detail["executionStoppedAt"] = iso_ms(stamps["executionStoppedAt"])
            if version >= 8:
                detail["stoppedAt"] = iso_ms(stamps["stoppedAt"])
            self.details[version] = detail
            self.times[version] = stamps[version]
        return self

    def _attachment(self, version):
        status = {1: "PRECREATED", 7: "DELETED", 8: "DELETED"}.get(version, "ATTACHED")
        details = [{"name": "subnetId", "value": self.subnet["SubnetId"]}]
        if version >= 2:
            details += [
                {"name": "networkInterfaceId", "value": self.eni},
                {"name": "privateDnsName", "value": f"ip-{self.ip.replace('.', '-')}.ec2.internal"},
                {"name": "privateIPv4Address", "value": self.ip},
            ]
        return {"id": self.attachment_id, "type": "eni", "status": status, "details": details}

    def _container(self, version, spec, stop):
        name, image, cpu, memory = spec
        container = {
            "containerArn": self.container_arns[name],
            "lastStatus": "PENDING" if version <= 2 else ("RUNNING" if version <= 5 else "STOPPED"),
            "name": name,
            "image": image,
            "taskArn": self.task_arn,
            "networkInterfaces": (
                [{"attachmentId": self.attachment_id, "privateIpv4Address": self.ip}] if version >= 2 else []
            ),
            "cpu": str(cpu),
            "memory": str(memory),
        }
        if version >= 3:
            container["runtimeId"] = f"{self.task_id}-{uuid.uuid5(uuid.NAMESPACE_OID, self.task_id + name).int % 10**10}"
            container["imageDigest"] = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, image).hex * 2
        if version >= 5 and stop:
            code, reason = stop["exits"].get(name, (None, None))
            # An essential container that died takes the task down: it is STOPPED from v5 on.
            if stop["stopCode"] == "EssentialContainerExited" and reason:
                container["lastStatus"] = "STOPPED"
            if container["lastStatus"] == "STOPPED" and code is not None:
                container["exitCode"] = code
                if reason:
                    container["reason"] = reason
        return container

    def event(self, version, *, event_id=None, delay_seconds=1):
        """The EventBridge envelope for one version (a new event id unless given)."""
        return {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": self.account,
            "time": iso_s(self.times[version] + timedelta(seconds=delay_seconds)),
            "region": REGION,
            "resources": [self.task_arn],
            "detail": copy.deepcopy(self.details[version]),
        }


def container_instance_event(account, cluster_arn, time):
    instance_id = uuid.uuid4().hex
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "ECS Container Instance State Change",
        "source": "aws.ecs",
        "account": account,
        "time": iso_s(time),
        "region": REGION,
        "resources": [f"arn:aws:ecs:{REGION}:{account}:container-instance/{CLUSTER}/{instance_id}"],
        "detail": {
            "agentConnected": True,
            "clusterArn": cluster_arn,
            "containerInstanceArn": f"arn:aws:ecs:{REGION}:{account}:container-instance/{CLUSTER}/{instance_id}",
            "ec2InstanceId": "i-0" + uuid.uuid4().hex[:16],
            "status": "ACTIVE",
            "runningTasksCount": 0,
            "pendingTasksCount": 0,
            "version": 14,
            "updatedAt": iso_ms(time),
            "registeredAt": iso_ms(time - timedelta(hours=3)),
        },
    }


def sqs_batch(account, events, rng):
    records = []
    for event in events:
        sent = datetime.now(timezone.utc)
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEB" + uuid.uuid4().hex + uuid.uuid4().hex,
                "body": json.dumps(event, separators=(",", ":")),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(sent.timestamp() * 1000)),
                    "SenderId": "AIDAIE6VAXUQU2DKHA7DK",
                    "ApproximateFirstReceiveTimestamp": str(int(sent.timestamp() * 1000) + rng.randint(5, 900)),
                },
                "messageAttributes": {},
                "md5OfBody": uuid.uuid4().hex,
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN.format(account=account),
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def short(story):
    return story.label


def main():
    args = parse_args()
    out = Path(args.out)
    events_dir = out / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for old in events_dir.glob("*.json"):
        old.unlink()
    rng = random.Random(args.seed)

    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    dynamodb = session.client("dynamodb", endpoint_url=args.endpoint)
    ecs = session.client("ecs", endpoint_url=args.endpoint)
    ec2 = session.client("ec2", endpoint_url=args.endpoint)
    account = session.client("sts", endpoint_url=args.endpoint).get_caller_identity()["Account"]

    create_table(dynamodb, args.table)
    ecs.create_cluster(clusterName=CLUSTER)
    web_td, job_td = register_task_definitions(ecs, account)
    web_tasks, job_task, subnet = run_tasks(ecs, ec2)

    print(f"  table    {args.table} (pk/sk, GSIs byCluster + byService, TTL on expiresAt)")
    print(f"  cluster  {web_tasks[0]['clusterArn']}")
    print(f"  taskdefs {web_td['taskDefinitionArn']}, {job_td['taskDefinitionArn']}")

    # The story happened over the last hour, so TTLs computed from event times lie in the future.
    t0 = (datetime.now(timezone.utc) - timedelta(minutes=50)).replace(microsecond=774_000)
    web_containers = [("web", WEB_IMAGE.format(account=account), 0, 1024)]
    job_containers = [
        ("job", JOB_IMAGE.format(account=account), 1024, 2048),
        ("log-router", LOG_ROUTER_IMAGE, 0, 256),
    ]
    web_overrides = {"containerOverrides": [{"name": "web"}]}
    job_overrides = {
        "containerOverrides": [
            {"name": "job", "command": ["python", "-m", "jobs.nightly_rollup", "--date", "yesterday"]},
            {"name": "log-router"},
        ]
    }

    def web_story(index, offset_seconds):
        return TaskStory(
            account=account, task=web_tasks[index], task_definition=web_td, subnet=subnet,
            created_at=t0 + timedelta(seconds=offset_seconds), containers=web_containers,
            group="service:web", started_by=SERVICE_DEPLOYMENT, cpu="512", memory="1024",
            overrides=web_overrides, index=index, label=f"web-{index + 1}",
        )

    # web #1: runs, then the service scales in and stops it (v1..v8, ServiceSchedulerInitiated).
    web1 = web_story(0, 0).build(8, stop={
        "after_minutes": 31,
        "stopCode": "ServiceSchedulerInitiated",
        "stoppedReason": f"Scaling activity initiated by (deployment {SERVICE_DEPLOYMENT})",
        "exits": {"web": (0, None)},
    })
    # web #2 and #3: reach RUNNING and stay there (v1..v4).
    web2 = web_story(1, 2).build(4)
    web3 = web_story(2, 5).build(4)
    # batch-job: the job container runs out of memory: EssentialContainerExited, exit code 137.
    job = TaskStory(
        account=account, task=job_task, task_definition=job_td, subnet=subnet,
        created_at=t0 + timedelta(minutes=3, seconds=9), containers=job_containers,
        group="family:batch-job", started_by="events-rule/nightly-rollup", cpu="1024", memory="3072",
        overrides=job_overrides, index=3, label="batch-job",
    ).build(8, stop={
        "after_minutes": 17,
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "exits": {"job": (137, OOM_REASON), "log-router": (0, None)},
    })

    feed = []      # file names in feed order
    expected = {}  # file → what should happen

    def write(name, payload, expect, description):
        path = events_dir / name
        path.write_text(json.dumps(payload, indent=2) + "\n")
        feed.append(str(path))
        expected[str(path)] = {"expect": expect, "description": description}

    def direct(name, story, version, expect, note, redelivery_of=None):
        event = story.event(version, delay_seconds=1 if redelivery_of is None else 95)
        write(name, event, {"outcome": expect},
              f"direct  {short(story)} v{version} {LIFECYCLE[version]:<14} {note}".rstrip())

    def batch(name, items, expect_counts, note):
        """items: (story, version, duplicate?) — a duplicate is the same detail under a new event id."""
        events = [story.event(version, delay_seconds=(60 if dup else 1)) for story, version, dup in items]
        rng.shuffle(events)
        labels = []
        for event in events:
            detail = event["detail"]
            story = next(s for s in (web1, web2, web3, job) if s.task_arn == detail["taskArn"])
            dup = sum(1 for e in events if e["detail"]["taskArn"] == detail["taskArn"]
                      and e["detail"]["version"] == detail["version"]) > 1
            labels.append(f"{short(story)}:v{detail['version']}" + ("*" if dup else ""))
        write(name, sqs_batch(account, events, rng), {"batchItemFailures": 0, "counts": expect_counts},
              f"sqs     {len(events)} records: {' '.join(labels)}  ({note})")

    direct("01-direct-web1-v1.json", web1, 1, "fresh", "first sight of the task")
    direct("02-direct-web1-v2.json", web1, 2, "fresh", "")
    batch("03-sqs-web1-v3v4-web2-v1v4.json",
          [(web1, 3, False), (web1, 4, False), (web2, 1, False), (web2, 2, False), (web2, 3, False),
           (web2, 4, False), (web2, 2, True), (web1, 4, True)],
          {"fresh": 6, "duplicate": 2}, "two tasks at once")
    direct("04-direct-web3-v1.json", web3, 1, "fresh", "")
    direct("05-direct-web3-v3.json", web3, 3, "fresh", "v2 is late: arrives after v3")
    direct("06-direct-web3-v2-late.json", web3, 2, "gap_filled", "the late one: fills the gap, snapshot stays at v3")
    direct("07-direct-web3-v4.json", web3, 4, "fresh", "")
    batch("08-sqs-batch-job-v1-v8.json",
          [(job, v, False) for v in range(1, 9)] + [(job, 4, True), (job, 8, True)],
          {"fresh": 8, "duplicate": 2}, "the whole batch-job lifecycle: OOM-killed")
    direct("09-direct-web1-v4-redelivered.json", web1, 4, "duplicate",
           "EventBridge redelivery (new event id) of a recorded version", redelivery_of=4)
    batch("10-sqs-web1-v5-v8.json",
          [(web1, v, False) for v in range(5, 9)] + [(web1, 6, True)],
          {"fresh": 4, "duplicate": 1}, "the service scales in: web-1 stops")
    direct("11-direct-web3-v2-redelivered.json", web3, 2, "stale",
           "older than the snapshot and already recorded", redelivery_of=2)
    ci = container_instance_event(account, web1.cluster_arn, t0 + timedelta(minutes=45))
    write("12-direct-container-instance.json", ci, {"outcome": "skipped"},
          "direct  ECS Container Instance State Change (not a task event)")

    (out / "feed.txt").write_text("\n".join(feed) + "\n")
    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    tasks = {story.task_arn: {"label": story.label, "group": story.group, "versions": sorted(story.details)}
             for story in (web1, web2, web3, job)}
    (out / "tasks.json").write_text(json.dumps(tasks, indent=2) + "\n")

    print("  tasks (run in moto, tagged):")
    for story, tags in ((web1, "team=payments env=demo service=web"),
                        (web2, "team=payments env=demo service=web"),
                        (web3, "team=payments env=demo service=web"),
                        (job, "team=data env=demo service=batch-job")):
        print(f"    {short(story):<9} {story.task_id}  {story.group:<17} {tags}")
    print(f"  events written to {events_dir}/, fed in this order ({out / 'feed.txt'}):")
    for number, path in enumerate(feed, 1):
        print(f"    {Path(path).name:<36} {expected[path]['description']}")
    print("    (sqs records in delivery order; * = that version is in the batch twice, under two event ids)")


if __name__ == "__main__":
    main()
