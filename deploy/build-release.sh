#!/usr/bin/env bash
# Builds the release artifacts that run on the lab's Amazon Linux 2 (glibc 2.26) and on
# Amazon Linux 2023 (glibc 2.34):
#
#   deploy/build-release.sh          → dist/vpce-lab-VERSION-x86_64-linux-gnu.tar.gz
#                                      dist/vpce-lab-VERSION-1.x86_64.rpm
#                                      dist/SHA256SUMS
#
# A plain `cargo build --release` here links against the build machine's glibc (2.36) and
# needs GLIBC_2.34 symbols, so it would not start on Amazon Linux 2. cargo-zigbuild links
# against glibc 2.26's symbol versions instead (docs/packaging.md, "Release builds"). zig and
# cargo-zigbuild come from PyPI, pinned, into <repo>/.venv-zig (git-ignored); zig's caches go
# to <repo>/.cache (git-ignored), never the home directory.
#
# The tarball holds bin/{salesapp,reportsengine}, systemd/ units, deploy/install.sh (when
# present; run as `sudo ./deploy/install.sh --role …` in the unpacked directory),
# config.example.toml (written by the built salesapp's own `configure` from the example stack
# outputs: a smoke test of the binary too), README.md, docs/ and SHA256SUMS of its contents. The
# build FAILS when a binary needs a glibc above 2.26 (deploy/check-glibc.sh).
#
# Measured on the 2-core dev machine (shared with other builds): ~10 min cold (≈6 min the
# dependencies, ≈4 min our crates with thin LTO), ~4 min after a change to common.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"

ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
GLIBC=2.26
TRIPLE=x86_64-unknown-linux-gnu
VENV="$REPO/.venv-zig"
DIST="$REPO/dist"
START=$SECONDS

say() { printf 'build-release: [%3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() {
    printf 'build-release: ERROR: %s\n' "$*" >&2
    exit 1
}

venv_ok() {
    [[ -x "$VENV/bin/cargo-zigbuild" && -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" - "$ZIGLANG_VERSION" "$CARGO_ZIGBUILD_VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if (m.version("ziglang"), m.version("cargo-zigbuild")) == tuple(sys.argv[1:3]) else 1)
EOF
}

if ! venv_ok; then
    say "creating $VENV (ziglang==$ZIGLANG_VERSION, cargo-zigbuild==$CARGO_ZIGBUILD_VERSION)"
    command -v python3 >/dev/null || die "python3 not found"
    python3 -m venv --clear "$VENV" || die "python3 -m venv failed"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" ||
        die "pip install ziglang/cargo-zigbuild failed"
    venv_ok || die "$VENV has no working ziglang $ZIGLANG_VERSION / cargo-zigbuild $CARGO_ZIGBUILD_VERSION"
fi

export PATH="$VENV/bin:$PATH"
export XDG_CACHE_HOME="$REPO/.cache"
mkdir -p "$XDG_CACHE_HOME"

say "cargo zigbuild --release --locked --target $TRIPLE.$GLIBC"
build_start=$SECONDS
cargo zigbuild --release --locked --target "$TRIPLE.$GLIBC" -p salesapp -p reportsengine
say "build took $((SECONDS - build_start))s"

# zigbuild strips the glibc suffix from the output directory.
OUT="${CARGO_TARGET_DIR:-$REPO/target}/$TRIPLE/release"
BINS=("$OUT/salesapp" "$OUT/reportsengine")
for b in "${BINS[@]}"; do
    [[ -x "$b" ]] || die "$b was not built"
done

say "checking the glibc symbol versions (limit $GLIBC)"
deploy/check-glibc.sh --max "$GLIBC" "${BINS[@]}" || die "a binary needs a glibc above $GLIBC"

VERSION="$("$OUT/salesapp" --version | awk '{print $2}')"
[[ -n "$VERSION" ]] || die "cannot read the version from salesapp --version"
NAME="vpce-lab-$VERSION-x86_64-linux-gnu"
STAGE="$DIST/$NAME"
say "staging $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/systemd"
install -m 0755 "${BINS[@]}" "$STAGE/bin/"
shopt -s nullglob
units=(systemd/*.service systemd/*.timer systemd/*.path systemd/*.socket)
shopt -u nullglob
if [[ ${#units[@]} -gt 0 ]]; then
    install -m 0644 "${units[@]}" "$STAGE/systemd/"
else
    say "WARNING: no unit files in systemd/ yet"
fi
if [[ -f deploy/install.sh ]]; then
    # Same relative place as in a checkout: install.sh finds the release root as its "..".
    install -d -m 0755 "$STAGE/deploy"
    install -m 0755 deploy/install.sh "$STAGE/deploy/install.sh"
else
    say "WARNING: deploy/install.sh not found: the tarball has no install script"
fi
install -m 0644 README.md "$STAGE/README.md"
install -d -m 0755 "$STAGE/docs"
install -m 0644 docs/*.md docs/*.png "$STAGE/docs/"
# The example configuration is written by the binary being shipped, from example outputs:
# it proves the binary starts here and that `configure` and the docs agree.
"$STAGE/bin/salesapp" configure --stack-outputs deploy/cloudformation/example-stack-outputs.json \
    >"$STAGE/config.example.toml" || die "salesapp configure on the example outputs failed"
SUMS=$(cd "$STAGE" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum)
printf '%s\n' "$SUMS" >"$STAGE/SHA256SUMS"

TARBALL="$NAME.tar.gz"
say "packing dist/$TARBALL"
# Reproducible-ish: fixed owner and sorted names, so the same inputs give the same listing.
tar -C "$DIST" --owner=0 --group=0 --numeric-owner --sort=name -czf "$DIST/$TARBALL" "$NAME"
say "building the RPM (deploy/build-rpm.sh, xz payload)"
RPM="$(deploy/build-rpm.sh --bin-dir "$OUT" --out "$DIST")" || die "the RPM build failed"
# rpmbuild reads the requirements off the binaries: the same limit as check-glibc.sh.
highest="$(rpm -qp --requires "$RPM" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
[[ -n "$highest" ]] || die "$RPM requires no GLIBC symbol version: were its requirements generated?"
if [[ "$(printf '%s\n%s\n' "${highest#GLIBC_}" "$GLIBC" | sort -V | tail -n 1)" != "$GLIBC" ]]; then
    die "$RPM requires $highest, above $GLIBC"
fi
say "RPM $(basename "$RPM"): $(du -h "$RPM" | cut -f1), requires at most $highest"
(cd "$DIST" && sha256sum "$TARBALL" "$(basename "$RPM")" >SHA256SUMS)
say "done: dist/$TARBALL, dist/$(basename "$RPM")"
cat "$DIST/SHA256SUMS"
