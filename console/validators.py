"""Validation rules of the Rekognition API (spec section 1.0), with messages that name the field.

Used by model fields, forms, manifest readers and the compatible API alike.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

from moderation import taxonomy

NAME_RE = re.compile(r"^[a-zA-Z0-9_.\-]+$")
DESCRIPTION_RE = re.compile(r"^[a-zA-Z0-9\-_. ()':,;?]+$")
KMS_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2048}$")
MAX_TAGS = 200
_TAG_EXTRA = set("_.:/=+-@")


def _fail(field: str, message: str) -> None:
    raise ValidationError(f"{field}: {message}", code="rekognition")


def validate_name(value: str, field: str = "Name", max_length: int = 255) -> None:
    """ProjectName, VersionName (1–255) and JobName (1–64): letters, digits, _ . -"""
    if not value:
        _fail(field, "is required")
    if len(value) > max_length:
        _fail(field, f"must be at most {max_length} characters (it has {len(value)})")
    if not NAME_RE.match(value):
        _fail(field, "may contain only letters, digits, underscores (_), dots (.) and hyphens (-)")


def validate_project_name(value: str) -> None:
    validate_name(value, "Project name")


def validate_adapter_name(value: str) -> None:
    validate_name(value, "Adapter name")


def validate_job_name(value: str) -> None:
    validate_name(value, "Job name", max_length=64)


def validate_description(value: str, field: str = "Description") -> None:
    """VersionDescription: 1–255 characters of letters, digits, space and - _ . ( ) ' : , ; ?"""
    if value == "":
        return  # optional
    if len(value) > 255:
        _fail(field, f"must be at most 255 characters (it has {len(value)})")
    if not DESCRIPTION_RE.match(value):
        _fail(field, "may contain only letters, digits, spaces and - _ . ( ) ' : , ; ?")


def _tag_chars_ok(text: str) -> bool:
    # The spec's pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*
    return all(ch in _TAG_EXTRA or unicodedata.category(ch)[0] in "LZN" for ch in text)


def validate_tags(tags: dict, field: str = "Tags") -> None:
    if not isinstance(tags, dict):
        _fail(field, "must be a mapping of keys to values")
    if len(tags) > MAX_TAGS:
        _fail(field, f"at most {MAX_TAGS} tags are allowed (there are {len(tags)})")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            _fail(field, "keys and values must be text")
        if not 1 <= len(key) <= 128:
            _fail(f"{field} key {key!r}", "must be 1 to 128 characters")
        if key.lower().startswith("aws:"):
            _fail(f"{field} key {key!r}", "must not start with 'aws:', which AWS reserves")
        if not _tag_chars_ok(key):
            _fail(f"{field} key {key!r}", "may contain only letters, digits, spaces and _ . : / = + - @")
        if len(value) > 256:
            _fail(f"{field} value for {key!r}", "must be at most 256 characters")
        if not _tag_chars_ok(value):
            _fail(
                f"{field} value for {key!r}", "may contain only letters, digits, spaces and _ . : / = + - @"
            )


def validate_confidence(value, field: str = "Confidence") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(field, "must be a number from 0 to 100")
    if not 0 <= value <= 100:
        _fail(field, f"must be from 0 to 100 (it is {value:g})")


def validate_kms_key_id(value: str, field: str = "KMS key") -> None:
    if value and not KMS_KEY_RE.match(value):
        _fail(field, "must be a KMS key ID, key ARN, alias or alias ARN (letters, digits and :_/+=,@.-)")


def validate_top_level_label(value: str, field: str = "Label") -> None:
    try:
        taxonomy.normalize_training_label(value)
    except taxonomy.UnknownLabel as exc:
        _fail(field, str(exc))
    if value not in taxonomy.TAXONOMY_V7:
        _fail(field, f"use the v7 name of {value!r}: {', '.join(taxonomy.V6_TOP_LEVEL[value])}")
