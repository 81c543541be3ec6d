"""Read and write the JSON Lines files Rekognition Custom Moderation uses (spec section 2).

Plain Python, no Django import. Formats:

- training/test manifest: ``{"source-ref": "s3://b/k.jpg", "content-moderation-groundtruth":
  {"ModerationLabels": [{"Name": "Alcohol"}]}}`` (spec 2.3);
- bulk input manifest: ``{"source-ref": "s3://b/k.jpg"}`` (spec 2.1);
- bulk output manifest: ``{"source-ref": ..., "detect-moderation-labels": {...}}`` (spec 2.2);
- manifest summary: one JSON document with statistics and per-line errors (spec 2.2).

Readers are strict: they check every line and raise one ManifestError listing each bad line by
number and reason, so a person can fix the file in one go. Line numbers are 1-based physical
lines. Blank (whitespace-only) lines are skipped silently wherever they are, but still count for
numbering, so the numbers match what an editor shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from moderation import taxonomy

MAX_LINES = 10_000  # images per manifest (spec 4: bulk job and training limits)
MAX_BYTES = 50 * 1024 * 1024  # input manifest size (spec 4)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

GROUNDTRUTH = "content-moderation-groundtruth"
DETECTION = "detect-moderation-labels"

_S3_URI = re.compile(r"s3://([0-9A-Za-z.\-_]{3,255})/(.+)", re.DOTALL)


@dataclass(frozen=True)
class LineError:
    line: int | None  # None: the error is about the whole file
    message: str

    def describe(self, filename: str) -> str:
        return (
            f"{filename}: {self.message}"
            if self.line is None
            else f"{filename} line {self.line}: {self.message}"
        )


class ManifestError(ValueError):
    """A manifest that cannot be used; `errors` names every bad line."""

    def __init__(self, filename: str, errors: list[LineError]):
        self.filename = filename
        self.errors = errors
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(error.describe(self.filename) for error in self.errors)


@dataclass(frozen=True)
class GroundTruthLine:
    """One image of a training or test manifest; labels are v7 top-level names, [] = safe."""

    line: int
    bucket: str
    key: str
    labels: list[str]

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class BulkInputLine:
    line: int
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class BulkOutputLine:
    line: int
    source_ref: str
    detection: dict[str, Any]  # a DetectModerationLabels response


@dataclass(frozen=True)
class SummaryError:
    line: int | None
    source_ref: str
    code: str
    message: str


@dataclass
class Summary:
    total: int
    valid: int
    invalid: int
    errors: list[SummaryError] = field(default_factory=list)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key); ValueError if it is not one Rekognition accepts."""
    match = _S3_URI.fullmatch(uri) if isinstance(uri, str) else None
    if not match or len(match.group(2)) > 1024:
        raise ValueError(
            f"{uri!r} is not an s3://bucket/key URI (bucket 3-255 of [0-9A-Za-z.-_], key 1-1024 characters)"
        )
    return match.group(1), match.group(2)


# ---------------------------------------------------------------- reading


def _read_text(source: bytes | str | IO[Any], name: str, limit: int | None) -> str:
    data: bytes | str
    if isinstance(source, (bytes, str)):
        data = source
    else:
        # Read one byte more than allowed so an oversized stream is refused without loading it all.
        data = source.read() if limit is None else source.read(limit + 1)
    if isinstance(data, str):
        size = len(data) if limit is None or len(data) * 4 <= limit else len(data.encode("utf-8"))
    else:
        size = len(data)
    if limit is not None and size > limit:
        raise ManifestError(name, [LineError(None, f"is larger than {limit // (1024 * 1024)} MB")])
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(
                name, [LineError(None, f"is not UTF-8 text ({exc.reason} at byte {exc.start})")]
            ) from None
    return data.removeprefix("\ufeff")


def _objects(
    data: bytes | str | IO[Any], name: str, *, limit_lines: bool
) -> tuple[list[tuple[int, dict[str, Any]]], list[LineError]]:
    """Parse JSON Lines into (line number, object) pairs, collecting errors for bad lines."""
    text = _read_text(data, name, MAX_BYTES if limit_lines else None)
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise ManifestError(name, [LineError(None, "is empty: it has no JSON lines")])
    if limit_lines and len(numbered) > MAX_LINES:
        raise ManifestError(
            name, [LineError(None, f"has {len(numbered):,} lines; at most {MAX_LINES:,} are allowed")]
        )
    objects, errors = [], []
    for n, line in numbered:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(LineError(n, f"is not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            errors.append(LineError(n, f"is not valid JSON ({exc})"))
            continue
        if not isinstance(value, dict):
            errors.append(LineError(n, "is not a JSON object"))
            continue
        objects.append((n, value))
    return objects, errors


def _image(obj: dict[str, Any]) -> tuple[str, str]:
    """The (bucket, key) of a line's source-ref, or ValueError with the reason."""
    if "source-ref" not in obj:
        raise ValueError("has no source-ref")
    uri = obj["source-ref"]
    if not isinstance(uri, str):
        raise ValueError("source-ref must be a string")
    bucket, key = parse_s3_uri(uri)
    if not key.lower().endswith(IMAGE_SUFFIXES):
        raise ValueError(f"source-ref {uri!r} is not a .jpg, .jpeg or .png image")
    return bucket, key


def _labels(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(normalized labels, problems) of a line's content-moderation-groundtruth."""
    groundtruth = obj.get(GROUNDTRUTH)
    if groundtruth is None:
        return [], [f"has no {GROUNDTRUTH}"]
    if not isinstance(groundtruth, dict) or not isinstance(groundtruth.get("ModerationLabels"), list):
        return [], [f"{GROUNDTRUTH}.ModerationLabels must be a list ([] for a safe image)"]
    labels: list[str] = []
    problems: list[str] = []
    for i, entry in enumerate(groundtruth["ModerationLabels"], start=1):
        if not isinstance(entry, dict):
            problems.append(f"label {i} must be an object with a Name")
            continue
        if "Name" not in entry:
            problems.append(f"label {i} has no Name")
            continue
        label = entry["Name"]
        if not isinstance(label, str):
            problems.append(f"label {i}: Name must be a string")
            continue
        try:
            normalized = taxonomy.normalize_training_label(label)
        except taxonomy.UnknownLabel as exc:
            # A real label at the wrong level gets the taxonomy's reason (which level to use instead).
            problems.append(str(exc) if taxonomy.is_label(label) else f"unknown label {label!r}")
            continue
        labels.extend(name for name in normalized if name not in labels)
    return labels, problems


class _OneBucket:
    """AWS reads a manifest's images from one bucket: the bucket of its first good line."""

    def __init__(self, what: str):
        self.what, self.bucket = what, ""

    def check(self, bucket: str, key: str) -> tuple[str, str]:
        self.bucket = self.bucket or bucket
        if bucket != self.bucket:
            raise ValueError(
                f"image is in bucket {bucket!r} but earlier images are in {self.bucket!r} "
                f"(all images of {self.what} must be in one bucket)"
            )
        return bucket, key


def read_groundtruth(data: bytes | str | IO[Any], *, name: str = "manifest") -> list[GroundTruthLine]:
    """Read a training or test manifest (spec 2.3); ManifestError lists every bad line.

    Labels are mapped to v7 top-level names (v6 top-level names are translated) and deduplicated.
    All images must be in one bucket, the bucket of the first good line.
    """
    objects, errors = _objects(data, name, limit_lines=True)
    entries: list[GroundTruthLine] = []
    one_bucket = _OneBucket("a dataset")
    for n, obj in objects:
        problems: list[str] = []
        try:
            bucket, key = one_bucket.check(*_image(obj))
        except ValueError as exc:
            problems.append(str(exc))
            bucket = key = ""
        labels, label_problems = _labels(obj)
        problems.extend(label_problems)
        if problems:
            errors.extend(LineError(n, problem) for problem in problems)
        else:
            entries.append(GroundTruthLine(n, bucket, key, labels))
    if errors:
        raise ManifestError(name, sorted(errors, key=lambda e: e.line or 0))
    return entries


def read_bulk_input(data: bytes | str | IO[Any], *, name: str = "manifest") -> list[BulkInputLine]:
    """Read a bulk-analysis input manifest (spec 2.1). Duplicates are kept: every line is an image.

    As AWS requires, all images are in one bucket, the bucket of the first good line.
    """
    objects, errors = _objects(data, name, limit_lines=True)
    entries: list[BulkInputLine] = []
    one_bucket = _OneBucket("a bulk analysis manifest")
    for n, obj in objects:
        try:
            bucket, key = one_bucket.check(*_image(obj))
        except ValueError as exc:
            errors.append(LineError(n, str(exc)))
            continue
        entries.append(BulkInputLine(n, bucket, key))
    if errors:
        raise ManifestError(name, sorted(errors, key=lambda e: e.line or 0))
    return entries


def read_bulk_output(data: bytes | str | IO[Any], *, name: str = "manifest") -> list[BulkOutputLine]:
    """Read a bulk-analysis output manifest (spec 2.2). No size limit: AWS wrote it."""
    objects, errors = _objects(data, name, limit_lines=False)
    entries: list[BulkOutputLine] = []
    for n, obj in objects:
        source_ref, detection = obj.get("source-ref"), obj.get(DETECTION)
        if not isinstance(source_ref, str):
            errors.append(LineError(n, "has no source-ref string"))
        elif not isinstance(detection, dict):
            errors.append(LineError(n, f"has no {DETECTION} object"))
        else:
            entries.append(BulkOutputLine(n, source_ref, detection))
    if errors:
        raise ManifestError(name, sorted(errors, key=lambda e: e.line or 0))
    return entries


def read_json_lines(data: bytes | str | IO[Any], *, name: str = "manifest") -> list[dict[str, Any]]:
    """Any JSON Lines file of objects (e.g. a training output manifest, spec 2.4), lines as dicts."""
    objects, errors = _objects(data, name, limit_lines=False)
    if errors:
        raise ManifestError(name, errors)
    return [obj for _, obj in objects]


def read_summary(data: bytes | str | IO[Any], *, name: str = "summary") -> Summary:
    """Read a manifest summary (spec 2.2). Accepts both `line-numer` (as documented) and `line-number`."""
    text = _read_text(data, name, None)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            name, [LineError(None, f"is not valid JSON ({exc.msg} at line {exc.lineno})")]
        ) from None
    except ValueError as exc:
        raise ManifestError(name, [LineError(None, f"is not valid JSON ({exc})")]) from None
    if not isinstance(doc, dict):
        raise ManifestError(name, [LineError(None, "is not a JSON object")])
    stats = doc.get("statistics") or {}
    errors = []
    for item in doc.get("errors") or []:
        if not isinstance(item, dict):
            continue
        line = item.get("line-numer", item.get("line-number"))
        errors.append(
            SummaryError(
                line=line if isinstance(line, int) else None,
                source_ref=str(item.get("source-ref") or ""),
                code=str(item.get("code") or ""),
                message=str(item.get("message") or ""),
            )
        )
    total = int(stats.get("total-json-lines", 0))
    invalid = int(stats.get("invalid-json-lines", len(errors)))
    valid = int(stats.get("valid-json-lines", total - invalid))
    return Summary(total=total, valid=valid, invalid=invalid, errors=errors)


# ---------------------------------------------------------------- writing


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _lines(objects: Iterable[Any]) -> str:
    return "".join(_dump(obj) + "\n" for obj in objects)


def _uri_and_labels(entry: Any) -> tuple[str, list[str]]:
    if isinstance(entry, tuple):
        return entry[0], list(entry[1])
    image = getattr(entry, "image", entry)  # base.ManifestEntry holds an ImageRef; GroundTruthLine is its own
    return image.uri, list(entry.labels)


def write_groundtruth(entries: Iterable[Any]) -> str:
    """A training/test manifest. Entries are (uri, labels) pairs, GroundTruthLine or ManifestEntry."""
    lines = []
    for entry in entries:
        uri, labels = _uri_and_labels(entry)
        parse_s3_uri(uri)
        unique = list(dict.fromkeys(labels))
        lines.append(
            {"source-ref": uri, GROUNDTRUTH: {"ModerationLabels": [{"Name": label} for label in unique]}}
        )
    return _lines(lines)


def write_bulk_input(uris: Iterable[str]) -> str:
    """A bulk-analysis input manifest, one source-ref per URI, duplicates kept."""
    lines = []
    for uri in uris:
        parse_s3_uri(uri)
        lines.append({"source-ref": uri})
    return _lines(lines)


def write_bulk_output(lines: Iterable[Any]) -> str:
    """A bulk-analysis output manifest. Lines are (uri, response) pairs or dicts with
    `source-ref` and `detect-moderation-labels` (other keys, such as `line`, are dropped)."""
    out = []
    for item in lines:
        uri, detection = item if isinstance(item, tuple) else (item["source-ref"], item[DETECTION])
        out.append(
            {"source-ref": uri, DETECTION: {k: v for k, v in detection.items() if k != "ResponseMetadata"}}
        )
    return _lines(out)


def write_summary(total: int, errors: Iterable[Any]) -> str:
    """A manifest summary. Errors are SummaryError or dicts with line, source-ref, code, message.
    Written with the documented key `line-numer` (sic)."""
    items = []
    for error in errors:
        if isinstance(error, dict):
            error = SummaryError(
                error.get("line", error.get("line-numer")),
                error.get("source-ref", ""),
                error["code"],
                error["message"],
            )
        item: dict[str, Any] = {"line-numer": error.line}
        if error.source_ref:
            item["source-ref"] = error.source_ref
        item.update(code=error.code, message=error.message)
        items.append(item)
    invalid = len({item["line-numer"] for item in items})
    doc = {
        "version": "1.0",
        "statistics": {
            "total-json-lines": total,
            "valid-json-lines": total - invalid,
            "invalid-json-lines": invalid,
        },
        "errors": items,
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
