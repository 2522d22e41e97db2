#!/usr/bin/env python3
"""`make bench`: what one event costs the function, measured on the release `bootstrap` behind a local
Lambda Runtime API, against moto through a local TLS front (so connections and handshakes are real).

1. Requests per event: a replay of every task's lifecycle (2,000 tasks by default, running in moto with
   tags), shuffled, with 10 % duplicates, as SQS batches of 10 and of 100; as single EventBridge
   invocations, and with ENRICH=always and never, on the first 250 tasks. AWS requests are counted by
   operation by moto's request recorder; write units are computed from the recorded items by DynamoDB's
   sizing rules, index entries by the projection (moto's ReturnConsumedCapacity is a constant), and the
   function's own EMF metrics lines are summed too.
2. CPU per event of the pure core: the criterion bench `benches/core.rs` (run before this script).
3. Handler CPU (user+sys of the process, /proc) per event during the replays, and peak RSS (VmHWM).
4. Cold start: exec → first GET /next, median of N; the first invocation's duration with and without
   WARM_CONNECTIONS; binary sizes (x86-64 here; arm64 if `make build` produced it).

Not a test: it asserts nothing about speed. Prints a table and writes target/bench/report.json.
Run with the moto venv's python (boto3, cryptography): `make bench`.
"""
import argparse
import base64
import copy
import datetime
import ipaddress
import json
import math
import os
import queue
import random
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_setup import INDEX_PROJECTION, create_table, register_task_definitions  # noqa: E402

OUT = ROOT / "target/bench"
CLUSTER = "demo"
SAMPLE_TASK_ID = "ec964d3d4496eba592913bcbacbb07b7"
LIFECYCLE = sorted(p for p in (ROOT / "events").glob("fargate-web-v*.json") if "duplicate" not in p.name)
CREDS = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_delay(connection):
    """http.server writes headers and body in two sends; with Nagle's algorithm on, the second waits for
    the client's delayed ACK (40 ms on Linux), which would be charged to the function's every request."""
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def wait_for_port(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


# ------------------------------------------------------------------------------------------------
# Local stand-ins: the Lambda Runtime API, and a keep-alive TLS front for moto
# ------------------------------------------------------------------------------------------------

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

            def setup(self):
                super().setup()
                no_delay(self.connection)

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
        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
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


def local_certificates(directory):
    """A throwaway CA (ca.pem, the file the function trusts via SSL_CERT_FILE) and a certificate for
    127.0.0.1 it signed (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, key, issuer, issuer_key, ca):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecs-task-history bench CA")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    ca = certificate(ca_name, ca_key, ca_name, ca_key, True)
    leaf = certificate(leaf_name, leaf_key, ca_name, ca_key, False)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return directory / "ca.pem", directory / "cert.pem", directory / "key.pem"


class QuietServer(ThreadingHTTPServer):
    """Clients that hang up (a killed function) are normal here, not worth a traceback."""

    def handle_error(self, request, client_address):
        pass


class TlsFront:
    """HTTPS with keep-alive on 127.0.0.1, forwarding each request to moto (which closes every connection,
    unlike AWS). Counts TLS handshakes, so warm-up and connection reuse are visible."""

    def __init__(self, moto_port, cert, key):
        self.handshakes = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                front.handshakes += 1
                super().setup()
                no_delay(self.connection)

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                upstream = HTTPConnection("127.0.0.1", moto_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("connection", "content-length", "transfer-encoding", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = forward

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.port = free_port()
        self.server = QuietServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------------
# The function under test
# ------------------------------------------------------------------------------------------------

class Function:
    """One bootstrap process (one Lambda execution environment) with its Runtime API and metrics lines."""

    def __init__(self, binary, env):
        self.api = RuntimeApi()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [binary], env=dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.api.port}"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.metrics = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with (OUT / "function.log").open("a") as log:
            for line in self.process.stdout:
                try:
                    document = json.loads(line)
                except json.JSONDecodeError:
                    document = None
                if isinstance(document, dict) and "_aws" in document:
                    self.metrics.append(document)
                else:
                    log.write(line)

    def init_ms(self):
        while self.api.first_next is None and self.process.poll() is None:
            time.sleep(0.0002)
        return (self.api.first_next - self.started) * 1000

    def invoke(self, body):
        return self.api.invoke(body)

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def metric_sum(self, name):
        return sum(line.get(name, 0) for line in self.metrics)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)
        self.api.close()


# ------------------------------------------------------------------------------------------------
# Workload
# ------------------------------------------------------------------------------------------------

def run_tasks_in_moto(ecs, ec2, count):
    """Runs `count` tagged Fargate tasks so DescribeTasks finds them, as it would for live events."""
    register_task_definitions(ecs, "123456789012")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}
    arns = []
    while len(arns) < count:
        answer = ecs.run_task(cluster=CLUSTER, taskDefinition="web", launchType="FARGATE", count=min(10, count - len(arns)),
                              group="service:web", networkConfiguration=network,
                              tags=[{"key": "team", "value": "payments"}, {"key": "env", "value": "bench"}])
        if answer.get("failures"):
            raise SystemExit(f"run_task failed: {answer['failures']}")
        arns.extend(task["taskArn"] for task in answer["tasks"])
    return arns


def event_stream(task_arns, rng, duplicates=0.10):
    """Every task's full lifecycle (the 8 Fargate samples), shuffled, with `duplicates` of them sent twice."""
    templates = [p.read_text() for p in LIFECYCLE]
    events = []
    for arn in task_arns:
        task_id = arn.rsplit("/", 1)[-1]
        for template in templates:
            event = json.loads(template.replace(SAMPLE_TASK_ID, task_id))
            event["id"] = str(uuid.uuid4())
            events.append(event)
    events += [copy.deepcopy(e) for e in rng.sample(events, int(len(events) * duplicates))]
    rng.shuffle(events)
    return events


def sqs_batch(events):
    return json.dumps({"Records": [
        {"messageId": str(n), "receiptHandle": "h", "body": json.dumps(e), "attributes": {},
         "messageAttributes": {}, "eventSource": "aws:sqs"} for n, e in enumerate(events)]})


# ------------------------------------------------------------------------------------------------
# DynamoDB write units, by the documented sizing rules
# ------------------------------------------------------------------------------------------------

def attribute_size(value):
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind in ("SS", "NS"):
        return sum(len(x) for x in inner)
    return len(json.dumps(inner))


def item_size(item):
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(item):
    """A put's write units: 1 per KB of the item on the table, plus 1 per KB of its entry in every
    index it has keys for (the entry holds the table's and the index's keys and the projected attributes)."""
    size = item_size(item)
    units = math.ceil(size / 1024) or 1
    for index_keys in (("gsi1pk", "gsi1sk"), ("gsi2pk", "gsi2sk")):
        if index_keys[0] in item:
            kept = ("pk", "sk", *index_keys, *INDEX_PROJECTION["NonKeyAttributes"])
            entry = {name: value for name, value in item.items() if name in kept}
            units += math.ceil(item_size(entry) / 1024) or 1
    return units, size


def recorded(path):
    """Requests moto recorded: counts by operation, and the items written (for write units)."""
    calls, units, sizes = Counter(), 0, []
    for line in Path(path).read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
        target = headers.get("x-amz-target", "")
        operation = target.split(".", 1)[-1] if target else "other"
        calls[operation] += 1
        if operation not in ("PutItem", "BatchWriteItem"):
            continue
        raw = entry.get("body") or "{}"
        if str(entry.get("body_encoded")) == "True":
            raw = base64.b64decode(raw)
        body = json.loads(raw)
        items = [body.get("Item", {})] if operation == "PutItem" else [
            request["PutRequest"]["Item"] for requests in body.get("RequestItems", {}).values()
            for request in requests if "PutRequest" in request]
        for item in items:
            item_units, size = write_units(item)
            units += item_units
            sizes.append(size)
    return calls, units, sizes


def moto_recorder(port, action):
    socket.create_connection(("127.0.0.1", port)).sendall(
        f"POST /moto-api/recorder/{action} HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    time.sleep(0.2)


# ------------------------------------------------------------------------------------------------
# Scenarios
# ------------------------------------------------------------------------------------------------

def replay(name, binary, env, events, batch, moto_port, recording, dynamodb, front, enrich="new-tasks"):
    table = f"bench-{name}"
    create_table(dynamodb, table)
    function = Function(binary, dict(env, TABLE_NAME=table, ENRICH=enrich))
    function.init_ms()
    recording.write_text("")
    moto_recorder(moto_port, "reset-recording")
    moto_recorder(moto_port, "start-recording")
    cpu_before = function.cpu_seconds()
    handshakes_before = front.handshakes
    started = time.monotonic()
    redelivered = 0
    pending = list(events)
    while pending:
        retry = []
        for start in range(0, len(pending), batch or 1):
            chunk = pending[start:start + (batch or 1)]
            if batch:
                kind, body = function.invoke(sqs_batch(chunk))
                failed = {int(f["itemIdentifier"]) for f in json.loads(body).get("batchItemFailures", [])} if kind == "response" else set(range(len(chunk)))
                retry += [chunk[i] for i in sorted(failed)]
            else:
                kind, body = function.invoke(json.dumps(chunk[0]))
                if kind != "response":
                    retry += chunk
        redelivered += len(retry)
        pending = retry
        if redelivered > len(events):
            raise SystemExit(f"{name}: events keep failing, e.g. {body[:300]!r}")
    wall = time.monotonic() - started
    cpu = function.cpu_seconds() - cpu_before
    moto_recorder(moto_port, "stop-recording")
    calls, units, sizes = recorded(recording)
    n = len(events)
    unique_tasks = len({e["detail"]["taskArn"] for e in events})
    result = {
        "events": n, "tasks": unique_tasks, "batch": batch or 1, "shape": "sqs" if batch else "eventbridge", "enrich": enrich,
        "redelivered": redelivered,
        "requests_by_operation": dict(sorted(calls.items())),
        "aws_requests_per_event": sum(calls.values()) / n,
        "dynamodb_requests_per_event": sum(v for k, v in calls.items() if k != "DescribeTasks") / n,
        "describe_tasks_per_event": calls.get("DescribeTasks", 0) / n,
        "describe_tasks_per_100_tasks": calls.get("DescribeTasks", 0) * 100 / unique_tasks,
        "write_units_per_event": units / n,
        "history_item_bytes_median": statistics.median(sizes) if sizes else 0,
        "emf_write_units_per_event_moto_constant": function.metric_sum("WriteCapacityUnits") / n,
        "emf_dynamodb_requests_per_event": function.metric_sum("DynamoDbRequests") / n,
        "emf_describe_tasks_calls": function.metric_sum("DescribeTasksCalls"),
        "handler_cpu_us_per_event": cpu * 1e6 / n,
        "tls_handshakes": front.handshakes - handshakes_before,
        "wall_ms_per_event_against_moto": wall * 1000 / n,
        "peak_rss_mib": function.peak_rss_mib(),
    }
    function.stop()
    dynamodb.delete_table(TableName=table)
    return result


def cold_starts(binary, env, runs):
    inits = []
    for _ in range(runs):
        function = Function(binary, dict(env, WARM_CONNECTIONS="false"))
        inits.append(function.init_ms())
        function.stop()
    return {"init_ms_median": statistics.median(inits), "init_ms_min": min(inits), "init_ms_max": max(inits), "runs": runs}


def first_invocations(binary, env, events, runs, dynamodb, front):
    """Init and first-invocation time, with and without WARM_CONNECTIONS, on fresh environments."""
    out = {}
    for warm in ("true", "false"):
        inits, firsts, handshakes = [], [], []
        for run in range(runs):
            table = f"bench-first-{warm}-{run}"
            create_table(dynamodb, table)
            function = Function(binary, dict(env, TABLE_NAME=table, WARM_CONNECTIONS=warm))
            inits.append(function.init_ms())
            before = front.handshakes
            started = time.monotonic()
            kind, body = function.invoke(sqs_batch(events[run * 10:(run + 1) * 10]))
            firsts.append((time.monotonic() - started) * 1000)
            handshakes.append(front.handshakes - before)
            if kind != "response":
                raise SystemExit(f"first invocation failed: {body[:300]!r}")
            function.stop()
            dynamodb.delete_table(TableName=table)
        out[f"warm_{warm}"] = {
            "init_ms_median": statistics.median(inits),
            "first_invocation_ms_median": statistics.median(firsts),
            "tls_handshakes_in_first_invocation": statistics.median(handshakes),
            "runs": runs,
        }
    return out


def criterion_results():
    results = {}
    for estimates in sorted((ROOT / "target/criterion/core").glob("*/new/estimates.json")):
        bench = json.loads((estimates.parent / "benchmark.json").read_text())
        mean_ns = json.loads(estimates.read_text())["mean"]["point_estimate"]
        elements = (bench.get("throughput") or {}).get("Elements", 1)
        results[bench["function_id"]] = {"ns_per_event": mean_ns / elements, "events_per_second": elements * 1e9 / mean_ns}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / "target/release/bootstrap"))
    parser.add_argument("--tasks", type=int, default=2000, help="tasks in the main replays (8 versions each, +10%% duplicates)")
    parser.add_argument("--side-tasks", type=int, default=250, help="tasks in the single-invocation and ENRICH replays")
    parser.add_argument("--cold-starts", type=int, default=20)
    parser.add_argument("--first-invocations", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for the function")
    parser.add_argument("--only", help="run only the replays whose name contains this")
    parser.add_argument("--no-replays", action="store_true", help="only sizes, cold starts and first invocations (to compare builds)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    recording = OUT / "moto-requests.jsonl"
    recording.write_text("")
    rng = random.Random(args.seed)

    moto_port = free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".venv/moto/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, MOTO_RECORDER_FILEPATH=str(recording)))
    ca, cert, key = local_certificates(OUT / "tls")
    report = {"binary": args.binary, "binary_bytes_x86_64": Path(args.binary).stat().st_size}
    arm64 = ROOT / "target/lambda-arm64/bootstrap/bootstrap"
    report["binary_bytes_arm64"] = arm64.stat().st_size if arm64.exists() else None
    report["core"] = criterion_results()
    front = None
    try:
        wait_for_port(moto_port)
        front = TlsFront(moto_port, cert, key)
        plain = dict(endpoint_url=f"http://127.0.0.1:{moto_port}", **CREDS)
        dynamodb = boto3.client("dynamodb", **plain)
        ecs = boto3.client("ecs", **plain)
        ecs.create_cluster(clusterName=CLUSTER)
        print(f"running {args.tasks} tasks in moto …", flush=True)
        task_arns = run_tasks_in_moto(ecs, boto3.client("ec2", **plain), args.tasks)
        env = {
            "PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": f"https://127.0.0.1:{front.port}", "SSL_CERT_FILE": str(ca),
            "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "RUST_LOG": "warn", "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "1", "DESCRIBE_TASKS_PER_SECOND": "0", "TABLE_NAME": "bench",
            "MIMALLOC_ARENA_EAGER_COMMIT": "0",  # as template.yaml sets it
        }
        env.update(item.split("=", 1) for item in args.env)

        report["cold_start"] = cold_starts(args.binary, env, args.cold_starts)
        side = task_arns[:args.side_tasks]
        report["first_invocation"] = first_invocations(args.binary, env, event_stream(side, rng), args.first_invocations, dynamodb, front)

        events = event_stream(task_arns, rng)
        side_events = event_stream(side, rng)
        # ENRICH matters where batches are small: at batch 100 nearly every batch has some task to
        # describe, so every mode makes one call per batch and only the tasks per call differ.
        runs = [("batch100", events, 100, "new-tasks"), ("batch10", events, 10, "new-tasks"),
                ("single", side_events, 0, "new-tasks"),
                ("batch10-always", side_events, 10, "always"), ("single-always", side_events, 0, "always"),
                ("batch10-never", side_events, 10, "never")]
        report["replays"] = {}
        for name, stream, batch, enrich in runs:
            if args.no_replays or (args.only and args.only not in name):
                continue
            print(f"replaying {len(stream)} events: {name} …", flush=True)
            report["replays"][name] = replay(name, args.binary, env, stream, batch, moto_port, recording, dynamodb, front, enrich)
    finally:
        if front:
            front.close()
        moto.kill()
        moto.wait()

    (OUT / "report.json").write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"report: {OUT / 'report.json'}")


def print_table(report):
    mb = lambda n: f"{n / 1e6:.2f} MB" if n else "not built (make build)"
    print()
    print(f"binary (stripped)       x86-64 {mb(report['binary_bytes_x86_64'])}, arm64 {mb(report['binary_bytes_arm64'])}   target ≤ 10 MB")
    for name, r in report["core"].items():
        print(f"core CPU                {name}: {r['events_per_second']:,.0f} events/s/core ({r['ns_per_event'] / 1000:.1f} µs/event)   target ≥ 100,000")
    c = report["cold_start"]
    print(f"cold start              exec → first /next: median {c['init_ms_median']:.1f} ms (min {c['init_ms_min']:.1f}, max {c['init_ms_max']:.1f}, {c['runs']} runs)   target ≤ 30 ms")
    for warm, f in report["first_invocation"].items():
        print(f"first invocation        {warm}: init {f['init_ms_median']:.1f} ms, first batch of 10 {f['first_invocation_ms_median']:.1f} ms, "
              f"TLS handshakes during it {f['tls_handshakes_in_first_invocation']:.0f} (median of {f['runs']})")
    print()
    header = f"{'replay':<17}{'events':>7}{'tasks':>6}{'AWS req/ev':>11}{'DDB req/ev':>11}{'WCU/ev':>8}{'Describe/100 tasks':>19}{'CPU µs/ev':>10}{'RSS MiB':>8}"
    print(header)
    print("-" * len(header))
    for name, r in report["replays"].items():
        print(f"{name:<17}{r['events']:>7}{r['tasks']:>6}{r['aws_requests_per_event']:>11.3f}{r['dynamodb_requests_per_event']:>11.3f}"
              f"{r['write_units_per_event']:>8.2f}{r['describe_tasks_per_100_tasks']:>19.1f}{r['handler_cpu_us_per_event']:>10.0f}{r['peak_rss_mib']:>8.1f}")
    print("targets at batch 100: ≤ 1.3 AWS requests/event, ≤ 1 DescribeTasks per 100 new tasks; peak RSS < 40 MiB")
    for name, r in report["replays"].items():
        print(f"  {name}: {r['requests_by_operation']}, redelivered {r['redelivered']}, TLS handshakes {r['tls_handshakes']}")


if __name__ == "__main__":
    main()
