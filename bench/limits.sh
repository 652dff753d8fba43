#!/usr/bin/env bash
# Peak memory against hostile files: does a file with a huge number of distinct names still
# run in bounded memory? Generates valid sales files that differ in how many distinct
# `sales_rep` values they hold, and prints the peak RSS of `salesapp upload --dry-run` and
# `reportsengine build` on each, against an ordinary day (5 000 reps) measured in the same
# run as the baseline:
#
#   bench/limits.sh                      the table below (≈ 1 min after the release build)
#   LIMITS_BEFORE=DIR bench/limits.sh    also `reportsengine build` of the binaries in DIR
#                                        (e.g. an older release), for a before/after
#
# | file                 | rows      | distinct reps | size   | expected                      |
# | baseline             | 1 000 000 | 5 000         | ~44 MB | valid                         |
# | at the limit         | 1 000 000 | 100 000       | ~44 MB | valid (limits.max_reps)       |
# | 300k reps            |   300 000 | 300 000       | ~13 MB | refused (exit 65), bounded    |
# | 1M reps              | 1 000 000 | 1 000 000     | ~44 MB | refused (exit 65), bounded    |
#
# Then the same day's `reportsengine build` against two ledgers (a year of 5 000 reps; 10 M
# rows), for what a long history costs.
#
# Nothing here talks to the network: `upload --dry-run` builds no AWS client. Release
# builds (cargo build --release); CARGO_TARGET_DIR is honoured. Peak memory is
# /usr/bin/time's "maximum resident set size". Files and reports go to $BENCH_OUT/limits
# (bench/out/limits).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
OUT="${BENCH_OUT:-$REPO/bench/out}/limits"
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release"
mkdir -p "$OUT"

[[ -x /usr/bin/time ]] || { echo "limits.sh: /usr/bin/time missing: apt-get install time" >&2; exit 1; }
echo "== release build" >&2
cargo build --release -q -p salesapp -p reportsengine --bins

# A configuration with nothing but the required keys: every limit at its default.
cat >"$OUT/config.toml" <<'EOF'
bucket = "bench-restrictedbucket"
queue_url = "http://127.0.0.1:1/123456789012/bench"
EOF
unset VPCE_LAB_CONFIG
for v in $(env | grep -o '^VPCE_LAB_[A-Z_]*' || true); do unset "$v"; done

# gen FILE ROWS REPS: a valid day, 2026-01-15, `ROWS` rows, the reps R0000000… taken in
# turn (so `REPS` distinct), 7 regions, 500 products, ~44 bytes a row.
gen() {
    local file=$1 rows=$2 reps=$3
    [[ -s "$file" ]] && return
    awk -v rows="$rows" -v reps="$reps" 'BEGIN {
        print "date,order_id,sales_rep,region,product,quantity,unit_price"
        for (i = 1; i <= rows; i++)
            printf "2026-01-15,%d,R%07d,N%d,P%d,%d,%d.%02d\n",
                i, i % reps, i % 7, i % 500, 1 + i % 9, 1 + i % 300, i % 100
    }' >"$file.partial"
    mv "$file.partial" "$file"
}

echo "== generating the files in $OUT" >&2
gen "$OUT/baseline.csv" 1000000 5000
gen "$OUT/at-limit.csv" 1000000 100000
gen "$OUT/reps-300k.csv" 300000 300000
gen "$OUT/reps-1m.csv" 1000000 1000000

# measure LABEL COMMAND…: runs it under /usr/bin/time; prints "exit rss_kib seconds".
measure() {
    local label=$1
    shift
    local stats="$OUT/$label.time"
    /usr/bin/time -o "$stats" -f '%x %M %e' "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" || true
    tail -1 "$stats"
}

printf '\n%-14s %-26s %6s %10s %8s %12s  %s\n' file command exit "peak RSS" seconds "× baseline" outcome
declare -A BASE
for file in baseline at-limit reps-300k reps-1m; do
    csv="$OUT/$file.csv"
    size=$(du -m "$csv" | cut -f1)
    for cmd in upload build before; do
        case $cmd in
        upload) run=("$BIN/salesapp" --config "$OUT/config.toml" upload --dry-run "$csv") ;;
        build) run=("$BIN/reportsengine" --config "$OUT/config.toml" build "$csv" -o "$OUT/$file-report") ;;
        before)
            [[ -n "${LIMITS_BEFORE:-}" ]] || continue
            run=("$LIMITS_BEFORE/reportsengine" build "$csv" -o "$OUT/$file-report-before")
            ;;
        esac
        read -r code rss secs < <(measure "$file-$cmd" "${run[@]}")
        [[ $file == baseline ]] && BASE[$cmd]=$rss
        ratio=$(awk -v a="$rss" -v b="${BASE[$cmd]}" 'BEGIN { printf "%.2f", a / b }')
        outcome=$(grep -m1 -o 'limits\.[a-z_]*' "$OUT/$file-$cmd.err" || true)
        [[ $code == 0 ]] && outcome="valid"
        [[ $code != 0 && -z $outcome ]] && outcome=$(head -c 80 "$OUT/$file-$cmd.err")
        label="$cmd"
        [[ $cmd == upload ]] && label="salesapp upload --dry-run"
        [[ $cmd == build ]] && label="reportsengine build"
        [[ $cmd == before ]] && label="build ($LIMITS_BEFORE)"
        printf '%-14s %-26s %6s %7d MiB %8s %12s  %s (%d MB file)\n' \
            "$file" "${label:0:26}" "$code" $((rss / 1024)) "$secs" "$ratio" "$outcome" "$size"
    done
done

# The ledger grows by a day's reps every day and is read whole by both daemons, so its cost
# is what decides how long a history an instance can carry: `reportsengine build` of the
# baseline day against a ledger of a year of 5 000 reps a working day (1.2 M rows), and of
# just under 10 M rows (the parser's row bound, MAX_LEDGER_ROWS).
# ledger FILE DAYS REPS: DAYS days of 2025 (working days, 20 a month), REPS reps each.
ledger() {
    local file=$1 days=$2 reps=$3
    [[ -s "$file" ]] && return
    awk -v days="$days" -v reps="$reps" 'BEGIN {
        print "date,sales_rep,orders,units,revenue_cents,commission_cents"
        for (d = 0; d < days; d++)
            for (r = 0; r < reps; r++)
                printf "2025-%02d-%02d,R%07d,3,9,123456,6173\n", 1 + int(d / 20) % 12, 1 + d % 20, r
    }' >"$file.partial"
    mv "$file.partial" "$file"
}
echo "== generating the ledgers in $OUT" >&2
ledger "$OUT/ledger-year.csv" 240 5000
ledger "$OUT/ledger-10m.csv" 240 41666
printf '\n%-18s %6s %10s %8s  %s\n' "ledger" exit "peak RSS" seconds "reportsengine build baseline.csv --ledger"
for l in ledger-year ledger-10m; do
    read -r code rss secs < <(measure "$l" "$BIN/reportsengine" --config "$OUT/config.toml" \
        build "$OUT/baseline.csv" --ledger "$OUT/$l.csv" -o "$OUT/$l-report")
    printf '%-18s %6s %7d MiB %8s  %d MB, %d rows\n' "$l" "$code" $((rss / 1024)) "$secs" \
        "$(du -m "$OUT/$l.csv" | cut -f1)" "$(($(wc -l <"$OUT/$l.csv") - 1))"
done

echo
for file in baseline at-limit; do
    [[ -d "$OUT/$file-report" ]] && printf 'report of %-10s %s\n' "$file:" "$(du -h "$OUT/$file-report"/report.* | tr '\n\t' '  ')"
done
