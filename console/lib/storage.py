"""Files addressed as (bucket, key), through Django's storage API.

With S3 storage the bucket is the real bucket; with files on local disk it is the
virtual bucket settings.LOCAL_BUCKET, whose keys are names in the data folder.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from console.lib.refs import BackendError, ImageRef


def bucket() -> str:
    return settings.STORAGE_BUCKET


def ref_for(name: str) -> ImageRef:
    return ImageRef(bucket(), name)


def uri_for(name: str) -> str:
    return ref_for(name).uri


def save(name: str, data: bytes) -> str:
    """Store bytes under `name` (a fresh name if taken); returns the stored name."""
    return default_storage.save(name, ContentFile(data))


def read_ref(ref: ImageRef, max_bytes: int | None = None) -> bytes:
    """The bytes of a stored file, refusing buckets this console does not own."""
    if ref.bucket != bucket():
        raise BackendError(
            "InvalidS3ObjectException",
            f"{ref.uri}: bucket {ref.bucket!r} is not this console's storage bucket {bucket()!r}",
        )
    if not ref.key or ref.key.startswith("/") or ".." in ref.key.split("/"):
        raise BackendError("InvalidS3ObjectException", f"{ref.uri}: not a valid object key")
    try:
        if max_bytes is not None and default_storage.size(ref.key) > max_bytes:
            raise BackendError(
                "ImageTooLargeException", f"{ref.uri} is larger than {max_bytes // (1024 * 1024)} MB"
            )
        with default_storage.open(ref.key, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, OSError) as exc:
        raise BackendError("InvalidS3ObjectException", f"{ref.uri}: no such object in storage") from exc
