"""Input checks from botocore's own model of Rekognition: what AWS enforces on the server.

botocore checks only required members, types and minimums on the client; the
service also enforces maximums, patterns and enums (spec 1.0). This walks an
operation's input shape and reports the first problem with the member's path,
in the words AWS's ValidationException uses.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re

import botocore.session


class InputError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@functools.cache
def service_model():
    return botocore.session.get_session().get_service_model("rekognition")


@functools.cache
def _pattern(pattern: str) -> re.Pattern | None:
    # Java regexes; \p{..} classes (tag keys and values) are left to console.validators.
    if "\\p{" in pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _fail(path: str, value, constraint: str):
    shown = "null" if value is None else repr(value) if isinstance(value, str) else value
    if isinstance(value, float) and math.isnan(value):
        shown = "NaN"  # as AWS (Java) prints it
    raise InputError(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{path}' failed to satisfy constraint: {constraint}",
    )


def _serialization(path: str, expected: str):
    raise InputError("SerializationException", f"{path}: expected {expected}")


def check(shape, value, path: str):
    """The value, with blobs decoded to bytes; raises InputError on the first problem."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            _serialization(path, "a JSON object")
        out = {}
        for name in shape.required_members:
            if value.get(name) is None:
                _fail(f"{path}.{name}" if path else name, None, "Member must not be null")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[name] = check(member, value[name], f"{path}.{name}" if path else name)
        return out
    if kind == "list":
        if not isinstance(value, list):
            _serialization(path, "a JSON array")
        _length(path, value, meta, "length")
        return [check(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            _serialization(path, "a JSON object")
        _length(path, value, meta, "length")
        return {
            check(shape.key, k, f"{path}.key"): check(shape.value, v, f"{path}.{k}") for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            _serialization(path, "a string")
        _length(path, value, meta, "length")
        if shape.enum and value not in shape.enum:
            _fail(path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = _pattern(meta.get("pattern", ""))
        if pattern is not None and meta.get("pattern") and not pattern.fullmatch(value):
            _fail(path, value, f"Member must satisfy regular expression pattern: {meta['pattern']}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            _serialization(path, "true or false")
        return value
    if kind in ("integer", "long", "float", "double"):
        if kind in ("float", "double") and value in ("NaN", "Infinity", "-Infinity"):
            value = float(value)  # botocore sends the special floats as these strings
        if isinstance(value, bool) or not isinstance(value, int | float):
            _serialization(path, "a number")
        if kind in ("integer", "long") and not float(value).is_integer():
            _serialization(path, "a whole number")
        if math.isnan(value):  # NaN compares false with every bound: it would pass both checks below
            _fail(path, value, "Member must be a number")
        if "min" in meta and value < meta["min"]:
            _fail(path, value, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            _fail(path, value, f"Member must have value less than or equal to {meta['max']}")
        return value
    if kind == "blob":
        if not isinstance(value, str):
            _serialization(path, "base64-encoded bytes")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            _serialization(path, "base64-encoded bytes")
        if "max" in meta and len(data) > meta["max"]:
            raise InputError(
                "ImageTooLargeException",
                f"{path}: the image is {len(data):,} bytes; the limit for image bytes is {meta['max']:,} bytes",
            )
        if "min" in meta and len(data) < meta["min"]:
            _fail(path, "<bytes>", f"Member must have length greater than or equal to {meta['min']}")
        return data
    return value


def _length(path, value, meta, word):
    if "min" in meta and len(value) < meta["min"]:
        _fail(path, value, f"Member must have {word} greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        shown = (
            value if isinstance(value, str) and len(value) <= 80 else f"<{len(value)} items or characters>"
        )
        _fail(path, shown, f"Member must have {word} less than or equal to {meta['max']}")


def check_input(operation: str, params) -> dict:
    shape = service_model().operation_model(operation).input_shape
    if shape is None:
        return {}
    return check(shape, params, "")
