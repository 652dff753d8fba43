"""Per-request cost of the lab's gateway: the same calls, made by the same boto3 client
settings, straight to the lab's emulator and through the salesapp host's listeners.

    .venv-moto/bin/python bench/lab_requests.py --state-dir DIR [--n 300]

DIR is a running lab's state directory (deploy/local/lab.sh, LAB_STATE_DIR). The calls are
ones the secured lab allows salesapp (small GetObject, PutObject, SendMessage, and the
ReceiveMessage + DeleteMessage that takes each message back), in rounds that alternate the
two paths, so both see the same machine. Prints the median milliseconds per call and the
ratio gateway / direct. Talks to 127.0.0.1 only.
"""

import argparse
import json
import pathlib
import statistics
import time

import boto3
from botocore.config import Config


def clients(endpoint_s3, endpoint_sqs, creds):
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    common = dict(
        region_name="us-east-1",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds.get("AWS_SESSION_TOKEN"),
        config=config,
    )
    return (
        boto3.client("s3", endpoint_url=endpoint_s3, **common),
        boto3.client("sqs", endpoint_url=endpoint_sqs, **common),
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state-dir", required=True)
    p.add_argument("--n", type=int, default=300)
    args = p.parse_args()
    d = pathlib.Path(args.state_dir)
    lab = json.loads((d / "lab.json").read_text())
    listeners = json.loads((d / "listeners.json").read_text())
    outputs = {o["OutputKey"]: o["OutputValue"] for o in json.loads((d / "outputs.json").read_text())["Stacks"][0]["Outputs"]}
    bucket, queue = outputs["RestrictedS3Bucket"], outputs["SQSQueueURL"]
    creds = lab["credentials"]["salesapp"]
    paths = {
        "direct": clients(lab["emulator"], lab["emulator"], creds),
        "gateway": clients(listeners["salesapp"]["endpoint"], listeners["salesapp"]["sqs"], creds),
    }
    body = b"x" * 1024
    s3, _ = paths["direct"]
    s3.put_object(Bucket=bucket, Key="bench/object", Body=body, ServerSideEncryption="AES256")

    calls = {
        "GetObject (1 KiB)": lambda s3, sqs, i: s3.get_object(Bucket=bucket, Key="bench/object")["Body"].read(),
        "PutObject (1 KiB)": lambda s3, sqs, i: s3.put_object(
            Bucket=bucket, Key=f"bench/put-{i % 10}", Body=body, ServerSideEncryption="AES256"
        ),
        "SendMessage": lambda s3, sqs, i: sqs.send_message(QueueUrl=queue, MessageBody="bench"),
        "ReceiveMessage + DeleteMessage": lambda s3, sqs, i: [
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get("Messages", [])
        ],
    }
    times = {(name, path): [] for name in calls for path in paths}
    for i in range(args.n):
        order = ("direct", "gateway") if i % 2 == 0 else ("gateway", "direct")
        for name, call in calls.items():
            for path in order:
                s3, sqs = paths[path]
                start = time.perf_counter()
                call(s3, sqs, i)
                times[(name, path)].append(time.perf_counter() - start)
    print(f"{'call':<32} {'direct ms':>10} {'gateway ms':>11} {'ratio':>7}   (median of {args.n}, boto3 client)")
    for name in calls:
        direct = statistics.median(times[(name, "direct")]) * 1000
        gateway = statistics.median(times[(name, "gateway")]) * 1000
        print(f"{name:<32} {direct:>10.2f} {gateway:>11.2f} {gateway / direct:>6.2f}x")


if __name__ == "__main__":
    main()
