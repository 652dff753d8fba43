#!/usr/bin/env bash
# What the lab's gateway costs, measured against the emulator alone, in one run:
#
#   bench/lab.sh            ≈ 1 min: 300 rounds of single calls, 5 pipeline days each way
#   BENCH_LAB_N=100 BENCH_LAB_DAYS=3 bench/lab.sh     a quicker run
#
# It starts a secured lab of its own (deploy/local/lab.sh, in a temporary LAB_STATE_DIR;
# stopped on exit), then
#  1. bench/lab_requests.py: the same boto3 calls straight to the lab's emulator and through
#     the salesapp host's gateway listeners, alternating; median ms per call and the ratio;
#  2. the daemons' pipeline for one day (`salesapp upload` of BENCH_LAB_ROWS rows, then
#     `reportsengine once`), with salesapp's configuration as the lab wrote it (the gateway)
#     and the same configuration pointed straight at the emulator; median seconds, ratio.
# The binaries are the debug builds the lab and the tests use (cargo build). Everything talks
# to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
N="${BENCH_LAB_N:-300}"
DAYS="${BENCH_LAB_DAYS:-5}"
ROWS="${BENCH_LAB_ROWS:-20000}"
PY="$REPO/.venv-moto/bin/python"
WORK="$(mktemp -d)"
export LAB_STATE_DIR="$WORK/state"
export LAB_BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/debug"

cleanup() {
    deploy/local/lab.sh stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build -q -p lab-gateway -p salesapp -p reportsengine
deploy/local/lab.sh start >/dev/null

printf '\n== single calls: boto3 straight to the emulator vs through the gateway\n'
"$PY" bench/lab_requests.py --state-dir "$LAB_STATE_DIR" --n "$N"

printf '\n== the pipeline for one day (%s rows): salesapp upload + reportsengine once\n' "$ROWS"
EMULATOR="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["emulator"])' "$LAB_STATE_DIR/lab.json")"
IMDS_S="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["salesapp"]["imds"])' "$LAB_STATE_DIR/listeners.json")"
IMDS_R="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["reportsengine"]["imds"])' "$LAB_STATE_DIR/listeners.json")"
GATEWAY_S="$LAB_STATE_DIR/hosts/salesapp/config.toml"
GATEWAY_R="$LAB_STATE_DIR/hosts/reportsengine/config.toml"
DIRECT="$WORK/direct.toml"
sed -E "s#^(s3|sqs) = \"http://127.0.0.1:[0-9]+\"#\\1 = \"$EMULATOR\"#" "$GATEWAY_S" >"$DIRECT"
grep -q "^s3 = \"$EMULATOR\"" "$DIRECT" || { echo "bench: could not point the config at the emulator" >&2; exit 1; }

# One day through `config`s (salesapp's, reportsengine's) with the hosts' instance roles.
day() {
    local config_s="$1" config_r="$2" date="$3" file="$WORK/$3.csv"
    "$LAB_BIN_DIR/salesapp" generate --date "$date" --rows "$ROWS" --seed 1 -o "$file" >/dev/null
    local start end
    start="$(date +%s.%N)"
    env -i PATH="$PATH" HOME="$WORK" HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1 \
        AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_S" "$LAB_BIN_DIR/salesapp" --config "$config_s" \
        upload "$file" >/dev/null 2>&1
    env -i PATH="$PATH" HOME="$WORK" HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1 \
        AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_R" VPCE_LAB_REPORTSENGINE_WAIT_TIME=0s \
        "$LAB_BIN_DIR/reportsengine" --config "$config_r" once >/dev/null 2>&1
    end="$(date +%s.%N)"
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
: >"$WORK/direct.times"
: >"$WORK/gateway.times"
for i in $(seq "$DAYS"); do
    # Alternate which goes first; every run is a new day (the ledger grows the same way).
    if ((i % 2)); then
        day "$DIRECT" "$DIRECT" "2026-08-$(printf %02d "$((2 * i - 1))")" >>"$WORK/direct.times"
        day "$GATEWAY_S" "$GATEWAY_R" "2026-08-$(printf %02d "$((2 * i))")" >>"$WORK/gateway.times"
    else
        day "$GATEWAY_S" "$GATEWAY_R" "2026-08-$(printf %02d "$((2 * i - 1))")" >>"$WORK/gateway.times"
        day "$DIRECT" "$DIRECT" "2026-08-$(printf %02d "$((2 * i))")" >>"$WORK/direct.times"
    fi
done
direct="$(median <"$WORK/direct.times")"
gateway="$(median <"$WORK/gateway.times")"
printf '%-32s %10s %11s %7s   (median of %s days)\n' "pipeline" "direct s" "gateway s" "ratio" "$DAYS"
awk -v d="$direct" -v g="$gateway" 'BEGIN { printf "%-32s %10.2f %11.2f %6.2fx\n", "upload + once", d, g, g / d }'
