"""Checking image files and reading them from S3, for dataset imports.

Image checks reuse the engine's decoder (moderation.engine.load_image), so a file the
console accepts is one the engine can analyse: JPEG or PNG by its magic bytes, at
most 15 MB, each side 80 to 10,000 px, fully decodable (not truncated), and not a
decompression bomb.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass

from django.conf import settings

from moderation.engine import MAX_STORED_BYTES, EngineError, load_image

THUMBNAIL_PX = 256  # the longest side of a grid thumbnail
MAX_S3_OBJECTS = 10_000  # objects imported from one prefix: the dataset limit (spec 4)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

_PREFIX_URI = re.compile(r"s3://([0-9A-Za-z.\-_]{3,255})/?(.*)", re.DOTALL)


class InvalidImage(ValueError):
    """A file that cannot be a dataset image; the message says why."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    sha256: str
    format: str  # JPEG or PNG
    width: int
    height: int
    thumbnail: bytes  # a JPEG, at most THUMBNAIL_PX on its longest side

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "JPEG" else "png"


def check_image(data: bytes) -> CheckedImage:
    """Validate an image and make its thumbnail; InvalidImage with the reason if refused."""
    try:
        img = load_image(data, max_bytes=MAX_STORED_BYTES)
    except EngineError as exc:
        raise InvalidImage(exc.message) from None
    width, height = img.info["source_size"]
    fmt = "PNG" if data.startswith(b"\x89PNG") else "JPEG"
    img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        width=width,
        height=height,
        thumbnail=buf.getvalue(),
    )


def parse_prefix(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/folder/`` into (bucket, prefix); ValueError naming the problem."""
    match = _PREFIX_URI.fullmatch(uri.strip()) if isinstance(uri, str) else None
    if not match:
        raise ValueError(f"S3 location: {uri!r} is not an s3://bucket/folder/ URI")
    prefix = match.group(2)
    if prefix.startswith("/") or ".." in prefix.split("/") or len(prefix) > 1024:
        raise ValueError(f"S3 location: {uri!r} has an invalid folder")
    return match.group(1), prefix


def s3_configured() -> bool:
    """Whether this console may read S3 buckets other than its own storage.

    The rule: S3 is configured when files are stored on S3 (STORAGE_BACKEND=s3), when an
    S3-compatible endpoint is set (AWS_S3_ENDPOINT_URL), or when AWS credentials are in the
    environment (AWS_ACCESS_KEY_ID or AWS_PROFILE). Instance roles are not probed: that
    would make every refusal wait for a metadata-service timeout.
    """
    return bool(
        settings.STORAGE_BACKEND == "s3"
        or settings.AWS_S3_ENDPOINT_URL
        or os.environ.get("AWS_ACCESS_KEY_ID")
        or os.environ.get("AWS_PROFILE")
    )


NOT_CONFIGURED = (
    "S3 is not configured on this console: set AWS_S3_ENDPOINT_URL or AWS credentials "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or use images in this console's bucket {bucket!r}"
)


def s3_client():
    import boto3

    return boto3.client("s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL, region_name=settings.AWS_REGION)


def s3_error(exc: Exception) -> str:
    """A short reason from a boto3 failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message') or 'refused'}"
    return str(exc) or exc.__class__.__name__
