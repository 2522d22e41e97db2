#!/usr/bin/env python3
"""Prints what ecs-task-history recorded: one timeline per task, read back from the DynamoDB table.

    .venv/moto/bin/python scripts/show_history.py --endpoint http://127.0.0.1:5000 --table ecs-task-history-demo

For each task (Query pk=TASK#<taskArn>, in sort-key order): task id, cluster, service/group, tags, then one
line per recorded version (lastStatus, desiredStatus, event time, flags), stop details and container exits
for STOPPED, and the snapshot. Ends with counts, including what the byCluster/byService indexes return.
Works against real DynamoDB too (drop --endpoint; uses the default credentials).
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import boto3
from boto3.dynamodb.conditions import Key

GSI_SHARDS = 4  # src/dynamodb/keys.rs: readers query every shard of an index partition and merge


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="e.g. http://127.0.0.1:5000 (moto); omit for AWS")
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--labels", help="tasks.json from demo_setup.py: shows web-1, batch-job, ... names")
    return parser.parse_args()


def all_pages(call, **kwargs):
    """Every item of a paged Query or Scan."""
    items = []
    while True:
        page = call(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_all(table, **kwargs):
    return all_pages(table.query, **kwargs)


def scan_keys(table):
    return all_pages(table.scan, ProjectionExpression="pk, sk")


def num(value):
    return int(value) if value is not None else None


def fmt_tags(tags):
    return " ".join(f"{k}={v}" for k, v in sorted((tags or {}).items())) or "(none)"


def main():
    args = parse_args()
    session = boto3.session.Session(region_name=args.region)
    kwargs = {"endpoint_url": args.endpoint} if args.endpoint else {}
    if args.endpoint:
        kwargs.update(aws_access_key_id="test", aws_secret_access_key="test")
    table = session.resource("dynamodb", **kwargs).Table(args.table)

    labels = {}
    if args.labels and Path(args.labels).exists():
        labels = {arn: info.get("label", "") for arn, info in json.loads(Path(args.labels).read_text()).items()}

    pks = sorted({key["pk"] for key in scan_keys(table) if key["pk"].startswith("TASK#")})
    timelines = []
    for pk in pks:
        items = sorted(query_all(table, KeyConditionExpression=Key("pk").eq(pk)), key=lambda item: item["sk"])
        history = [item for item in items if item["sk"].startswith("V#")]
        snapshot = next((item for item in items if item["sk"] == "SNAPSHOT"), None)
        first = history[0] if history else {}
        timelines.append((first.get("createdAt") or first.get("eventTime") or "", pk, history, snapshot))
    timelines.sort()

    totals = Counter()
    clusters = set()
    services = set()
    for _, pk, history, snapshot in timelines:
        task_arn = pk[len("TASK#"):]
        newest = history[-1] if history else {}
        label = labels.get(task_arn, "")
        totals["tasks"] += 1
        totals["history"] += len(history)
        totals["snapshots"] += 1 if snapshot else 0
        print()
        print(f"{label + '  ' if label else ''}task {newest.get('taskId', task_arn.rsplit('/', 1)[-1])}")
        print(f"  cluster   {newest.get('clusterName', '?')}   ({newest.get('clusterArn', '?')})")
        clusters.add(newest.get("clusterArn"))
        service = newest.get("serviceName")
        if service:
            services.add((newest.get("clusterArn"), service))
        print(f"  group     {newest.get('group', '-')}   service: {service or '-'}   "
              f"task definition: {newest.get('family', '?')}:{newest.get('revision', '?')}   "
              f"launch type: {newest.get('launchType', '?')}")
        print(f"  started   by {newest.get('startedBy', '-')}   created {newest.get('createdAt', '-')}")
        print(f"  tags      {fmt_tags(newest.get('tags'))}   (source: {newest.get('tagsSource', '?')})")
        for item in history:
            flags = []
            if item.get("lateArrival"):
                flags.append("late arrival")
                totals["late"] += 1
            if not item.get("enriched"):
                flags.append(f"not enriched: tags from {item.get('tagsSource', '?')}")
                totals["not_enriched"] += 1
            print(f"    v{num(item['version']):<3} {item.get('lastStatus', '?'):<15} desired {item.get('desiredStatus', '?'):<8} "
                  f"at {item.get('eventTime', '?')}"
                  + (f"   [{', '.join(flags)}]" if flags else ""))
            if item.get("lastStatus") == "STOPPED":
                print(f"         stopCode {item.get('stopCode', '-')}: {item.get('stoppedReason', '-')}")
                print(f"         stopped {item.get('stoppedAt', '-')} (running since {item.get('startedAt', '-')})")
                for container in item.get("containers", []):
                    exit_code = container.get("exitCode")
                    line = f"         container {container.get('name', '?')}: exit code " \
                           f"{num(exit_code) if exit_code is not None else '-'}"
                    if container.get("reason"):
                        line += f", reason: {container['reason']}"
                    print(line)
        if snapshot:
            print(f"  snapshot  v{num(snapshot['version'])} {snapshot.get('lastStatus', '?')} "
                  f"(desired {snapshot.get('desiredStatus', '?')}), updated {snapshot.get('updatedAt', '?')}"
                  + (f", stopCode {snapshot['stopCode']}" if snapshot.get("stopCode") else ""))
        else:
            print("  snapshot  (none)")

    # The indexes: every shard of each cluster/service partition, merged.
    by_cluster = sum(
        len(query_all(table, IndexName="byCluster", KeyConditionExpression=Key("gsi1pk").eq(f"CLUSTER#{c}#{s}")))
        for c in clusters if c for s in range(GSI_SHARDS)
    )
    by_service = {
        name: sum(
            len(query_all(table, IndexName="byService",
                          KeyConditionExpression=Key("gsi2pk").eq(f"SERVICE#{c}#{name}#{s}")))
            for s in range(GSI_SHARDS)
        )
        for c, name in sorted(services)
    }

    print()
    print(f"tasks: {totals['tasks']}   history records: {totals['history']}   snapshots: {totals['snapshots']}   "
          f"late arrivals: {totals['late']}   not enriched: {totals['not_enriched']}")
    print(f"index byCluster: {by_cluster} history records; byService: "
          + (", ".join(f"{name} {count}" for name, count in by_service.items()) or "-"))
    if totals["tasks"] == 0:
        sys.exit("no task history found in the table")


if __name__ == "__main__":
    main()
