"""Hash banks: banks of PDQ hashes of images already judged, filled from images and hash lists,
and the step that looks every analysed image up in them and adjusts the moderation answer.

The matching step sits above the backend seam: `apply_banks` takes a DetectModerationLabels
response (from either backend) and the image, and returns the response with the banks' verdicts
applied, in the same shape. The API's detect operation, the bulk runner and dataset imports
call it (or `image_hash`); hashbanks imports none of them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from console.backends.base import BackendError
from console.lib import storage
from console.models import record
from hashbanks import index as hash_index
from hashbanks import pdq
from hashbanks.models import DEFAULT_DISTANCE, MAX_DISTANCE, Bank, BankHash, ImageHash
from moderation import taxonomy
from moderation.engine import MAX_STORED_BYTES

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

K = TypeVar("K")

# Rows per INSERT when a hash list is imported.
CHUNK = 2000
# A hash list larger than this many lines is refused (HMA's own exports are split well below).
MAX_LIST_LINES = 1_000_000


# ---------------------------------------------------------------- the image's own hash


def image_hash(*, data: bytes, sha256: str | None = None) -> ImageHash:
    """The PDQ hash of an image, computed once per content and kept (ImageHash, by sha256).

    NotAnImage (a ValueError) if the bytes are not an image."""
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    found = ImageHash.objects.filter(sha256=sha256).first()
    if found is not None:
        return found
    computed = pdq.of_bytes(data)
    try:
        with transaction.atomic():
            return ImageHash.objects.create(sha256=sha256, hash=computed.hex, quality=computed.quality)
    except IntegrityError:  # hashed by another process meanwhile: the same value
        return ImageHash.objects.get(sha256=sha256)


def compute_hash(*, data: bytes) -> pdq.Pdq | None:
    """The PDQ hash of an image, not stored: None if PDQ cannot read it."""
    try:
        return pdq.of_bytes(data)
    except pdq.NotAnImage:
        return None


def keep_hashes(*, hashes: Mapping[str, pdq.Pdq | None]) -> None:
    """Store images' hashes computed beforehand ({sha256: hash}, None skipped) in the cache;
    for an import that hashes while it reads and writes its rows in one transaction."""
    ImageHash.objects.bulk_create(
        [ImageHash(sha256=sha, hash=h.hex, quality=h.quality) for sha, h in hashes.items() if h is not None],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )


def hashes_of(*, sha256s: Iterable[str]) -> dict[str, str]:
    """{sha256: PDQ hex} of the images hashed already."""
    return dict(ImageHash.objects.filter(sha256__in=set(sha256s)).values_list("sha256", "hash"))


# ---------------------------------------------------------------- banks


def check_bank(*, bank: Bank) -> None:
    """ValidationError ("Label: ...") if the bank's settings are not ones it may have: a label
    outside the taxonomy, a label bank without one, a distance out of range, a taken name.
    The services check every bank they save; the admin's form checks with it too."""
    if bank.label and not taxonomy.is_label(bank.label):
        raise ValidationError(
            f"Label: {bank.label!r} is not a label of moderation taxonomy {taxonomy.VERSION}.", code="invalid"
        )
    if bank.kind == Bank.Kind.LABEL and not bank.label:
        raise ValidationError("Label: a label bank needs the label its matches get.", code="invalid")
    if not 0 <= bank.match_distance <= MAX_DISTANCE:
        raise ValidationError(f"Match distance: from 0 to {MAX_DISTANCE} bits.", code="invalid")
    try:
        bank.full_clean(exclude=["changed_at", "created_by"])
    except ValidationError as exc:
        if "name" in exc.message_dict and Bank.objects.filter(name=bank.name).exclude(pk=bank.pk).exists():
            raise ValidationError(
                f"Name: a bank named {bank.name!r} exists already.", code="exists"
            ) from None
        raise ValidationError(
            [f"{name.replace('_', ' ').capitalize()}: {' '.join(m)}" for name, m in exc.message_dict.items()],
            code="invalid",
        ) from None


def create_bank(
    *,
    user: User | None,
    name: str,
    kind: str = Bank.Kind.LABEL,
    label: str = "",
    description: str = "",
    match_distance: int = DEFAULT_DISTANCE,
    enabled: bool = True,
) -> Bank:
    bank = Bank(
        name=name.strip(),
        kind=kind,
        label=label.strip(),
        description=description.strip(),
        match_distance=match_distance,
        enabled=enabled,
        created_by=user if user is not None and user.is_authenticated else None,
        changed_at=timezone.now(),
    )
    check_bank(bank=bank)
    with transaction.atomic():
        bank.save()
        record(user, "hashbank.create", bank, name=bank.name, kind=bank.kind, label=bank.label)
    return bank


BANK_FIELDS = ("name", "kind", "label", "description", "match_distance", "enabled")


def update_bank(*, user: User | None, bank: Bank, **changes: Any) -> Bank:
    """Change a bank's settings (BANK_FIELDS); the audit entry names each change."""
    unknown = set(changes) - set(BANK_FIELDS)
    if unknown:
        raise ValidationError(f"Not a bank setting: {', '.join(sorted(unknown))}.", code="invalid")
    before = {name: getattr(bank, name) for name in changes}
    for name, value in changes.items():
        setattr(bank, name, value.strip() if isinstance(value, str) else value)
    changed = {
        name: [before[name], getattr(bank, name)] for name in changes if before[name] != getattr(bank, name)
    }
    try:
        check_bank(bank=bank)
    except ValidationError:
        bank.refresh_from_db()
        raise
    if not changed:
        return bank
    bank.changed_at = timezone.now()
    with transaction.atomic():
        bank.save(update_fields=[*changed, "changed_at"])
        record(user, "hashbank.update", bank, name=bank.name, changes=changed)
    return bank


def delete_bank(*, user: User | None, bank: Bank) -> None:
    with transaction.atomic():
        record(user, "hashbank.delete", bank, name=bank.name, hashes=bank.hash_count)
        bank.delete()


def _touch(bank: Bank, *, hashes: int = 0) -> None:
    """Mark the bank changed (every process's lookup index is rebuilt) and move its hash_count
    by `hashes`, in the caller's transaction with the rows' change."""
    bank.changed_at = timezone.now()
    Bank.objects.filter(pk=bank.pk).update(changed_at=bank.changed_at, hash_count=F("hash_count") + hashes)
    bank.hash_count += hashes


# ---------------------------------------------------------------- filling a bank


@dataclass
class AddReport:
    """What adding images or a hash list did: hashes added, hashes the bank had, refusals."""

    added: int = 0
    existing: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file or line, reason)


def min_quality() -> int:
    """The lowest PDQ quality a bank takes (settings.HASHBANKS_MIN_QUALITY)."""
    return settings.HASHBANKS_MIN_QUALITY


def _low_quality(quality: int, where: str) -> str:
    return (
        f"{where}: PDQ quality {quality} is below {min_quality()}: the image is too flat or plain "
        "for its hash to tell it from others"
    )


def _new_rows(bank: Bank, rows: list[BankHash]) -> tuple[int, int]:
    """Insert the rows whose hash the bank does not hold yet; (added, already there). In the
    caller's transaction, which then counts them (_touch): the bank's row is locked first, so
    two additions to one bank at once (PostgreSQL) see each other's hashes and count each once."""
    Bank.objects.select_for_update().get(pk=bank.pk)  # the lock (PostgreSQL; SQLite has one writer)
    wanted: dict[str, BankHash] = {}
    for row in rows:  # a hash listed twice: its first line is kept
        wanted.setdefault(row.hash, row)
    have = set(bank.hashes.filter(hash__in=list(wanted)).values_list("hash", flat=True))
    new = [row for hash_, row in wanted.items() if hash_ not in have]
    BankHash.objects.bulk_create(new, batch_size=CHUNK, ignore_conflicts=True)
    return len(new), len(rows) - len(new)


def add_image(*, user: User | None, bank: Bank, data: bytes, source: str, note: str = "") -> AddReport:
    """An image into a bank: its PDQ hash and those of its border crops (pdq.BORDER_CROPS).

    Refused (ValidationError naming `source`) if it is not an image or its PDQ quality is below
    min_quality(); crops below it are left out."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        own = image_hash(data=data, sha256=sha256)
        crops = pdq.border_crops(data)
    except pdq.NotAnImage as exc:
        raise ValidationError(f"{source}: {exc}", code="invalid") from None
    minimum = min_quality()
    if own.quality < minimum:
        raise ValidationError(_low_quality(own.quality, source), code="invalid")
    by = user if user is not None and user.is_authenticated else None
    rows = [
        BankHash(
            bank=bank,
            hash=own.hash,
            quality=own.quality,
            note=note[:500],
            source=source[:500],
            source_sha256=sha256,
            added_by=by,
        )
    ]
    rows += [
        BankHash(
            bank=bank,
            hash=crop.hex,
            quality=crop.quality,
            note=note[:500],
            source=source[:500],
            source_sha256=sha256,
            variant=f"crop {fraction * 100:g}%",
            added_by=by,
        )
        for fraction, crop in crops
        if crop.quality >= minimum
    ]
    with transaction.atomic():
        added, existing = _new_rows(bank, rows)
        _touch(bank, hashes=added)
        record(user, "hashbank.add_image", bank, source=source, sha256=sha256, hash=own.hash, added=added)
    return AddReport(added=added, existing=existing)


def add_images(*, user: User | None, bank: Bank, files: Sequence[tuple[str, bytes]]) -> AddReport:
    """Uploaded images: each bad one is refused with its reason, the good ones are added."""
    report = AddReport()
    for name, data in files:
        try:
            one = add_image(user=user, bank=bank, data=data, source=f"upload {name}")
        except ValidationError as exc:
            report.refused.append((name, " ".join(exc.messages)))
            continue
        report.added += one.added
        report.existing += one.existing
    return report


def add_stored_image(*, user: User | None, bank: Bank, name: str, source: str) -> AddReport:
    """An image of this console's storage (a dataset image, a bulk job's image) into a bank."""
    try:
        data = storage.read_ref(storage.ref_for(name), max_bytes=MAX_STORED_BYTES)
    except BackendError as exc:
        raise ValidationError(f"{source}: {exc.message}", code="not_found") from None
    return add_image(user=user, bank=bank, data=data, source=source)


def add_known_hash(*, user: User | None, bank: Bank, sha256: str, source: str) -> AddReport:
    """An image the console has hashed before (by its sha256) whose file it does not hold."""
    found = ImageHash.objects.filter(sha256=sha256).first()
    if found is None:
        raise ValidationError(f"{source}: this image has no PDQ hash yet.", code="not_found")
    if found.quality < min_quality():
        raise ValidationError(_low_quality(found.quality, source), code="invalid")
    row = BankHash(
        bank=bank,
        hash=found.hash,
        quality=found.quality,
        source=source[:500],
        source_sha256=sha256,
        added_by=user if user is not None and user.is_authenticated else None,
    )
    with transaction.atomic():
        added, existing = _new_rows(bank, [row])
        _touch(bank, hashes=added)
        record(user, "hashbank.add_image", bank, source=source, sha256=sha256, hash=found.hash, added=added)
    return AddReport(added=added, existing=existing)


def parse_hash_list(data: bytes, *, name: str) -> list[tuple[int, str, int | None, str]]:
    """The lines of a hash list as (line number, hash, quality or None, note).

    One hash per line as HMA and ThreatExchange exchange them: 64 hex digits, optionally a
    comma (or tab) and the PDQ quality, optionally another and a note (the rest of the line).
    Blank lines and lines starting with # are skipped. All or nothing: ValidationError listing
    every bad line ("list.txt line 3: ...") and nothing is read if there is one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{name}: not a UTF-8 text file.", code="invalid") from None
    lines = text.splitlines()
    if len(lines) > MAX_LIST_LINES:
        raise ValidationError(f"{name}: more than {MAX_LIST_LINES:,} lines.", code="limit")
    entries: list[tuple[int, str, int | None, str]] = []
    errors: list[str] = []
    minimum = min_quality()
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.replace("\t", ",").split(",", 2)]
        where = f"{name} line {number}"
        try:
            value = pdq.parse_hex(parts[0])
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            continue
        quality: int | None = None
        if len(parts) > 1 and parts[1]:
            try:
                quality = int(parts[1])
            except ValueError:
                errors.append(f"{where}: quality {parts[1]!r} is not a whole number from 0 to 100")
                continue
            if not 0 <= quality <= 100:
                errors.append(f"{where}: quality {quality} is not from 0 to 100")
                continue
            if quality < minimum:
                errors.append(_low_quality(quality, where))
                continue
        entries.append((number, value, quality, parts[2][:500] if len(parts) > 2 else ""))
    if errors:
        shown = errors[:20] + ([f"... and {len(errors) - 20} more bad lines"] if len(errors) > 20 else [])
        raise ValidationError(shown, code="invalid")
    if not entries:
        raise ValidationError(f"{name}: no hash in the file.", code="invalid")
    return entries


def import_hash_list(*, user: User | None, bank: Bank, data: bytes, name: str) -> AddReport:
    """A hash list into a bank, all or nothing (parse_hash_list); hashes it holds are skipped."""
    entries = parse_hash_list(data, name=name)
    by = user if user is not None and user.is_authenticated else None
    rows = [
        BankHash(
            bank=bank,
            hash=value,
            quality=quality,
            note=note,
            source=f"import {name} line {number}",
            added_by=by,
        )
        for number, value, quality, note in entries
    ]
    with transaction.atomic():
        added, existing = _new_rows(bank, rows)
        _touch(bank, hashes=added)
        record(user, "hashbank.import", bank, file=name, lines=len(entries), added=added, existing=existing)
    return AddReport(added=added, existing=existing)


def export_hash_list(*, bank: Bank) -> Iterable[str]:
    """The bank as a hash list (parse_hash_list's format), one line at a time: hash,quality,note."""
    rows = bank.hashes.order_by("id").values_list("hash", "quality", "note", "variant")
    for value, quality, note, variant in rows.iterator(chunk_size=CHUNK):
        note = " ".join(part for part in (note, variant) if part).replace("\n", " ").replace("\r", " ")
        yield f"{value},{'' if quality is None else quality},{note}".rstrip(",") + "\n"


def remove_hash(*, user: User | None, bank_hash: BankHash) -> None:
    bank = bank_hash.bank
    with transaction.atomic():
        record(user, "hashbank.remove_hash", bank, hash=bank_hash.hash, source=bank_hash.source)
        removed, _ = BankHash.objects.filter(pk=bank_hash.pk).delete()  # 0: removed meanwhile
        _touch(bank, hashes=-removed)


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class BankMatch:
    """An image matched a bank's hash within the bank's match distance."""

    bank_id: int
    bank: str
    kind: str
    label: str
    distance: int
    hash: str  # the bank's hash that matched

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Loaded:
    key: tuple[Any, ...]
    index: hash_index.HashIndex
    banks: dict[int, Bank]
    bank_of: np.ndarray  # position -> bank id
    hashes: np.ndarray  # position -> (32,) uint8
    radius: int


_loaded: _Loaded | None = None
_lock = threading.Lock()


def _index() -> _Loaded | None:
    """The lookup index of the enabled banks' hashes, rebuilt in this process when a bank
    changed (hashbanks.models.Bank.changed_at); None when no enabled bank has a hash."""
    global _loaded
    state = Bank.objects.aggregate(n=Count("id"), latest=Max("changed_at"))
    key = (state["n"], state["latest"])
    loaded = _loaded
    if loaded is not None and loaded.key == key:
        return loaded if len(loaded.index) else None
    with _lock:
        if _loaded is None or _loaded.key != key:
            banks = {bank.pk: bank for bank in Bank.objects.filter(enabled=True)}
            rows = BankHash.objects.filter(bank__in=list(banks)).order_by().values_list("bank_id", "hash")
            bank_ids, hexes = [], []
            for bank_id, value in rows.iterator(chunk_size=20_000):
                bank_ids.append(bank_id)
                hexes.append(value)
            hashes = pdq.to_array(hexes)
            _loaded = _Loaded(
                key=key,
                index=hash_index.HashIndex(hashes),
                banks=banks,
                bank_of=np.array(bank_ids, dtype=np.int64),
                hashes=hashes,
                radius=max((bank.match_distance for bank in banks.values()), default=0),
            )
        loaded = _loaded
    return loaded if len(loaded.index) else None


def lookup(*, hash_hex: str) -> list[BankMatch]:
    """The enabled banks' hashes within each bank's match distance of this hash, nearest first
    (at most one match per bank: its nearest hash)."""
    return lookup_many(hash_hexes=[hash_hex])[0]


def lookup_many(*, hash_hexes: Sequence[str]) -> list[list[BankMatch]]:
    """lookup of several hashes at once (one change check, one search): a list per hash."""
    found: list[dict[int, BankMatch]] = [{} for _ in hash_hexes]
    loaded = _index() if hash_hexes else None
    if loaded is None:
        return [[] for _ in hash_hexes]
    rows, positions, distances = loaded.index.search(pdq.to_array(list(hash_hexes)), loaded.radius)
    for row, position, dist in zip(rows.tolist(), positions.tolist(), distances.tolist(), strict=True):
        bank = loaded.banks[int(loaded.bank_of[position])]
        if dist <= bank.match_distance and bank.pk not in found[row]:  # nearest first: keep the first
            found[row][bank.pk] = BankMatch(
                bank.pk, bank.name, bank.kind, bank.label, dist, loaded.hashes[position].tobytes().hex()
            )
    return [sorted(matches.values(), key=lambda m: (m.distance, m.bank)) for matches in found]


def matches_of(*, sha256s: Iterable[str]) -> dict[str, list[BankMatch]]:
    """The enabled banks' matches now of images the console has hashed, by sha256 (those with
    no hash yet are left out): two queries whatever their number."""
    hashes = hashes_of(sha256s=sha256s)
    keys = list(hashes)
    return dict(zip(keys, lookup_many(hash_hexes=[hashes[k] for k in keys]), strict=True))


def _covered(label: str) -> set[str]:
    """The label and every label below it in the taxonomy."""
    return {name for name in taxonomy.LABELS if label in {a.name for a in taxonomy.ancestors(name)}}


def adjust(response: Mapping[str, Any], matches: Sequence[BankMatch]) -> dict[str, Any]:
    """A DetectModerationLabels response with the banks' verdicts applied, in the same shape.

    An allow bank removes the labels it covers (its label and the labels below it; every label
    when it has none). Then a label bank adds its label and the label's parents at confidence
    100, whatever the model said: a known-bad match wins over a known-safe one."""
    labels = [dict(label) for label in response.get("ModerationLabels") or []]
    for match in matches:
        if match.kind == Bank.Kind.ALLOW:
            covered = _covered(match.label) if match.label else None
            labels = [label for label in labels if covered is not None and label.get("Name") not in covered]
    for match in matches:
        if match.kind != Bank.Kind.LABEL or not taxonomy.is_label(match.label):
            continue
        for known in taxonomy.ancestors(match.label):
            entry = {
                "Confidence": 100.0,
                "Name": known.name,
                "ParentName": known.parent,
                "TaxonomyLevel": known.level,
            }
            same = [label for label in labels if label.get("Name") == known.name]
            if same:
                same[0].update(entry)
            else:
                labels.append(entry)
    labels.sort(key=lambda label: -float(label.get("Confidence", 0.0)))  # stable: the model's order kept
    return {**response, "ModerationLabels": labels}


@dataclass
class Screening:
    """What the banks made of one image: the adjusted response and why."""

    response: dict[str, Any]
    sha256: str = ""
    hash: str = ""
    quality: int | None = None
    matches: list[BankMatch] = field(default_factory=list)


def apply_banks(*, response: Mapping[str, Any], data: bytes, sha256: str | None = None) -> Screening:
    """A DetectModerationLabels response (from any backend) with the enabled banks' verdicts on
    this image applied. The image is hashed once (image_hash). An image PDQ cannot read leaves
    the response as it is (the model could read it; the banks cannot tell), and says so in the log."""
    try:
        found = image_hash(data=data, sha256=sha256)
    except pdq.NotAnImage:
        logger.warning("hash banks: image %s could not be hashed", sha256 or "(bytes)", exc_info=True)
        return Screening(response=dict(response), sha256=sha256 or "")
    matches = lookup(hash_hex=found.hash)
    adjusted = adjust(response, matches) if matches else dict(response)
    return Screening(adjusted, found.sha256, found.hash, found.quality, matches)


def near_duplicate_groups(*, hashes: Mapping[K, str], distance: int = DEFAULT_DISTANCE) -> dict[K, K]:
    """Near-duplicates among some images: {key: the group's first key} for every key whose hash
    is within `distance` of another's (through a chain of such images); keys in no group are left
    out. Keys in the order given: a group is named by its first member."""
    keys = list(hashes)
    roots = hash_index.groups(pdq.to_array([hashes[k] for k in keys]), distance)
    sizes = np.bincount(roots, minlength=len(keys)) if len(keys) else np.zeros(0, dtype=np.int64)
    return {keys[i]: keys[int(root)] for i, root in enumerate(roots.tolist()) if sizes[root] > 1}
