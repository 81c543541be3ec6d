"""Suspected label errors: out-of-sample probabilities from cross-validated adapter heads, then
cleanlab's label-issue finder, one label against the rest.

Each image's probabilities come from heads trained (heads.train: the same features, scaler and
logistic head as an adapter) on the other folds, so no image is judged by a head that saw its own
label. For each label, cleanlab.filter.find_label_issues compares the given yes/no with those
probabilities and keeps the images whose label it thinks is wrong (with those the head calls the
other way); they are returned ordered by how strongly the model disagrees (1 - the probability of
the given answer).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import heads

FOLDS = 5  # cleanlab's own default for cross-validated probabilities
# A label needs this many images with it and as many without it to be checked: one per fold, so
# that every fold's training part has both.
MIN_PER_CLASS = FOLDS


@dataclass(frozen=True)
class Suspect:
    index: int  # the row of the inputs
    label: str  # a top-level label
    given: bool  # whether the image has the label
    probability: float  # the out-of-sample probability of the label, 0-1
    score: float  # how strongly the model disagrees with the given answer, 0-1


def out_of_sample_probabilities(
    embeddings: Sequence[np.ndarray] | np.ndarray,
    base_labels: Sequence[list[dict]],
    truth: Sequence[list[str]],
    *,
    labels: list[str],
    feature_set: str = heads.DEFAULT_FEATURE_SET,
    folds: int = FOLDS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """[N, len(labels)]: each image's probabilities from a head trained without its fold.

    Folds are stratified on each image's label set. A label a fold's training part lacks
    (a rare one) gets that part's share of it, 0."""
    from sklearn.model_selection import StratifiedKFold

    n = len(truth)
    X = np.array([heads.features(e, b, feature_set) for e, b in zip(embeddings, base_labels, strict=True)])
    keys = ["|".join(sorted(names)) for names in truth]
    counts = Counter(keys)
    # Each label set spread over the folds; the rarest ones (fewer than the folds) share a stratum.
    splits = max(2, min(folds, max(counts.values())))
    stratify = [key if counts[key] >= splits else "rare" for key in keys]
    cv = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    probabilities = np.zeros((n, len(labels)), dtype=np.float64)
    for fold, (train_idx, test_idx) in enumerate(cv.split(np.zeros(n), stratify)):
        fold_truth = [[name for name in truth[i] if name in labels] for i in train_idx]
        head = heads.train(
            [embeddings[i] for i in train_idx],
            [base_labels[i] for i in train_idx],
            fold_truth,
            base_model_version="cross-validation",
            feature_set=feature_set,
        )
        fold_probs = head.probabilities(X[test_idx])
        for k, label in enumerate(labels):
            if label in head.labels:
                probabilities[test_idx, k] = fold_probs[:, head.labels.index(label)]
        if progress:
            progress(fold + 1, splits)
    return probabilities


def checkable_labels(truth: Sequence[list[str]]) -> list[str]:
    """The labels present often enough, with and without, to be checked."""
    n = len(truth)
    counts: dict[str, int] = {}
    for names in truth:
        for name in set(names):
            counts[name] = counts.get(name, 0) + 1
    found = [name for name, c in counts.items() if c >= MIN_PER_CLASS and n - c >= MIN_PER_CLASS]
    return sorted(found)


def find_label_errors(
    embeddings: Sequence[np.ndarray] | np.ndarray,
    base_labels: Sequence[list[dict]],
    truth: Sequence[list[str]],
    *,
    feature_set: str = heads.DEFAULT_FEATURE_SET,
    folds: int = FOLDS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Suspect]:
    """The images whose label (given or missing) cleanlab suspects, most disputed first.

    One row per image: its embedding, the base model's labels for it, its top-level labels
    ([] = safe). Returns [] when no label can be checked (see checkable_labels)."""
    from cleanlab.filter import find_label_issues

    labels = checkable_labels(truth)
    if not labels:
        return []
    probabilities = out_of_sample_probabilities(
        embeddings,
        base_labels,
        truth,
        labels=labels,
        feature_set=feature_set,
        folds=folds,
        seed=seed,
        progress=progress,
    )
    suspects: list[Suspect] = []
    for k, label in enumerate(labels):
        given = np.array([label in names for names in truth], dtype=int)
        p = np.clip(probabilities[:, k], 1e-6, 1 - 1e-6)
        pred_probs = np.column_stack([1 - p, p])
        # cleanlab's confident learning (its default filter) counts an image as confidently of a
        # class only above that class's mean probability: with heads as sure as an adapter's
        # (positives at 0.95) it misses flipped labels at 0.92, about half of them in the planted-error
        # test. Images the out-of-sample head calls the other way are suspects too.
        issues = find_label_issues(labels=given, pred_probs=pred_probs, n_jobs=1)
        issues |= pred_probs.argmax(axis=1) != given
        for i in np.flatnonzero(issues):
            disagreement = float(1 - pred_probs[i, given[i]])
            suspects.append(Suspect(int(i), label, bool(given[i]), float(p[i]), disagreement))
    suspects.sort(key=lambda s: (-s.score, s.index, s.label))
    return suspects
