# shellcheck shell=bash
# Process helpers shared by the local scripts (emulator.sh, lab.sh): sourced, not run.

# pid_from FILE PATTERN: the PID in FILE if that process is alive and its command line holds
# PATTERN (a PID file can outlive its process, and the PID be reused).
pid_from() {
    local file="$1" pattern="$2" pid
    [[ -f "$file" ]] || return 1
    pid="$(cat "$file" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
    printf '%s\n' "$pid"
}

# gone PID: waits up to 5 s for PID to exit; fails if it has not.
gone() {
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

# stop_pid PID: SIGTERM, then SIGKILL if it is still there after 5 s; fails if even that
# does not end it within 5 s more.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    gone "$1" && return 0
    printf 'pid %s still alive after 5 s: SIGKILL\n' "$1" >&2
    kill -KILL "$1" 2>/dev/null || true
    gone "$1"
}
