"""S3 access for every part of the console: one client, one reader within limits, one lister.

A (bucket, key) in this console's own bucket is read through Django's storage API
(console.lib.storage); any other bucket through boto3, and only when S3 is configured.
Failures are S3Error, whose message names the s3:// URI and whose `code` is the
Rekognition error code a caller reports (InvalidS3ObjectException, ImageTooLargeException).
"""

from __future__ import annotations

import os
import re

from django.conf import settings
from django.core.files.storage import default_storage

from console.lib import storage
from console.lib.refs import BackendError, ImageRef

MAX_OBJECTS = 10_000  # objects taken from one prefix: the dataset and bulk job limit (spec 4)

NOT_CONFIGURED = (
    "S3 is not configured on this console: set AWS_S3_ENDPOINT_URL or AWS credentials "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or use images in this console's bucket {bucket!r}"
)

_PREFIX_URI = re.compile(r"s3://([0-9A-Za-z.\-_]{3,255})/?(.*)", re.DOTALL)


class S3Error(ValueError):
    def __init__(self, message: str, *, code: str = "InvalidS3ObjectException"):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_prefix(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/folder/`` into (bucket, prefix); S3Error naming the problem."""
    match = _PREFIX_URI.fullmatch(uri.strip()) if isinstance(uri, str) else None
    if not match:
        raise S3Error(f"S3 location: {uri!r} is not an s3://bucket/folder/ URI")
    prefix = match.group(2)
    if prefix.startswith("/") or ".." in prefix.split("/") or len(prefix) > 1024:
        raise S3Error(f"S3 location: {uri!r} has an invalid folder")
    return match.group(1), prefix


def configured() -> bool:
    """Whether this console may read S3 buckets other than its own storage.

    S3 is configured when files are stored on S3 (STORAGE_BACKEND=s3), when an S3-compatible
    endpoint is set (AWS_S3_ENDPOINT_URL), or when AWS credentials are in the environment
    (AWS_ACCESS_KEY_ID or AWS_PROFILE). Instance roles are not probed: that would make
    every refusal wait for a metadata-service timeout.
    """
    return bool(
        settings.STORAGE_BACKEND == "s3"
        or settings.AWS_S3_ENDPOINT_URL
        or os.environ.get("AWS_ACCESS_KEY_ID")
        or os.environ.get("AWS_PROFILE")
    )


def not_configured(uri: str) -> S3Error:
    ours = storage.bucket()
    return S3Error(
        f"{uri} is not in this console's bucket {ours!r}, and " + NOT_CONFIGURED.format(bucket=ours)
    )


def client():
    """A boto3 S3 client for the configured endpoint and region."""
    import boto3  # here, not at the top: boto3 takes a third of a second to import, and most processes never use S3

    return boto3.client(
        "s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL or None, region_name=settings.AWS_REGION
    )


def error_text(exc: Exception) -> str:
    """A short reason from a boto3 failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message') or 'refused'}"
    return str(exc) or exc.__class__.__name__


class Reader:
    """Reads objects for one import or unit of work, with one boto3 client made when first needed."""

    def __init__(self) -> None:
        self._client = None

    def read(self, bucket: str, key: str, *, max_bytes: int) -> bytes:
        """The bytes of s3://bucket/key, at most `max_bytes`; S3Error naming the URI otherwise."""
        return _read(bucket, key, max_bytes, self)

    def client(self):
        if self._client is None:
            self._client = client()
        return self._client


def read_object(bucket: str, key: str, *, max_bytes: int) -> bytes:
    """The bytes of one object (see Reader.read)."""
    return Reader().read(bucket, key, max_bytes=max_bytes)


def _read(bucket: str, key: str, max_bytes: int, reader: Reader) -> bytes:
    uri = f"s3://{bucket}/{key}"
    if bucket == storage.bucket():
        try:
            return storage.read_ref(ImageRef(bucket, key), max_bytes=max_bytes)
        except BackendError as exc:
            raise S3Error(exc.message, code=exc.code) from None
    if not configured():
        raise not_configured(uri)
    too_large = S3Error(
        f"{uri} is larger than {max_bytes // (1024 * 1024)} MB", code="ImageTooLargeException"
    )
    try:
        response = reader.client().get_object(Bucket=bucket, Key=key)
        if response.get("ContentLength", 0) > max_bytes:
            raise too_large
        data = response["Body"].read(max_bytes + 1)
    except S3Error:
        raise
    except Exception as exc:  # noqa: BLE001 - botocore raises ClientError and BotoCoreError subclasses
        raise S3Error(f"{uri}: {error_text(exc)}") from None
    if len(data) > max_bytes:
        raise too_large
    return data


def list_prefix(bucket: str, prefix: str, *, limit: int = MAX_OBJECTS + 1) -> list[tuple[str, int]]:
    """(key, size) of up to `limit` objects under s3://bucket/prefix, in key order; S3Error if refused."""
    uri = f"s3://{bucket}/{prefix}"
    if bucket == storage.bucket() and settings.STORAGE_BACKEND != "s3":
        return _list_storage(prefix, limit)
    if not configured():
        raise not_configured(uri)
    found: list[tuple[str, int]] = []
    try:
        for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend((obj["Key"], obj["Size"]) for obj in page.get("Contents", []))
            if len(found) >= limit:
                break
    except Exception as exc:  # noqa: BLE001 - ClientError, EndpointConnectionError, NoCredentialsError...
        raise S3Error(f"S3 location: cannot list {uri}: {error_text(exc)}") from None
    return found[:limit]


def _list_storage(prefix: str, limit: int) -> list[tuple[str, int]]:
    """Our virtual bucket on local disk, walked through the storage API (names are safe-joined)."""
    found: list[tuple[str, int]] = []
    pending = [prefix.rsplit("/", 1)[0] if "/" in prefix else ""]
    while pending and len(found) < limit:
        current = pending.pop()
        try:
            dirs, names = default_storage.listdir(current)
        except (FileNotFoundError, NotADirectoryError):
            continue
        base = f"{current}/" if current else ""
        for d in sorted(dirs, reverse=True):
            sub = f"{base}{d}/"
            if sub.startswith(prefix) or prefix.startswith(sub):
                pending.append(base + d)
        for n in sorted(names):
            key = base + n
            if key.startswith(prefix):
                found.append((key, default_storage.size(key)))
    return found[:limit]
