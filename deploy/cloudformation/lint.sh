#!/usr/bin/env bash
# cfn-lint on our CloudFormation templates, with a pinned cfn-lint in its own venv
# (<repo>/.venv-cfn, git-ignored; created on first use, ~30 s). Offline: no AWS access.
#
#   deploy/cloudformation/lint.sh              lint deploy/cloudformation/*.yaml
#   deploy/cloudformation/lint.sh FILE...      lint these
#
# The informational checks (I*) are on too, and none is ignored: a stateful resource must say
# what happens to it on delete and replace, a queue must say its retention, and so on.
#
# Its own venv rather than .venv-moto: moto[server] pulls in an unpinned cfn-lint of its own,
# and the lint result must not change because the emulator's dependencies moved.
set -euo pipefail
CFN_LINT_VERSION=1.58.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv-cfn"

venv_ok() {
    [[ -x "$VENV/bin/cfn-lint" ]] && [[ "$("$VENV/bin/cfn-lint" --version 2>/dev/null)" == "cfn-lint $CFN_LINT_VERSION" ]]
}

if ! venv_ok; then
    exec 9>"$REPO/.venv-cfn.lock"
    flock 9
    if ! venv_ok; then
        echo "lint: creating $VENV with cfn-lint==$CFN_LINT_VERSION (one-time)" >&2
        python3 -m venv --clear "$VENV"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q "cfn-lint==$CFN_LINT_VERSION"
        venv_ok || {
            echo "lint: $VENV has no working cfn-lint $CFN_LINT_VERSION" >&2
            exit 1
        }
    fi
    flock -u 9
fi

if [[ $# -eq 0 ]]; then
    set -- "$HERE"/*.yaml
fi
"$VENV/bin/cfn-lint" --include-checks I -- "$@"
echo "lint: cfn-lint $CFN_LINT_VERSION clean (informational checks included): $*" >&2
