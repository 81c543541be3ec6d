"""A real boto3 Rekognition client, signed with a console API key, against the live test server."""

import boto3
import pytest
from botocore.config import Config

from console import storage
from console.api.keys import create_api_key


def make_client(url: str, key_id: str, secret: str, **config):
    return boto3.client(
        "rekognition",
        endpoint_url=url + "/rekognition/",
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        # No retries: a test sees each answer as it was given.
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


@pytest.fixture
def owner_key(owner):
    return create_api_key(user=owner, name="tests")


@pytest.fixture
def rek(live_server, owner_key):
    key, secret = owner_key
    return make_client(live_server.url, key.access_key_id, secret)


@pytest.fixture
def viewer_rek(live_server, viewer):
    key, secret = create_api_key(user=viewer)
    return make_client(live_server.url, key.access_key_id, secret)


def put(name: str, data: bytes) -> dict:
    """Store a file in the console's storage; returns its S3Object."""
    return {"Bucket": storage.bucket(), "Name": storage.save(name, data)}
