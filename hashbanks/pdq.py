"""PDQ hashes of images: Meta's PDQ through the `pdqhash` package (its C++ reference code), and
their Hamming distance. Plain Python, no Django import.

A hash is written as HMA and ThreatExchange write it: 64 lowercase hex digits, the 256 bits in
the order pdqhash returns them, most significant first (threatexchange's pdq_hasher does the same).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError

BITS = 256
HEX_DIGITS = BITS // 4
# Images larger than this on a side are reduced before hashing: PDQ's own first step blurs and
# samples the image down to 64 x 64, and hashing a 3000 px photo whole takes a second (512 px:
# ~10 ms, 256 px: ~2 ms). Smaller images are hashed as they are, as HMA hashes them.
MAX_SIDE = 512
# The border crops a banked image is also hashed at (a fraction of each side): PDQ is robust to
# resizing and re-encoding but not to cropping, so a bank keeps the hash of the image and of
# these crops of it, and a crop of the image near one of them still matches.
BORDER_CROPS = (0.025, 0.05, 0.075, 0.10)

_HEX = re.compile(r"[0-9a-f]{64}")


class NotAnImage(ValueError):
    """The bytes could not be decoded as an image."""


@dataclass(frozen=True)
class Pdq:
    hex: str  # 64 hex digits
    quality: int  # 0..100


def parse_hex(text: str) -> str:
    """A PDQ hash as 64 lowercase hex digits; ValueError saying what is wrong otherwise."""
    value = text.strip().lower()
    if len(value) != HEX_DIGITS:
        raise ValueError(f"a PDQ hash has {HEX_DIGITS} hex digits, not {len(value)}")
    if not _HEX.fullmatch(value):
        raise ValueError("a PDQ hash has only the hex digits 0-9 and a-f")
    return value


def open_image(data: bytes) -> Image.Image:
    """The image in `data`, decoded in RGB at no more than about MAX_SIDE on a side."""
    try:
        opened = Image.open(io.BytesIO(data))
        # JPEG decodes straight at a power-of-two reduction no smaller than asked: far less work.
        opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
        img = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"not an image PDQ can read: {exc}") from None
    return img


def of_image(img: Image.Image) -> Pdq:
    """The PDQ hash and quality of a decoded image."""
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    bits, quality = pdqhash.compute(np.asarray(img.convert("RGB")))
    return Pdq(np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality))


def of_bytes(data: bytes) -> Pdq:
    """The PDQ hash and quality of an encoded image (JPEG, PNG, ...); NotAnImage if it is none."""
    return of_image(open_image(data))


def border_crops(data: bytes) -> list[tuple[float, Pdq]]:
    """(fraction, hash) of the image cropped by each of BORDER_CROPS on every side."""
    img = open_image(data)
    width, height = img.size
    crops = []
    for fraction in BORDER_CROPS:
        dx, dy = round(width * fraction), round(height * fraction)
        if width - 2 * dx < 8 or height - 2 * dy < 8:
            continue
        crops.append((fraction, of_image(img.crop((dx, dy, width - dx, height - dy)))))
    return crops


def to_array(hexes: list[str]) -> np.ndarray:
    """Hashes as an (n, 32) uint8 array."""
    if not hexes:
        return np.zeros((0, BITS // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(len(hexes), BITS // 8)


def distance(a: str, b: str) -> int:
    """The Hamming distance between two hashes in hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
