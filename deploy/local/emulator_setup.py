"""Helpers for deploy/local/emulator.sh and demo.sh, run with the project venv's python.

Talks only to http://127.0.0.1:PORT (the local moto server), with the fake credentials
test/test: never to AWS.

    free-port                                   print a free TCP port on 127.0.0.1
    wait     --port P [--timeout S] [--pid PID] wait until the server answers HTTP
    provision --port P --bucket B --queue Q     create the bucket (SSE AES256 by default)
                                                and the queue (VisibilityTimeout 30); idempotent
    download --port P --bucket B --prefix K --dest DIR
                                                download every object under K into DIR
    headline FILE                               print the headline numbers of a report.json
"""

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def endpoint(port):
    return f"http://127.0.0.1:{port}"


def client(service, port):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint(port),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def cmd_free_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answers(port):
    try:
        with urllib.request.urlopen(endpoint(port) + "/moto-api/", timeout=2) as r:
            return r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500
    except (urllib.error.URLError, OSError):
        return False


def cmd_wait(args):
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if args.pid and not alive(args.pid):
            sys.exit(f"moto_server (pid {args.pid}) exited before answering")
        if answers(args.port):
            return
        time.sleep(0.2)
    sys.exit(f"moto_server on {endpoint(args.port)} did not answer within {args.timeout}s")


def cmd_provision(args):
    s3 = client("s3", args.port)
    sqs = client("sqs", args.port)
    try:
        s3.create_bucket(Bucket=args.bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_bucket_encryption(
        Bucket=args.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    enc = s3.get_bucket_encryption(Bucket=args.bucket)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    algo = rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    if algo != "AES256":
        sys.exit(f"bucket {args.bucket}: default encryption is {algo}, expected AES256")
    url = sqs.create_queue(QueueName=args.queue, Attributes={"VisibilityTimeout": "30"})[
        "QueueUrl"
    ]
    print(url)


def cmd_download(args):
    s3 = client("s3", args.port)
    os.makedirs(args.dest, exist_ok=True)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=args.bucket, Prefix=args.prefix
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
    if not keys:
        sys.exit(f"nothing under s3://{args.bucket}/{args.prefix}")
    for key in keys:
        dest = os.path.join(args.dest, key[len(args.prefix) :].lstrip("/"))
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        s3.download_file(args.bucket, key, dest)
        print(dest)


def money(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d}"


def cmd_headline(args):
    with open(args.file, encoding="utf-8") as f:
        report = json.load(f)
    totals = report["totals"]
    print(f"  date        {report['date']}")
    print(f"  orders      {totals['orders']:,}")
    print(f"  units       {totals['units']:,}")
    print(f"  revenue     {money(totals['revenue_cents'])}")
    print(f"  commission  {money(totals['commission_cents'])}")
    print(f"  reps        {len(report['reps'])}, regions {len(report['regions'])}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port").set_defaults(func=cmd_free_port)
    w = sub.add_parser("wait")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--timeout", type=float, default=30)
    w.add_argument("--pid", type=int)
    w.set_defaults(func=cmd_wait)
    pr = sub.add_parser("provision")
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--bucket", required=True)
    pr.add_argument("--queue", required=True)
    pr.set_defaults(func=cmd_provision)
    d = sub.add_parser("download")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--bucket", required=True)
    d.add_argument("--prefix", required=True)
    d.add_argument("--dest", required=True)
    d.set_defaults(func=cmd_download)
    h = sub.add_parser("headline")
    h.add_argument("file")
    h.set_defaults(func=cmd_headline)
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
