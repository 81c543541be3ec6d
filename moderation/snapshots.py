"""Dataset snapshots: what changed between two adapters' frozen datasets, and their evaluations.

Plain Python, no Django import. A snapshot is an adapter's training and test manifests read
back (manifests.read_groundtruth); each image is known by an identity key the caller gives
(the console uses the images' sha256: two adapters store the same image under different
source-refs). diff() says, per image, whether it was added, removed, relabeled or moved
between the training and test sets; label_counts() and scores() give the tables the Compare
page puts side by side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TRAIN, TEST = "train", "test"
BOTH = "train+test"  # an image in both sets of one adapter (the dataset allows it)
SAFE = "Safe (no label)"  # the label_counts() row of images without a moderation label

ADDED, REMOVED = "added", "removed"
LABELS, SPLIT, LABELS_AND_SPLIT = "labels", "split", "labels_and_split"
KINDS = (ADDED, REMOVED, LABELS, SPLIT, LABELS_AND_SPLIT)

_SHA256_NAME = re.compile(r"([0-9a-f]{64})\.[A-Za-z]+")


@dataclass(frozen=True)
class Item:
    """One image of a frozen dataset: its identity, source-ref, labels (sorted, () = safe), split."""

    key: str
    ref: str
    labels: tuple[str, ...]
    split: str


@dataclass(frozen=True)
class Change:
    """One image that differs between two snapshots; `before` is None if added, `after` if removed."""

    key: str
    kind: str
    before: Item | None
    after: Item | None

    @property
    def ref(self) -> str:
        item = self.after or self.before
        assert item is not None
        return item.ref

    def as_json(self) -> dict[str, Any]:
        """One line of the diff download."""
        return {
            "ref": self.ref,
            "ref_before": self.before.ref if self.before else None,
            "image": self.key,
            "change": self.kind,
            "labels_before": list(self.before.labels) if self.before else None,
            "labels_after": list(self.after.labels) if self.after else None,
            "split_before": self.before.split if self.before else None,
            "split_after": self.after.split if self.after else None,
        }


@dataclass(frozen=True)
class Diff:
    changes: list[Change]  # by kind (KINDS order), then source-ref
    unchanged: int

    def of(self, *kinds: str) -> list[Change]:
        return [c for c in self.changes if c.kind in kinds]

    def count(self, *kinds: str) -> int:
        return sum(c.kind in kinds for c in self.changes)


def key_from_name(ref: str) -> str:
    """An image's identity when the caller knows none: the sha256 its stored name carries
    (the console stores dataset images as <sha256>.<ext>), else the source-ref itself."""
    match = _SHA256_NAME.fullmatch(ref.rsplit("/", 1)[-1])
    return match.group(1) if match else ref


def snapshot(
    train: Iterable[Any],
    test: Iterable[Any] = (),
    *,
    identity: Mapping[str, str] | Callable[[str], str] | None = None,
) -> dict[str, Item]:
    """The images of a frozen dataset by identity key. Lines are manifests.GroundTruthLine (or
    anything with `uri` and `labels`). `identity` maps a source-ref to the image's key (refs it
    lacks fall back to key_from_name()). An image listed twice in one set keeps the union of its
    labels; an image in both sets has split BOTH."""

    def key_of(ref: str) -> str:
        if callable(identity):
            return identity(ref)
        if identity is not None and ref in identity:
            return identity[ref]
        return key_from_name(ref)

    items: dict[str, Item] = {}
    for split, lines in ((TRAIN, train), (TEST, test)):
        for line in lines:
            key = key_of(line.uri)
            labels = tuple(sorted(set(line.labels)))
            seen = items.get(key)
            if seen is None:
                items[key] = Item(key, line.uri, labels, split)
            else:
                items[key] = Item(
                    key,
                    seen.ref,
                    tuple(sorted(set(seen.labels) | set(labels))),
                    seen.split if seen.split == split else BOTH,
                )
    return items


def diff(before: Mapping[str, Item], after: Mapping[str, Item]) -> Diff:
    """What changed from `before` to `after` (two snapshot() results): images added, removed,
    relabeled (same image, a different set of labels), moved (a different split), or both."""
    changes: list[Change] = []
    unchanged = 0
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            changes.append(Change(key, REMOVED, old, None))
            continue
        relabeled, moved = old.labels != new.labels, old.split != new.split
        if relabeled and moved:
            changes.append(Change(key, LABELS_AND_SPLIT, old, new))
        elif relabeled:
            changes.append(Change(key, LABELS, old, new))
        elif moved:
            changes.append(Change(key, SPLIT, old, new))
        else:
            unchanged += 1
    changes.extend(Change(key, ADDED, None, new) for key, new in after.items() if key not in before)
    order = {kind: i for i, kind in enumerate(KINDS)}
    changes.sort(key=lambda c: (order[c.kind], c.ref))
    return Diff(changes, unchanged)


def label_counts(items: Mapping[str, Item]) -> dict[str, dict[str, int]]:
    """label (and SAFE) -> {"train": n, "test": n, "total": n}; an image in both sets counts in each."""
    counts: dict[str, dict[str, int]] = {}
    for item in items.values():
        splits = (TRAIN, TEST) if item.split == BOTH else (item.split,)
        for label in item.labels or (SAFE,):
            row = counts.setdefault(label, {TRAIN: 0, TEST: 0, "total": 0})
            for split in splits:
                row[split] += 1
            row["total"] += 1
    return counts


def count_rows(before: Mapping[str, Item], after: Mapping[str, Item]) -> list[dict[str, Any]]:
    """One row per label of either snapshot (SAFE last): its counts in each, zeros where absent."""
    a, b = label_counts(before), label_counts(after)
    zero = {TRAIN: 0, TEST: 0, "total": 0}
    names = sorted((set(a) | set(b)) - {SAFE}) + ([SAFE] if SAFE in a or SAFE in b else [])
    return [
        {
            "label": name,
            "before": a.get(name, zero),
            "after": b.get(name, zero),
            "change": b.get(name, zero)["total"] - a.get(name, zero)["total"],
        }
        for name in names
    ]


def _rates(counts: Mapping[str, Any]) -> dict[str, float | None]:
    tp, fp, fn = (int(counts.get(k, 0)) for k in ("TruePositive", "FalsePositive", "FalseNegative"))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {"f1": f1, "precision": precision, "recall": recall}


def scores(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The adapter's F1, precision and recall at its training threshold (spec 5.1/5.3), overall
    (micro-averaged, as the document aggregates) and per label; None without an evaluation."""
    if not doc:
        return None
    block = (doc.get("ContentModeration") or {}).get("InputConfidenceThresholdEvalResults") or {}
    details = doc.get("EvaluationDetails") or {}
    overall = _rates(((block.get("AggregatedEvaluationResults") or {}).get("Adapter")) or {})
    stored_f1 = (doc.get("AggregatedEvaluationResults") or {}).get("F1Score")
    if stored_f1 is not None:
        overall["f1"] = float(stored_f1)
    return {
        "threshold": block.get("ConfidenceThreshold"),
        "training_images": details.get("NumberOfTrainingImages"),
        "test_images": details.get("NumberOfTestingImages"),
        "overall": overall,
        "labels": {
            row["Label"]: _rates(row.get("Adapter") or {})
            for row in block.get("LabelEvaluationResults") or []
        },
    }


def score_rows(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per evaluated label of either adapter: its scores in each (None where not evaluated)."""
    a = (before or {}).get("labels") or {}
    b = (after or {}).get("labels") or {}
    return [{"label": name, "before": a.get(name), "after": b.get(name)} for name in sorted(set(a) | set(b))]
