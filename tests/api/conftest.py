"""A real boto3 Rekognition client, signed with a console API key, against the live test server."""

import boto3
import pytest
from botocore.config import Config

from console.lib import storage
from rekognition_api.keys import create_api_key


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


def drawn_image(seed: int, *, bottle: bool) -> bytes:
    """A generated JPEG: a bottle and a glass on a warm table, or sky over green hills."""
    import io
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed * 2 + bottle)
    if bottle:
        img = Image.new(
            "RGB", (224, 224), (rng.randint(200, 240), rng.randint(170, 200), rng.randint(120, 150))
        )
        draw = ImageDraw.Draw(img)
        x = rng.randint(40, 120)
        glass = (rng.randint(20, 60), rng.randint(80, 120), rng.randint(20, 50))
        draw.rectangle([x, 90, x + 40, 200], fill=glass)
        draw.rectangle([x + 12, 40, x + 28, 90], fill=glass)
        gx = rng.randint(150, 180)
        draw.polygon([(gx, 130), (gx + 36, 130), (gx + 18, 170)], fill=(150, 20, 40))
    else:
        img = Image.new(
            "RGB", (224, 224), (rng.randint(90, 130), rng.randint(150, 190), rng.randint(220, 250))
        )
        draw = ImageDraw.Draw(img)
        h = rng.randint(110, 150)
        draw.ellipse(
            [-60, h, 160, h + 200], fill=(rng.randint(30, 70), rng.randint(130, 170), rng.randint(30, 60))
        )
        sx = rng.randint(20, 180)
        draw.ellipse([sx, 20, sx + 30, 50], fill=(255, 230, 90))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def put_training_manifest(prefix: str, *, count: int = 16) -> dict:
    """`count` images in storage (half labeled Alcohol, half safe) and a ground-truth manifest naming them."""
    import json

    lines = []
    for i in range(count):
        bottle = i % 2 == 0
        obj = put(f"{prefix}/img{i}.jpg", drawn_image(i, bottle=bottle))
        labels = [{"Name": "Alcohol"}] if bottle else []
        lines.append(
            json.dumps(
                {
                    "source-ref": f"s3://{obj['Bucket']}/{obj['Name']}",
                    "content-moderation-groundtruth": {"ModerationLabels": labels},
                }
            )
        )
    return put(f"{prefix}/train.manifest", ("\n".join(lines) + "\n").encode())
