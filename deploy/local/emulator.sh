#!/usr/bin/env bash
# The local AWS emulator (moto server on 127.0.0.1) for salesapp and reportsengine.
#
#   deploy/local/emulator.sh start    start moto, create the bucket and queue, write the config
#   deploy/local/emulator.sh status   say whether it runs (exit 0) or not (exit 3)
#   deploy/local/emulator.sh stop     stop it (SIGTERM, SIGKILL after 5 s)
#   deploy/local/emulator.sh env      print export lines:  eval "$(deploy/local/emulator.sh env)"
#   deploy/local/emulator.sh venv     only create/check the venv (<repo>/.venv-moto)
#
# Every command is idempotent. moto[server]==5.2.5 lives in <repo>/.venv-moto (never the
# system's moto: 5.2.1 answers CompleteMultipartUpload with XML the Rust SDK rejects).
# State (PID, port, log, config.toml, spool/) lives in deploy/local/.state/ (git-ignored).
# All traffic goes to 127.0.0.1 with the fake credentials test/test.
set -euo pipefail

MOTO_VERSION=5.2.5
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv-moto"
STATE="$HERE/.state"
PID_FILE="$STATE/moto.pid"
PORT_FILE="$STATE/moto.port"
LOG_FILE="$STATE/moto.log"
CONFIG="$STATE/config.toml"
BUCKET=local-restrictedbucket
QUEUE=local-sqs-queue
SETUP="$HERE/emulator_setup.py"

say() { printf 'emulator: %s\n' "$*" >&2; }
die() {
    printf 'emulator: ERROR: %s\n' "$*" >&2
    exit 1
}

venv_ok() {
    [[ -x "$VENV/bin/moto_server" && -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" - "$MOTO_VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
ok = m.version("moto") == sys.argv[1]
import boto3, flask, flask_cors  # noqa: F401  (the [server] extra and boto3)
sys.exit(0 if ok else 1)
EOF
}

ensure_venv() {
    if venv_ok; then
        return 0
    fi
    command -v python3 >/dev/null || die "python3 not found (needed to create $VENV)"
    # Serialise concurrent creators (emulator.sh and test.sh started together).
    exec 9>"$REPO/.venv-moto.lock"
    flock 9
    if ! venv_ok; then
        say "creating $VENV with moto[server]==$MOTO_VERSION (one-time, ~1 min)"
        if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c pass 2>/dev/null; then
            :
        else
            python3 -m venv --clear "$VENV" || die "python3 -m venv failed"
        fi
        # Byte-compiled at install (pip's default), not at each start: every test starts its
        # own moto_server, and where PYTHONDONTWRITEBYTECODE is set (this image) a venv
        # without .pyc files compiles moto's modules again at every start (0.8 → 2 s).
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
            "moto[server]==$MOTO_VERSION" || die "pip install moto[server]==$MOTO_VERSION failed"
        venv_ok || die "$VENV still has no working moto $MOTO_VERSION"
    fi
    flock -u 9
    exec 9>&-
}

# shellcheck source=deploy/local/process.sh
source "$HERE/process.sh"

# The PID from the PID file if that process is alive and is a moto_server.
running_pid() { pid_from "$PID_FILE" moto_server; }

write_config() {
    local port="$1" queue_url="$2" tmp
    mkdir -p "$STATE/spool"
    tmp="$(mktemp "$STATE/config.toml.XXXXXX")"
    chmod 600 "$tmp"
    cat >"$tmp" <<EOF
region = "us-east-1"
bucket = "$BUCKET"
queue_url = "$queue_url"
[endpoints]
s3 = "http://127.0.0.1:$port"
sqs = "http://127.0.0.1:$port"
force_path_style = true
require_private_sqs = true
[compensation]
commission_bps = 500
[salesapp]
spool_dir = "$STATE/spool"
[reportsengine]
concurrency = 4
wait_time = "2s"
visibility_timeout = "30s"
shutdown_grace = "10s"
max_object_size = "10GiB"
# One GET per object: moto answers every ranged GET by copying the whole object, so the
# parallel ranges that make large objects fast on S3 make them slow here.
read_connections = 1
EOF
    mv -f "$tmp" "$CONFIG"
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        say "already running (pid $pid, http://127.0.0.1:$(cat "$PORT_FILE" 2>/dev/null || echo '?'))"
        return 0
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
    ensure_venv
    mkdir -p "$STATE"
    local py="$VENV/bin/python" port attempt
    for attempt in 1 2 3; do
        port="$("$py" "$SETUP" free-port)"
        say "starting moto_server $MOTO_VERSION on 127.0.0.1:$port (log: $LOG_FILE)"
        nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$LOG_FILE" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PID_FILE"
        echo "$port" >"$PORT_FILE"
        if "$py" "$SETUP" wait --port "$port" --pid "$pid" --timeout 30; then
            break
        fi
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        rm -f "$PID_FILE" "$PORT_FILE"
        say "attempt $attempt failed; last log lines:"
        tail -n 5 "$LOG_FILE" >&2 || true
        [[ $attempt -lt 3 ]] || die "moto_server did not start"
    done
    local queue_url
    if ! queue_url="$("$py" "$SETUP" provision --port "$port" --bucket "$BUCKET" --queue "$QUEUE")"; then
        cmd_stop || true
        die "could not create the bucket and queue"
    fi
    write_config "$port" "$queue_url"
    say "running: pid $pid, endpoint http://127.0.0.1:$port"
    say "bucket $BUCKET (default encryption AES256), queue $queue_url"
    say "config $CONFIG"
    say "next: eval \"\$(deploy/local/emulator.sh env)\""
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE" "$PORT_FILE"
        say "not running"
        return 0
    fi
    say "stopping moto_server (pid $pid)"
    stop_pid "$pid" || die "pid $pid does not exit"
    rm -f "$PID_FILE" "$PORT_FILE"
    say "stopped"
}

cmd_status() {
    local pid port
    if pid="$(running_pid)"; then
        port="$(cat "$PORT_FILE" 2>/dev/null || echo '?')"
        if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" "$SETUP" wait --port "$port" --timeout 3 2>/dev/null; then
            echo "running: pid $pid, endpoint http://127.0.0.1:$port, config $CONFIG"
        else
            echo "running but not answering: pid $pid, port $port (log: $LOG_FILE)"
            return 1
        fi
    else
        echo "not running"
        return 3
    fi
}

cmd_env() {
    printf 'export VPCE_LAB_CONFIG=%q\n' "$CONFIG"
    cat <<EOF
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS
EOF
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
venv)
    ensure_venv
    echo "$VENV"
    ;;
*)
    echo "usage: $0 start|stop|status|env|venv" >&2
    exit 64
    ;;
esac
