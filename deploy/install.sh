#!/usr/bin/env bash
# Installs salesapp/reportsengine on a lab instance and starts the daemon of its role.
#
# With the RPM (deploy/build-release.sh → dist/vpce-lab-VERSION-1.x86_64.rpm) it installs
# that with the system's package manager: `dnf install` (yum on Amazon Linux 2). The RPM is
# used when given with --rpm FILE, or when one lies in the release or checkout (DIR/, DIR/dist/,
# or beside the unpacked tarball); --no-rpm lays the tarball's files out instead. Either way
# it then writes the config and enables and (re)starts ROLE.service:
#
#   sudo ./deploy/install.sh --role salesapp      --config ./config.toml
#   sudo ./deploy/install.sh --role reportsengine --config ./config.toml --rpm ./vpce-lab-0.1.0-1.x86_64.rpm
#
# The script itself may come on stdin; then say where the release is:
#
#   sudo bash -s -- --role salesapp --from /tmp/vpce-lab-0.1.0 --config /tmp/config.toml < deploy/install.sh
#
# What it does (idempotent: run it again to upgrade):
#   - RPM: the package creates the group vpce-lab, the system users salesapp and
#     reportsengine, /var/lib/ROLE (and the spool) and installs binaries to /usr/bin, units to
#     /usr/lib/systemd/system, man pages and completions; see docs/packaging.md, "Installing";
#   - tarball: group vpce-lab, system user salesapp or reportsengine (no login, HOME
#     /var/lib/ROLE); both binaries → /usr/local/bin (0755); units systemd/* →
#     /etc/systemd/system (0644, ExecStart= pointed at /usr/local/bin);
#     /var/lib/ROLE (and for salesapp spool/{incoming,done,failed}), ROLE:vpce-lab 0750, so
#     that systemd < 235 (Amazon Linux 2), which ignores StateDirectory=, works too;
#   - the config → /etc/vpce-lab/config.toml, root:vpce-lab 0640 (it names the bucket and
#     queue; credentials never go in it: the instance profile provides them);
#   - systemctl daemon-reload, enable and (re)start ROLE.service; Type=notify makes the start
#     wait until the daemon is READY, and on failure the status and journal are printed.
#
# Options: --no-start (install and enable only), --root DIR (lay the tarball's files out under
# DIR without accounts, ownership, RPM or systemctl: for packaging and for the test suite).
set -euo pipefail

ROLE=""
CONFIG=""
FROM=""
ROOT=""
RPM=""
USE_RPM=1
START=1
PREFIX=/usr/local
GROUP=vpce-lab

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]:-/dev/null}" 2>/dev/null | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
    echo "usage: install.sh --role salesapp|reportsengine [--config FILE] [--from DIR] [--rpm FILE | --no-rpm] [--no-start] [--root DIR]"
}
die() {
    printf 'install.sh: ERROR: %s\n' "$*" >&2
    exit 1
}
say() { printf 'install.sh: %s\n' "$*"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --role) ROLE="${2:-}"; shift 2 ;;
        --config) CONFIG="${2:-}"; shift 2 ;;
        --from) FROM="${2:-}"; shift 2 ;;
        --root) ROOT="${2:-}"; shift 2 ;;
        --rpm) RPM="${2:-}"; shift 2 ;;
        --no-rpm) USE_RPM=0; shift ;;
        --no-start) START=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

case "$ROLE" in
    salesapp) COMMAND=watch ;;
    reportsengine) COMMAND=run ;;
    *) die "--role must be salesapp or reportsengine (got '${ROLE}')" ;;
esac

# Where the files come from: --from, else the tree this script lives in (not when on stdin).
if [[ -z "$FROM" ]]; then
    [[ -n "${BASH_SOURCE[0]:-}" && -f "${BASH_SOURCE[0]}" ]] ||
        die "reading the script from stdin: say where the release is with --from DIR"
    FROM="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fi
# The RPM, when there is one and this is a real install (not --root, not --no-rpm).
if [[ -z "$RPM" && $USE_RPM -eq 1 && -z "$ROOT" ]]; then
    # The first place that has one; there, the highest version.
    shopt -s nullglob
    for dir in "$FROM" "$FROM/dist" "$FROM/.."; do
        found=("$dir"/vpce-lab-*.x86_64.rpm)
        if [[ ${#found[@]} -gt 0 ]]; then
            RPM="$(printf '%s\n' "${found[@]}" | sort -V | tail -n 1)"
            break
        fi
    done
    shopt -u nullglob
fi
if [[ -n "$RPM" ]]; then
    [[ -f "$RPM" ]] || die "--rpm $RPM: no such file"
    [[ -z "$ROOT" ]] || die "--rpm and --root: the RPM installs with dnf/yum only (rpm --root is for tests)"
    [[ $USE_RPM -eq 1 ]] || die "--rpm and --no-rpm"
else
    [[ -d "$FROM/systemd" ]] || die "$FROM/systemd not found: --from must name an unpacked release or a checkout"
    BIN_SRC=""
    for dir in "$FROM/bin" "$FROM/target/release"; do
        if [[ -x "$dir/salesapp" && -x "$dir/reportsengine" ]]; then
            BIN_SRC="$dir"
            break
        fi
    done
    [[ -n "$BIN_SRC" ]] || die "no salesapp and reportsengine binaries in $FROM/bin or $FROM/target/release"
fi

ETC="$ROOT/etc/vpce-lab"
if [[ -n "$CONFIG" ]]; then
    [[ -f "$CONFIG" && -r "$CONFIG" ]] || die "--config $CONFIG: not a readable file"
elif [[ ! -f "$ETC/config.toml" ]]; then
    die "no --config FILE and no $ETC/config.toml yet (\`salesapp configure --stack-outputs\` writes one)"
fi

if [[ -z "$ROOT" ]]; then
    [[ $EUID -eq 0 ]] || die "run as root (sudo), or use --root DIR to lay out files only"
    command -v systemctl >/dev/null || die "systemctl not found: this script installs systemd units"
fi

# Owned by root:GROUP (or left to the caller with --root, which cannot chown).
own() {
    [[ -n "$ROOT" ]] || chown "$@"
}

# The tarball's layout: accounts, binaries in $PREFIX/bin, units in /etc/systemd/system
# pointed at them (the units in systemd/ name /usr/bin, where the RPM puts the binaries).
install_tarball() {
    if [[ -z "$ROOT" ]]; then
        if ! getent group "$GROUP" >/dev/null; then
            say "creating group $GROUP"
            groupadd --system "$GROUP"
        fi
        nologin=$(command -v nologin || echo /sbin/nologin)
        if ! getent passwd "$ROLE" >/dev/null; then
            say "creating system user $ROLE"
            useradd --system --gid "$GROUP" --home-dir "/var/lib/$ROLE" --no-create-home \
                --shell "$nologin" --comment "vpce-lab $ROLE" "$ROLE"
        fi
    fi

    say "binaries → $ROOT$PREFIX/bin"
    install -d -m 0755 "$ROOT$PREFIX/bin"
    for bin in salesapp reportsengine; do
        # Through a temporary name and a rename, so a running daemon's binary is never half-written.
        install -m 0755 "$BIN_SRC/$bin" "$ROOT$PREFIX/bin/.$bin.new"
        mv -f "$ROOT$PREFIX/bin/.$bin.new" "$ROOT$PREFIX/bin/$bin"
    done

    say "units → $ROOT/etc/systemd/system"
    install -d -m 0755 "$ROOT/etc/systemd/system"
    for unit in "$FROM"/systemd/*.service "$FROM"/systemd/*.timer; do
        if [[ -f "$unit" ]]; then
            sed -e "s#/usr/bin/#$PREFIX/bin/#g" -e "s#/usr/share/doc/#$PREFIX/share/doc/#g" "$unit" \
                >"$ROOT/etc/systemd/system/.$(basename "$unit").new"
            chmod 0644 "$ROOT/etc/systemd/system/.$(basename "$unit").new"
            mv -f "$ROOT/etc/systemd/system/.$(basename "$unit").new" "$ROOT/etc/systemd/system/$(basename "$unit")"
        fi
    done
    if [[ -f "$FROM/README.md" ]]; then
        install -d -m 0755 "$ROOT$PREFIX/share/doc/vpce-lab"
        install -m 0644 "$FROM/README.md" "$ROOT$PREFIX/share/doc/vpce-lab/README.md"
    fi
    if [[ -d "$FROM/docs" ]]; then
        install -d -m 0755 "$ROOT$PREFIX/share/doc/vpce-lab/docs"
        install -m 0644 "$FROM"/docs/* "$ROOT$PREFIX/share/doc/vpce-lab/docs/"
    fi

    local state="$ROOT/var/lib/$ROLE"
    install -d -m 0750 "$state"
    own "$ROLE:$GROUP" "$state"
    if [[ "$ROLE" == salesapp ]]; then
        for sub in spool spool/incoming spool/done spool/failed; do
            install -d -m 0750 "$state/$sub"
            own "$ROLE:$GROUP" "$state/$sub"
        done
    fi
}

if [[ -n "$RPM" ]]; then
    say "installing $RPM with the package manager"
    # The same version-release already installed (a rebuild): `install` would do nothing.
    verb=install
    if rpm -q "$(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}' "$RPM")" >/dev/null 2>&1; then
        verb=reinstall
    fi
    if command -v dnf >/dev/null; then
        dnf "$verb" -y "$RPM"
    elif command -v yum >/dev/null; then
        yum "$verb" -y "$RPM"
    else
        die "no dnf or yum for $RPM (use --no-rpm to lay the tarball's files out instead)"
    fi
    getent group "$GROUP" >/dev/null || die "the package did not create the group $GROUP"
else
    install_tarball
fi

install -d -m 0750 "$ETC"
own root:"$GROUP" "$ETC"
if [[ -n "$CONFIG" ]]; then
    say "config → $ETC/config.toml (root:$GROUP 0640)"
    install -m 0640 "$CONFIG" "$ETC/.config.toml.new"
    own root:"$GROUP" "$ETC/.config.toml.new"
    mv -f "$ETC/.config.toml.new" "$ETC/config.toml"
fi

if [[ -n "$ROOT" ]]; then
    say "laid out under $ROOT (no accounts, ownership or systemctl with --root)"
    exit 0
fi

systemctl daemon-reload
systemctl enable "$ROLE.service"
if [[ $START -eq 0 ]]; then
    say "$ROLE.service enabled, not started (--no-start)"
    exit 0
fi
say "starting $ROLE.service ($ROLE $COMMAND); waits for READY"
if ! systemctl restart "$ROLE.service"; then
    systemctl status --no-pager "$ROLE.service" || true
    journalctl --no-pager -n 40 -u "$ROLE.service" || true
    die "$ROLE.service did not start: see above (exit 78 = configuration, 77 = permission)"
fi
systemctl status --no-pager --lines=5 "$ROLE.service" || true
cat <<EOF

Installed. Observe it with:
  systemctl status $ROLE                       # STATUS= line: live counters
  journalctl -u $ROLE -f                       # the daemon's journal entries
  journalctl -u $ROLE -p warning               # warnings and errors only
  journalctl -u $ROLE -o json | jq -c '{PRIORITY, MESSAGE, KEY, MESSAGE_ID, OPERATION}'
EOF
if [[ "$ROLE" == salesapp ]]; then
    cat <<EOF
Drop files by renaming them in (same file system):
  install -o $ROLE -g $GROUP -m 0640 day.csv /var/lib/salesapp/spool/.day.csv.tmp &&
  mv /var/lib/salesapp/spool/.day.csv.tmp /var/lib/salesapp/spool/incoming/day.csv
EOF
fi
