"""The local lab's helper for deploy/local/lab.sh, run with the project venv's python (boto3).

Talks only to http://127.0.0.1:PORT (the lab's own moto server), never to AWS.

    deploy  --port P --state secured|starting --dir D
        deploy vpce-lab.yaml to the emulator in that LabState, set what the emulator's
        CloudFormation misses (the endpoint policies as JSON), create the lab's administrator
        and assume both instance roles, render the bucket and queue policies (the emulator
        skips them; the gateway keeps them), write D/outputs.json and D/lab.json, and
        D/workshop.json: the workshop's controls as the template gives them in both states,
        with the deployed ids (workshop_documents), which `lab.sh secure` applies
    fixture --state secured|starting
        print the gateway's test fixture: the same lab.json, the emulator's side of the lab
        (endpoints, security groups, identity policies) and workshop.json, all rendered from
        the template offline with made-up ids (lab-gateway/tests/fixtures/)
    configure-hosts --dir D --salesapp BIN
        write the instance hosts' config.toml with `BIN configure` from D/outputs.json, each
        with its own listeners (D/listeners.json) and spool set by configure's --set flags
    env --dir D (--json | --host NAME)
        what `lab.sh env` prints
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "cloudformation" / "vpce-lab.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "lab"
HOSTS = ("salesapp", "reportsengine", "cloud9", "internet")
# Addresses AWS would see for traffic that leaves over the internet (documentation ranges,
# never contacted): the NAT gateway of the private subnets, Cloud9's own, a machine outside.
NAT_IP = "203.0.113.1"
CLOUD9_PUBLIC_IP = "203.0.113.10"
CLOUD9_PRIVATE_IP = "10.0.0.10"
INTERNET_IP = "198.51.100.10"
ADMIN_USER = "lab-admin"
ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "LabAdministrator", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# The resources the emulator's CloudFormation skips: rendered here, kept by the gateway.
BUCKET_POLICIES = ("RestrictedBucketPolicy", "UnrestrictedBucketPolicy", "ArtifactsBucketPolicy")
QUEUE_POLICIES = ("QueuePolicy",)



# ------------------------------------------------------------------ the template, resolved
sys.path.insert(0, str(TEMPLATE.parent))
from cfn_resolve import Stack, load  # noqa: E402  (deploy/cloudformation/cfn_resolve.py)


def resource_policies(stack):
    """The bucket and queue policies the template gives (bucket -> text, queue ARN -> text)."""
    buckets, queues = {}, {}
    for props in stack.resources_of("AWS::S3::BucketPolicy").values():
        buckets[props["Bucket"]] = json.dumps(props["PolicyDocument"])
    for props in stack.resources_of("AWS::SQS::QueuePolicy").values():
        for url in props["Queues"]:
            queues[queue_arn(url)] = json.dumps(props["PolicyDocument"])
    return buckets, queues


def queue_arn(url):
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"


def hosts(outputs):
    """The lab's four hosts, from the stack's outputs."""
    vpc = outputs["VPCID"]
    return [
        {
            "name": "salesapp",
            "vpc_id": vpc,
            "private_ip": outputs["EC2Instance1IP"],
            "route_table": outputs["PrivateSubnet1ARouteTable"],
            "security_groups": [outputs["SecurityGroupForSalesApp"]],
            "public_ip": NAT_IP,
            "instance_role": outputs["IAMRoleForSalesApp"],
        },
        {
            "name": "reportsengine",
            "vpc_id": vpc,
            "private_ip": outputs["EC2Instance2IP"],
            "route_table": outputs["PrivateSubnet2ARouteTable"],
            "security_groups": [outputs["SecurityGroupForReportsEngine"]],
            "public_ip": NAT_IP,
            "instance_role": outputs["IAMRoleForReportsEngine"],
        },
        {
            "name": "cloud9",
            "vpc_id": vpc,
            "private_ip": CLOUD9_PRIVATE_IP,
            "route_table": outputs["PublicSubnetRouteTable"],
            "security_groups": [],
            "public_ip": CLOUD9_PUBLIC_IP,
        },
        {"name": "internet", "public_ip": INTERNET_IP},
    ]


# ------------------------------------------------------------------ offline: the test fixture
def placeholder_ref(template):
    def ref(logical):
        kind = template["Resources"][logical]["Type"]
        low = logical.lower()
        return {
            "AWS::S3::Bucket": f"lab-{low}-fixture",
            "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/lab-Queue-FIXTURE",
            "AWS::EC2::VPCEndpoint": f"vpce-{low}",
            "AWS::EC2::SecurityGroup": f"sg-{low}",
            "AWS::EC2::VPC": "vpc-fixture",
            "AWS::EC2::RouteTable": f"rtb-{low}",
            "AWS::EC2::Subnet": f"subnet-{low}",
            "AWS::EC2::Instance": f"i-{low}",
            "AWS::IAM::Role": f"lab-{logical}-FIXTURE",
        }.get(kind, f"{low}-fixture")

    return ref


def placeholder_getatt(template, ref):
    def getatt(logical, attribute):
        kind = template["Resources"][logical]["Type"]
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{ref(logical)}"
        if kind == "AWS::SQS::Queue":
            return queue_arn(ref(logical)) if attribute == "Arn" else ref(logical).rsplit("/", 1)[1]
        if attribute == "GroupId":
            return ref(logical)
        if attribute == "CidrBlock":
            return "10.0.0.0/16"
        if attribute == "PrivateIp":
            return {"SalesAppInstance": "10.0.1.4", "ReportsEngineInstance": "10.0.2.4"}[logical]
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{ref(logical)}"
        return f"{ref(logical)}-{attribute.lower()}"

    return getatt


def role_policies(stack, logical):
    """A role's inline policies as the template gives them: its `Policies` and the
    AWS::IAM::Policy resources that name it. [(name, document)]"""
    own = [(p["PolicyName"], p["PolicyDocument"]) for p in stack.resource(logical).get("Policies", [])]
    role = stack.ref(logical)
    attached = [
        (p["PolicyName"], p["PolicyDocument"])
        for p in stack.resources_of("AWS::IAM::Policy").values()
        if role in p.get("Roles", [])
    ]
    return own, attached


def ingress_rules(group):
    """A security group's inbound rules (its resolved Properties) as the gateway reads them."""
    return [
        {
            "protocol": str(r["IpProtocol"]),
            "from_port": r.get("FromPort"),
            "to_port": r.get("ToPort"),
            "cidrs": [r["CidrIp"]] if "CidrIp" in r else [],
            "groups": [r["SourceSecurityGroupId"]] if "SourceSecurityGroupId" in r else [],
        }
        for r in group.get("SecurityGroupIngress", [])
    ]


def snapshot(stack):
    """The emulator's side of the lab as the template creates it: VPC endpoints, security
    groups' inbound rules, identity policies (inline ones; AWS-managed policies such as
    AmazonSSMManagedInstanceCore are not loaded by the emulator)."""
    endpoints = []
    for logical, p in stack.resources_of("AWS::EC2::VPCEndpoint").items():
        endpoints.append({
            "id": stack.ref(logical),
            "type": p.get("VpcEndpointType", "Gateway"),
            "service_name": p["ServiceName"],
            "vpc_id": p["VpcId"],
            "policy": json.dumps(p["PolicyDocument"]) if "PolicyDocument" in p else None,
            "route_tables": p.get("RouteTableIds", []),
            "groups": p.get("SecurityGroupIds", []),
            "private_dns": bool(p.get("PrivateDnsEnabled", False)),
        })
    groups = {}
    for logical, p in stack.resources_of("AWS::EC2::SecurityGroup").items():
        groups[stack.ref(logical)] = ingress_rules(p)
    identities = {}
    for logical in stack.resources_of("AWS::IAM::Role"):
        name = stack.ref(logical)
        own, attached = role_policies(stack, logical)
        identities[f"arn:aws:iam::{ACCOUNT}:role/{name}"] = [
            {"name": f"role {name}, inline policy {policy}", "document": json.dumps(document)}
            for policy, document in own + attached
        ]
    identities[f"arn:aws:iam::{ACCOUNT}:user/{ADMIN_USER}"] = [
        {"name": f"user {ADMIN_USER}, inline policy LabAdministrator", "document": json.dumps(ADMIN_POLICY)}
    ]
    return {"endpoints": endpoints, "security_groups": groups, "identity_policies": identities}


# ------------------------------------------------------------------ the workshop's controls
def workshop_documents(stack):
    """The documents of the workshop's controls as the template gives them in one LabState:
    both endpoints' policies, the restricted bucket's and the queue's policies (None where
    there is none), and the SQS endpoint's security group's inbound rules: what `lab.sh
    secure` applies (the secured ones)."""
    endpoints = stack.resources_of("AWS::EC2::VPCEndpoint")
    buckets, queues = resource_policies(stack)
    restricted = stack.ref("RestrictedBucket")
    queue = queue_arn(stack.ref("Queue"))
    group = stack.resource("InterfaceEndpointSecurityGroup")
    return {
        "s3_endpoint_policy": endpoints["S3GatewayEndpoint"].get("PolicyDocument"),
        "sqs_endpoint_policy": endpoints["SQSInterfaceEndpoint"].get("PolicyDocument"),
        "bucket_policy": json.loads(buckets[restricted]) if restricted in buckets else None,
        "queue_policy": json.loads(queues[queue]) if queue in queues else None,
        "endpoint_security_group": ingress_rules(group),
    }


def workshop(template, ref, getatt):
    """workshop_documents for both states, with the same ids."""
    return {
        state: workshop_documents(Stack(template, ref=ref, getatt=getatt, LabState=state))
        for state in ("starting", "secured")
    }


def cmd_fixture(args):
    template = load(TEMPLATE)
    ref = placeholder_ref(template)
    stack = Stack(template, ref=ref, getatt=placeholder_getatt(template, ref), LabState=args.state)
    outputs = {name: str(o["Value"]) for name, o in stack.outputs().items()}
    buckets, queues = resource_policies(stack)
    keys = {h: (f"AKIAFIXTURE{h.upper()}" if h in ("cloud9", "internet") else f"ASIAFIXTURE{h.upper()}") for h in HOSTS}
    keys["cloud9"] = keys["internet"] = "AKIAFIXTUREADMIN"
    principals = {
        "AKIAFIXTUREADMIN": f"arn:aws:iam::{ACCOUNT}:user/{ADMIN_USER}",
        keys["salesapp"]: f"arn:aws:sts::{ACCOUNT}:assumed-role/{outputs['IAMRoleForSalesApp']}/salesapp",
        keys["reportsengine"]: f"arn:aws:sts::{ACCOUNT}:assumed-role/{outputs['IAMRoleForReportsEngine']}/reportsengine",
    }
    lab = {
        "state": args.state,
        "region": REGION,
        "account": ACCOUNT,
        "emulator": "http://127.0.0.1:1",
        "endpoints": [outputs["S3VPCGatewayEndpoint"], outputs["SQSVPCInterfaceEndpoint"]],
        "hosts": hosts(outputs),
        "credentials": {
            h: {"AWS_ACCESS_KEY_ID": keys[h], "AWS_SECRET_ACCESS_KEY": "fixture"} for h in HOSTS
        },
        "principals": principals,
        "bucket_policies": buckets,
        "queue_policies": queues,
    }
    documents = workshop(template, ref, placeholder_getatt(template, ref))
    json.dump({"outputs": outputs, "lab": lab, "snapshot": snapshot(stack), "workshop": documents}, sys.stdout, indent=1, sort_keys=True)
    print()


# ------------------------------------------------------------------ deploy to the emulator
def clients(port):
    import boto3
    from botocore.config import Config

    def client(service):
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 2}),
        )

    return client


def write_json(path, value):
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, default=str)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def cmd_deploy(args):
    import emulator_deploy  # deploy/cloudformation/emulator_deploy.py

    client = clients(args.port)
    cfn, ec2, iam, sts = client("cloudformation"), client("ec2"), client("iam"), client("sts")
    described = emulator_deploy.deploy(
        cfn, TEMPLATE.read_text(encoding="utf-8"), STACK, [f"LabState={args.state}"], timeout=120
    )
    out_dir = pathlib.Path(args.dir)
    write_json(out_dir / "outputs.json", described)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}

    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        if r.get("LogicalResourceId")
    }
    template = load(TEMPLATE)

    def getatt(logical, attribute):
        kind = template["Resources"][logical]["Type"]
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{physical[logical]}"
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return queue_arn(physical[logical])
        if attribute == "GroupId":
            return physical[logical]
        if kind == "AWS::EC2::VPC" and attribute == "CidrBlock":
            return ec2.describe_vpcs(VpcIds=[physical[logical]])["Vpcs"][0]["CidrBlock"]
        raise KeyError(f"{logical}.{attribute} is not needed by the lab's policies")

    def ref(logical):
        if logical not in physical:
            raise KeyError(f"the stack has no resource {logical}")
        return physical[logical]

    stack = Stack(template, ref=ref, getatt=getatt, LabState=args.state)
    # moto 5.2.5 stores a template's endpoint policies and a role's inline `Policies` as
    # Python's repr of them, which no JSON reader takes: set each one again as JSON (the same
    # policy, rendered from the template).
    for logical, props in stack.resources_of("AWS::EC2::VPCEndpoint").items():
        if "PolicyDocument" in props:
            ec2.modify_vpc_endpoint(VpcEndpointId=ref(logical), PolicyDocument=json.dumps(props["PolicyDocument"]))
    for logical in ("SalesAppRole", "ReportsEngineRole"):
        own, _ = role_policies(stack, logical)
        for policy, document in own:
            iam.put_role_policy(RoleName=ref(logical), PolicyName=policy, PolicyDocument=json.dumps(document))
    buckets, queues = resource_policies(stack)

    # The administrator (cloud9 and internet) and the instance roles' sessions. IAM
    # enforcement stays off in the emulator: the gateway decides.
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(UserName=ADMIN_USER, PolicyName="LabAdministrator", PolicyDocument=json.dumps(ADMIN_POLICY))
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    admin = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    principals = {key["AccessKeyId"]: f"arn:aws:iam::{ACCOUNT}:user/{ADMIN_USER}"}
    credentials = {"cloud9": admin, "internet": admin}
    for host, output in (("salesapp", "IAMRoleForSalesApp"), ("reportsengine", "IAMRoleForReportsEngine")):
        role = iam.get_role(RoleName=outputs[output])["Role"]
        assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=host, DurationSeconds=43200)
        c = assumed["Credentials"]
        credentials[host] = {
            "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
            "AWS_SESSION_TOKEN": c["SessionToken"],
        }
        principals[c["AccessKeyId"]] = assumed["AssumedRoleUser"]["Arn"]

    lab = {
        "state": args.state,
        "region": REGION,
        "account": ACCOUNT,
        "emulator": f"http://127.0.0.1:{args.port}",
        "endpoints": [outputs["S3VPCGatewayEndpoint"], outputs["SQSVPCInterfaceEndpoint"]],
        "hosts": hosts(outputs),
        "credentials": credentials,
        "principals": principals,
        "bucket_policies": buckets,
        "queue_policies": queues,
    }
    write_json(out_dir / "lab.json", lab)
    write_json(out_dir / "workshop.json", workshop(template, ref, getatt))


# ------------------------------------------------------------------ the hosts' configurations
def host_settings(listener, home):
    """What makes configure's file one instance host's: its own listeners (the emulator behind
    them needs path-style addressing) and its spool under the lab's state."""
    return {
        "endpoints.s3": listener["endpoint"],
        "endpoints.sqs": listener["sqs"],
        "endpoints.force_path_style": True,
        "salesapp.spool_dir": str(home / "spool"),
    }


def cmd_configure_hosts(args):
    """Writes each instance host's config.toml (DIR/hosts/HOST/config.toml, mode 0600) with
    `salesapp configure` from the stack's outputs, the host's settings given as configure's
    own `--set` flags, which it writes as settings of the file; then reads each file back."""
    d = pathlib.Path(args.dir)
    listeners = json.loads((d / "listeners.json").read_text(encoding="utf-8"))
    for host in ("salesapp", "reportsengine"):
        home = d / "hosts" / host
        (home / "spool").mkdir(parents=True, exist_ok=True)
        config = home / "config.toml"
        settings = host_settings(listeners[host], home)
        command = [args.salesapp, "configure", "--stack-outputs", str(d / "outputs.json"),
                   "-o", str(config), "--force"]
        for key, value in settings.items():
            command += ["--set", f"{key}={json.dumps(value) if isinstance(value, bool) else value}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"configure-hosts: `salesapp configure` for {host} exited {done.returncode}:\n{done.stderr}")
        written = tomllib.loads(config.read_text(encoding="utf-8"))
        got = {key: written.get(key.split(".")[0], {}).get(key.split(".")[1]) for key in settings}
        if got != settings:
            sys.exit(f"configure-hosts: {config}: the host's settings not read back: {got}")


# ------------------------------------------------------------------ env
def cmd_env(args):
    d = pathlib.Path(args.dir)
    lab = json.loads((d / "lab.json").read_text(encoding="utf-8"))
    listeners = json.loads((d / "listeners.json").read_text(encoding="utf-8"))
    described = json.loads((d / "outputs.json").read_text(encoding="utf-8"))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}
    hosts_out = {}
    for name in HOSTS:
        ports = listeners[name]
        host = {
            "endpoint": ports["endpoint"],
            "credentials": lab["credentials"][name],
            "endpoints": {"s3": ports["endpoint"], "sqs": ports["sqs"]},
        }
        config = d / "hosts" / name / "config.toml"
        if config.is_file():
            host["config"] = str(config)
        if ports.get("imds"):
            host["imds"] = ports["imds"]
        hosts_out[name] = host
    doc = {"state": lab["state"], "region": lab["region"], "account": lab["account"], "outputs": outputs, "hosts": hosts_out}
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
        return
    if args.host not in hosts_out:
        sys.exit(f"env: no host {args.host!r}: one of {', '.join(HOSTS)}")
    h = hosts_out[args.host]
    q = shell_quote
    lines = [
        f"# the lab's host {args.host} ({lab['state']} state): eval \"$(deploy/local/lab.sh env {args.host})\"",
        "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN HTTP_PROXY http_proxy ALL_PROXY all_proxy",
    ]
    for k, v in h["credentials"].items():
        lines.append(f"export {k}={q(v)}")
    lines += [
        f"export AWS_REGION={q(lab['region'])} AWS_DEFAULT_REGION={q(lab['region'])}",
        f"export AWS_ENDPOINT_URL={q(h['endpoint'])} AWS_ENDPOINT_URL_S3={q(h['endpoints']['s3'])} AWS_ENDPOINT_URL_SQS={q(h['endpoints']['sqs'])}",
        "export AWS_EC2_METADATA_DISABLED=true",
        # No request from this shell reaches real AWS by accident: the lab's endpoints are
        # plain HTTP on 127.0.0.1, anything https:// goes to a proxy that is not there.
        "export HTTPS_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost",
        f"export LAB_HOST={q(args.host)}",
        # For typing the workshop's commands: aws s3 cp day.csv "s3://$LAB_BUCKET/day.csv".
        f"export LAB_BUCKET={q(outputs['RestrictedS3Bucket'])} LAB_UNRESTRICTED_BUCKET={q(outputs['UnrestrictedS3Bucket'])} LAB_QUEUE_URL={q(outputs['SQSQueueURL'])}",
    ]
    if "config" in h:
        lines.append(f"export VPCE_LAB_CONFIG={q(h['config'])}")
    if "imds" in h:
        # The daemons, as on EC2: unset the keys and AWS_EC2_METADATA_DISABLED, and set
        # AWS_EC2_METADATA_SERVICE_ENDPOINT="$LAB_IMDS" (docs/lab.md).
        lines.append(f"export LAB_IMDS={q(h['imds'])}")
        # salesapp and reportsengine on PATH, as the package installs them on the instance.
        bin_dir = d / "bin-dir"
        if bin_dir.is_file():
            lines.append(f"export PATH={q(bin_dir.read_text(encoding='utf-8').strip())}:\"$PATH\"")
    # The aws CLI v1 reads no endpoint from the environment: this function gives it the
    # host's endpoint for each service, so the workshop's commands are typed as they are.
    lines.append(
        'aws() { case "$1" in sqs) command aws --endpoint-url "$AWS_ENDPOINT_URL_SQS" "$@" ;; '
        '*) command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@" ;; esac; }'
    )
    print("\n".join(lines))


def shell_quote(s):
    return "'" + str(s).replace("'", "'\\''") + "'"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("deploy")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--state", choices=["secured", "starting"], required=True)
    d.add_argument("--dir", required=True)
    f = sub.add_parser("fixture")
    f.add_argument("--state", choices=["secured", "starting"], required=True)
    c = sub.add_parser("configure-hosts")
    c.add_argument("--dir", required=True)
    c.add_argument("--salesapp", required=True)
    e = sub.add_parser("env")
    e.add_argument("--dir", required=True)
    g = e.add_mutually_exclusive_group(required=True)
    g.add_argument("--json", action="store_true")
    g.add_argument("--host")
    args = p.parse_args()
    commands = {"deploy": cmd_deploy, "fixture": cmd_fixture, "configure-hosts": cmd_configure_hosts, "env": cmd_env}
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
