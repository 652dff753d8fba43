#!/usr/bin/env bash
# Checks that binaries need no glibc newer than the lab's Amazon Linux 2 has (2.26).
#
#   deploy/check-glibc.sh [--max 2.26] BIN...            run `objdump -T` on each BIN
#   deploy/check-glibc.sh [--max 2.26] --objdump-output FILE...
#                                                        read saved `objdump -T` text instead
#                                                        (how the test feeds it samples)
#
# For each input prints "NAME: highest GLIBC_x.y (limit GLIBC_2.26) OK|TOO NEW" and exits 0
# when every input is within the limit, 1 when one is above it, 2 when an input could not be
# read or names no GLIBC symbol at all (a static or non-glibc binary is not what we ship, so
# "no versions" is an error rather than a pass).
#
# Why the dynamic symbol table: the loader refuses to start a binary whose *versioned* symbol
# references (`__libc_start_main@GLIBC_2.34`, …) the installed libc does not define; the
# highest version named there is exactly the oldest glibc it runs on.
set -euo pipefail

MAX=2.26
MODE=binary
INPUTS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --max)
        MAX="$2"
        shift 2
        ;;
    --objdump-output)
        MODE=text
        shift
        ;;
    -h | --help)
        sed -n '2,16p' "$0"
        exit 0
        ;;
    *)
        INPUTS+=("$1")
        shift
        ;;
    esac
done
[[ ${#INPUTS[@]} -gt 0 ]] || {
    echo "usage: $0 [--max 2.26] [--objdump-output] FILE..." >&2
    exit 64
}
[[ "$MAX" =~ ^[0-9]+(\.[0-9]+)*$ ]] || {
    echo "check-glibc: --max $MAX is not a version like 2.26" >&2
    exit 64
}

# The highest GLIBC_x.y[.z] named in objdump -T text on stdin (empty when none).
highest_glibc() {
    grep -o 'GLIBC_[0-9][0-9.]*[0-9]' | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}

# True when version $1 <= version $2 (sort -V orders dotted versions numerically).
version_le() {
    [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" == "$1" ]]
}

status=0
for input in "${INPUTS[@]}"; do
    if [[ $MODE == text ]]; then
        text="$(cat -- "$input" 2>/dev/null)" || {
            echo "$input: cannot read" >&2
            status=2
            continue
        }
    else
        command -v objdump >/dev/null || {
            echo "check-glibc: objdump not found (Debian: apt-get install binutils)" >&2
            exit 2
        }
        text="$(objdump -T -- "$input" 2>&1)" || {
            echo "$input: objdump -T failed: $text" >&2
            status=2
            continue
        }
    fi
    top="$(highest_glibc <<<"$text" || true)"
    name="$(basename -- "$input")"
    if [[ -z "$top" ]]; then
        echo "$name: no GLIBC symbol versions found (not a dynamically linked glibc binary?)"
        status=2
    elif version_le "$top" "$MAX"; then
        echo "$name: highest GLIBC_$top (limit GLIBC_$MAX) OK"
    else
        echo "$name: highest GLIBC_$top (limit GLIBC_$MAX) TOO NEW: will not start on Amazon Linux 2"
        [[ $status -ne 0 ]] || status=1
    fi
done
exit "$status"
