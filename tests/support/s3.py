"""A real S3-compatible server for storage tests: moto in server mode, over real HTTP."""

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.processes import free_port, stop

CREDENTIALS = {"access_key": "drill", "secret_key": "drill-secret"}
REGION = "us-east-1"


@contextlib.contextmanager
def s3_server():
    """Start moto_server on a free port; yield (endpoint URL, a boto3 client for it)."""
    import boto3

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # an HTTP answer of any status: the server is up
            except OSError:
                assert server.poll() is None, "moto_server exited"
                assert time.monotonic() < deadline, "moto_server did not answer"
                time.sleep(0.2)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["access_key"],
            aws_secret_access_key=CREDENTIALS["secret_key"],
        )
        yield endpoint, client
    finally:
        stop(server)


def s3_storage(endpoint: str, bucket: str, **options) -> dict:
    """A STORAGES entry for django-storages' S3 backend on that server."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": REGION,
            **CREDENTIALS,
            "file_overwrite": False,
            **options,
        },
    }
