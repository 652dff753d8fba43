#!/usr/bin/env bash
# Puts a release on both lab instances, from a laptop, in one command:
#
#   deploy/push.sh [--stack NAME] [--region REGION] [--endpoint-url URL] [--only ROLE]
#                  [--reconfigure] [--timeout SECONDS] [--no-wait] [ARTIFACT]
#
# 1. ARTIFACT: the RPM or tarball of deploy/build-release.sh (default: the newest
#    dist/vpce-lab-*.rpm, else the newest dist/vpce-lab-*.tar.gz);
# 2. reads the stack's outputs (ArtifactsS3Bucket, SalesAppInstanceId, ReportsEngineInstanceId,
#    and those `salesapp configure` needs);
# 3. uploads it to s3://ARTIFACTS/releases/SHA256/NAME (the instances may read releases/
#    through the gateway endpoint; nothing else of that bucket);
# 4. runs deploy/instance-install.sh on each instance through SSM Run Command
#    (AWS-RunShellScript, as root): fetch, verify the SHA-256, install, configure, restart;
# 5. waits for both commands and prints each one's status and output; exit 0 only when both
#    succeeded (1 when one failed, 64 usage, 69 stack or service unavailable).
#
# Needs the AWS CLI (v1 or v2; $AWS_CLI overrides `aws`) with credentials allowed to call
# cloudformation:DescribeStacks, s3:PutObject on the artifacts bucket and ssm:SendCommand /
# GetCommandInvocation on the two instances. --stack defaults to $VPCE_LAB_STACK or vpce-lab.
# --endpoint-url (or $VPCE_LAB_ENDPOINT_URL) sends every AWS call there: the local emulator's
# tests use it. --reconfigure rewrites /etc/vpce-lab/config.toml even if it names this stack.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
INSTALLER="$HERE/instance-install.sh"
AWS_CLI="${AWS_CLI:-aws}"
STACK="${VPCE_LAB_STACK:-vpce-lab}"
REGION=""
ENDPOINT_URL="${VPCE_LAB_ENDPOINT_URL:-}"
ONLY=""
RECONFIGURE=0
TIMEOUT=900
WAIT=1
ARTIFACT=""

say() { printf 'push: %s\n' "$*" >&2; }
die() {
    local code="$1"
    shift
    printf 'push: ERROR: %s\n' "$*" >&2
    exit "$code"
}
usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --stack) STACK="${2:-}"; shift 2 ;;
        --region) REGION="${2:-}"; shift 2 ;;
        --endpoint-url) ENDPOINT_URL="${2:-}"; shift 2 ;;
        --only) ONLY="${2:-}"; shift 2 ;;
        --reconfigure) RECONFIGURE=1; shift ;;
        --timeout) TIMEOUT="${2:-}"; shift 2 ;;
        --no-wait) WAIT=0; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die 64 "unknown option: $1" ;;
        *)
            [[ -z "$ARTIFACT" ]] || die 64 "one artifact at a time (got $ARTIFACT and $1)"
            ARTIFACT="$1"
            shift
            ;;
    esac
done
case "$ONLY" in "" | salesapp | reportsengine) ;; *) die 64 "--only salesapp|reportsengine" ;; esac
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die 64 "--timeout SECONDS"
[[ -n "$STACK" ]] || die 64 "--stack NAME"
command -v "$AWS_CLI" >/dev/null || die 69 "AWS CLI not found ($AWS_CLI): install it or set AWS_CLI"
[[ -r "$INSTALLER" ]] || die 69 "$INSTALLER not found"

# The newest of the files matching a glob, or nothing.
newest() {
    local best="" f
    for f in "$@"; do
        [[ -f "$f" ]] || continue
        if [[ -z "$best" || "$f" -nt "$best" ]]; then
            best="$f"
        fi
    done
    printf '%s' "$best"
}
if [[ -z "$ARTIFACT" ]]; then
    ARTIFACT="$(newest "$REPO"/dist/vpce-lab-*.rpm)"
    [[ -n "$ARTIFACT" ]] || ARTIFACT="$(newest "$REPO"/dist/vpce-lab-*.tar.gz)"
    [[ -n "$ARTIFACT" ]] || die 64 "no dist/vpce-lab-*.rpm or *.tar.gz: run deploy/build-release.sh, or name the file"
fi
[[ -f "$ARTIFACT" ]] || die 64 "$ARTIFACT: no such file"
case "$ARTIFACT" in
    *.rpm | *.tar.gz | *.tgz) ;;
    *) die 64 "$ARTIFACT: neither an .rpm nor a .tar.gz" ;;
esac
NAME="$(basename "$ARTIFACT")"
[[ "$NAME" =~ ^[A-Za-z0-9._+-]+$ ]] || die 64 "$NAME: use a plain file name (letters, digits, . _ + -)"

aws_() {
    local args=()
    [[ -z "$ENDPOINT_URL" ]] || args+=(--endpoint-url "$ENDPOINT_URL")
    [[ -z "$REGION" ]] || args+=(--region "$REGION")
    "$AWS_CLI" "${args[@]}" "$@"
}

if command -v sha256sum >/dev/null; then
    SHA256="$(sha256sum "$ARTIFACT" | awk '{print $1}')"
else
    SHA256="$(shasum -a 256 "$ARTIFACT" | awk '{print $1}')" # macOS
fi

say "stack $STACK: reading its outputs"
OUTPUT_LINES="$(aws_ cloudformation describe-stacks --stack-name "$STACK" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text)" ||
    die 69 "cannot describe stack $STACK"
output() {
    awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' <<<"$OUTPUT_LINES"
}
for key in ArtifactsS3Bucket SalesAppInstanceId ReportsEngineInstanceId RestrictedS3Bucket SQSQueueURL SQSQueueARN; do
    [[ -n "$(output "$key")" ]] || die 69 "stack $STACK has no output $key (is it this repository's template?)"
done
# Later calls go to the stack's region (its queue ARN names it).
REGION="${REGION:-$(output SQSQueueARN | cut -d: -f4)}"

# What `salesapp configure` needs, as a flat JSON object. The values are AWS names and URLs;
# anything that would need escaping is refused rather than quoted.
json=""
for key in RestrictedS3Bucket SQSQueueURL SQSQueueARN SQSQueueVisibilityTimeout UnrestrictedS3Bucket; do
    value="$(output "$key")"
    [[ -n "$value" ]] || continue
    [[ "$value" =~ ^[A-Za-z0-9._:/@=+-]+$ ]] || die 69 "output $key has unexpected characters: $value"
    json+="${json:+, }\"$key\": \"$value\""
done
OUTPUTS_B64="$(printf '{%s}' "$json" | base64 | tr -d '\n')"

KEY="releases/$SHA256/$NAME"
URL="s3://$(output ArtifactsS3Bucket)/$KEY"
say "uploading $ARTIFACT → $URL"
aws_ s3 cp --only-show-errors --sse AES256 --metadata "sha256=$SHA256" "$ARTIFACT" "$URL" ||
    die 69 "upload to $URL failed"

INSTALLER_B64="$(base64 <"$INSTALLER" | tr -d '\n')"
ARGS="--artifact $URL --sha256 $SHA256 --region $REGION --outputs-b64 $OUTPUTS_B64"
[[ $RECONFIGURE -eq 0 ]] || ARGS+=" --reconfigure"

# Parallel lists (bash 3.2, as on macOS, has no associative arrays).
ROLES=(salesapp reportsengine)
[[ -z "$ONLY" ]] || ROLES=("$ONLY")
INSTANCES=()
COMMANDS=()
for role in "${ROLES[@]}"; do
    if [[ "$role" == salesapp ]]; then
        instance="$(output SalesAppInstanceId)"
    else
        instance="$(output ReportsEngineInstanceId)"
    fi
    # Every character here is base64, a name or a URL: safe inside JSON strings as is.
    params="{\"commands\": [\"set -e\", \"printf %s $INSTALLER_B64 | base64 -d > /root/vpce-lab-instance-install.sh\", \"bash /root/vpce-lab-instance-install.sh --role $role $ARGS\"], \"executionTimeout\": [\"$TIMEOUT\"]}"
    id="$(aws_ ssm send-command --document-name AWS-RunShellScript --instance-ids "$instance" \
        --comment "vpce-lab push $NAME ($role)" --parameters "$params" \
        --query Command.CommandId --output text)" ||
        die 69 "ssm send-command to $instance ($role) failed (Session Manager enabled? agent online?)"
    INSTANCES+=("$instance")
    COMMANDS+=("$id")
    say "$role on $instance: command $id"
done

if [[ $WAIT -eq 0 ]]; then
    for i in "${!ROLES[@]}"; do
        echo "${ROLES[$i]} ${INSTANCES[$i]} ${COMMANDS[$i]}"
    done
    exit 0
fi

# Polls each command until it reaches a final status, or the deadline.
deadline=$((SECONDS + TIMEOUT))
STATUSES=()
failed=0
for i in "${!ROLES[@]}"; do
    while :; do
        status="$(aws_ ssm get-command-invocation --command-id "${COMMANDS[$i]}" \
            --instance-id "${INSTANCES[$i]}" --query Status --output text 2>/dev/null || echo Pending)"
        case "$status" in
            Pending | InProgress | Delayed) ;;
            *) break ;;
        esac
        if ((SECONDS >= deadline)); then
            status="TimedOut (still $status after ${TIMEOUT}s; the command goes on)"
            break
        fi
        sleep 3
    done
    STATUSES+=("$status")
    printf '\n=== %s on %s: %s\n' "${ROLES[$i]}" "${INSTANCES[$i]}" "$status"
    # The instance's stdout then stderr (SSM keeps the first 24000 characters of each).
    # shellcheck disable=SC2016 # a JMESPath JSON literal, not a shell expansion
    text="$(aws_ ssm get-command-invocation --command-id "${COMMANDS[$i]}" \
        --instance-id "${INSTANCES[$i]}" --output text \
        --query 'join(`"\n"`, [StandardOutputContent, StandardErrorContent])' 2>/dev/null || true)"
    [[ -z "${text//$'\n'/}" ]] || printf '%s\n' "$text"
    [[ "$status" == Success ]] || failed=1
done
echo
for i in "${!ROLES[@]}"; do
    printf '%-14s %-20s %s\n' "${ROLES[$i]}" "${INSTANCES[$i]}" "${STATUSES[$i]}"
done
[[ $failed -eq 0 ]] || die 1 "the install failed on at least one instance (output above)"
say "done: $NAME on ${ROLES[*]}"
