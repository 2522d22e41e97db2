#!/usr/bin/env bash
# `make demo`: runs the real function (cargo lambda watch) against a local AWS emulator (moto server),
# feeds it the lifecycle events of real (emulated) ECS tasks, then prints the history it recorded.
#
#   needs: .venv/moto (moto[server] + boto3), .venv/tools (cargo-lambda), a debug build of both binaries
#   writes: target/demo/ (events, feed order, function log, moto log, recorded AWS requests)
#
# Everything it starts (moto server, cargo lambda watch, the function) is stopped on every exit path.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DEMO=target/demo
TABLE=${DEMO_TABLE:-ecs-task-history-demo}
MOTO_SERVER=.venv/moto/bin/moto_server
MOTO_PY=.venv/moto/bin/python
LOG=$DEMO/function.log
RECORDING=$DEMO/moto-requests.jsonl
export PATH="$ROOT/.venv/tools/bin:$PATH"   # cargo-lambda, and the zig it finds through this venv
# Settings that would send the function (or boto3) somewhere other than the emulator.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_ECS

[[ -x $MOTO_SERVER && -x $MOTO_PY ]] || { echo "demo: $MOTO_SERVER missing: run 'make venv'" >&2; exit 1; }
command -v cargo-lambda >/dev/null || { echo "demo: cargo-lambda missing: run 'make venv'" >&2; exit 1; }

MOTO_PID=""
WATCH_PID=""
INVOKE_PORT=""

# Stops what this script started, by pid: watch (which stops the function), any function process still
# alive (cargo-lambda runs it in a session of its own), then moto.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $WATCH_PID ]] && kill -0 "$WATCH_PID" 2>/dev/null; then
        kill -TERM "$WATCH_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
    fi
    if [[ -n $INVOKE_PORT ]]; then
        # Normally already gone. Found by the Runtime API address that watch gave only to this demo's function.
        local environ pid
        for environ in /proc/[0-9]*/environ; do
            if grep -aqs "AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:$INVOKE_PORT/" "$environ" 2>/dev/null; then
                pid=${environ#/proc/}; pid=${pid%/environ}
                echo "demo: stopping leftover function process $pid" >&2
                kill -TERM "$pid" 2>/dev/null || true
            fi
        done
    fi
    if [[ -n $MOTO_PID ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
        kill -TERM "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rm -rf "$DEMO"
mkdir -p "$DEMO"

# 1. The emulator: DynamoDB + ECS (+ EC2 for the default VPC) in one process. Its request recorder
#    (started just before the events are fed) shows which AWS calls each invocation made.
MOTO_PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$MOTO_PORT
echo "== moto server on $ENDPOINT (log: $DEMO/moto.log)"
MOTO_RECORDER_FILEPATH="$ROOT/$RECORDING" "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" \
    >"$DEMO/moto.log" 2>&1 </dev/null &
MOTO_PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null -m 1 "$ENDPOINT/moto-api/" && break
    kill -0 "$MOTO_PID" 2>/dev/null || { echo "demo: moto server exited:" >&2; cat "$DEMO/moto.log" >&2; exit 1; }
    sleep 0.2
done
curl -sf -o /dev/null -m 1 "$ENDPOINT/moto-api/" || { echo "demo: moto server did not answer" >&2; exit 1; }

# 2. moto advances a task one status per DescribeTasks call; pin it so enrichment sees stable tasks.
curl -sf -o /dev/null -X POST "$ENDPOINT/moto-api/state-manager/set-transition" \
    -d '{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}'

# 3. Table, cluster, task definitions, real tasks; events for them.
echo "== setting up the emulated account and writing events"
"$MOTO_PY" scripts/demo_setup.py --endpoint "$ENDPOINT" --out "$DEMO" --table "$TABLE"

# 4. The function, for real: cargo lambda watch runs the bootstrap binary behind a local Lambda
#    Runtime API. The function gets its settings from --env-file (on top of watch's own environment).
cat >"$DEMO/function.env" <<EOF
TABLE_NAME=$TABLE
RETENTION_DAYS=90
RUST_LOG=info
AWS_ENDPOINT_URL=$ENDPOINT
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
EOF
INVOKE_PORT=$(free_port)
echo "== cargo lambda watch on 127.0.0.1:$INVOKE_PORT (function settings: $DEMO/function.env, log: $LOG)"
cargo lambda watch --bin bootstrap --ignore-changes --env-file "$DEMO/function.env" \
    --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" >"$LOG" 2>&1 </dev/null &
WATCH_PID=$!
# watch starts the function (cargo run: a no-op build after `cargo build`) on the first invocation; it is
# ready for that once its Runtime API listens. Do not probe it with HTTP: watch treats any request outside
# its own APIs as a function URL invocation.
for _ in $(seq 300); do
    grep -aq 'starting Runtime server' "$LOG" && break
    kill -0 "$WATCH_PID" 2>/dev/null || { echo "demo: cargo lambda watch exited:" >&2; cat "$LOG" >&2; exit 1; }
    sleep 0.1
done
python3 - "$INVOKE_PORT" <<'PY' || { echo "demo: cargo lambda watch is not listening:" >&2; cat "$LOG" >&2; exit 1; }
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY

echo "== invoking the function, one file at a time (answers, outcomes from the function log, AWS requests it made)"
echo "   (the first invocation also starts the function: cargo run, no rebuild after cargo build)"
curl -sf -o /dev/null -X POST "$ENDPOINT/moto-api/recorder/reset-recording"
curl -sf -o /dev/null -X POST "$ENDPOINT/moto-api/recorder/start-recording"
invocations=0
failures=0
while IFS= read -r file; do
    [[ -n $file ]] || continue
    invocations=$((invocations + 1))
    ok=1
    log_offset=$(stat -c %s "$LOG")
    recording_offset=$(stat -c %s "$RECORDING" 2>/dev/null || echo 0)
    # The first invocation may have to build the function, if the sources changed since `cargo build`.
    if ! response=$(timeout $(( invocations == 1 ? 900 : 120 )) cargo lambda invoke bootstrap --invoke-address 127.0.0.1 --invoke-port "$INVOKE_PORT" \
            --data-file "$file" 2>"$DEMO/invoke.err" </dev/null); then
        response="INVOCATION FAILED: $(tr -s ' \n' ' ' <"$DEMO/invoke.err")"
        ok=0
    fi
    "$MOTO_PY" scripts/demo_invocation.py --file "$file" --response "$response" \
        --log "$LOG" --log-offset "$log_offset" \
        --recording "$RECORDING" --recording-offset "$recording_offset" \
        --expected "$DEMO/expected.json" </dev/null || ok=0
    (( ok )) || failures=$((failures + 1))
done <"$DEMO/feed.txt"
curl -sf -o /dev/null -X POST "$ENDPOINT/moto-api/recorder/stop-recording"
"$MOTO_PY" scripts/demo_invocation.py --totals --feed "$DEMO/feed.txt" --recording "$RECORDING"

# 5. What the table holds now.
echo
echo "== the history in DynamoDB table $TABLE"
"$MOTO_PY" scripts/show_history.py --endpoint "$ENDPOINT" --table "$TABLE" --labels "$DEMO/tasks.json"

# 6. The same history through the command-line tool, as the person on call would read it.
echo
echo "== reading the history with the CLI (target/debug/ecs-task-history; README, Reading the history)"
CLI=(env TABLE_NAME="$TABLE" AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
     AWS_REGION=us-east-1 target/debug/ecs-task-history)
BATCH_JOB=$("$MOTO_PY" -c 'import json, sys
tasks = json.load(open(sys.argv[1]))
print(next(arn for arn, task in tasks.items() if task["label"] == "batch-job"))' "$DEMO/tasks.json")
echo "\$ ecs-task-history task ${BATCH_JOB##*/} --cluster demo"
"${CLI[@]}" task "${BATCH_JOB##*/}" --cluster demo
echo
echo "\$ ecs-task-history cluster demo --since 2h --failed"
"${CLI[@]}" cluster demo --since 2h --failed

echo
echo "files: events $DEMO/events/, feed order $DEMO/feed.txt, function log (JSON lines, via cargo lambda watch)"
echo "       $LOG, AWS requests seen by moto $RECORDING"
if (( failures > 0 )); then
    echo "demo: $failures of $invocations invocations failed or did not do what was expected (see above and $LOG)" >&2
    exit 1
fi
echo "demo: all $invocations invocations answered as expected"
