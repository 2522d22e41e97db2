#!/usr/bin/env python3
"""demo.sh helper: explains one invocation of the function in one or two lines.

Reads the function's answer, the function log lines written during the invocation (from a byte offset of
the `cargo lambda watch` output), the AWS requests moto recorded during it (moto's request recorder, from
a byte offset), and what demo_setup.py expected. Prints

    <file> → <answer>   outcomes: fresh 1 | AWS requests: dynamodb.BatchGetItem 1, ecs.DescribeTasks 1, …

and exits 1 when the answer or the logged outcomes differ from what was expected.
With --totals --feed F --recording R: the function's AWS requests over the whole feed.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

OUTCOMES = ("fresh", "duplicate", "stale", "gap_filled", "skipped", "rejected", "failed")


def read_from(path, offset):
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def summary_line(log_path, offset, wait_seconds=3.0):
    """The function's "invocation summary" log record written since offset (waits a little for it)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        for line in read_from(log_path, offset).splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("message") == "invocation summary":
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def aws_requests(recording_path, offset):
    calls = Counter()
    for line in read_from(recording_path, offset).splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
        target = headers.get("x-amz-target", "")
        if target.startswith("DynamoDB_"):
            calls["dynamodb." + target.split(".", 1)[1]] += 1
        elif target.startswith("AmazonEC2ContainerService"):
            calls["ecs." + target.split(".", 1)[1]] += 1
        elif target:
            calls[target] += 1
        else:
            calls[f"{entry.get('method', '?')} {entry.get('url', '?')}"] += 1
    return calls


def task_events_in(path):
    """How many ECS task state change events a payload file carries (direct event or SQS batch)."""
    payload = json.loads(Path(path).read_text())
    bodies = [json.loads(r.get("body") or "{}") for r in payload["Records"]] if "Records" in payload else [payload]
    return sum(1 for body in bodies if body.get("detail-type") == "ECS Task State Change")


def totals(feed, recording):
    files = [line.strip() for line in Path(feed).read_text().splitlines() if line.strip()]
    events = sum(task_events_in(path) for path in files)
    calls = aws_requests(recording, 0)
    total = sum(calls.values())
    per_event = f" ({total / events:.1f} per task event)" if events else ""
    print(f"AWS requests made by the function: {total} for {events} task events in {len(files)} invocations"
          f"{per_event}: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--totals", action="store_true", help="only print totals over --feed and --recording")
    parser.add_argument("--feed")
    parser.add_argument("--file")
    parser.add_argument("--response", help="the answer printed by cargo lambda invoke")
    parser.add_argument("--log")
    parser.add_argument("--log-offset", type=int, default=0)
    parser.add_argument("--recording")
    parser.add_argument("--recording-offset", type=int, default=0)
    parser.add_argument("--expected")
    args = parser.parse_args()
    if args.totals:
        totals(args.feed, args.recording)
        return

    expected = json.loads(Path(args.expected).read_text()).get(args.file, {}).get("expect", {})
    summary = summary_line(args.log, args.log_offset)
    counts = {name: summary.get(name, 0) for name in OUTCOMES if summary and summary.get(name)} if summary else None
    problems = []

    try:
        answer = json.loads(args.response)
    except json.JSONDecodeError:
        answer = None
        problems.append("the answer is not JSON")

    if answer is not None and "outcome" in expected and answer.get("outcome") != expected["outcome"]:
        problems.append(f"expected outcome {expected['outcome']}, got {answer.get('outcome')}")
    if answer is not None and "batchItemFailures" in expected:
        failures = answer.get("batchItemFailures")
        if failures is None or len(failures) != expected["batchItemFailures"]:
            problems.append(f"expected {expected['batchItemFailures']} batchItemFailures, got {failures}")
    if "counts" in expected:
        if counts is None:
            problems.append("no 'invocation summary' line found in the function log")
        elif counts != expected["counts"]:
            problems.append(f"expected outcomes {expected['counts']}, the function logged {counts}")

    name = Path(args.file).name
    print(f"  {name:<36} → {args.response.strip()}")
    details = []
    if counts is not None:
        details.append("outcomes: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "-"))
    if args.recording:
        calls = aws_requests(args.recording, args.recording_offset)
        details.append(
            f"AWS requests: {sum(calls.values())}"
            + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())) + ")" if calls else "")
        )
    if details:
        print(f"  {'':<36}   {' | '.join(details)}")
    for problem in problems:
        print(f"  {'':<36}   !! {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
