"""Deploys a CloudFormation template into the LOCAL emulator and prints describe-stacks JSON.

Run with the project venv's python (deploy/local/emulator.sh creates .venv-moto with boto3):

    .venv-moto/bin/python deploy/cloudformation/emulator_deploy.py --port PORT \
        --template deploy/cloudformation/vpce-lab.yaml --stack-name lab > outputs.json

Talks only to http://127.0.0.1:PORT with the fake credentials test/test, never to AWS.
Waits for CREATE_COMPLETE, then prints exactly what `aws cloudformation describe-stacks`
prints (the input of `salesapp configure --stack-outputs`). Exits 1 with the stack's events
when creation fails, and when the stack has no outputs: under moto one output that cannot
be resolved blanks them all while the stack still says CREATE_COMPLETE.
"""

import argparse
import json
import sys
import time


def client(port):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "cloudformation",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 2}),
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--stack-name", required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()

    with open(args.template, encoding="utf-8") as f:
        body = f.read()
    described = deploy(client(args.port), body, args.stack_name, args.parameter, args.timeout)
    json.dump(described, sys.stdout, indent=2, default=str)
    print()


def deploy(cfn, body, stack_name, parameters, timeout):
    """Creates the stack (parameters as KEY=VALUE), waits for CREATE_COMPLETE and returns
    describe-stacks' answer; exits 1 with the stack's events when that fails."""
    params = []
    for kv in parameters:
        key, _, value = kv.partition("=")
        params.append({"ParameterKey": key, "ParameterValue": value})
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=body,
        Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            break
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            for e in events:
                print(
                    f"{e.get('LogicalResourceId')}: {e.get('ResourceStatus')} "
                    f"{e.get('ResourceStatusReason', '')}",
                    file=sys.stderr,
                )
            sys.exit(f"stack {stack_name}: {status}")
        time.sleep(0.5)
    described = cfn.describe_stacks(StackName=stack_name)
    if not described["Stacks"][0].get("Outputs"):
        sys.exit(
            f"stack {stack_name} is CREATE_COMPLETE but has no outputs "
            "(under moto one unresolvable output blanks them all)"
        )
    described.pop("ResponseMetadata", None)
    return described


if __name__ == "__main__":
    main()
