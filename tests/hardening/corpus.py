"""Builders for the bad-input corpus: images, manifests, names, tags and numbers that must be refused.

Each case is (id, builder or value, text the refusal must contain). Builders are functions so a
test makes its bytes when it runs (some need this console's bucket name or stored files).
"""

from __future__ import annotations

import io
import json
import struct
import zlib

from PIL import Image as PILImage

from console.lib import storage
from tests.conftest import make_image_bytes

# ---------------------------------------------------------------- images


def _encode(img, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = make_image_bytes(400, 300, seed=3)
    return data[: len(data) // 2]


def gif() -> bytes:
    return _encode(PILImage.new("RGB", (120, 100), (9, 90, 9)), "GIF")


def bmp() -> bytes:
    return _encode(PILImage.new("RGB", (120, 100), (9, 9, 90)), "BMP")


def webp() -> bytes:
    return _encode(PILImage.new("RGB", (120, 100), (90, 9, 9)), "WEBP")


def fake_png() -> bytes:
    """The PNG signature followed by something that is not a PNG."""
    return b"\x89PNG\r\n\x1a\n" + b"this is not a PNG at all" * 40


def gif_named_png() -> bytes:
    return gif()  # sent as "photo.png"


def zero_bytes() -> bytes:
    return b""


def px79() -> bytes:
    return make_image_bytes(79, 120, seed=5)


def px10001() -> bytes:
    # A PNG of one flat color compresses to a few kilobytes.
    return _encode(PILImage.new("L", (10_001, 80), 128), "PNG")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def decompression_bomb() -> bytes:
    """A valid PNG header declaring 40,000 x 40,000 pixels (1.6 gigapixels) in a tiny file."""
    width = height = 40_000
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    # The first rows only: a decoder that trusted the header would allocate 1.6 GB first.
    idat = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def mb16() -> bytes:
    """16 MB that start like a JPEG: over the 15 MB limit for a stored image."""
    return b"\xff\xd8\xff\xe0" + b"\0" * (16 * 1024 * 1024 - 4)


def text_file() -> bytes:
    return b"#!/bin/sh\nrm -rf /\n"


# (id, file name, builder, what the refusal says)
BAD_IMAGES = [
    ("truncated-jpeg", "truncated.jpg", truncated_jpeg, "truncated or corrupt"),
    ("gif", "anim.gif", gif, "not a JPEG or PNG"),
    ("bmp", "bitmap.bmp", bmp, "not a JPEG or PNG"),
    ("webp", "modern.webp", webp, "not a JPEG or PNG"),
    ("claims-png", "claims.png", fake_png, "PNG file cannot be read"),
    ("gif-named-png", "photo.png", gif_named_png, "not a JPEG or PNG"),
    ("zero-bytes", "empty.jpg", zero_bytes, "empty (0 bytes)"),
    ("79px", "small.jpg", px79, "each side must be 80 to 10,000 px"),
    ("10001px", "wide.png", px10001, "each side must be 80 to 10,000 px"),
    ("decompression-bomb", "bomb.png", decompression_bomb, "decompression bomb"),
    ("16mb", "huge.jpg", mb16, "the limit is 15,728,640 bytes"),
    ("text-as-jpg", "script.jpg", text_file, "not a JPEG or PNG"),
]

# ---------------------------------------------------------------- manifests


def good_image_uri(key: str = "corpus/good.jpg", seed: int = 1) -> str:
    """A valid image stored in this console's bucket."""
    return storage.uri_for(storage.save(key, make_image_bytes(120, 100, seed=seed)))


def gt(uri, *labels) -> dict:
    return {
        "source-ref": uri,
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": n} for n in labels]},
    }


def lines(*items) -> bytes:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items).encode()


def m_bad_json():
    return lines(gt(good_image_uri(), "Alcohol"), '{"source-ref": "s3://x/y.jpg", ')


def m_missing_source_ref():
    return lines(
        gt(good_image_uri(), "Alcohol"), {"content-moderation-groundtruth": {"ModerationLabels": []}}
    )


def m_unknown_label():
    return lines(gt(good_image_uri(), "Kittens"))


def m_wrong_level():
    return lines(gt(good_image_uri(), "Exposed Male Genitalia"))


def m_wrong_bucket():
    return lines(gt("s3://someone-elses-bucket/photos/a.jpg", "Alcohol"))


def m_two_buckets():
    return lines(gt(good_image_uri(), "Alcohol"), gt("s3://another-bucket/b.jpg"))


def m_bulk_two_buckets():
    return lines({"source-ref": good_image_uri()}, {"source-ref": "s3://another-bucket/b.jpg"})


def m_10001_lines():
    uri = f"s3://{storage.bucket()}/corpus/x.jpg"
    return lines(*[gt(uri)] * 10_001)


def m_51mb():
    pad = "x" * 1000
    line = json.dumps({**gt(f"s3://{storage.bucket()}/corpus/x.jpg"), "padding": pad}) + "\n"
    return (line * (51 * 1024 * 1024 // len(line) + 1)).encode()


def m_not_utf8():
    return b'{"source-ref": "s3://b/\xff\xfe.jpg"}\n'


def m_empty():
    return b"\n\n"


def m_not_object():
    return lines('["s3://a/b.jpg"]')


def m_not_image_suffix():
    return lines(gt(f"s3://{storage.bucket()}/corpus/notes.txt"))


def m_http_url():
    return lines(gt("http://169.254.169.254/latest/meta-data/iam.jpg", "Alcohol"))


def m_file_url():
    return lines(gt("file:///etc/passwd.jpg"))


def m_dotdot_key():
    return lines(gt(f"s3://{storage.bucket()}/../../../../etc/passwd.jpg"))


def m_absolute_key():
    return lines(gt(f"s3://{storage.bucket()}//etc/passwd.jpg"))


def m_missing_object():
    return lines(gt(f"s3://{storage.bucket()}/corpus/nowhere.jpg", "Alcohol"))


def m_stored_bad_image():
    uri = storage.uri_for(storage.save("corpus/bad.jpg", truncated_jpeg()))
    return lines(gt(good_image_uri(), "Alcohol"), gt(uri))


def m_labels_not_list():
    return lines(
        {"source-ref": good_image_uri(), "content-moderation-groundtruth": {"ModerationLabels": "Alcohol"}}
    )


def m_label_without_name():
    return lines(
        {
            "source-ref": good_image_uri(),
            "content-moderation-groundtruth": {"ModerationLabels": [{"name": "Alcohol"}]},
        }
    )


# (id, builder, what the refusal says), for training/test (ground-truth) manifests
BAD_GROUNDTRUTH = [
    ("bad-json", m_bad_json, "line 2: is not valid JSON"),
    ("missing-source-ref", m_missing_source_ref, "line 2: has no source-ref"),
    ("unknown-label", m_unknown_label, "line 1: unknown label 'Kittens'"),
    ("label-wrong-level", m_wrong_level, "line 1: 'Exposed Male Genitalia' is a level-3 label"),
    (
        "wrong-bucket",
        m_wrong_bucket,
        "line 1: s3://someone-elses-bucket/photos/a.jpg is not in this console's bucket",
    ),
    ("two-buckets", m_two_buckets, "line 2: image is in bucket 'another-bucket'"),
    ("10001-lines", m_10001_lines, "has 10,001 lines; at most 10,000 are allowed"),
    ("51mb", m_51mb, "is larger than 50 MB"),
    ("not-utf8", m_not_utf8, "is not UTF-8 text"),
    ("empty", m_empty, "is empty: it has no JSON lines"),
    ("not-an-object", m_not_object, "line 1: is not a JSON object"),
    ("not-an-image", m_not_image_suffix, "line 1: source-ref 's3://"),
    (
        "http-url",
        m_http_url,
        "line 1: 'http://169.254.169.254/latest/meta-data/iam.jpg' is not an s3://bucket/key URI",
    ),
    ("file-url", m_file_url, "line 1: 'file:///etc/passwd.jpg' is not an s3://bucket/key URI"),
    ("dotdot-key", m_dotdot_key, "line 1: s3://"),
    ("absolute-key", m_absolute_key, "not a valid object key"),
    ("missing-object", m_missing_object, "line 1: s3://"),
    ("stored-bad-image", m_stored_bad_image, "line 2: s3://"),
    (
        "labels-not-a-list",
        m_labels_not_list,
        "line 1: content-moderation-groundtruth.ModerationLabels must be a list",
    ),
    ("label-without-name", m_label_without_name, "line 1: label 1 has no Name"),
]

# Bulk input manifests (source-ref only): the reader's refusals
BAD_BULK = [
    ("bad-json", m_bad_json, "line 2: is not valid JSON"),
    ("missing-source-ref", m_missing_source_ref, "line 2: has no source-ref"),
    (
        "two-buckets",
        m_bulk_two_buckets,
        "line 2: image is in bucket 'another-bucket' but earlier images are in",
    ),
    ("10001-lines", m_10001_lines, "has 10,001 lines; at most 10,000 are allowed"),
    ("51mb", m_51mb, "is larger than 50 MB"),
    ("not-utf8", m_not_utf8, "is not UTF-8 text"),
    ("empty", m_empty, "is empty: it has no JSON lines"),
    ("not-an-image", m_not_image_suffix, "line 1: source-ref 's3://"),
    (
        "http-url",
        m_http_url,
        "line 1: 'http://169.254.169.254/latest/meta-data/iam.jpg' is not an s3://bucket/key URI",
    ),
    ("file-url", m_file_url, "line 1: 'file:///etc/passwd.jpg' is not an s3://bucket/key URI"),
    ("dotdot-key", m_dotdot_key, "line 1: "),
]

# ---------------------------------------------------------------- names, tags, numbers

BAD_NAMES = [
    ("empty", "", "is required"),
    ("space", "my project", "may contain only letters, digits"),
    ("slash", "a/b", "may contain only letters, digits"),
    ("dotdot-slash", "../../etc", "may contain only letters, digits"),
    ("unicode", "projët", "may contain only letters, digits"),
    ("html", "<script>", "may contain only letters, digits"),
    ("256-chars", "a" * 256, "at most 255 characters (it has 256)"),
]
BAD_JOB_NAMES = [
    ("empty", "", "is required"),
    ("65-chars", "j" * 65, "at most 64 characters"),
    ("space", "my job", "may contain only letters, digits"),
    ("newline", "job\nname", "may contain only letters, digits"),
]
# (id, tags as {key: value}, message)
BAD_TAGS = [
    ("aws-prefix", {"aws:team": "x"}, "must not start with 'aws:'"),
    ("key-129", {"k" * 129: "x"}, "must be 1 to 128 characters"),
    ("value-257", {"team": "v" * 257}, "must be at most 256 characters"),
    ("key-chars", {"team#1": "x"}, "may contain only letters, digits, spaces"),
    ("value-chars", {"team": "a;b"}, "may contain only letters, digits, spaces"),
    ("201-tags", {f"k{i}": "v" for i in range(201)}, "at most 200 tags are allowed (there are 201)"),
]
BAD_CONFIDENCES = [(-1, "must be from 0 to 100 (it is -1)"), (101, "must be from 0 to 100 (it is 101)")]
BAD_DESCRIPTIONS = [
    ("html", "<b>bold</b>", "may contain only letters, digits, spaces"),
    ("256-chars", "d" * 256, "at most 255 characters"),
]
