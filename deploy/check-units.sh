#!/usr/bin/env bash
# Checks systemd/ and deploy/install.sh offline (no running systemd needed; run by
# deploy/local/test.sh):
#   1. install.sh parses (bash -n) and is shellcheck-clean when shellcheck is installed;
#   2. install.sh --root lays a release out in a scratch root (modes checked, units pointed
#      at /usr/local/bin); the RPM's layout is deploy/check-rpm.sh's;
#   3. `systemd-analyze verify` of every unit in that root (binaries in place, the host's
#      own system units copied in so dependencies resolve);
#   4. `systemd-analyze security --offline=true --threshold=15`: each daemon unit's exposure
#      must be at most 1.5 ("OK"; the threshold is on systemd's 0–100 scale).
#
#   deploy/check-units.sh                   all four, on the tarball's layout
#   deploy/check-units.sh --installed ROOT  3 and 4 on the units installed under ROOT in
#                                           /usr/lib/systemd/system (deploy/check-rpm.sh)
# systemd-analyze comes with the `systemd` package; when missing it is installed (apt-get,
# dnf or yum, as root or with passwordless sudo): installing the package puts files on disk
# and does not make systemd the init of a container.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MAX_EXPOSURE=15
UNITS=(salesapp.service reportsengine.service salesapp-upload@.service)
INSTALLED=""
if [[ "${1:-}" == --installed ]]; then
    INSTALLED="${2:?--installed ROOT}"
fi

die() {
    printf 'check-units: ERROR: %s\n' "$*" >&2
    exit 1
}

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root to install systemd-analyze: run '$*' as root"
    fi
}

if ! command -v systemd-analyze >/dev/null; then
    echo "check-units: systemd-analyze not found; installing the systemd package"
    if command -v apt-get >/dev/null; then
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd
    elif command -v dnf >/dev/null; then
        as_root dnf install -y systemd
    elif command -v yum >/dev/null; then
        as_root yum install -y systemd
    else
        die "no apt-get, dnf or yum to install systemd-analyze with"
    fi
    command -v systemd-analyze >/dev/null || die "systemd-analyze still missing"
fi
systemd-analyze --version | head -1

# Steps 3 and 4 on the units in ROOT/UNIT_DIR, with binaries in place.
verify_units() {
    local root="$1" unit_dir="$2" system_units="" dir out failed=0
    for dir in /usr/lib/systemd/system /lib/systemd/system; do
        if [[ -f "$dir/sysinit.target" ]]; then
            system_units="$dir"
            break
        fi
    done
    [[ -n "$system_units" ]] || die "no system units (sysinit.target) to verify against"
    mkdir -p "$root/usr/lib/systemd/system"
    cp -an "$system_units"/. "$root/usr/lib/systemd/system/"
    # verify exits 0 on "Unknown key" and "Failed to parse" warnings: any output is a failure.
    out=$(systemd-analyze verify --man=no --root="$root" \
        salesapp.service reportsengine.service salesapp-upload@example.service \
        salesapp-upload@example.timer 2>&1) || die "systemd-analyze verify failed: $out"
    [[ -z "$out" ]] || die "systemd-analyze verify warned: $out"
    echo "check-units: systemd-analyze verify OK ($unit_dir)"
    for unit in "${UNITS[@]}"; do
        if out=$(systemd-analyze security --offline=true --threshold="$MAX_EXPOSURE" "$root/$unit_dir/$unit" 2>&1); then
            printf 'check-units: %s\n' "$(tail -1 <<<"$out")"
        else
            printf '%s\ncheck-units: %s exposure above %s\n' "$out" "$unit" "$MAX_EXPOSURE" >&2
            failed=1
        fi
    done
    [[ $failed -eq 0 ]] || die "a unit is not hardened enough"
}

if [[ -n "$INSTALLED" ]]; then
    verify_units "$INSTALLED" usr/lib/systemd/system
    exit 0
fi

bash -n deploy/install.sh
if command -v shellcheck >/dev/null; then
    shellcheck deploy/install.sh deploy/check-units.sh
else
    echo "check-units: shellcheck not installed; skipped (apt-get install shellcheck)"
fi

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
# A release-shaped tree with stand-in binaries: verify only needs them to exist.
SRC="$SCRATCH/release"
ROOT="$SCRATCH/root"
mkdir -p "$SRC/bin" "$SRC/deploy"
cp -r systemd "$SRC/"
cp README.md "$SRC/"
cp -r docs "$SRC/"
for bin in salesapp reportsengine; do
    printf '#!/bin/sh\nexit 0\n' >"$SRC/bin/$bin"
    chmod 0755 "$SRC/bin/$bin"
done
printf 'bucket = "b-b-b"\nqueue_url = "https://sqs.us-east-1.amazonaws.com/1/q"\n' >"$SCRATCH/config.toml"
deploy/install.sh --role salesapp --from "$SRC" --config "$SCRATCH/config.toml" --root "$ROOT" >/dev/null
deploy/install.sh --role reportsengine --from "$SRC" --root "$ROOT" >/dev/null
mode() { stat -c '%a' "$ROOT/$1"; }
[[ "$(mode etc/vpce-lab/config.toml)" == 640 ]] || die "config.toml mode $(mode etc/vpce-lab/config.toml), want 640"
[[ "$(mode etc/vpce-lab)" == 750 ]] || die "/etc/vpce-lab mode $(mode etc/vpce-lab), want 750"
for dir in var/lib/salesapp/spool/incoming var/lib/salesapp/spool/done var/lib/salesapp/spool/failed var/lib/reportsengine; do
    [[ "$(mode "$dir")" == 750 ]] || die "$dir mode $(mode "$dir"), want 750"
done
for unit in "${UNITS[@]}" salesapp-upload@.timer; do
    [[ -f "$ROOT/etc/systemd/system/$unit" ]] || die "install.sh did not install $unit"
done
# The repository's units name /usr/bin (the RPM's place); the tarball's layout points them
# at the binaries it installs in /usr/local/bin.
for unit in salesapp.service reportsengine.service salesapp-upload@.service; do
    grep -q '^ExecStart=/usr/local/bin/' "$ROOT/etc/systemd/system/$unit" ||
        die "install.sh left $unit's ExecStart= outside /usr/local/bin"
    grep -q '^ExecStart=/usr/bin/' "systemd/$unit" || die "systemd/$unit: ExecStart= not in /usr/bin"
done
echo "check-units: install.sh --root layout OK"

verify_units "$ROOT" etc/systemd/system
