import io
import struct
import zlib

import pytest
from PIL import Image

from moderation.engine import MAX_BYTES, MAX_STORED_BYTES, EngineError, load_image


def make(fmt: str, size=(120, 100), **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, fmt, **kw)
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels: a decompression bomb in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def code_of(data: bytes, **kw) -> str:
    with pytest.raises(EngineError) as exc:
        load_image(data, **kw)
    assert exc.value.message
    return exc.value.code


def test_it_accepts_jpeg_and_png():
    for fmt in ("JPEG", "PNG"):
        img = load_image(make(fmt))
        assert img.size == (120, 100) and img.mode == "RGB"


def test_it_accepts_grey_and_transparent_png():
    buf = io.BytesIO()
    Image.new("RGBA", (90, 90), (0, 0, 0, 0)).save(buf, "PNG")
    assert load_image(buf.getvalue()).mode == "RGB"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP", "TIFF"])
def test_it_refuses_other_formats(fmt):
    assert code_of(make(fmt)) == "InvalidImageFormatException"


def test_it_refuses_a_fake_png_header():
    assert code_of(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10) == "InvalidImageFormatException"


def test_it_refuses_a_gif_behind_a_jpeg_name_and_zero_bytes():
    assert code_of(b"") == "InvalidImageFormatException"
    assert code_of(b"\xff\xd8\xff" + make("GIF")) == "InvalidImageFormatException"


def test_it_refuses_a_truncated_jpeg():
    data = make("JPEG", size=(400, 400), quality=95)
    assert code_of(data[: len(data) // 2]) == "InvalidImageFormatException"


def test_it_refuses_sides_outside_80_to_10000_px():
    with pytest.raises(EngineError) as exc:
        load_image(make("PNG", size=(79, 120)))
    assert exc.value.code == "InvalidParameterException"
    assert "79x120 px" in exc.value.message and "80 to 10,000" in exc.value.message
    load_image(make("PNG", size=(80, 80)))
    assert code_of(png_header_only(10_001, 100)) == "ImageTooLargeException"


@pytest.mark.parametrize("fmt, side", [("PNG", 10_000), ("JPEG", 9460)])
def test_it_accepts_the_largest_allowed_images_whatever_pillow_s_own_limit(fmt, side):
    # 89,478,486 to 100,000,000 pixels: over Pillow's default bomb limit, within 80-10,000 px a side.
    image = load_image(make(fmt, size=(side, side)), max_bytes=MAX_STORED_BYTES)
    assert image.info["source_size"] == (side, side)


def test_it_refuses_a_decompression_bomb():
    assert code_of(png_header_only(30_000, 30_000)) == "ImageTooLargeException"


def test_it_applies_5_mb_to_bytes_and_15_mb_to_stored_images():
    big = make("PNG") + b"\0" * (MAX_BYTES)  # trailing bytes after IEND still count
    assert code_of(big) == "ImageTooLargeException"
    assert load_image(big, max_bytes=MAX_STORED_BYTES).size == (120, 100)
    assert code_of(big + b"\0" * MAX_STORED_BYTES, max_bytes=MAX_STORED_BYTES) == "ImageTooLargeException"
