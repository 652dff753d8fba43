#!/usr/bin/env bash
# Builds dist/vpce-lab-VERSION-1.x86_64.rpm from two built binaries (deploy/rpm/vpce-lab.spec):
#
#   deploy/build-rpm.sh --bin-dir DIR [--out DIR] [--fast]
#
# --bin-dir  where salesapp and reportsengine are: the zigbuild release binaries (glibc 2.26)
#            from deploy/build-release.sh, or any build (deploy/check-rpm.sh tests the
#            package's layout and scriptlets with the debug ones)
# --out      where the .rpm goes [default: dist/]
# --fast     gzip -1 payload (tests) instead of xz
#
# It stages what the spec installs: the binaries (stripped), the units of systemd/, the man
# pages and completions the binaries generate from their own command lines (`BIN assets DIR`),
# config.example.toml written by the binary's own `configure` from the example stack outputs,
# vpce-lab.sysusers, README.md and docs/. rpmbuild comes from the system (`rpm` package on Debian,
# `rpm-build` on Amazon Linux/Fedora); when missing it is installed with apt-get, dnf or yum.
# Reproducible: file times and the build time are SOURCE_DATE_EPOCH (the commit's time), the
# build host a fixed name, the man pages gzipped without names or times. Prints the RPM's path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"

BIN_DIR=""
OUT="$REPO/dist"
PAYLOAD="w6.xzdio"

die() {
    printf 'build-rpm: ERROR: %s\n' "$*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin-dir) BIN_DIR="${2:-}"; shift 2 ;;
        --out) OUT="${2:-}"; shift 2 ;;
        --fast) PAYLOAD="w1.gzdio"; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ -n "$BIN_DIR" ]] || die "--bin-dir DIR is required"
for bin in salesapp reportsengine; do
    [[ -x "$BIN_DIR/$bin" ]] || die "$BIN_DIR/$bin: not built"
done

if ! command -v rpmbuild >/dev/null; then
    echo "build-rpm: rpmbuild not found; installing it" >&2
    if command -v apt-get >/dev/null; then
        apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rpm >&2
    elif command -v dnf >/dev/null; then
        dnf install -y rpm-build >&2
    elif command -v yum >/dev/null; then
        yum install -y rpm-build >&2
    fi
    command -v rpmbuild >/dev/null || die "no rpmbuild (apt-get install rpm, or dnf install rpm-build)"
fi

VERSION="$("$BIN_DIR/salesapp" --version | awk '{print $2}')"
COMMIT="$("$BIN_DIR/salesapp" --version | sed -n 's/.*(\(.*\)).*/\1/p')"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "cannot read the version from salesapp --version"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vpce-lab-rpm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/stage"
mkdir -p "$STAGE/bin" "$STAGE/systemd" "$OUT"
for bin in salesapp reportsengine; do
    strip -o "$STAGE/bin/$bin" "$BIN_DIR/$bin"
    "$STAGE/bin/$bin" assets "$STAGE" || die "$bin assets failed"
done
gzip -9n "$STAGE"/man1/*.1
install -m 0644 systemd/*.service systemd/*.timer "$STAGE/systemd/"
install -m 0644 deploy/rpm/vpce-lab.sysusers README.md "$STAGE/"
install -d -m 0755 "$STAGE/docs"
install -m 0644 docs/*.md docs/*.png "$STAGE/docs/"
"$STAGE/bin/salesapp" configure --stack-outputs deploy/cloudformation/example-stack-outputs.json \
    >"$STAGE/config.example.toml" || die "salesapp configure on the example outputs failed"
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

rpmbuild -bb --quiet \
    --define "_topdir $WORK/rpmbuild" \
    --define "_rpmdir $OUT" \
    --define "stage $STAGE" \
    --define "pkg_version $VERSION" \
    --define "commit ${COMMIT:-unknown}" \
    --define "_binary_payload $PAYLOAD" \
    --define "_binary_filedigest_algorithm 8" \
    --define "_buildhost vpce-lab-build" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_epoch 1" \
    deploy/rpm/vpce-lab.spec >&2 || die "rpmbuild failed"
RPM="$OUT/vpce-lab-$VERSION-1.x86_64.rpm"
[[ -f "$RPM" ]] || die "rpmbuild wrote no $RPM"
echo "$RPM"
