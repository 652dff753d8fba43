#!/usr/bin/env bash
# The newcomer's demo, end to end on this machine, against the local emulator:
#
#   deploy/local/demo.sh
#
# builds the binaries (debug), starts the emulator (moto on 127.0.0.1; stopped again on exit
# if this script started it), generates a day of sales, uploads it with salesapp, builds the
# report with `reportsengine once`, downloads the report into
# deploy/local/.state/reports/2026-01-15/ and prints its headline numbers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO="$PWD"
HERE="$REPO/deploy/local"
STATE="$HERE/.state"
DATE=2026-01-15
ROWS=5000
SEED=42
TARGET="${CARGO_TARGET_DIR:-$REPO/target}/debug"
SALESAPP="$TARGET/salesapp"
REPORTSENGINE="$TARGET/reportsengine"
STEP=0
CURRENT="setup"
STARTED_EMULATOR=0

step() {
    STEP=$((STEP + 1))
    CURRENT="$1"
    printf '\n\033[1m[%d] %s\033[0m\n' "$STEP" "$1"
}

on_exit() {
    local rc=$?
    if [[ $STARTED_EMULATOR -eq 1 ]]; then
        printf '\n[*] stopping the emulator\n'
        "$HERE/emulator.sh" stop || true
    fi
    if [[ $rc -ne 0 ]]; then
        printf '\n\033[1;31mDEMO FAILED at step %d (%s), exit %d.\033[0m\n' "$STEP" "$CURRENT" "$rc" >&2
        printf 'Emulator log: %s\n' "$STATE/moto.log" >&2
    fi
}
trap on_exit EXIT

step "build the binaries: cargo build -p salesapp -p reportsengine (debug profile)"
# The emulator's venv (a pip install, mostly waiting on the network) is made meanwhile.
mkdir -p "$STATE"
"$HERE/emulator.sh" venv >"$STATE/venv.log" 2>&1 &
VENV_PID=$!
cargo build -p salesapp -p reportsengine
wait "$VENV_PID" || {
    cat "$STATE/venv.log" >&2
    exit 1
}
[[ -x "$SALESAPP" && -x "$REPORTSENGINE" ]] || {
    echo "binaries not found in $TARGET" >&2
    exit 1
}

step "start the local emulator (moto_server on 127.0.0.1)"
if "$HERE/emulator.sh" status >/dev/null 2>&1; then
    echo "already running; using it (and leaving it running)"
else
    STARTED_EMULATOR=1
    "$HERE/emulator.sh" start
fi
eval "$("$HERE/emulator.sh" env)"
PORT="$(cat "$STATE/moto.port")"
echo "config: $VPCE_LAB_CONFIG"

SALES="$STATE/sales-$DATE.csv"
step "generate $ROWS rows of sales for $DATE: salesapp generate"
"$SALESAPP" generate --date "$DATE" --rows "$ROWS" --seed "$SEED" -o "$SALES"
printf '%s: %s bytes, first lines:\n' "$SALES" "$(wc -c <"$SALES")"
head -n 3 "$SALES"

step "upload it: salesapp upload (S3 sales/$DATE/sales.csv, ledger, SQS message)"
"$SALESAPP" upload "$SALES"

step "build the report: reportsengine once (until the queue is empty)"
"$REPORTSENGINE" once

REPORTS="$STATE/reports/$DATE"
step "download the report from s3://local-restrictedbucket/reports/$DATE/"
rm -rf "$REPORTS"
"$REPO/.venv-moto/bin/python" "$HERE/emulator_setup.py" download --port "$PORT" \
    --bucket local-restrictedbucket --prefix "reports/$DATE/" --dest "$REPORTS"
for f in report.csv report.json report.html; do
    [[ -s "$REPORTS/$f" ]] || {
        echo "missing or empty: $REPORTS/$f" >&2
        exit 1
    }
done

step "headline numbers (from report.json)"
"$REPO/.venv-moto/bin/python" "$HERE/emulator_setup.py" headline "$REPORTS/report.json"
printf '\nThe report is in %s/ :\n' "$REPORTS"
ls -l "$REPORTS"
printf 'Open %s/report.html in a browser.\n' "$REPORTS"
CURRENT="done"
printf '\n\033[1;32mDEMO OK\033[0m\n'
