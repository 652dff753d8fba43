"""Uploads FILE to s3://BUCKET/KEY at ENDPOINT with boto3's CRT transfer client (awscrt),
the fastest of AWS's own clients: a peer for `salesapp upload` in bench/run.sh.

    python bench/crt_upload.py FILE BUCKET KEY http://127.0.0.1:PORT

Credentials and region come from the environment (the emulator's test/test, us-east-1).
"""

import os
import sys

import botocore.session
from awscrt.auth import AwsCredentialsProvider
from botocore.config import Config
from s3transfer.crt import BotocoreCRTRequestSerializer, CRTTransferManager, create_s3_crt_client


def main():
    path, bucket, key, endpoint = sys.argv[1:5]
    region = os.environ.get("AWS_REGION", "us-east-1")
    credentials = AwsCredentialsProvider.new_static(
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    )
    crt = create_s3_crt_client(
        region, crt_credentials_provider=credentials, use_ssl=endpoint.startswith("https")
    )
    serializer = BotocoreCRTRequestSerializer(
        botocore.session.Session(),
        client_kwargs={
            "region_name": region,
            "endpoint_url": endpoint,
            "config": Config(s3={"addressing_style": "path"}),
        },
    )
    with CRTTransferManager(crt, serializer) as transfers:
        transfers.upload(path, bucket, key).result()


if __name__ == "__main__":
    main()
