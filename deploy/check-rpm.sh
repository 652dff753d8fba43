#!/usr/bin/env bash
# Checks the RPM offline (run by deploy/local/test.sh), built by deploy/build-rpm.sh --fast
# from the binaries the test command already built (the debug ones: what is checked here is
# the package's layout and scriptlets; deploy/build-release.sh builds the real one from the
# glibc-2.26 release binaries and checks their glibc there):
#   1. the file list with modes and owners (`rpm -qlpv`), the config and doc files;
#   2. the scriptlets (`rpm -qp --scripts`), run against stand-in groupadd/useradd/getent/
#      systemctl that record their calls: install, upgrade and removal, and the move of a
#      tarball install's units (laid out by install.sh --root) out of the way;
#   3. the accounts from vpce-lab.sysusers (systemd-sysusers --root), then the installation
#      into a scratch root (`rpm --root … -i --nodeps --noscripts`), `rpm -V` clean, owners
#      resolved from that root's accounts, %config(noreplace) kept on reinstall and saved as
#      .rpmsave on removal;
#   4. `systemd-analyze verify` and the exposure check (at most 1.5) on the units as
#      installed, the installed binaries' --version, man pages and completions.
#
#   deploy/check-rpm.sh [--bin-dir DIR]    default: $CARGO_TARGET_DIR/debug, else target/debug
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/debug"
START=$SECONDS

die() {
    printf 'check-rpm: ERROR: %s\n' "$*" >&2
    exit 1
}
ok() { printf 'check-rpm: [%2ds] %s\n' "$((SECONDS - START))" "$*"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin-dir) BIN_DIR="${2:-}"; shift 2 ;;
        *) die "unknown argument: $1" ;;
    esac
done

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
RPM="$(deploy/build-rpm.sh --bin-dir "$BIN_DIR" --out "$SCRATCH/dist" --fast)"
VERSION="$("$BIN_DIR/salesapp" --version | awk '{print $2}')"
[[ "$(basename "$RPM")" == "vpce-lab-$VERSION-1.x86_64.rpm" ]] || die "unexpected name $RPM"
ok "built $(basename "$RPM") ($(du -h "$RPM" | cut -f1), gzip -1 payload)"

# 1. Files: mode, owner, group, path.
files=$(rpm -qlpv "$RPM" | awk '{print $1, $3, $4, $NF}')
expected="drwxr-x--- root vpce-lab /etc/vpce-lab
-rw-r----- root vpce-lab /etc/vpce-lab/config.example.toml
-rwxr-xr-x root root /usr/bin/reportsengine
-rwxr-xr-x root root /usr/bin/salesapp
-rw-r--r-- root root /usr/lib/systemd/system/reportsengine.service
-rw-r--r-- root root /usr/lib/systemd/system/salesapp-upload@.service
-rw-r--r-- root root /usr/lib/systemd/system/salesapp-upload@.timer
-rw-r--r-- root root /usr/lib/systemd/system/salesapp.service
-rw-r--r-- root root /usr/lib/sysusers.d/vpce-lab.conf
-rw-r--r-- root root /usr/share/bash-completion/completions/reportsengine
-rw-r--r-- root root /usr/share/bash-completion/completions/salesapp
drwxr-xr-x root root /usr/share/doc/vpce-lab
-rw-r--r-- root root /usr/share/doc/vpce-lab/README.md
DOCS
-rw-r--r-- root root /usr/share/fish/vendor_completions.d/reportsengine.fish
-rw-r--r-- root root /usr/share/fish/vendor_completions.d/salesapp.fish
-rw-r--r-- root root /usr/share/man/man1/reportsengine-build.1.gz
-rw-r--r-- root root /usr/share/man/man1/reportsengine-config.1.gz
-rw-r--r-- root root /usr/share/man/man1/reportsengine-configure.1.gz
-rw-r--r-- root root /usr/share/man/man1/reportsengine-doctor.1.gz
-rw-r--r-- root root /usr/share/man/man1/reportsengine-once.1.gz
-rw-r--r-- root root /usr/share/man/man1/reportsengine-run.1.gz
-rw-r--r-- root root /usr/share/man/man1/reportsengine.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-config.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-configure.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-doctor.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-generate.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-upload.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-validate.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp-watch.1.gz
-rw-r--r-- root root /usr/share/man/man1/salesapp.1.gz
-rw-r--r-- root root /usr/share/zsh/site-functions/_reportsengine
-rw-r--r-- root root /usr/share/zsh/site-functions/_salesapp
drwxr-x--- reportsengine vpce-lab /var/lib/reportsengine
drwxr-x--- salesapp vpce-lab /var/lib/salesapp
drwxr-x--- salesapp vpce-lab /var/lib/salesapp/spool
drwxr-x--- salesapp vpce-lab /var/lib/salesapp/spool/done
drwxr-x--- salesapp vpce-lab /var/lib/salesapp/spool/failed
drwxr-x--- salesapp vpce-lab /var/lib/salesapp/spool/incoming"
# The documentation, whatever docs/ holds (its Markdown pages and their pictures).
docs="drwxr-xr-x root root /usr/share/doc/vpce-lab/docs"
for doc in $(cd docs && printf '%s\n' *.md *.png | LC_ALL=C sort); do
    docs+=$'\n'"-rw-r--r-- root root /usr/share/doc/vpce-lab/docs/$doc"
done
expected="${expected/DOCS/$docs}"
# rpm -qlpv cuts owner names to 8 characters.
expected="${expected//reportsengine vpce-lab/reportse vpce-lab}"
[[ "$files" == "$expected" ]] || die "file list differs:
$(diff <(echo "$expected") <(echo "$files") || true)"
[[ "$(rpm -qpc "$RPM")" == /etc/vpce-lab/config.example.toml ]] || die "config files: $(rpm -qpc "$RPM")"
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$RPM" | grep -qx 'cn /etc/vpce-lab/config.example.toml' ||
    die "config.example.toml is not %config(noreplace)"
requires=$(rpm -qp --requires "$RPM")
for want in shadow-utils systemd /bin/sh; do
    grep -qx "$want" <<<"$requires" || die "does not require $want"
done
if grep -q 'PayloadIsZstd' <<<"$requires"; then
    die "zstd payload: rpm 4.11 (Amazon Linux 2) cannot read it"
fi
ok "file list, modes, owners, %config(noreplace), requirements"

# 2. Scriptlets, against stand-ins that record their calls ($CALLS) and know no accounts.
scripts=$(rpm -qp --scripts "$RPM")
for want in 'groupadd -r vpce-lab' 'useradd -r -g vpce-lab' 'systemctl preset' \
    'systemctl try-restart' 'systemctl --no-reload disable' 'systemctl daemon-reload'; do
    grep -qF -- "$want" <<<"$scripts" || die "scriptlets lack '$want'"
done
STUBS="$SCRATCH/stubs"
CALLS="$SCRATCH/calls"
mkdir -p "$STUBS"
for tool in groupadd useradd systemctl; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$CALLS" >"$STUBS/$tool"
done
printf '#!/bin/sh\nexit 2\n' >"$STUBS/getent"
chmod +x "$STUBS"/*
# A scriptlet's text, its paths under /etc/systemd/system and /usr/local/bin moved into $2.
scriptlet() {
    rpm -qp --qf "%{$1}" "$RPM" |
        sed -e "s#/etc/systemd/system#$2/etc/systemd/system#g" \
            -e "s#rm -f /usr/local/bin/#rm -f $2/usr/local/bin/#; s# /usr/local/bin/reportsengine# $2/usr/local/bin/reportsengine#"
}
calls() { # calls SCRIPTLET ARG [ROOT]: runs it, prints the calls
    : >"$CALLS"
    local text
    text=$(scriptlet "$1" "${3:-$SCRATCH/empty}")
    PATH="$STUBS:$PATH" sh -c "$text" "$1" "$2" >"$SCRATCH/scriptlet.out" || die "$1 $2 failed"
    cat "$CALLS"
}
[[ "$(calls PREIN 1)" == "groupadd -r vpce-lab
useradd -r -g vpce-lab -d /var/lib/salesapp -M -s /sbin/nologin -c vpce-lab salesapp salesapp
useradd -r -g vpce-lab -d /var/lib/reportsengine -M -s /sbin/nologin -c vpce-lab reportsengine reportsengine" ]] ||
    die "%pre: $(cat "$CALLS")"
[[ "$(calls POSTIN 1)" == "systemctl daemon-reload
systemctl preset salesapp.service reportsengine.service" ]] || die "%post install: $(cat "$CALLS")"
[[ "$(calls POSTIN 2)" == "systemctl daemon-reload" ]] || die "%post upgrade: $(cat "$CALLS")"
[[ "$(calls PREUN 0)" == "systemctl --no-reload disable salesapp.service reportsengine.service
systemctl stop salesapp.service reportsengine.service salesapp-upload@*.timer salesapp-upload@*.service" ]] ||
    die "%preun removal: $(cat "$CALLS")"
[[ -z "$(calls PREUN 1)" ]] || die "%preun upgrade: $(cat "$CALLS")"
[[ "$(calls POSTUN 1)" == "systemctl daemon-reload
systemctl try-restart salesapp.service reportsengine.service" ]] || die "%postun upgrade: $(cat "$CALLS")"
[[ "$(calls POSTUN 0)" == "systemctl daemon-reload" ]] || die "%postun removal: $(cat "$CALLS")"

# A tarball install before the RPM: its units (pointing at /usr/local/bin) would shadow the
# package's; %post sets them aside, drops the old binaries and enables the package's unit.
OLD="$SCRATCH/old"
printf 'bucket = "b-b-b"\nqueue_url = "https://sqs.us-east-1.amazonaws.com/1/q"\n' >"$SCRATCH/config.toml"
mkdir -p "$SCRATCH/release"
cp -r systemd "$SCRATCH/release/"
mkdir -p "$SCRATCH/release/bin"
for bin in salesapp reportsengine; do printf '#!/bin/sh\n' >"$SCRATCH/release/bin/$bin"; chmod +x "$SCRATCH/release/bin/$bin"; done
deploy/install.sh --role reportsengine --from "$SCRATCH/release" --config "$SCRATCH/config.toml" --root "$OLD" >/dev/null
mkdir -p "$OLD/etc/systemd/system/multi-user.target.wants"
ln -s ../reportsengine.service "$OLD/etc/systemd/system/multi-user.target.wants/reportsengine.service"
[[ "$(calls POSTIN 1 "$OLD")" == "systemctl daemon-reload
systemctl preset salesapp.service reportsengine.service
systemctl enable reportsengine.service" ]] || die "%post after a tarball install: $(cat "$CALLS")"
for unit in salesapp.service reportsengine.service salesapp-upload@.service salesapp-upload@.timer; do
    [[ -f "$OLD/etc/systemd/system/$unit.tarball-old" && ! -e "$OLD/etc/systemd/system/$unit" ]] ||
        die "%post left the tarball's $unit in place"
done
[[ ! -e "$OLD/usr/local/bin/salesapp" && ! -e "$OLD/usr/local/bin/reportsengine" ]] ||
    die "%post left the tarball's binaries in /usr/local/bin"
grep -q "set the tarball's" "$SCRATCH/scriptlet.out" || die "%post did not say what it moved"
ok "scriptlets: install, upgrade, removal, a tarball install set aside"

# 3. Accounts from the sysusers file, then the package into a scratch root.
ROOT="$SCRATCH/root"
mkdir -p "$ROOT/etc"
mkdir -p "$ROOT/usr/lib/sysusers.d"
cp deploy/rpm/vpce-lab.sysusers "$ROOT/usr/lib/sysusers.d/vpce-lab.conf"
systemd-sysusers --root="$ROOT" >/dev/null 2>&1 || die "systemd-sysusers rejected vpce-lab.sysusers"
gid=$(awk -F: '$1 == "vpce-lab" {print $3}' "$ROOT/etc/group")
for user in salesapp reportsengine; do
    entry=$(grep "^$user:" "$ROOT/etc/passwd") || die "sysusers created no $user"
    [[ "$(cut -d: -f4 <<<"$entry")" == "$gid" ]] || die "$user's group is not vpce-lab: $entry"
    [[ "$(cut -d: -f6,7 <<<"$entry")" == "/var/lib/$user:/sbin/nologin" ]] || die "$user: $entry"
done
DB=(--root "$ROOT" --dbpath /var/lib/rpm)
# Debian's rpm asks for --force-debian before it installs anything (and says "use Alien").
FORCE=()
if rpm --help 2>/dev/null | grep -q -- --force-debian; then
    FORCE=(--force-debian)
fi
rpm "${DB[@]}" --initdb
rpm "${DB[@]}" -i "${FORCE[@]}" --nodeps --noscripts "$RPM" 2>"$SCRATCH/rpm.err" ||
    die "rpm -i into the scratch root: $(cat "$SCRATCH/rpm.err")"
rpm "${DB[@]}" -q vpce-lab >/dev/null || die "not in the scratch root's database"
verify=$(rpm "${DB[@]}" -V --nodeps vpce-lab) || die "rpm -V after install: $verify"
sa_uid=$(awk -F: '$1 == "salesapp" {print $3}' "$ROOT/etc/passwd")
[[ "$(stat -c '%u:%g %a' "$ROOT/var/lib/salesapp/spool/incoming")" == "$sa_uid:$gid 750" ]] ||
    die "spool owner $(stat -c '%u:%g %a' "$ROOT/var/lib/salesapp/spool/incoming")"
[[ "$(stat -c '%u:%g %a' "$ROOT/etc/vpce-lab")" == "0:$gid 750" ]] || die "/etc/vpce-lab $(stat -c '%u:%g %a' "$ROOT/etc/vpce-lab")"
echo '# edited by the operator' >>"$ROOT/etc/vpce-lab/config.example.toml"
verify=$(rpm "${DB[@]}" -V --nodeps vpce-lab || true)
grep -q ' c /etc/vpce-lab/config.example.toml' <<<"$verify" || die "rpm -V missed an edited config: $verify"
rpm "${DB[@]}" -U "${FORCE[@]}" --replacepkgs --nodeps --noscripts "$RPM" 2>"$SCRATCH/rpm.err" ||
    die "rpm -U --replacepkgs: $(cat "$SCRATCH/rpm.err")"
grep -q 'edited by the operator' "$ROOT/etc/vpce-lab/config.example.toml" || die "reinstall replaced the edited config"
ok "sysusers accounts, scratch-root install, rpm -V, owners, %config(noreplace) kept"

# 4. The units and files as installed.
deploy/check-units.sh --installed "$ROOT" | sed 's/^/check-rpm: /'
for bin in salesapp reportsengine; do
    "$ROOT/usr/bin/$bin" --version | grep -Eq "^$bin $VERSION \([0-9a-f]{7,}|unknown\)$" ||
        die "$bin --version: $("$ROOT/usr/bin/$bin" --version)"
    zcat "$ROOT/usr/share/man/man1/$bin.1.gz" | grep -q "^\.TH $bin 1" || die "$bin.1.gz is not a man page"
    bash -n "$ROOT/usr/share/bash-completion/completions/$bin" || die "bash completion of $bin"
    [[ "$(head -1 "$ROOT/usr/share/zsh/site-functions/_$bin")" == "#compdef $bin" ]] || die "zsh completion of $bin"
    if grep -q -- '--journal-socket\|assets' "$ROOT/usr/share/bash-completion/completions/$bin"; then
        die "$bin's completion offers hidden flags or subcommands"
    fi
done
rpm "${DB[@]}" -e "${FORCE[@]}" --nodeps --noscripts vpce-lab 2>"$SCRATCH/rpm.err" ||
    die "rpm -e: $(cat "$SCRATCH/rpm.err")"
[[ -f "$ROOT/etc/vpce-lab/config.example.toml.rpmsave" && ! -e "$ROOT/usr/bin/salesapp" ]] ||
    die "removal: the edited config was not saved as .rpmsave, or files were left"
ok "installed units verify, exposure <= 1.5; --version, man pages, completions; removal keeps the edited config"
