"""An adapter's dataset: images in, labels on them, counts, readiness to train, and export.

Every change moves the dataset counters (DatasetCount) in the same transaction, and every
import is all-or-nothing about stored files: what a refused import stored is deleted again.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from adapters.models import Adapter, DatasetCount, Image, ImageLabel, tally
from console.backends.base import get_backend
from console.lib import s3, storage
from console.lib.images import CheckedImage, InvalidImage, check_image, keys, store_image
from console.models import record
from console.validators import validate_top_level_label
from hashbanks import services as hashbanks
from moderation import manifests, taxonomy
from moderation.engine import MAX_STORED_BYTES
from moderation.engine.evaluation import autosplit_test_size

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Rows written per statement when labeling or copying many images at once.
CHUNK = 2000
# Adapters whose dataset may still change: a trained adapter's dataset was frozen into its manifests.
EDITABLE = (Adapter.Status.DRAFT, Adapter.Status.TRAINING_FAILED)


@dataclass
class ImportReport:
    """What an import did, file by file: added images, skipped duplicates, refused files."""

    added: list[Image] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)

    def extend(self, other: ImportReport) -> None:
        self.added += other.added
        self.skipped += other.skipped
        self.failed += other.failed

    def as_json(self) -> dict[str, Any]:
        return {
            "added": [{"name": image.original_name, "id": image.pk} for image in self.added],
            "skipped": [{"name": name, "reason": reason} for name, reason in self.skipped],
            "failed": [{"name": name, "reason": reason} for name, reason in self.failed],
        }


def add_images(
    *,
    user: User | None,
    adapter: Adapter,
    files: Sequence[tuple[str, bytes]] = (),
    manifest: tuple[str, bytes] | None = None,
    s3_uri: str = "",
    test_manifest: tuple[str, bytes] | None = None,
) -> ImportReport:
    """Training images from any of the three sources, and optionally a test manifest.

    Every image is read, checked and stored first, outside any transaction (on SQLite a write
    transaction locks the whole database: workers would wait for an upload); then one short
    transaction writes the rows. A refusal anywhere leaves no row and no stored file."""
    stages: list[StagedImport] = []
    existing: dict[str, dict[str, str]] = {}  # split -> {sha256: name}, staged images included
    try:
        if files:
            stages.append(_stage_files(adapter, list(files), existing=existing))
        if manifest:
            stages.append(
                stage_manifest(adapter=adapter, data=manifest[1], name=manifest[0], existing=existing)
            )
        if s3_uri:
            stages.append(_stage_s3_prefix(adapter, s3_uri, existing=existing))
        if test_manifest:
            stages.append(
                stage_manifest(
                    adapter=adapter,
                    data=test_manifest[1],
                    name=test_manifest[0],
                    split="test",
                    existing=existing,
                )
            )
        return _write(user, adapter, stages, test_manifest=test_manifest is not None)
    except BaseException:
        for stage in stages:
            delete_stored(stage.images)
        raise


# ---------------------------------------------------------------- imports


def _require_editable(adapter: Adapter) -> None:
    if adapter.status not in EDITABLE:
        raise ValidationError(
            f"Adapter {adapter.name!r} is {adapter.get_status_display().lower()}: its dataset is frozen. "
            "Create a new adapter in the project, starting from a copy of this one, to change it.",
            code="in_use",
        )


def delete_stored(images: Iterable[Image]) -> None:
    """Delete the stored files (image and thumbnail) of images an import is giving up."""
    for image in images:
        for name in (image.file, image.thumbnail):
            if name:
                try:
                    default_storage.delete(name)
                except OSError:
                    pass


def _folder(adapter: Adapter) -> str:
    """Where a dataset's images are stored, each as <sha256>.<ext> (console.lib.images.keys)."""
    return f"datasets/{adapter.pk}"


def _store(adapter: Adapter, checked: CheckedImage) -> tuple[str, str]:
    """Save an image and its thumbnail; returns their storage names."""
    return store_image(_folder(adapter), f"{checked.sha256}.{checked.extension}", checked)


def _new_image(
    adapter: Adapter,
    checked: CheckedImage,
    *,
    name: str,
    split: str,
    source: str,
    label_state: str = Image.LabelState.UNLABELED,
) -> Image:
    file, thumb = _store(adapter, checked)
    return Image(
        adapter=adapter,
        file=file,
        thumbnail=thumb,
        original_name=name[:1024],
        sha256=checked.sha256,
        size=len(checked.data),
        format=checked.format,
        width=checked.width,
        height=checked.height,
        source=source,
        split=split,
        label_state=label_state,
        labeled_at=timezone.now() if label_state != Image.LabelState.UNLABELED else None,
    )


@dataclass
class StagedImport:
    """One import whose images are read, checked and stored, and whose rows are not written yet."""

    split: str
    source: str  # as the audit entry names it
    audit: dict[str, Any] = field(default_factory=dict)  # more for the audit entry
    manifest: str = ""  # a manifest's name: its images are written all or none
    report: ImportReport = field(default_factory=ImportReport)
    staged: list[tuple[Image, list[str]]] = field(default_factory=list)  # (image, label names)
    pdqs: dict[str, Any] = field(default_factory=dict)  # sha256 -> PDQ hash (hashbanks.services)

    @property
    def images(self) -> list[Image]:
        return [image for image, _ in self.staged]


def _existing(adapter: Adapter, split: str, existing: dict[str, dict[str, str]] | None) -> dict[str, str]:
    """The images of the split, by sha256: in the dataset, or staged by an earlier part of this import."""
    existing = {} if existing is None else existing
    if split not in existing:
        existing[split] = dict(
            Image.objects.filter(adapter=adapter, split=split).values_list("sha256", "original_name")
        )
    return existing[split]


def _keep(stage: StagedImport, existing: dict[str, str], image: Image, labels: list[str], pdq: Any) -> None:
    stage.staged.append((image, labels))
    stage.pdqs[image.sha256] = pdq
    existing[image.sha256] = image.original_name


class _Importer:
    """Stages images one by one, skipping duplicates in the dataset and within this import."""

    def __init__(self, adapter: Adapter, stage: StagedImport, existing: dict[str, dict[str, str]] | None):
        self.adapter, self.stage = adapter, stage
        self.report = stage.report
        self.seen: dict[str, str] = {}
        self.existing = _existing(adapter, stage.split, existing)

    def add(self, name: str, data: bytes, labels: list[str] | None = None) -> None:
        """Stage one image; `labels` is its ground truth (empty: safe), None leaves it unlabeled."""
        try:
            checked = check_image(data)
        except InvalidImage as exc:
            self.report.failed.append((name, str(exc)))
            return
        if checked.sha256 in self.seen:
            self.report.skipped.append((name, f"duplicate of {self.seen[checked.sha256]} in this import"))
            return
        if checked.sha256 in self.existing:
            self.report.skipped.append(
                (name, f"duplicate: already in the dataset as {self.existing[checked.sha256]}")
            )
            return
        self.seen[checked.sha256] = name
        if labels is None:
            state = Image.LabelState.UNLABELED
        else:
            state = Image.LabelState.LABELED if labels else Image.LabelState.SAFE
        image = _new_image(
            self.adapter,
            checked,
            name=name,
            split=self.stage.split,
            source=self.stage.source,
            label_state=state,
        )
        try:
            pdq = hashbanks.compute_hash(data=checked.data)  # for the hash banks' lookups
        except BaseException:
            delete_stored([image])
            raise
        _keep(self.stage, self.existing, image, list(labels or []), pdq)


def _tally_staged(staged: Iterable[tuple[Image, list[str]]]) -> Counter:
    """The counter increments for new images staged as (Image, label names)."""
    return tally((image.adapter_id, image.split, image.label_state, labels) for image, labels in staged)


def _audit_import(
    user: User | None, adapter: Adapter, report: ImportReport, *, source: str, split: str, **extra: Any
) -> None:
    record(
        user,
        "adapter.import_images",
        adapter,
        project=adapter.project,
        source=source,
        split=split,
        added=len(report.added),
        skipped=len(report.skipped),
        failed=len(report.failed),
        **extra,
    )


def _write(
    user: User | None, adapter: Adapter, stages: list[StagedImport], *, test_manifest: bool = False
) -> ImportReport:
    """Write the rows of staged imports in one short transaction. A manifest's images go in all
    or none; an uploaded image someone added meanwhile is skipped (its stored files deleted)."""
    report = ImportReport()
    with transaction.atomic():
        # A training may have started (and frozen the dataset) while the images were read.
        adapter.status = Adapter.objects.values_list("status", flat=True).get(pk=adapter.pk)
        _require_editable(adapter)
        for stage in stages:
            written = stage.staged
            if stage.manifest:
                try:
                    with transaction.atomic():
                        Image.objects.bulk_create(stage.images, batch_size=500)
                except IntegrityError:
                    raise ValidationError(
                        f"{stage.manifest}: some of its images were added to the dataset meanwhile; "
                        "import it again"
                    ) from None
            else:
                written = []
                for image, labels in stage.staged:
                    try:
                        with transaction.atomic():
                            image.save()
                    except IntegrityError:  # added by someone else since we looked
                        delete_stored([image])
                        stage.report.skipped.append(
                            (image.original_name, "duplicate: already in the dataset")
                        )
                        continue
                    written.append((image, labels))
            ImageLabel.objects.bulk_create(
                [ImageLabel(image=image, name=label) for image, labels in written for label in labels],
                batch_size=CHUNK,
            )
            DatasetCount.objects.add(_tally_staged(written))
            hashbanks.keep_hashes(hashes={image.sha256: stage.pdqs[image.sha256] for image, _ in written})
            stage.report.added = [image for image, _ in written]
            _audit_import(user, adapter, stage.report, source=stage.source, split=stage.split, **stage.audit)
            report.extend(stage.report)
        if test_manifest and adapter.test_data != Adapter.TestData.MANIFEST:
            adapter.test_data = Adapter.TestData.MANIFEST
            adapter.save(update_fields=["test_data"])
    return report


def write_staged(
    *, user: User | None, adapter: Adapter, stages: list[StagedImport], test_manifest: bool = False
) -> ImportReport:
    """Write the rows of staged imports (stage_images, stage_manifest) in one short transaction,
    or in the caller's, which may write more with them. `test_manifest`: a test split was staged
    from a manifest. On a refusal the caller deletes the stored files (discard_staged)."""
    return _write(user, adapter, stages, test_manifest=test_manifest)


def discard_staged(stages: Iterable[StagedImport]) -> None:
    """Delete the stored files of staged imports whose rows are not (or no longer) written."""
    for stage in stages:
        delete_stored(stage.images)


def _write_one(user: User | None, adapter: Adapter, stage: StagedImport) -> ImportReport:
    try:
        return _write(user, adapter, [stage])
    except BaseException:
        delete_stored(stage.images)
        raise


def _stage_files(
    adapter: Adapter,
    files: Sequence[tuple[str, bytes]],
    split: str = "train",
    source: str = "upload",
    *,
    existing: dict[str, dict[str, str]] | None = None,
) -> StagedImport:
    return stage_images(
        adapter=adapter,
        images=((name, data, None) for name, data in files),
        split=split,
        source=source,
        existing=existing,
    )


def stage_images(
    *,
    adapter: Adapter,
    images: Iterable[tuple[str, bytes, list[str] | None]],
    source: str,
    split: str = "train",
    existing: dict[str, dict[str, str]] | None = None,
) -> StagedImport:
    """Images as (name, bytes, labels: None unlabeled, empty safe), read lazily, checked and stored
    outside any transaction; write_staged writes their rows. A bad image is in report.failed, one
    already in the split or in this import in report.skipped. `existing` is shared by the parts of
    one import (split -> {sha256: name})."""
    _require_editable(adapter)
    importer = _Importer(adapter, StagedImport(split, source), existing)
    try:
        for name, data, labels in images:
            importer.add(name, data, labels)
    except BaseException:
        delete_stored(importer.stage.images)
        raise
    return importer.stage


def import_files(
    *,
    user: User | None,
    adapter: Adapter,
    files: Sequence[tuple[str, bytes]],
    split: str = "train",
    source: str = "upload",
) -> ImportReport:
    """Uploaded files: each bad one is refused with its reason, the good ones are kept."""
    return _write_one(user, adapter, _stage_files(adapter, files, split, source))


def stage_manifest(
    *,
    adapter: Adapter,
    data: bytes,
    name: str,
    split: str = "train",
    existing: dict[str, dict[str, str]] | None = None,
) -> StagedImport:
    """A manifest's images read, checked and stored outside any transaction, for write_staged;
    ManifestError (every bad line) as import_manifest refuses it."""
    _require_editable(adapter)
    lines = manifests.read_groundtruth(data, name=name)
    in_split = _existing(adapter, split, existing)
    stage = StagedImport(split, "manifest", audit={"manifest": name}, manifest=name)
    report = stage.report
    errors: list[manifests.LineError] = []
    seen: dict[str, int] = {}
    reader = s3.Reader()
    try:
        for line in lines:
            label = f"{name} line {line.line}"
            try:
                checked = check_image(reader.read(line.bucket, line.key, max_bytes=MAX_STORED_BYTES))
            except ValueError as exc:  # InvalidImage is a ValueError too
                reason = str(exc)
                errors.append(
                    manifests.LineError(line.line, reason if line.uri in reason else f"{line.uri}: {reason}")
                )
                continue
            if checked.sha256 in seen:
                report.skipped.append((label, f"{line.uri} is the same image as line {seen[checked.sha256]}"))
                continue
            if checked.sha256 in in_split:
                report.skipped.append(
                    (label, f"{line.uri} is already in the dataset as {in_split[checked.sha256]}")
                )
                continue
            seen[checked.sha256] = line.line
            pdq = hashbanks.compute_hash(data=checked.data)
            state = Image.LabelState.LABELED if line.labels else Image.LabelState.SAFE
            image = _new_image(
                adapter, checked, name=line.uri, split=split, source=Image.Source.MANIFEST, label_state=state
            )
            _keep(stage, in_split, image, line.labels, pdq)
        if errors:
            raise manifests.ManifestError(name, errors)
    except BaseException:
        delete_stored(stage.images)
        raise
    return stage


def import_manifest(
    *, user: User | None, adapter: Adapter, data: bytes, name: str, split: str = "train"
) -> ImportReport:
    """A content-moderation-groundtruth manifest; its labels are applied.

    All or nothing: a manifest with any bad line (JSON, source-ref, label, unreadable or
    invalid image) is refused whole with ManifestError listing every bad line, and nothing
    is imported. Images already in the dataset, or repeated in the file, are skipped.
    """
    return _write_one(user, adapter, stage_manifest(adapter=adapter, data=data, name=name, split=split))


def _stage_s3_prefix(
    adapter: Adapter, uri: str, split: str = "train", *, existing: dict[str, dict[str, str]] | None = None
) -> StagedImport:
    _require_editable(adapter)
    try:
        bucket, prefix = s3.parse_prefix(uri)
        objects = s3.list_prefix(bucket, prefix)
    except s3.S3Error as exc:
        raise ValidationError(exc.message) from None
    if len(objects) > s3.MAX_OBJECTS:
        raise ValidationError(
            f"S3 location: {uri} holds more than {s3.MAX_OBJECTS:,} objects; choose a narrower folder",
            code="limit",
        )
    if not objects:
        raise ValidationError(f"S3 location: there are no objects under {uri}", code="invalid")
    importer = _Importer(adapter, StagedImport(split, Image.Source.S3, audit={"uri": uri}), existing)
    reader = s3.Reader()
    try:
        for key, size in objects:
            object_uri = f"s3://{bucket}/{key}"
            if key.endswith("/"):
                continue  # a folder marker
            if not key.lower().endswith(manifests.IMAGE_SUFFIXES):
                importer.report.skipped.append((object_uri, "not a .jpg, .jpeg or .png object"))
                continue
            if size > MAX_STORED_BYTES:
                importer.report.failed.append(
                    (object_uri, f"image is {size:,} bytes; the limit is {MAX_STORED_BYTES:,} bytes (15 MB)")
                )
                continue
            try:
                data = reader.read(bucket, key, max_bytes=MAX_STORED_BYTES)
            except ValueError as exc:
                importer.report.failed.append((object_uri, str(exc)))
                continue
            importer.add(object_uri, data)
    except BaseException:
        delete_stored(importer.stage.images)
        raise
    return importer.stage


def import_s3_prefix(*, user: User | None, adapter: Adapter, uri: str, split: str = "train") -> ImportReport:
    """Every .jpg/.jpeg/.png object under an s3://bucket/folder/ prefix, file by file."""
    return _write_one(user, adapter, _stage_s3_prefix(adapter, uri, split))


def copy_dataset(*, user: User | None, source: Adapter, target: Adapter) -> ImportReport:
    """Copy another adapter's images (both splits) and labels into a draft adapter.

    Files are copied, not shared, so deleting the source adapter leaves the copy whole.
    """
    _require_editable(target)
    report = ImportReport()
    existing = set(Image.objects.filter(adapter=target).values_list("split", "sha256"))
    staged: list[tuple[Image, list[str]]] = []
    try:
        for image in source.images.prefetch_related("labels").iterator(chunk_size=CHUNK):
            if (image.split, image.sha256) in existing:
                report.skipped.append((image.original_name, "duplicate: already in the dataset"))
                continue
            try:
                with default_storage.open(image.file, "rb") as fh:
                    data = fh.read()
                thumb = b""
                if image.thumbnail:
                    with default_storage.open(image.thumbnail, "rb") as fh:
                        thumb = fh.read()
            except OSError:
                report.failed.append((image.original_name, "the stored file is missing"))
                continue
            ext = "jpg" if image.format == "JPEG" else "png"
            file_key, thumb_key = keys(_folder(target), f"{image.sha256}.{ext}")
            copy = Image(
                adapter=target,
                file=storage.save(file_key, data),
                thumbnail=storage.save(thumb_key, thumb) if thumb else "",
                original_name=image.original_name,
                sha256=image.sha256,
                size=image.size,
                format=image.format,
                width=image.width,
                height=image.height,
                source=Image.Source.COPY,
                split=image.split,
                label_state=image.label_state,
                labeled_at=image.labeled_at,
            )
            staged.append((copy, [label.name for label in image.labels.all()]))
        with transaction.atomic():
            Image.objects.bulk_create([image for image, _ in staged], batch_size=500)
            ImageLabel.objects.bulk_create(
                [ImageLabel(image=image, name=name) for image, names in staged for name in names],
                batch_size=CHUNK,
            )
            DatasetCount.objects.add(_tally_staged(staged))
            if (
                any(image.split == Image.Split.TEST for image, _ in staged)
                and source.test_data == Adapter.TestData.MANIFEST
            ):
                target.test_data = Adapter.TestData.MANIFEST
                target.save(update_fields=["test_data"])
            report.added = [image for image, _ in staged]
            record(
                user,
                "adapter.copy_dataset",
                target,
                project=target.project,
                source=source.pk,
                source_name=source.name,
                added=len(staged),
            )
    except Exception:
        delete_stored(image for image, _ in staged)
        raise
    return report


# ---------------------------------------------------------------- labels


def set_labels(
    *,
    user: User | None,
    images: QuerySet[Image] | Iterable[Image],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    safe: bool = False,
    audit_action: str = "image.label",
    audit_detail: dict | None = None,
) -> int:
    """Add and/or remove top-level labels on many images at once, or mark them safe.

    `images` is a QuerySet or a list of Image. Marking safe removes every label. An image
    whose last label is removed is unlabeled again (safe is always an explicit choice).
    Returns the number of images. One audit entry per adapter names every image: `audit_action`
    (another name when the labels come from elsewhere, such as accepted suggestions), with
    `audit_detail` added to its detail.
    """
    add, remove = list(dict.fromkeys(add)), list(dict.fromkeys(remove))
    for label in [*add, *remove]:
        validate_top_level_label(label)
    if safe and add:
        raise ValidationError(
            "Labels: an image marked safe (no moderation label) cannot also get a label", code="invalid"
        )
    if set(add) & set(remove):
        raise ValidationError("Labels: a label cannot be both added and removed", code="invalid")
    if not (add or remove or safe):
        raise ValidationError(
            "Labels: choose a label to add or remove, or mark the images safe", code="invalid"
        )
    queryset = images if isinstance(images, QuerySet) else Image.objects.filter(pk__in=[i.pk for i in images])
    # Materialize the ids first: the filter may depend on the very labels this call changes.
    rows = list(queryset.order_by().values_list("pk", "adapter_id"))
    if not rows:
        raise ValidationError("Images: select at least one image", code="invalid")
    adapters = {
        a.pk: a for a in Adapter.objects.select_related("project").filter(pk__in={a for _, a in rows})
    }
    for adapter in adapters.values():
        _require_editable(adapter)
    now = timezone.now()
    ids = [pk for pk, _ in rows]
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            # The counters move by what this chunk's images counted before and after the change.
            delta: Counter = Counter()
            delta.subtract(DatasetCount.objects.tally_rows(image_ids=chunk))
            if safe:
                ImageLabel.objects.filter(image_id__in=chunk).delete()
                Image.objects.filter(pk__in=chunk).update(label_state=Image.LabelState.SAFE, labeled_at=now)
            if remove:
                ImageLabel.objects.filter(image_id__in=chunk, name__in=remove).delete()
                Image.objects.filter(pk__in=chunk, label_state=Image.LabelState.LABELED).exclude(
                    Exists(ImageLabel.objects.filter(image=OuterRef("pk")))
                ).update(label_state=Image.LabelState.UNLABELED, labeled_at=None)
            if add:
                ImageLabel.objects.bulk_create(
                    [ImageLabel(image_id=pk, name=label) for pk in chunk for label in add],
                    ignore_conflicts=True,
                    batch_size=CHUNK,
                )
                Image.objects.filter(pk__in=chunk).update(
                    label_state=Image.LabelState.LABELED, labeled_at=now
                )
            delta.update(DatasetCount.objects.tally_rows(image_ids=chunk))
            DatasetCount.objects.add(delta)
        for adapter in adapters.values():
            record(
                user,
                audit_action,
                adapter,
                project=adapter.project,
                add=add,
                remove=remove,
                safe=safe,
                images=[pk for pk, a in rows if a == adapter.pk],
                **(audit_detail or {}),
            )
    return len(ids)


# ---------------------------------------------------------------- undo of a labeling action


def _undo_name(adapter: Adapter, token: str) -> str:
    return f"undo/labels/{adapter.pk}/{token}.json"


def save_undo(*, adapter: Adapter, images: QuerySet[Image]) -> str:
    """Before a labeling action: keep each image's labels and state, returns the token that undoes it.

    Kept as a file in storage (thousands of images are too many for the session)."""
    snapshot = []
    for image in (
        images.order_by().only("pk", "label_state").prefetch_related("labels").iterator(chunk_size=CHUNK)
    ):
        snapshot.append([image.pk, image.label_state, sorted(label.name for label in image.labels.all())])
    token = secrets.token_hex(12)
    default_storage.save(_undo_name(adapter, token), ContentFile(json.dumps(snapshot).encode()))
    return token


def undo_labels(*, user: User | None, adapter: Adapter, token: str) -> int:
    """Put back the labels and states `save_undo` kept; each token undoes once. Returns the count."""
    _require_editable(adapter)
    if not token.isalnum() or not default_storage.exists(_undo_name(adapter, token)):
        raise ValidationError("Undo: this action was undone already or is too old to undo", code="not_found")
    with default_storage.open(_undo_name(adapter, token), "rb") as fh:
        snapshot = json.loads(fh.read())
    # Only the adapter's own training images: the file names ids, the adapter is checked.
    known = set(
        Image.objects.filter(adapter=adapter, pk__in=[row[0] for row in snapshot]).values_list(
            "pk", flat=True
        )
    )
    rows = [row for row in snapshot if row[0] in known]
    with transaction.atomic():
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            ids = [row[0] for row in chunk]
            delta: Counter = Counter()
            delta.subtract(DatasetCount.objects.tally_rows(image_ids=ids))
            ImageLabel.objects.filter(image_id__in=ids).delete()
            ImageLabel.objects.bulk_create(
                [ImageLabel(image_id=pk, name=name) for pk, _, names in chunk for name in names],
                batch_size=CHUNK,
            )
            for state in {row[1] for row in chunk}:
                Image.objects.filter(pk__in=[pk for pk, st, _ in chunk if st == state]).update(
                    label_state=state
                )
            delta.update(DatasetCount.objects.tally_rows(image_ids=ids))
            DatasetCount.objects.add(delta)
        record(user, "image.label_undo", adapter, project=adapter.project, images=[row[0] for row in rows])
        default_storage.delete(_undo_name(adapter, token))
    return len(rows)


# ---------------------------------------------------------------- training readiness and export


def dataset_counts(adapter: Adapter, *, fresh: bool = False) -> dict[tuple[str, str], int]:
    """An adapter's dataset in numbers: {(split, key): n}, key "state:<label state>" (images in
    that state) or "label:<name>" (images with that label); missing keys are 0.

    Read from the running counters (DatasetCount), one small query whatever the dataset's size;
    fresh=True counts the rows instead (two grouped queries over the whole dataset).
    """
    if fresh:
        return {(s, k): n for (_, s, k), n in DatasetCount.objects.tally_rows(adapter=adapter).items()}
    return DatasetCount.objects.of(adapter)


def dataset_blockers(adapter: Adapter, *, counts: dict[tuple[str, str], int] | None = None) -> list[str]:
    """What keeps this adapter's dataset from training; empty when it can train.

    Rules: there are training images; none is unlabeled; at least one carries a moderation
    label; and the test set is big enough for the backend (its min_test_images: 20 on AWS, its
    best practice). With autosplit the test set is 20% of the labeled training images, so AWS
    needs at least 100 labeled images.

    `counts` from dataset_counts (the labeling page passes the counters); without them the
    rows are counted, as training does before it starts.
    """
    if adapter.status not in EDITABLE:
        return [f"the adapter is {adapter.get_status_display().lower()}"]
    found = dataset_counts(adapter, fresh=True) if counts is None else counts
    state = {
        (split, value): found.get((split, f"state:{value}"), 0)
        for split in Image.Split.values
        for value in Image.LabelState.values
    }
    train = Image.Split.TRAIN
    n = {
        "train": sum(state[(train, value)] for value in Image.LabelState.values),
        "unlabeled": state[(train, Image.LabelState.UNLABELED)],
        "positive": state[(train, Image.LabelState.LABELED)],
        "test": state[(Image.Split.TEST, Image.LabelState.LABELED)]
        + state[(Image.Split.TEST, Image.LabelState.SAFE)],
    }
    if not n["train"]:
        return ["no images yet: add training images"]
    blockers = []
    if n["unlabeled"]:
        blockers.append(f"{n['unlabeled']} image{'s' if n['unlabeled'] != 1 else ''} still unlabeled")
    if not n["positive"]:
        blockers.append("no image has a moderation label yet: label at least one image with a category")
    backend = get_backend()
    min_train, min_test = backend.min_training_images, backend.min_test_images
    labeled = n["train"] - n["unlabeled"]
    where = backend.where
    if adapter.test_data == Adapter.TestData.MANIFEST:
        if n["test"] < min_test:
            blockers.append(
                f"a test set needs at least {min_test} images {where}; the test manifest gave {n['test']}"
            )
        train_size = labeled
    else:
        test_size = autosplit_test_size(labeled)
        train_size = labeled - test_size
        if test_size < min_test:
            need = next(k for k in range(1, 10**6) if autosplit_test_size(k) >= min_test)
            blockers.append(
                f"a test set needs at least {min_test} images {where}: autosplit uses 20% of the labeled "
                f"images, so label at least {need} (now {labeled})"
            )
    if train_size < min_train:
        blockers.append(f"the training set needs at least {min_train} images {where} (now {train_size})")
    return blockers


def manifest_size(*, adapter: Adapter, split: str = "train") -> int:
    """How many images export_manifest writes (the labeled and the safe), from the counters."""
    counts = dataset_counts(adapter)
    return sum(
        counts.get((split, f"state:{state}"), 0)
        for state in (Image.LabelState.SAFE, Image.LabelState.LABELED)
    )


def export_manifest(
    *, adapter: Adapter, split: str = "train", progress: Callable[[int], None] | None = None
) -> str:
    """The labeled images of a dataset as a content-moderation-groundtruth manifest; `progress`
    hears how many images are written after each CHUNK of them (exports.services)."""
    images = (
        Image.objects.filter(adapter=adapter, split=split)
        .exclude(label_state=Image.LabelState.UNLABELED)
        .only("pk", "file")
        .prefetch_related("labels")
        .order_by("pk")
    )
    order = {name: i for i, name in enumerate(taxonomy.TOP_LEVEL)}

    def entries():
        for n, image in enumerate(images.iterator(chunk_size=CHUNK), 1):
            yield (
                storage.uri_for(image.file),
                sorted((label.name for label in image.labels.all()), key=order.__getitem__),
            )
            if progress and n % CHUNK == 0:
                progress(n)

    return manifests.write_groundtruth(entries())
