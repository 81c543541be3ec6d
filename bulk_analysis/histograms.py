"""A bulk job's confidences binned at 0.1: what the results and verify pages count from.

Plain Python, no Django import. A finished job's predictions never change, so the finalizer
stores these histograms on the job once (BulkAnalysisJob.histograms); the pages then answer
"how many flagged at threshold t", "how many with label L at t" by suffix sums over at most
1,001 bins, whatever the number of images, and the browser's slider does the same.

Shape: {"total", "done", "failed": prediction counts, "max": [n per bin] over the analysed
images whose highest confidence is > 0, "labels": {top-level label: [n per bin]}}, with
1,001 bins, bin = floor(10 * confidence). Dense lists: the same size at any number of
images. Flooring makes the counts exact for thresholds on the 0.1 grid:
confidence >= t <=> bin >= 10 * t.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

BINS = 1001  # 0.0, 0.1, ... 100.0
_EPS = 1e-6  # confidences carry a few decimals; 70.1 * 10 may come out as 700.999...


def bin_of(confidence: float) -> int:
    return min(BINS - 1, max(0, math.floor(confidence * 10 + _EPS)))


def first_bin(threshold: float) -> int:
    """The lowest bin whose confidences are all >= threshold."""
    return min(BINS, max(0, math.ceil(threshold * 10 - _EPS)))


def build(rows: Iterable[tuple[str, float, Mapping[str, float]]]) -> dict[str, Any]:
    """Histograms of (state, max_confidence, top_labels) rows, state "done", "failed" or "pending"."""
    maxima = [0] * BINS
    labels: dict[str, list[int]] = {}
    states: Counter = Counter()
    for state, max_confidence, tops in rows:
        states[state] += 1
        if state != "done":
            continue
        if max_confidence > 0:
            maxima[bin_of(max_confidence)] += 1
        for name, confidence in (tops or {}).items():
            labels.setdefault(name, [0] * BINS)[bin_of(confidence)] += 1
    return {
        "total": sum(states.values()),
        "done": states["done"],
        "failed": states["failed"],
        "max": maxima,
        "labels": dict(sorted(labels.items())),
    }


def at_least(bins: list[int] | None, threshold: float) -> int:
    """How many confidences in `bins` (None: no image has the label) are >= threshold."""
    return sum(bins[first_bin(threshold) :]) if bins else 0


def counts_at(histograms: Mapping[str, Any], threshold: float, labels: Iterable[str]) -> dict[str, Any]:
    """Flagged / unflagged analysed images and, per label, images with it at >= threshold."""
    flagged = at_least(histograms["max"], threshold)
    per_label = [(name, at_least(histograms["labels"].get(name), threshold)) for name in labels]
    return {"flagged": flagged, "unflagged": histograms["done"] - flagged, "per_label": per_label}


def matching(
    histograms: Mapping[str, Any], *, label: str, flag: str, threshold: float, done_only: bool
) -> int:
    """How many predictions the results filters match (bulk_analysis.queries.filtered_predictions):
    `label` with confidence >= threshold, `flag` flagged / unflagged / failed, and with
    done_only only analysed images (the verify page). For the pages' pagination.

    A label's confidence is never above the image's highest, so with a threshold > 0 an image
    with the label at >= threshold is flagged, never unflagged; only analysed images have labels.
    """
    flag = flag if flag in ("flagged", "unflagged", "failed") else ""
    if label:
        with_label = at_least(histograms["labels"].get(label), threshold)
        return with_label if flag in ("", "flagged") else 0
    flagged = at_least(histograms["max"], threshold)
    if flag == "flagged":
        return flagged
    if flag == "unflagged":
        return histograms["done"] - flagged
    if flag == "failed":
        return 0 if done_only else histograms["failed"]
    return histograms["done"] if done_only else histograms["total"]
