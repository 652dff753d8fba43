#!/usr/bin/env bash
# The idle cost of both daemons with and without [metrics]: resident memory (VmRSS) after
# 30 s and CPU time (utime + stime from /proc/PID/stat) over the next BENCH_IDLE_SECS (60),
# for `reportsengine run` and `salesapp watch`, each
#   off      no [metrics]
#   listen   metrics.listen on 127.0.0.1, never scraped
#   scraped  metrics.listen scraped every 15 s (as Prometheus would) and a textfile
#            rewritten every 15 s
# All six run at once against one moto_server on 127.0.0.1 (started here, stopped by PID);
# the queue and the spools stay empty, so every daemon is idle.
#
#   bench/idle.sh                    release binaries (built here; CARGO_TARGET_DIR honoured)
#   BENCH_IDLE_SECS=60 bench/idle.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
IDLE_SECS="${BENCH_IDLE_SECS:-60}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}/release"
PY="$REPO/.venv-moto/bin/python"
SETUP="$REPO/deploy/local/emulator_setup.py"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vpce-idle.XXXXXX")"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q -p salesapp -p reportsengine
deploy/local/emulator.sh venv >/dev/null
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS VPCE_LAB_CONFIG

port="$("$PY" "$SETUP" free-port)"
"$REPO/.venv-moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 </dev/null &
PIDS+=("$!")
"$PY" "$SETUP" wait --port "$port" --pid "${PIDS[0]}" --timeout 30
queue_url="$("$PY" "$SETUP" provision --port "$port" --bucket idle-bucket --queue idle-queue)"
cat >"$WORK/config.toml" <<EOF
region = "us-east-1"
bucket = "idle-bucket"
queue_url = "$queue_url"
[endpoints]
s3 = "http://127.0.0.1:$port"
sqs = "http://127.0.0.1:$port"
force_path_style = true
[salesapp]
spool_dir = "$WORK/spool"
EOF

# start NAME VARIANT: one daemon in the background; prints "NAME VARIANT PID METRICS_PORT".
start() {
    local name="$1" variant="$2" metrics_port="-" sets=()
    if [[ "$variant" != off ]]; then
        metrics_port="$("$PY" "$SETUP" free-port)"
        sets+=(--set "metrics.listen=127.0.0.1:$metrics_port")
    fi
    if [[ "$variant" == scraped ]]; then
        sets+=(--set "metrics.textfile=$WORK/$name.prom" --set metrics.textfile_interval=15s)
    fi
    local cmd=("$TARGET/$name" --config "$WORK/config.toml" --set "salesapp.spool_dir=$WORK/spool-$variant")
    cmd+=("${sets[@]}")
    case "$name" in
        reportsengine) cmd+=(run) ;;
        salesapp) cmd+=(watch) ;;
    esac
    "${cmd[@]}" >"$WORK/$name-$variant.log" 2>&1 </dev/null &
    echo "$name $variant $! $metrics_port"
}

# scrape PORT: one GET /metrics, the way Prometheus asks (bash's /dev/tcp: loopback only).
scrape() {
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    grep -c '^build_info{' <&3 >>"$WORK/scrapes" || true
    exec 3<&-
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

RUNS=()
for name in reportsengine salesapp; do
    for variant in off listen scraped; do
        RUNS+=("$(start "$name" "$variant")")
    done
done
for run in "${RUNS[@]}"; do
    read -r _ _ pid _ <<<"$run"
    PIDS+=("$pid")
done

# Prometheus's default scrape interval, for the "scraped" daemons, for the whole window.
(
    while sleep 15; do
        for run in "${RUNS[@]}"; do
            read -r _ variant _ mport <<<"$run"
            if [[ "$variant" == scraped ]]; then
                scrape "$mport" || true
            fi
        done
    done
) &
PIDS+=("$!")

sleep 30
declare -A RSS T0
for run in "${RUNS[@]}"; do
    read -r _ _ pid _ <<<"$run"
    kill -0 "$pid" 2>/dev/null || { cat "$WORK"/*.log >&2; echo "idle: a daemon exited" >&2; exit 1; }
    RSS[$pid]="$(status_kib "$pid" VmRSS)"
    T0[$pid]="$(cpu_ticks "$pid")"
done
sleep "$IDLE_SECS"
hz="$(getconf CLK_TCK)"
printf '| daemon | metrics | VmRSS after 30 s | VmHWM (peak) | CPU over %s s idle |\n|---|---|---|---|---|\n' "$IDLE_SECS"
for run in "${RUNS[@]}"; do
    read -r name variant pid _ <<<"$run"
    t1="$(cpu_ticks "$pid")"
    awk -v n="$name" -v v="$variant" -v r="${RSS[$pid]}" -v h="$(status_kib "$pid" VmHWM)" \
        -v a="${T0[$pid]}" -v b="$t1" -v hz="$hz" -v s="$IDLE_SECS" 'BEGIN {
        printf "| %s | %s | %.1f MiB | %.1f MiB | %.0f ms (%.3f %%) |\n",
            n, v, r / 1024, h / 1024, (b - a) * 1000 / hz, (b - a) * 100 / hz / s }'
done
printf '\n%s scrapes answered with build_info; textfiles: %s\n' \
    "$(grep -c '^1$' "$WORK/scrapes" 2>/dev/null || echo 0)" "$(cd "$WORK" && echo *.prom)"
