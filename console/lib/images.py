"""Image intake for every part of the console: check a file, make its thumbnail, store both.

Checks reuse the engine's decoder (moderation.engine.load_image), so a file the console
accepts is one the engine can analyse: JPEG or PNG by its magic bytes, at most 15 MB,
each side 80 to 10,000 px, fully decodable (not truncated), and not a decompression bomb.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
from dataclasses import dataclass

from django.core.files.storage import default_storage

from console.lib import storage
from moderation.engine import MAX_STORED_BYTES, EngineError, load_image
from moderation.manifests import IMAGE_SUFFIXES

THUMBNAIL_PX = 320  # the longest side of a grid thumbnail

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class InvalidImage(ValueError):
    """A file that cannot be an image of this console; the message says why."""


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


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def safe_name(name: str) -> str:
    """The last path part of an uploaded file's name, reduced to characters safe in a storage key."""
    base = posixpath.basename(name.replace("\\", "/")) or "image"
    return _UNSAFE.sub("_", base)[-120:]


def check_image(data: bytes) -> CheckedImage:
    """Validate an image and make its thumbnail; InvalidImage with the reason if refused."""
    try:
        img = load_image(data, max_bytes=MAX_STORED_BYTES)
    except EngineError as exc:
        raise InvalidImage(exc.message) from None
    width, height = img.info["source_size"]
    img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        format="PNG" if data.startswith(b"\x89PNG") else "JPEG",
        width=width,
        height=height,
        thumbnail=buf.getvalue(),
    )


def keys(folder: str, stem: str) -> tuple[str, str]:
    """The one storage layout: an image at ``folder/stem`` and its thumbnail at ``folder/thumbnails/stem.jpg``."""
    return f"{folder}/{stem}", f"{folder}/thumbnails/{posixpath.splitext(stem)[0]}.jpg"


def store_image(folder: str, stem: str, checked: CheckedImage) -> tuple[str, str]:
    """Save a checked image and its thumbnail under the layout of `keys`; returns their storage names."""
    image_key, thumb_key = keys(folder, stem)
    name = storage.save(image_key, checked.data)
    try:
        thumb = storage.save(thumb_key, checked.thumbnail)
    except Exception:
        default_storage.delete(name)
        raise
    return name, thumb


def store_thumbnail(folder: str, stem: str, checked: CheckedImage) -> str:
    """Save only the thumbnail of an image kept elsewhere (an S3 object of a bulk job)."""
    return storage.save(keys(folder, stem)[1], checked.thumbnail)
