#!/usr/bin/env bash
# The local lab (docs/lab.md): our CloudFormation template deployed to the emulator (moto),
# and the lab's gateway in front of it, enforcing the workshop's network paths and policies,
# with one listener per host of the lab (salesapp, reportsengine, cloud9, internet).
#
#   deploy/local/lab.sh start [--state secured|starting]   deploy and serve (default secured)
#   deploy/local/lab.sh stop                                stop the gateway and the emulator
#   deploy/local/lab.sh status                              exit 0 running, 3 not running
#   deploy/local/lab.sh env --json                          the lab as one JSON object
#   deploy/local/lab.sh env HOST                            shell lines for one host:
#                                                           eval "$(deploy/local/lab.sh env cloud9)"
#   deploy/local/lab.sh why [N]                             the last N denials in words (10)
#   deploy/local/lab.sh walkthrough [--json]                the workshop's checks: the command,
#                                                           the outcome expected from the controls
#                                                           in place, the outcome observed, what
#                                                           decided it (docs/workshop.md)
#   deploy/local/lab.sh secure [--list] [--json] [EDIT...]  the workshop's edits one at a time,
#                                                           the walkthrough after each
#
# Every `start` deploys a fresh lab. State (PIDs, logs, lab.json, listeners.json, the decision
# log, the hosts' config files) lives in $LAB_STATE_DIR, default deploy/local/.state/lab
# (git-ignored). The binaries come from $LAB_BIN_DIR, else `cargo build` (debug) builds them.
# moto[server]==5.2.5 lives in <repo>/.venv-moto (deploy/local/emulator.sh venv creates it).
# walkthrough and secure run the AWS CLI: $LAB_AWS_CLI, else `aws` on PATH, else
# <repo>/.venv-awscli/bin/aws (created with awscli==1.45.11 when there is none).
# Everything listens on 127.0.0.1 only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv-moto"
PY="$VENV/bin/python"
SETUP="$HERE/lab_setup.py"
EMULATOR_SETUP="$HERE/emulator_setup.py"
STATE="${LAB_STATE_DIR:-$HERE/.state/lab}"
HOSTS=(salesapp reportsengine cloud9 internet)

say() { printf 'lab: %s\n' "$*" >&2; }
die() {
    printf 'lab: ERROR: %s\n' "$*" >&2
    exit 1
}

# The directory of the binaries: $LAB_BIN_DIR, else built with cargo (debug profile).
bin_dir() {
    if [[ -n "${LAB_BIN_DIR:-}" ]]; then
        printf '%s\n' "$LAB_BIN_DIR"
        return
    fi
    local target="${CARGO_TARGET_DIR:-$REPO/target}/debug"
    say "building lab-gateway, salesapp and reportsengine (cargo build, debug)"
    (cd "$REPO" && cargo build -q -p lab-gateway -p salesapp -p reportsengine) >&2 || die "cargo build failed"
    printf '%s\n' "$target"
}

# shellcheck source=deploy/local/process.sh
source "$HERE/process.sh"

# The PID in STATE/NAME.pid if that process is alive and its command line holds PATTERN.
running_pid() { pid_from "$STATE/$1.pid" "$2"; }

stop_one() {
    local name="$1" pattern="$2" pid
    if pid="$(running_pid "$name" "$pattern")"; then
        stop_pid "$pid" || die "$name (pid $pid) does not exit"
        say "stopped $name (pid $pid)"
    fi
    rm -f "$STATE/$name.pid"
}

# The port of a host's listener (KIND: endpoint, sqs or imds) from listeners.json.
listener_port() {
    "$PY" - "$STATE/listeners.json" "$1" "$2" <<'EOF'
import json, sys
url = json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]]
print(url.rsplit(":", 1)[1])
EOF
}

cmd_status() {
    local moto gateway state port
    moto="$(running_pid moto moto_server)" || moto=""
    gateway="$(running_pid gateway lab-gateway)" || gateway=""
    if [[ -z "$moto" && -z "$gateway" ]]; then
        echo "not running"
        return 3
    fi
    if [[ -z "$moto" || -z "$gateway" || ! -f "$STATE/listeners.json" ]]; then
        echo "broken: emulator ${moto:-down}, gateway ${gateway:-down} (logs: $STATE/moto.log, $STATE/gateway.log); run: $0 stop"
        return 3
    fi
    port="$(listener_port internet endpoint)"
    if ! "$PY" "$EMULATOR_SETUP" wait --port "$port" --timeout 3 2>/dev/null; then
        echo "running but not answering: gateway pid $gateway (log: $STATE/gateway.log)"
        return 1
    fi
    state="$(cat "$STATE/lab.state" 2>/dev/null || echo '?')"
    echo "running ($state): emulator pid $moto, gateway pid $gateway, state $STATE"
    "$PY" - "$STATE/listeners.json" <<'EOF'
import json, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `lab.sh status | head` is fine
for host, urls in json.load(open(sys.argv[1])).items():
    extra = f", instance metadata {urls['imds']}" if urls.get("imds") else ""
    print(f"  {host:<14} {urls['endpoint']}  (SQS {urls['sqs']}{extra})")
EOF
}

cmd_stop() {
    mkdir -p "$STATE"
    stop_one gateway lab-gateway
    stop_one moto moto_server
}

cmd_start() {
    local state=secured
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --state)
            [[ $# -ge 2 ]] || die "--state needs a value: secured or starting"
            state="$2"
            shift 2
            ;;
        --state=*)
            state="${1#--state=}"
            shift
            ;;
        *) die "start: unknown argument $1 (usage: $0 start [--state secured|starting])" ;;
        esac
    done
    [[ "$state" == secured || "$state" == starting ]] || die "--state $state: secured or starting"
    if cmd_status >/dev/null 2>&1; then
        local running
        running="$(cat "$STATE/lab.state" 2>/dev/null || echo '?')"
        [[ "$running" == "$state" ]] || die "the lab runs in the $running state: $0 stop first"
        say "already running ($state)"
        cmd_status
        return 0
    fi
    cmd_stop 2>/dev/null
    # A fresh lab every time: nothing of an earlier one (its policies, its decisions) remains.
    rm -rf "$STATE"
    mkdir -p "$STATE"
    chmod 700 "$STATE"

    "$HERE/emulator.sh" venv >/dev/null || die "the emulator's venv could not be made"
    local bin
    bin="$(bin_dir)"
    [[ -x "$bin/lab-gateway" && -x "$bin/salesapp" && -x "$bin/reportsengine" ]] ||
        die "lab-gateway, salesapp or reportsengine not in $bin"
    printf '%s\n' "$bin" >"$STATE/bin-dir"

    local port pid attempt
    for attempt in 1 2 3; do
        port="$("$PY" "$EMULATOR_SETUP" free-port)"
        say "starting the emulator (moto_server) on 127.0.0.1:$port"
        nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STATE/moto.log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$STATE/moto.pid"
        if "$PY" "$EMULATOR_SETUP" wait --port "$port" --pid "$pid" --timeout 30; then
            break
        fi
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$STATE/moto.pid"
        [[ $attempt -lt 3 ]] || die "moto_server did not start (log: $STATE/moto.log)"
    done

    say "deploying vpce-lab.yaml (LabState=$state), the administrator and the instance roles' sessions"
    if ! "$PY" "$SETUP" deploy --port "$port" --state "$state" --dir "$STATE"; then
        cmd_stop
        die "deploying the lab failed (emulator log: $STATE/moto.log)"
    fi

    say "starting the gateway"
    nohup "$bin/lab-gateway" serve --lab "$STATE/lab.json" --state-dir "$STATE" \
        >"$STATE/gateway.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$STATE/gateway.pid"
    for _ in $(seq 300); do
        [[ -f "$STATE/listeners.json" ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ ! -f "$STATE/listeners.json" ]]; then
        tail -n 20 "$STATE/gateway.log" >&2 || true
        cmd_stop
        die "the gateway did not start (log: $STATE/gateway.log)"
    fi

    # Each instance host's config.toml: `salesapp configure` from the stack's outputs, the
    # host's own listeners and spool chosen with configure's --set flags.
    "$PY" "$SETUP" configure-hosts --dir "$STATE" --salesapp "$bin/salesapp" ||
        { cmd_stop; die "writing the hosts' configurations failed"; }
    echo "$state" >"$STATE/lab.state"
    say "the lab runs ($state)"
    cmd_status
    say "next: eval \"\$($0 env cloud9)\"   (or salesapp, reportsengine, internet); $0 why"
}

cmd_env() {
    [[ $# -eq 1 ]] || die "usage: $0 env --json | $0 env HOST (one of ${HOSTS[*]})"
    cmd_status >/dev/null 2>&1 || { echo "lab: not running ($0 start)" >&2; exit 3; }
    if [[ "$1" == --json ]]; then
        "$PY" "$SETUP" env --dir "$STATE" --json
    else
        "$PY" "$SETUP" env --dir "$STATE" --host "$1"
    fi
}

# The AWS CLI the workshop's commands run with (see the header).
aws_cli() {
    if [[ -n "${LAB_AWS_CLI:-}" ]]; then
        printf '%s\n' "$LAB_AWS_CLI"
    elif command -v aws >/dev/null; then
        command -v aws
    else
        local venv="$REPO/.venv-awscli"
        if [[ ! -x "$venv/bin/aws" ]]; then
            say "no AWS CLI: installing awscli==1.45.11 into $venv (one-time)"
            if ! { python3 -m venv "$venv" >&2 &&
                "$venv/bin/pip" install --disable-pip-version-check -q 'awscli==1.45.11' >&2; }; then
                die "could not install the AWS CLI (pip install awscli, or set LAB_AWS_CLI)"
            fi
        fi
        printf '%s\n' "$venv/bin/aws"
    fi
}

# walkthrough and secure: the gateway's binary runs them against this lab's state.
cmd_workshop() {
    local sub="$1" bin aws
    shift
    cmd_status >/dev/null 2>&1 || { echo "lab: not running ($0 start)" >&2; exit 3; }
    bin="$(cat "$STATE/bin-dir" 2>/dev/null || true)"
    [[ -x "$bin/lab-gateway" ]] || bin="$(bin_dir)"
    aws="$(aws_cli)"
    "$bin/lab-gateway" "$sub" --state-dir "$STATE" --aws "$aws" "$@"
}

cmd_why() {
    local n="${1:-10}" bin
    [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || die "why N: N is a number of denials, at least 1"
    [[ -f "$STATE/decisions.jsonl" ]] || die "no decision log in $STATE (is the lab started?)"
    bin="$(cat "$STATE/bin-dir" 2>/dev/null || true)"
    [[ -x "$bin/lab-gateway" ]] || bin="$(bin_dir)"
    "$bin/lab-gateway" why --log "$STATE/decisions.jsonl" "$n"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env "$@" ;;
why) cmd_why "$@" ;;
walkthrough | secure) cmd_workshop "$cmd" "$@" ;;
*)
    echo "usage: $0 start [--state secured|starting] | stop | status | env --json | env HOST | why [N] | walkthrough [--json] | secure [--list] [--json] [EDIT...]" >&2
    exit 64
    ;;
esac
