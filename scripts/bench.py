#!/usr/bin/env python3
"""A first cut of `make bench`: runs the release `bootstrap` behind a local Lambda Runtime API against moto and
measures cold start, first invocation, handler CPU and peak RSS, and AWS requests per event by operation.

Not a test: it asserts nothing about speed. Prints a table and writes target/bench/report.json.
Run with the moto venv's python (it needs boto3): `make bench`.
"""
import argparse
import copy
import json
import os
import queue
import socket
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
LIFECYCLE = sorted(
    p for p in (ROOT / "events").glob("fargate-web-v*.json") if "duplicate" not in p.name
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


class RuntimeApi:
    """The Lambda Runtime API endpoints a provided.al2023 bootstrap uses, on 127.0.0.1."""

    def __init__(self):
        self.pending = queue.Queue()
        self.replies = {}
        self.first_next = None
        self.changed = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if api.first_next is None:
                    api.first_next = time.monotonic()
                request_id, body = api.pending.get()
                data = body.encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.split("/")
                with api.changed:
                    api.replies[parts[4] if len(parts) > 5 else "init"] = (parts[-1], body)
                    api.changed.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, body):
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, body))
        with self.changed:
            if not self.changed.wait_for(lambda: request_id in self.replies, timeout=120):
                raise SystemExit("the function did not answer within 120 s")
            return self.replies.pop(request_id)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def recorded_requests(path):
    calls = Counter()
    for line in Path(path).read_text().splitlines():
        try:
            headers = {k.lower(): v for k, v in json.loads(line).get("headers", {}).items()}
        except json.JSONDecodeError:
            continue
        target = headers.get("x-amz-target", "")
        calls[target.split(".", 1)[-1] if target else "other"] += 1
    return calls


def lifecycle_events(task_count, seed_prefix):
    """Every task's full lifecycle, tasks interleaved (in version order per task)."""
    templates = [json.loads(p.read_text()) for p in LIFECYCLE]
    events = []
    for version_index, template in enumerate(templates):
        for task in range(task_count):
            event = copy.deepcopy(template)
            event["id"] = str(uuid.uuid4())
            arn = event["detail"]["taskArn"].rsplit("/", 1)[0]
            event["detail"]["taskArn"] = f"{arn}/{seed_prefix}{task:08x}".ljust(len(arn) + 33, "0")
            events.append(event)
    return events


def sqs_batch(events):
    return json.dumps({"Records": [
        {"messageId": str(n), "receiptHandle": "h", "body": json.dumps(e), "attributes": {},
         "messageAttributes": {}, "eventSource": "aws:sqs"} for n, e in enumerate(events)]})


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=str(ROOT / "target/release/bootstrap"))
    parser.add_argument("--tasks", type=int, default=250, help="tasks per replay (each 8 versions)")
    parser.add_argument("--cold-starts", type=int, default=20)
    args = parser.parse_args()
    out = ROOT / "target/bench"
    out.mkdir(parents=True, exist_ok=True)
    recording = out / "moto-requests.jsonl"
    recording.write_text("")

    moto_port = free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".venv/moto/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, MOTO_RECORDER_FILEPATH=str(recording)),
    )
    report = {"binary": args.binary, "binary_bytes": Path(args.binary).stat().st_size}
    try:
        wait_for_port(moto_port)
        endpoint = f"http://127.0.0.1:{moto_port}"
        creds = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        dynamodb = boto3.client("dynamodb", **creds)
        attribute = lambda name: {"AttributeName": name, "AttributeType": "S"}
        key = lambda name, kind: {"AttributeName": name, "KeyType": kind}
        dynamodb.create_table(
            TableName="bench", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[attribute(n) for n in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk")],
            KeySchema=[key("pk", "HASH"), key("sk", "RANGE")],
            GlobalSecondaryIndexes=[
                {"IndexName": index, "KeySchema": [key(pk, "HASH"), key(sk, "RANGE")], "Projection": {"ProjectionType": "ALL"}}
                for index, pk, sk in (("byCluster", "gsi1pk", "gsi1sk"), ("byService", "gsi2pk", "gsi2sk"))
            ],
        )
        boto3.client("ecs", **creds).create_cluster(clusterName="demo")
        env = {
            "PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "TABLE_NAME": "bench",
            "RUST_LOG": "warn", "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
        }

        inits = []
        for _ in range(args.cold_starts):
            api = RuntimeApi()
            started = time.monotonic()
            process = subprocess.Popen([args.binary], env=dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}"),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while api.first_next is None and process.poll() is None:
                time.sleep(0.0002)
            inits.append((api.first_next - started) * 1000)
            process.kill()
            process.wait()
            api.close()
        report["init_ms_median"] = statistics.median(inits)
        report["init_ms_min"], report["init_ms_max"] = min(inits), max(inits)

        for batch_size in (10, 100):
            api = RuntimeApi()
            process = subprocess.Popen([args.binary], env=dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}"),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            events = lifecycle_events(args.tasks, f"b{batch_size:03d}")
            started = time.monotonic()
            kind, body = api.invoke(json.dumps(events[0]))
            report[f"batch{batch_size}_first_invocation_ms"] = (time.monotonic() - started) * 1000
            cpu_before = cpu_seconds(process.pid)
            urllib_reset = lambda action: socket.create_connection(("127.0.0.1", moto_port)).sendall(
                f"POST /moto-api/recorder/{action} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
            urllib_reset("reset-recording")
            urllib_reset("start-recording")
            time.sleep(0.2)
            started = time.monotonic()
            rest = events[1:]
            for start in range(0, len(rest), batch_size):
                kind, body = api.invoke(sqs_batch(rest[start:start + batch_size]))
                if kind != "response" or json.loads(body)["batchItemFailures"]:
                    raise SystemExit(f"batch failed: {kind} {body[:300]!r}")
            wall = time.monotonic() - started
            urllib_reset("stop-recording")
            time.sleep(0.2)
            cpu = cpu_seconds(process.pid) - cpu_before
            calls = recorded_requests(recording)
            name = f"batch{batch_size}"
            report[name] = {
                "events": len(rest),
                "requests_by_operation": dict(calls),
                "requests_per_event": sum(calls.values()) / len(rest),
                "handler_cpu_us_per_event": cpu * 1e6 / len(rest),
                "wall_ms_per_event_against_moto": wall * 1000 / len(rest),
                "peak_rss_mib": peak_rss_mib(process.pid),
            }
            process.kill()
            process.wait()
            api.close()
    finally:
        moto.kill()
        moto.wait()

    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(f"binary                 {report['binary_bytes'] / 1e6:.1f} MB  ({report['binary']})")
    print(f"init to first /next    median {report['init_ms_median']:.1f} ms (min {report['init_ms_min']:.1f}, max {report['init_ms_max']:.1f}, {args.cold_starts} runs)")
    for batch_size in (10, 100):
        r = report[f"batch{batch_size}"]
        print(f"SQS batches of {batch_size:<4}   {r['events']} events: {r['requests_per_event']:.2f} AWS requests/event {r['requests_by_operation']}, "
              f"handler CPU {r['handler_cpu_us_per_event']:.0f} us/event, peak RSS {r['peak_rss_mib']:.1f} MiB, "
              f"first invocation {report[f'batch{batch_size}_first_invocation_ms']:.1f} ms")
    print(f"report: {out / 'report.json'}")


if __name__ == "__main__":
    main()
