#!/usr/bin/env bash
# Installs a release on a lab instance and (re)starts the daemon of its role. deploy/push.sh
# sends it through SSM Run Command (AWS-RunShellScript, as root); it also works by hand in a
# Session Manager shell:
#
#   sudo ./instance-install.sh --role salesapp|reportsengine --artifact URL --sha256 HEX \
#       --region REGION --outputs FILE [--reconfigure] [--root DIR]
#
# --artifact  s3://BUCKET/KEY (read with the instance role, through the gateway endpoint),
#             https://... (through the NAT gateway) or a local file: an RPM or a tarball of
#             deploy/build-release.sh. Refused unless its SHA-256 is --sha256.
# --outputs   the stack's outputs (any form `salesapp configure --stack-outputs` reads; push.sh
#             sends a flat {"OutputKey": "value"} object), or --outputs-b64 the same in base64.
#
# The configuration /etc/vpce-lab/config.toml is written by `salesapp configure` from the
# outputs, unless it already names this stack's bucket (an operator's tuned file is kept);
# --reconfigure always rewrites it. A replaced file is kept as config.toml.bak-TIME.
# RPM: `dnf install` (yum on Amazon Linux 2; `reinstall` when that version-release is already
# installed), then enable and restart ROLE.service.
# Tarball: its own deploy/install.sh. The other role's daemon is stopped and disabled.
# --root DIR (tarballs only): lay the files out under DIR, no accounts and no systemctl (tests).
set -euo pipefail

ROLE=""
ARTIFACT=""
SHA256=""
REGION=""
OUTPUTS=""
OUTPUTS_B64=""
RECONFIGURE=0
ROOT=""

die() {
    printf 'instance-install: ERROR: %s\n' "$*" >&2
    exit 1
}
say() { printf 'instance-install: %s\n' "$*"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --role) ROLE="${2:-}"; shift 2 ;;
        --artifact) ARTIFACT="${2:-}"; shift 2 ;;
        --sha256) SHA256="${2:-}"; shift 2 ;;
        --region) REGION="${2:-}"; shift 2 ;;
        --outputs) OUTPUTS="${2:-}"; shift 2 ;;
        --outputs-b64) OUTPUTS_B64="${2:-}"; shift 2 ;;
        --reconfigure) RECONFIGURE=1; shift ;;
        --root) ROOT="${2:-}"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done

case "$ROLE" in
    salesapp) OTHER=reportsengine ;;
    reportsengine) OTHER=salesapp ;;
    *) die "--role must be salesapp or reportsengine (got '$ROLE')" ;;
esac
[[ -n "$ARTIFACT" ]] || die "--artifact is required"
[[ "$SHA256" =~ ^[0-9a-f]{64}$ ]] || die "--sha256 must be 64 lower-case hex digits"
[[ -n "$OUTPUTS" || -n "$OUTPUTS_B64" ]] || die "--outputs FILE or --outputs-b64 is required"
[[ -n "$ROOT" || $EUID -eq 0 ]] || die "run as root"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vpce-lab-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
NAME="$(basename "${ARTIFACT%%\?*}")"
FILE="$WORK/$NAME"

case "$ARTIFACT" in
    s3://*)
        say "fetching $ARTIFACT"
        aws s3 cp ${REGION:+--region "$REGION"} --only-show-errors "$ARTIFACT" "$FILE"
        ;;
    https://*)
        say "fetching $ARTIFACT"
        curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 -o "$FILE" "$ARTIFACT"
        ;;
    *)
        [[ -f "$ARTIFACT" ]] || die "$ARTIFACT: no such file"
        cp "$ARTIFACT" "$FILE"
        ;;
esac
echo "$SHA256  $FILE" | sha256sum --check --strict --quiet - ||
    die "$NAME: SHA-256 is not $SHA256: refusing to install it"
say "$NAME: SHA-256 verified"

if [[ -n "$OUTPUTS_B64" ]]; then
    printf '%s' "$OUTPUTS_B64" | base64 -d >"$WORK/outputs.json"
else
    cp "$OUTPUTS" "$WORK/outputs.json"
fi

case "$NAME" in
    *.rpm)
        [[ -z "$ROOT" ]] || die "--root lays out tarballs only"
        # The same version-release already installed (a rebuild pushed again): `install`
        # would do nothing, so reinstall; otherwise install (or upgrade).
        verb=install
        if rpm -q "$(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}' "$FILE")" >/dev/null 2>&1; then
            verb=reinstall
        fi
        if command -v dnf >/dev/null; then
            dnf "$verb" -y "$FILE"
        else
            yum "$verb" -y "$FILE"
        fi
        SALESAPP=salesapp
        ;;
    *.tar.gz | *.tgz)
        tar -xzf "$FILE" -C "$WORK"
        RELEASE="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'vpce-lab-*' | head -n 1)"
        [[ -n "$RELEASE" && -x "$RELEASE/deploy/install.sh" ]] ||
            die "$NAME has no vpce-lab-*/deploy/install.sh"
        SALESAPP="$RELEASE/bin/salesapp"
        ;;
    *) die "$NAME: neither an .rpm nor a .tar.gz" ;;
esac

# The configuration: this stack's, unless the file already names this stack's bucket.
ETC="$ROOT/etc/vpce-lab"
CONFIG="$ETC/config.toml"
if ! msg="$("$SALESAPP" configure --stack-outputs "$WORK/outputs.json" -o "$WORK/config.toml" 2>&1)"; then
    die "salesapp configure on the stack's outputs failed: $msg"
fi
BUCKET_LINE="$(grep -m1 '^bucket = ' "$WORK/config.toml")" || die "configure wrote no bucket line"
NEW_CONFIG=""
if [[ $RECONFIGURE -eq 1 || ! -f "$CONFIG" ]] || ! grep -qxF "$BUCKET_LINE" "$CONFIG"; then
    NEW_CONFIG="$WORK/config.toml"
    if [[ -f "$CONFIG" ]]; then
        backup="$CONFIG.bak-$(date -u +%Y%m%dT%H%M%SZ)"
        cp -p "$CONFIG" "$backup"
        say "replacing $CONFIG (kept as $backup)"
    fi
else
    say "keeping $CONFIG (it names this stack's bucket; --reconfigure rewrites it)"
fi

if [[ -n "${RELEASE:-}" ]]; then
    "$RELEASE/deploy/install.sh" --role "$ROLE" ${NEW_CONFIG:+--config "$NEW_CONFIG"} ${ROOT:+--root "$ROOT"}
else
    if [[ -n "$NEW_CONFIG" ]]; then
        install -d -m 0750 "$ETC"
        install -m 0640 "$NEW_CONFIG" "$ETC/.config.toml.new"
        if getent group vpce-lab >/dev/null; then
            chgrp vpce-lab "$ETC" "$ETC/.config.toml.new"
        fi
        mv -f "$ETC/.config.toml.new" "$CONFIG"
    fi
    systemctl daemon-reload
    systemctl enable "$ROLE.service"
    if ! systemctl restart "$ROLE.service"; then
        systemctl status --no-pager "$ROLE.service" || true
        journalctl --no-pager -n 40 -u "$ROLE.service" || true
        die "$ROLE.service did not start (exit 78 = configuration, 77 = permission)"
    fi
fi

if [[ -z "$ROOT" ]]; then
    # Both binaries ship on both instances; only this role's daemon runs here.
    if systemctl is-enabled --quiet "$OTHER.service" 2>/dev/null || systemctl is-active --quiet "$OTHER.service"; then
        say "stopping and disabling $OTHER.service (this is the $ROLE instance)"
        systemctl disable --now "$OTHER.service" || true
    fi
    systemctl is-active --quiet "$ROLE.service" || die "$ROLE.service is not active"
    say "$ROLE.service active: $("$SALESAPP" --version 2>/dev/null || echo "$NAME")"
else
    say "laid out under $ROOT"
fi
