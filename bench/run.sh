#!/usr/bin/env bash
# The performance benchmarks, side by side with the peers, in one run:
#
#   bench/run.sh                 everything (≈ 30 min on 2 cores; needs ~6 GB in bench/out)
#   BENCH_SIZES="1" bench/run.sh     only the 1 GiB input for the report build
#   BENCH_QUICK=1 bench/run.sh       a smoke run: 64 MiB inputs, 1 run each, 10 s idle window
#   bench/run.sh build upload objects queue latency idle startup    any subset of the sections
#   bench/run.sh newcomer        the README's demo and test command on fresh clones (≈ 13 min;
#                                not part of the default run)
#
# Knobs: BENCH_RUNS (3: median of N runs), BENCH_SIZES (GiB, "1 4"), BENCH_IDLE_SECS (60),
# BENCH_QUEUE_DAYS (300), BENCH_HEAVY_MAX_GIB (1: largest input for the Python and full
# DuckDB baselines), BENCH_OUT (bench/out). Release builds (cargo build --release);
# CARGO_TARGET_DIR is honoured.
#
# Everything talks to 127.0.0.1 only: each section starts its own moto_server (the pinned
# one, <repo>/.venv-moto, created by deploy/local/emulator.sh venv) on a free port and stops
# it by PID; a fresh one for each large upload, since moto keeps objects in memory. Baselines
# (awscli, duckdb) live in a venv of their own, bench/.venv (git-ignored). Peak memory is
# /usr/bin/time's "maximum resident set size"; CPU times are user+sys of the process.
# The figures are printed as a table at the end and kept in bench/out/results.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
OUT="${BENCH_OUT:-$REPO/bench/out}"
RUNS="${BENCH_RUNS:-3}"
SIZES="${BENCH_SIZES:-1 4}"
IDLE_SECS="${BENCH_IDLE_SECS:-60}"
QUEUE_DAYS="${BENCH_QUEUE_DAYS:-300}"
ROWS_PER_GIB=11880000 # generated rows are ~90.4 bytes: this many make ~1 GiB
if [[ -n "${BENCH_QUICK:-}" ]]; then
    RUNS=1 SIZES="0.0625" IDLE_SECS=10 QUEUE_DAYS=60
fi
SECTIONS="${*:-build upload objects queue latency idle startup}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}/release"
VENV="$REPO/bench/.venv"
MOTO="$REPO/.venv-moto/bin/moto_server"
SETUP="$REPO/deploy/local/emulator_setup.py"
RESULTS="$OUT/results.md"
mkdir -p "$OUT/data" "$OUT/logs"

say() { printf '\n== %s\n' "$*" >&2; }
die() {
    printf 'bench: ERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- setup
setup() {
    say "release build"
    cargo build --release -q -p salesapp -p reportsengine -p perfkit --bins
    [[ -x /usr/bin/time ]] || die "/usr/bin/time missing: apt-get install time"
    deploy/local/emulator.sh venv >/dev/null
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "bench venv (awscli, duckdb) in $VENV"
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -c 'import duckdb, awscli, awscrt, boto3' 2>/dev/null ||
        "$VENV/bin/pip" install -q --disable-pip-version-check duckdb awscli boto3 awscrt ||
        echo "bench: could not install duckdb/awscli/boto3+awscrt; those baselines are skipped" >&2
    command -v rclone >/dev/null || apt-get install -y -qq rclone >/dev/null 2>&1 ||
        echo "bench: no rclone (apt-get install rclone); that baseline is skipped" >&2
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS VPCE_LAB_CONFIG
    # Every endpoint here is plain http on loopback, so no CA bundle is needed; with one set
    # (some images export AWS_CA_BUNDLE) rclone 1.60 refuses to start.
    unset AWS_CA_BUNDLE
    printf '# Benchmark results\n\n%s, %s cores (%s), %s\n\n| figure | ours | baseline | ratio |\n|---|---|---|---|\n' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
        "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" >"$RESULTS"
}

# A result line: figure, ours, baseline, ratio (printed now and kept for the table).
row() {
    printf '| %s | %s | %s | %s |\n' "$@" >>"$RESULTS"
    printf '  %-52s ours %-26s baseline %-26s %s\n' "$@"
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b+0 == 0) print "n/a"; else printf "%.2f×", a/b }'; }
# speed BASELINE_SECONDS OURS_SECONDS: "ours N× faster" (or slower)
speed() {
    awk -v b="$1" -v o="$2" 'BEGIN {
        if (b+0 == 0 || o+0 == 0) print "n/a (too short to time)";
        else if (b >= o) printf "ours %.2f× faster", b/o; else printf "ours %.2f× slower", o/b }'
}

# timed NAME CMD…: runs CMD under /usr/bin/time; appends "wall user sys maxrss_kib" to
# $OUT/logs/NAME.times, CMD's output to $OUT/logs/NAME.log.
timed() {
    local name="$1"
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/logs/$name.time1" "$@" >>"$OUT/logs/$name.log" 2>&1 ||
        { tail -n 20 "$OUT/logs/$name.log" >&2; die "$name failed: $*"; }
    cat "$OUT/logs/$name.time1" >>"$OUT/logs/$name.times"
}
# med NAME COLUMN: median of a column of NAME.times (1 wall, 2 user, 3 sys, 4 rss KiB, 5 cpu)
med() { awk -v c="$2" '{ if (c == 5) print $2 + $3; else print $c }' "$OUT/logs/$1.times" | median; }

# ---------------------------------------------------------------- emulator
EMU_PID=""
EMU_PORT=""
CONFIG="$OUT/config.toml"
emulator_start() {
    local py="$REPO/.venv-moto/bin/python"
    EMU_PORT="$("$py" "$SETUP" free-port)"
    "$MOTO" -H 127.0.0.1 -p "$EMU_PORT" >"$OUT/logs/moto.log" 2>&1 </dev/null &
    EMU_PID=$!
    "$py" "$SETUP" wait --port "$EMU_PORT" --pid "$EMU_PID" --timeout 30 || die "moto did not start"
    QUEUE_URL="$("$py" "$SETUP" provision --port "$EMU_PORT" --bucket bench-bucket --queue bench-queue)"
    local queue_url="$QUEUE_URL"
    cat >"$CONFIG" <<EOF
region = "us-east-1"
bucket = "bench-bucket"
queue_url = "$queue_url"
[endpoints]
s3 = "http://127.0.0.1:$EMU_PORT"
sqs = "http://127.0.0.1:$EMU_PORT"
force_path_style = true
require_private_sqs = true
[compensation]
commission_bps = 500
[salesapp]
spool_dir = "$OUT/spool"
[reportsengine]
concurrency = 8
wait_time = "20s"
visibility_timeout = "120s"
shutdown_grace = "10s"
max_object_size = "10GiB"
EOF
}
emulator_stop() {
    [[ -n "$EMU_PID" ]] || return 0
    kill -TERM "$EMU_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do
        kill -0 "$EMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$EMU_PID" 2>/dev/null || true
    wait "$EMU_PID" 2>/dev/null || true
    EMU_PID=""
}
DAEMON_PID=""
PROXY_PID=""
cleanup() {
    [[ -z "$DAEMON_PID" ]] || { kill -TERM "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; }
    [[ -z "$PROXY_PID" ]] || { kill -TERM "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }
    s3s_stop
    emulator_stop
}
# send_message BODY: onto the emulator's queue, with the AWS CLI (another client).
send_message() {
    "$VENV/bin/aws" --endpoint-url "http://127.0.0.1:$EMU_PORT" sqs send-message \
        --queue-url "$QUEUE_URL" --message-body "$1" >/dev/null
}
trap cleanup EXIT

# ---------------------------------------------------------------- data
data_file() { # GiB → path (generated once, kept)
    local gib="$1" rows path
    rows="$(awk -v g="$gib" -v r="$ROWS_PER_GIB" 'BEGIN { printf "%d", g * r }')"
    path="$OUT/data/sales-${gib}g.csv"
    if [[ ! -s "$path" ]]; then
        say "generating $path ($rows rows)"
        "$TARGET/salesapp" generate --date 2026-01-15 --rows "$rows" --seed 1 -o "$path" >/dev/null
    fi
    printf '%s\n' "$path"
}
# The slow or memory-hungry baselines (full DuckDB, Python) run only up to this size.
heavy_ok() { awk -v g="$1" -v m="${BENCH_HEAVY_MAX_GIB:-1}" 'BEGIN { exit !(g <= m) }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s+0 == 0) print "inf"; else printf "%.0f", b / s / 1e6 }'; }

# ---------------------------------------------------------------- 1. report build
section_build() {
    local gib file bytes rows name
    for gib in $SIZES; do
        file="$(data_file "$gib")"
        bytes="$(stat -c %s "$file")"
        rows="$(awk -v g="$gib" -v r="$ROWS_PER_GIB" 'BEGIN { printf "%d", g * r }')"
        say "report build on ${gib} GiB ($bytes bytes, $rows rows), median of $RUNS"
        cat "$file" >/dev/null # into the page cache
        rm -f "$OUT"/logs/build-"$gib"-*.times
        for _ in $(seq "$RUNS"); do
            timed "build-$gib-wc" wc -l "$file"
            timed "build-$gib-ours" "$TARGET/reportsengine" build "$file" -o "$OUT/report-$gib"
            # The same confined to one core (the lab's t2.micro has one vCPU): no reader thread.
            # And what that time is made of, and a floor: SHA-256 alone (OpenSSL, with and
            # without the SHA extensions, which the t2.micro's Xeon lacks), our validation
            # without the SHA-256, and a program that computes the numbers with no checks at
            # all, without and with the SHA-256.
            if command -v taskset >/dev/null; then
                timed "build-$gib-ours-1core" taskset -c 0 "$TARGET/reportsengine" build "$file" -o "$OUT/report-$gib"
                timed "build-$gib-nohash-1core" taskset -c 0 "$TARGET/perfkit" no-hash "$file"
                timed "build-$gib-bare-1core" taskset -c 0 "$TARGET/perfkit" bare-numbers "$file"
                timed "build-$gib-baresha-1core" taskset -c 0 "$TARGET/perfkit" bare-numbers "$file" --sha256
                if command -v openssl >/dev/null; then
                    timed "build-$gib-sha-1core" taskset -c 0 openssl dgst -sha256 "$file"
                    OPENSSL_ia32cap=":~0x20000000" \
                        timed "build-$gib-sha-nosha-1core" taskset -c 0 openssl dgst -sha256 "$file"
                fi
            fi
            timed "build-$gib-csv" "$TARGET/perfkit" csv-baseline "$file"
            timed "build-$gib-csv-lean" "$TARGET/perfkit" csv-baseline "$file" --lean
            if "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
                timed "build-$gib-duckdb-lean" "$VENV/bin/python" bench/duckdb_baseline.py "$file" --lean
                # The full DuckDB run holds the table in memory (~2.5 GiB per GiB of CSV).
                if heavy_ok "$gib"; then
                    timed "build-$gib-duckdb" "$VENV/bin/python" bench/duckdb_baseline.py "$file"
                fi
            fi
        done
        # Python's csv module is ~20 times slower: one run each, and not on the largest input.
        if heavy_ok "$gib"; then
            timed "build-$gib-python" python3 bench/python_baseline.py "$file"
            timed "build-$gib-python-lean" python3 bench/python_baseline.py "$file" --lean
        fi
        local ours_w ours_c ours_rss budget
        ours_w="$(med "build-$gib-ours" 1)"
        ours_c="$(med "build-$gib-ours" 5)"
        ours_rss="$(med "build-$gib-ours" 4)"
        budget=$(((32 << 10) + rows * 8 / 1024))
        row "build ${gib} GiB: MB/s (wall)" "$(mbps "$bytes" "$ours_w") MB/s" "" ""
        row "build ${gib} GiB: MB/s per CPU-second (user+sys)" "$(mbps "$bytes" "$ours_c") MB/s" "" ""
        if [[ -s "$OUT/logs/build-$gib-ours-1core.times" ]]; then
            local one_w part what
            one_w="$(med "build-$gib-ours-1core" 1)"
            row "build ${gib} GiB on one core (taskset -c 0): MB/s (wall)" "$(mbps "$bytes" "$one_w") MB/s" "1 GB/s = $(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }')s" "$(speed "$(awk -v b="$bytes" 'BEGIN { print b / 1e9 }')" "$one_w") than 1 GB/s"
            for part in nohash:"our checks and numbers, no SHA-256" bare:"bare numbers, no checks (floor)" \
                baresha:"bare numbers + SHA-256 (floor of the target)" sha:"SHA-256 alone (openssl, SHA-NI)" \
                sha-nosha:"SHA-256 alone, no SHA extensions (t2.micro)"; do
                what="${part#*:}"
                part="${part%%:*}"
                [[ -s "$OUT/logs/build-$gib-$part-1core.times" ]] || continue
                local w
                w="$(med "build-$gib-$part-1core" 1)"
                row "build ${gib} GiB one core, part: $what" "${one_w}s all" "${w}s ($(mbps "$bytes" "$w") MB/s)" "$(ratio "$w" "$one_w") of ours"
            done
        fi
        row "build ${gib} GiB: peak RSS (budget 32 MiB + 8 B/row)" "$((ours_rss / 1024)) MiB" "budget $((budget / 1024)) MiB" "$(ratio "$ours_rss" "$budget") of budget"
        for name in wc csv csv-lean duckdb duckdb-lean python python-lean; do
            [[ -s "$OUT/logs/build-$gib-$name.times" ]] || continue
            local w c r
            w="$(med "build-$gib-$name" 1)"
            c="$(med "build-$gib-$name" 5)"
            r="$(med "build-$gib-$name" 4)"
            local target=""
            case "$name" in csv | duckdb-lean) target=" (target ≥ 1.5×)" ;; esac
            row "build ${gib} GiB vs $name: wall$target" "${ours_w}s" "${w}s ($(mbps "$bytes" "$w") MB/s, $((r / 1024)) MiB, cpu ${c}s)" "$(speed "$w" "$ours_w")"
        done
        # openssl is one thread whatever the cores: the time to read and hash the file at all.
        if [[ -s "$OUT/logs/build-$gib-sha-1core.times" ]]; then
            local sw
            sw="$(med "build-$gib-sha-1core" 1)"
            row "build ${gib} GiB vs openssl dgst -sha256 of the file (target within 2×)" "${ours_w}s" "${sw}s ($(mbps "$bytes" "$sw") MB/s)" "$(ratio "$ours_w" "$sw") its time"
        fi
    done
}

# ---------------------------------------------------------------- 2+3. upload, engine on a big object
# The peers that are installed, for the upload sections.
upload_peers() {
    [[ -x "$VENV/bin/aws" ]] && printf 'awscli '
    "$VENV/bin/python" -c 'import awscrt, boto3' 2>/dev/null && printf 'crt '
    command -v rclone >/dev/null && printf 'rclone '
    printf 'ours\n'
}

# upload_with PEER LOG ENDPOINT FILE N: one upload of FILE by PEER to ENDPOINT, timed as LOG.
upload_with() {
    local peer="$1" log="$2" endpoint="$3" file="$4" i="$5"
    case "$peer" in
        awscli)
            timed "$log" "$VENV/bin/aws" --endpoint-url "$endpoint" \
                s3 cp --only-show-errors "$file" "s3://bench-bucket/awscli/sales-$i.csv"
            ;;
        crt)
            timed "$log" "$VENV/bin/python" bench/crt_upload.py "$file" bench-bucket \
                "crt/sales-$i.csv" "$endpoint"
            ;;
        rclone)
            RCLONE_CONFIG_EMU_TYPE=s3 RCLONE_CONFIG_EMU_PROVIDER=Other RCLONE_CONFIG_EMU_ENV_AUTH=true \
                RCLONE_CONFIG_EMU_ENDPOINT="$endpoint" RCLONE_CONFIG_EMU_REGION=us-east-1 \
                timed "$log" rclone copyto --config /dev/null "$file" "emu:bench-bucket/rclone/sales-$i.csv"
            ;;
        ours) timed "$log" "$TARGET/salesapp" --config "$CONFIG" --set "endpoints.s3=$endpoint" upload "$file" ;;
    esac
}

# upload_rows LOG_PREFIX WHERE BYTES: ours, and ours against each peer and the fastest of them.
upload_rows() {
    local prefix="$1" where="$2" bytes="$3" ow orss aw arss peer what fastest="" fastest_w=""
    ow="$(med "$prefix-ours" 1)"
    orss="$(med "$prefix-ours" 4)"
    row "upload 1 GiB$where: wall (incl. validation)" "${ow}s ($(mbps "$bytes" "$ow") MB/s)" "" ""
    row "upload 1 GiB$where: peak RSS (target < 64 MiB)" "$((orss / 1024)) MiB" "" ""
    for peer in awscli:"aws s3 cp" crt:"boto3 + CRT" rclone:rclone; do
        what="${peer#*:}"
        peer="${peer%%:*}"
        [[ -s "$OUT/logs/$prefix-$peer.times" ]] || continue
        aw="$(med "$prefix-$peer" 1)"
        arss="$(med "$prefix-$peer" 4)"
        row "upload 1 GiB$where vs $what: wall" "${ow}s" "${aw}s" "$(speed "$aw" "$ow")"
        row "upload 1 GiB$where vs $what: peak RSS" "$((orss / 1024)) MiB" "$((arss / 1024)) MiB" "$(ratio "$orss" "$arss")"
        if [[ -z "$fastest_w" ]] || awk -v a="$aw" -v b="$fastest_w" 'BEGIN { exit !(a < b) }'; then
            fastest="$what" fastest_w="$aw"
        fi
    done
    [[ -z "$fastest" ]] || row "upload 1 GiB$where vs the fastest peer ($fastest) (target ≥ 1.0×)" "${ow}s" "${fastest_w}s" "$(awk -v b="$fastest_w" -v o="$ow" 'BEGIN { printf "%.2f×", b / o }')"
}

section_upload() {
    local file bytes i peer peers
    file="$(data_file 1)"
    [[ -n "${BENCH_QUICK:-}" ]] && file="$(data_file 0.0625)"
    bytes="$(stat -c %s "$file")"
    peers="$(upload_peers)"
    say "upload of $file ($bytes bytes): $peers, a fresh emulator each, $RUNS runs"
    rm -f "$OUT"/logs/upload-*.times "$OUT"/logs/engine-once-big.times "$OUT"/logs/engine-once-big.log
    for i in $(seq "$RUNS"); do
        for peer in $peers; do
            emulator_start
            upload_with "$peer" "upload-$peer" "http://127.0.0.1:$EMU_PORT" "$file" "$i"
            if [[ $peer == ours ]]; then
                # 2. the engine on that object: report built while it streams in, over one
                # stream (moto copies the whole object for each ranged GET; ranges are
                # measured on s3s-fs).
                timed engine-once-big "$TARGET/reportsengine" --config "$CONFIG" \
                    --set reportsengine.read_connections=1 once
            fi
            emulator_stop
        done
    done
    upload_rows upload "" "$bytes"
    local ew erss pm
    ew="$(med engine-once-big 1)"
    erss="$(med engine-once-big 4)"
    pm="$(grep -o 'elapsed_ms=[0-9]*' "$OUT/logs/engine-once-big.log" | cut -d= -f2 | awk '{ print $1 / 1000 }' | median)"
    row "engine once, 1 GiB object, one stream: wall (process, incl. final 1 s poll)" "${ew}s" "" ""
    row "engine once, 1 GiB object: receive → report uploaded" "${pm}s ($(mbps "$bytes" "$pm") MB/s)" "" ""
    row "engine once, 1 GiB object: peak RSS" "$((erss / 1024)) MiB" "" ""

    # The same uploads to s3s-fs, a server far faster than moto (the one of the large-object
    # section): there the clients' own speed shows. The queue stays on moto.
    s3s_build || return 0
    say "upload of $file to s3s-fs (bench/s3s-server): $peers, a fresh store each, $RUNS runs"
    rm -f "$OUT"/logs/s3s-upload-*.times
    emulator_start
    for i in $(seq "$RUNS"); do
        for peer in $peers; do
            s3s_fresh
            upload_with "$peer" "s3s-upload-$peer" "http://127.0.0.1:$S3S_PORT" "$file" "$i"
            s3s_stop
        done
    done
    emulator_stop
    rm -rf "$OUT/s3s"
    upload_rows s3s-upload " to s3s-fs" "$bytes"
}

# ---------------------------------------------------------------- 2b. large objects, many connections
# On AWS one connection carries on the order of 100 MB/s: the engine reads a large object as
# parallel ranged GETs. A proxy (perfkit throttle) caps each connection at CAP MiB/s; the same
# object is read over one stream and in ranges, capped and not. The object is served by
# s3s-fs, a file-system S3 server (the s3s crate's store), through bench/s3s-server, built
# once into bench/.cargo-bin: moto copies the whole object under a lock for every ranged GET,
# so 1 GiB in 4 MiB ranges costs it 256 GiB of copying; and s3s-fs's own binary leaves
# Nagle's algorithm on, which costs every answer 40 ms (bench/s3s-server/src/main.rs). The
# queue stays on moto.
S3S="$REPO/bench/.cargo-bin/bin/s3s-server"
S3S_PID=""
s3s_start() { # ROOT → S3S_PORT
    S3S_PORT="$("$REPO/.venv-moto/bin/python" "$SETUP" free-port)"
    "$S3S" --port "$S3S_PORT" --access-key test --secret-key test "$1" \
        >"$OUT/logs/s3s.log" 2>&1 </dev/null &
    S3S_PID=$!
    "$REPO/.venv-moto/bin/python" "$SETUP" wait --port "$S3S_PORT" --pid "$S3S_PID" --timeout 30 ||
        die "s3s-fs did not start"
}
# s3s_build: bench/s3s-server built into bench/.cargo-bin (again when its source changed).
s3s_build() {
    [[ -x "$S3S" && ! "$REPO/bench/s3s-server/src/main.rs" -nt "$S3S" ]] && return 0
    say "building bench/s3s-server (s3s-fs) into bench/.cargo-bin (once)"
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}" \
        cargo install --quiet --locked --force --root "$REPO/bench/.cargo-bin" \
        --path "$REPO/bench/s3s-server" >/dev/null 2>&1 && return 0
    echo "bench: could not build bench/s3s-server; the sections on s3s-fs are skipped" >&2
    return 1
}
# s3s_fresh: a server on an empty store with the bench bucket, at $OUT/s3s.
s3s_fresh() {
    rm -rf "$OUT/s3s"
    mkdir -p "$OUT/s3s/bench-bucket"
    s3s_start "$OUT/s3s"
}
s3s_stop() {
    [[ -n "$S3S_PID" ]] || return 0
    kill -TERM "$S3S_PID" 2>/dev/null || true
    wait "$S3S_PID" 2>/dev/null || true
    S3S_PID=""
}
section_objects() {
    local file bytes cap="${BENCH_CAP_MIBPS:-50}" proxy_port mode path n url name
    file="$(data_file 1)"
    [[ -n "${BENCH_QUICK:-}" ]] && file="$(data_file 0.0625)"
    bytes="$(stat -c %s "$file")"
    s3s_build || return 0
    say "large object ($bytes bytes) on s3s-fs: one stream vs ranged GETs, each connection capped at $cap MiB/s and not, $RUNS runs"
    rm -f "$OUT"/logs/objects-*.times "$OUT"/logs/objects-*.log "$OUT"/logs/objects-*.secs
    emulator_start
    s3s_fresh
    local s3="--set=endpoints.s3=http://127.0.0.1:$S3S_PORT"
    "$TARGET/salesapp" --config "$CONFIG" "$s3" upload "$file" >/dev/null
    "$VENV/bin/aws" --endpoint-url "http://127.0.0.1:$EMU_PORT" sqs purge-queue --queue-url "$QUEUE_URL"
    proxy_port="$("$REPO/.venv-moto/bin/python" "$SETUP" free-port)"
    "$TARGET/perfkit" throttle "$proxy_port" "$S3S_PORT" "$cap" >"$OUT/logs/throttle.log" 2>&1 &
    PROXY_PID=$!
    sleep 0.5
    for _ in $(seq "$RUNS"); do
        for mode in single:1 ranged:8; do
            n="${mode#*:}"
            mode="${mode%%:*}"
            for path in capped:"http://127.0.0.1:$proxy_port" direct:"http://127.0.0.1:$S3S_PORT"; do
                url="${path#*:}"
                path="${path%%:*}"
                name="objects-$mode-$path"
                send_message '{"datafilelocation":"s3://bench-bucket/sales/2026-01-15/sales.csv"}'
                : >"$OUT/logs/$name.log"
                timed "$name" "$TARGET/reportsengine" --config "$CONFIG" \
                    --set "reportsengine.read_connections=$n" --set "endpoints.s3=$url" once
                grep -o 'elapsed_ms=[0-9]*' "$OUT/logs/$name.log" | cut -d= -f2 |
                    awk '{ print $1 / 1000 }' >>"$OUT/logs/$name.secs"
            done
        done
    done
    kill -TERM "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=""
    s3s_stop
    emulator_stop
    rm -rf "$OUT/s3s"
    local sc rc sd rd rss
    sc="$(median <"$OUT/logs/objects-single-capped.secs")"
    rc="$(median <"$OUT/logs/objects-ranged-capped.secs")"
    sd="$(median <"$OUT/logs/objects-single-direct.secs")"
    rd="$(median <"$OUT/logs/objects-ranged-direct.secs")"
    rss="$(med objects-ranged-capped 4)"
    row "large object, $cap MiB/s per connection: receive → report (target ≥ 3× one stream)" "${rc}s ranged, 8 connections ($(mbps "$bytes" "$rc") MB/s)" "${sc}s one stream ($(mbps "$bytes" "$sc") MB/s)" "$(speed "$sc" "$rc")"
    row "large object, no cap (target: no slower than one stream)" "${rd}s ranged ($(mbps "$bytes" "$rd") MB/s)" "${sd}s one stream ($(mbps "$bytes" "$sd") MB/s)" "$(speed "$sd" "$rd")"
    row "large object, ranged: engine peak RSS (target ≤ 64 MiB)" "$((rss / 1024)) MiB" "" ""
}

# ---------------------------------------------------------------- 4a. queue throughput
section_queue() {
    say "queue throughput: $QUEUE_DAYS small days, reportsengine once (concurrency 8) vs a plain client loop"
    emulator_start
    rm -f "$OUT"/logs/queue-*.times
    local i ours plain
    for i in $(seq "$RUNS"); do
        "$TARGET/perfkit" seed "$CONFIG" "$QUEUE_DAYS" 200 0 >/dev/null
        # From the launch to the last message deleted (both end with one empty 1 s poll,
        # which is not work): the engine logs each message once it is deleted.
        local t0 t1
        : >"$OUT/logs/queue-ours.log"
        t0="$(date +%s.%N)"
        timed queue-ours env VPCE_LAB_REPORTSENGINE_CONCURRENCY=8 "$TARGET/reportsengine" --config "$CONFIG" once
        t1="$(date -d "$(grep elapsed_ms "$OUT/logs/queue-ours.log" | tail -n 1 | cut -d' ' -f1)" +%s.%N)"
        awk -v n="$QUEUE_DAYS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", n / (b - a) }' >>"$OUT/logs/queue-ours.rate"
        "$TARGET/perfkit" seed "$CONFIG" "$QUEUE_DAYS" 200 0 >/dev/null
        : >"$OUT/logs/queue-plain.log"
        t0="$(date +%s.%N)"
        timed queue-plain "$TARGET/perfkit" queue-loop "$CONFIG"
        t1="$(awk '/last_delete_epoch/ { print $NF }' "$OUT/logs/queue-plain.log")"
        awk -v n="$QUEUE_DAYS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", n / (b - a) }' >>"$OUT/logs/queue-plain.rate"
    done
    emulator_stop
    ours="$(median <"$OUT/logs/queue-ours.rate")"
    plain="$(median <"$OUT/logs/queue-plain.rate")"
    rm -f "$OUT/logs/queue-ours.rate" "$OUT/logs/queue-plain.rate"
    row "queue: messages/s, once + concurrency 8 (target ≥ 100 %)" "$ours msg/s" "$plain msg/s (plain loop)" "$(awk -v a="$ours" -v b="$plain" 'BEGIN { printf "%.0f %%", 100 * a / b }')"
}

# ---------------------------------------------------------------- 4b + 5. latency and idle
section_latency_idle() {
    local want_latency="$1" want_idle="$2"
    say "engine daemon: latency SendMessage → report.html (idle, long poll), then idle cost over ${IDLE_SECS}s"
    emulator_start
    "$TARGET/reportsengine" --config "$CONFIG" run >"$OUT/logs/daemon.log" 2>&1 &
    DAEMON_PID=$!
    sleep 1
    if [[ "$want_latency" == 1 ]]; then
        "$TARGET/perfkit" latency "$CONFIG" 15 | tee "$OUT/logs/latency.log"
        local med
        med="$(awk '{ print $3 }' "$OUT/logs/latency.log")"
        row "latency SendMessage → report uploaded, median (target < 100 ms)" "$med ms" "" "$(sed 's/latency_ms //' "$OUT/logs/latency.log")"
    fi
    if [[ "$want_idle" == 1 ]]; then
        sleep 2
        local hz t0 t1 rss hwm
        hz="$(getconf CLK_TCK)"
        t0="$(awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat")"
        sleep "$IDLE_SECS"
        t1="$(awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat")"
        rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")"
        hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status")"
        row "idle run: resident memory (target < 15 MiB)" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB (peak $(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }') MiB)" "" ""
        row "idle run: CPU over ${IDLE_SECS}s idle" "$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE_SECS" 'BEGIN { printf "%.0f ms (%.3f %%)", (b - a) * 1000 / hz, (b - a) * 100 / hz / s }')" "" ""
    fi
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || true
    DAEMON_PID=""
    emulator_stop
}

# ---------------------------------------------------------------- 6. start-up
section_startup() {
    say "start-up: --version, and ready (first request in flight)"
    emulator_start
    local bin out small
    for bin in reportsengine salesapp; do
        out="$("$TARGET/perfkit" spawn 20 -- "$TARGET/$bin" --version)"
        row "$bin --version, median of 20 (target < 20 ms)" "$(awk '{ print $3 }' <<<"$out") ms" "" "$out"
    done
    out="$("$TARGET/perfkit" ready 10 -- "$TARGET/reportsengine" --config "$CONFIG" run)"
    row "reportsengine run: ready, median of 10 (target < 200 ms)" "$(awk '{ print $3 }' <<<"$out") ms" "" "$out"
    small="$OUT/data/small.csv"
    "$TARGET/salesapp" generate --date 2026-01-15 --rows 10 -o "$small" >/dev/null
    out="$("$TARGET/perfkit" ready 10 -- "$TARGET/salesapp" --config "$CONFIG" upload "$small")"
    row "salesapp upload (10 rows): ready, median of 10 (target < 200 ms)" "$(awk '{ print $3 }' <<<"$out") ms" "" "$out"
    emulator_stop
}

# ---------------------------------------------------------------- 5. newcomer
# The README's two commands as a newcomer runs them: each on a fresh clone of HEAD (committed
# work only) with its own cold target dir, the crates already downloaded (the registry is
# not what is measured). The demo in one clone, the test command alone in another. Not among
# the default sections: about 13 minutes, BENCH_NEWCOMER_RUNS (1) runs each.
section_newcomer() {
    local runs="${BENCH_NEWCOMER_RUNS:-1}" what i scratch bound wall
    rm -f "$OUT"/logs/newcomer-*.times "$OUT"/logs/newcomer-*.log
    for what in demo test; do
        for ((i = 1; i <= runs; i++)); do
            scratch="$(mktemp -d "${TMPDIR:-/tmp}/vpce-newcomer.XXXXXX")"
            git clone -q "$REPO" "$scratch/repo"
            say "newcomer: deploy/local/$what.sh on a fresh clone ($scratch/repo), run $i of $runs"
            # Each script moves to its own clone's root first.
            timed "newcomer-$what" env -u CARGO_TARGET_DIR -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
                "$scratch/repo/deploy/local/$what.sh"
            rm -rf "$scratch"
        done
    done
    for what in demo test; do
        bound=$([[ $what == demo ]] && echo 300 || echo 600)
        wall="$(med "newcomer-$what" 1)"
        row "newcomer: deploy/local/$what.sh, fresh clone (target ≤ $bound s)" "${wall}s" "${bound}s" \
            "$(awk -v w="$wall" -v b="$bound" 'BEGIN { printf "%.2f of the bound: %s", w / b, (w <= b ? "met" : "not met") }')"
    done
}

setup
for s in $SECTIONS; do
    case "$s" in
        build) section_build ;;
        upload) section_upload ;;
        objects) section_objects ;;
        queue) section_queue ;;
        latency)
            if [[ " $SECTIONS " == *" idle "* ]]; then
                section_latency_idle 1 1
            else
                section_latency_idle 1 0
            fi
            ;;
        idle) [[ " $SECTIONS " == *" latency "* ]] || section_latency_idle 0 1 ;;
        startup) section_startup ;;
        newcomer) section_newcomer ;;
        *) die "unknown section $s (build upload objects queue latency idle startup newcomer)" ;;
    esac
done
say "results ($RESULTS)"
cat "$RESULTS"
