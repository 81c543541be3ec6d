"""The adapter evaluation document (spec 5.1) with the formulas of spec 5.3, and the autosplit.

Predictions are top-level name -> confidence (0-100) maps, one per test image;
top_level_confidences() turns labels at any level into one (a child counts for
its L1). Counts are micro-averaged over the evaluated labels.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from .taxonomy_map import top_level_confidences

THRESHOLDS = [float(t) for t in range(5, 101, 5)]
TEST_FRACTION = 0.2

__all__ = [
    "THRESHOLDS",
    "autosplit",
    "autosplit_test_size",
    "evaluate",
    "fn_improvement",
    "fp_improvement",
    "top_level_confidences",
]


def _counts(truth, preds, label, threshold) -> dict[str, int]:
    c = {"TruePositive": 0, "TrueNegative": 0, "FalsePositive": 0, "FalseNegative": 0}
    for actual_labels, pred in zip(truth, preds, strict=True):
        predicted = pred.get(label, 0.0) >= threshold
        actual = label in actual_labels
        key = ("True" if predicted == actual else "False") + ("Positive" if predicted else "Negative")
        c[key] += 1
    return c


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a[k] + b[k] for k in a}


def _at(truth, base, adapter, labels, threshold) -> dict:
    zero = {"TruePositive": 0, "TrueNegative": 0, "FalsePositive": 0, "FalseNegative": 0}
    agg = {"BaseModel": dict(zero), "Adapter": dict(zero)}
    per_label = []
    for label in labels:
        b = _counts(truth, base, label, threshold)
        a = _counts(truth, adapter, label, threshold)
        agg["BaseModel"] = _add(agg["BaseModel"], b)
        agg["Adapter"] = _add(agg["Adapter"], a)
        per_label.append({"Label": label, "BaseModel": b, "Adapter": a})
    return {
        "ConfidenceThreshold": float(threshold),
        "AggregatedEvaluationResults": agg,
        "LabelEvaluationResults": per_label,
    }


def f1(counts: dict[str, int]) -> float:
    """F1 on a 0-1 scale; 0.0 when there is nothing to score."""
    tp, fp, fn = counts["TruePositive"], counts["FalsePositive"], counts["FalseNegative"]
    denom = 2 * tp + fp + fn
    return round(2 * tp / denom, 4) if denom else 0.0


def evaluate(
    *,
    truth: list[list[str]],
    base: list[dict[str, float]],
    adapter: list[dict[str, float]],
    labels: list[str],
    threshold: float,
    adapter_arn: str,
    training_images: int,
    end: datetime | None = None,
) -> dict:
    """The full evaluation document: input threshold and the 20 thresholds 5..100, base and adapter."""
    at_input = _at(truth, base, adapter, labels, threshold)
    return {
        "AggregatedEvaluationResults": {"F1Score": f1(at_input["AggregatedEvaluationResults"]["Adapter"])},
        "EvaluationDetails": {
            "EvaluationEndTimestamp": (end or datetime.now(UTC)).isoformat(),
            "Labels": list(labels),
            "NumberOfTestingImages": len(truth),
            "NumberOfTrainingImages": training_images,
            "ProjectVersionArn": adapter_arn,
        },
        "ContentModeration": {
            "InputConfidenceThresholdEvalResults": at_input,
            "AllConfidenceThresholdsEvalResults": [_at(truth, base, adapter, labels, t) for t in THRESHOLDS],
        },
    }


def _results_at(doc: dict, threshold: float | None) -> dict:
    cm = doc["ContentModeration"]
    if threshold is None or threshold == cm["InputConfidenceThresholdEvalResults"]["ConfidenceThreshold"]:
        return cm["InputConfidenceThresholdEvalResults"]
    for row in cm["AllConfidenceThresholdsEvalResults"]:
        if row["ConfidenceThreshold"] == float(threshold):
            return row
    raise ValueError(f"no evaluation results at threshold {threshold}")


def _improvement(doc: dict, threshold: float | None, key: str, label: str | None) -> float | None:
    results = _results_at(doc, threshold)
    if label is None:
        pair = results["AggregatedEvaluationResults"]
    else:
        pair = next(r for r in results["LabelEvaluationResults"] if r["Label"] == label)
    base, adapter = pair["BaseModel"][key], pair["Adapter"][key]
    if base == 0:
        return None
    return round((base - adapter) / base * 100.0, 2)


def fp_improvement(doc: dict, threshold: float | None = None, label: str | None = None) -> float | None:
    """(FP_base - FP_adapter) / FP_base x 100; None when the base model has no false positives."""
    return _improvement(doc, threshold, "FalsePositive", label)


def fn_improvement(doc: dict, threshold: float | None = None, label: str | None = None) -> float | None:
    """(FN_base - FN_adapter) / FN_base x 100; None when the base model has no false negatives."""
    return _improvement(doc, threshold, "FalseNegative", label)


def autosplit_test_size(n: int, fraction: float = TEST_FRACTION) -> int:
    """How many of n images the 80/20 autosplit puts in the test set: at least one on each side of two or more."""
    return min(max(round(n * fraction), 1 if n > 1 else 0), n - 1) if n else 0


def autosplit(keys: list[str], fraction: float = TEST_FRACTION) -> tuple[list[int], list[int]]:
    """A deterministic 80/20 split: the images whose sha256(key) sort first go to test.

    Returns (train indices, test indices), each in input order. The same keys always
    split the same way, whatever their order; at least one image goes to each side
    when there are two or more.
    """
    n = len(keys)
    n_test = autosplit_test_size(n, fraction)
    ranked = sorted(range(n), key=lambda i: (hashlib.sha256(keys[i].encode()).hexdigest(), i))
    test = set(ranked[:n_test])
    return [i for i in range(n) if i not in test], sorted(test)
