"""What the adapter detail page shows, computed from the stored evaluation document (spec 5.1)
and the test output manifest (spec 2.4). Plain functions, no Django: tested on their own.

Counts are per label: an image is "flagged" for a label when the model gives it that
label at the threshold or above. Flagged = TP + FP, unflagged = FN + TN. For "all
labels" the per-label counts are summed (micro-average, as the evaluation document does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moderation.engine.evaluation import top_level_confidences

ALL = "All"
_KEYS = {"tp": "TruePositive", "fp": "FalsePositive", "fn": "FalseNegative", "tn": "TrueNegative"}


def _short(counts: dict[str, int]) -> dict[str, int]:
    return {short: int(counts.get(long, 0)) for short, long in _KEYS.items()}


def _blocks(doc: dict) -> list[dict]:
    cm = doc.get("ContentModeration") or {}
    blocks = list(cm.get("AllConfidenceThresholdsEvalResults") or [])
    if cm.get("InputConfidenceThresholdEvalResults"):
        blocks.append(cm["InputConfidenceThresholdEvalResults"])
    return blocks


def labels_of(doc: dict | None) -> list[str]:
    if not doc:
        return []
    return list((doc.get("EvaluationDetails") or {}).get("Labels") or [])


def input_threshold(doc: dict) -> float | None:
    block = (doc.get("ContentModeration") or {}).get("InputConfidenceThresholdEvalResults")
    return float(block["ConfidenceThreshold"]) if block else None


def thresholds(doc: dict) -> list[float]:
    """The evaluated thresholds (5 to 100 by 5) plus the training threshold, ascending."""
    return sorted({float(b["ConfidenceThreshold"]) for b in _blocks(doc)})


def counts_by_threshold(doc: dict) -> dict[float, dict[str, dict[str, dict[str, int]]]]:
    """threshold -> label (and ALL) -> {"base": {tp, fp, fn, tn}, "adapter": {...}}."""
    out: dict[float, dict[str, dict[str, dict[str, int]]]] = {}
    for block in _blocks(doc):
        t = float(block["ConfidenceThreshold"])
        agg = block.get("AggregatedEvaluationResults") or {}
        rows = {ALL: {"base": _short(agg.get("BaseModel", {})), "adapter": _short(agg.get("Adapter", {}))}}
        for row in block.get("LabelEvaluationResults") or []:
            rows[row["Label"]] = {"base": _short(row["BaseModel"]), "adapter": _short(row["Adapter"])}
        out[t] = rows
    return out


_WORDS = {"fp": "false positive", "fn": "false negative"}


def improvement(doc: dict | None, kind: str, threshold: float | None = None) -> str:
    """The adapter's false positive ("fp") or false negative ("fn") improvement over the base model
    at `threshold` (the training threshold when None, or when not evaluated), as shown: "50%", or,
    where the base model had none, the regression ("1 new false positive") or "none either way".
    "—" without an evaluation."""
    if not doc or not _blocks(doc):
        return "—"
    by_threshold = counts_by_threshold(doc)
    t = threshold if threshold is not None and float(threshold) in by_threshold else input_threshold(doc)
    at = by_threshold.get(float(t)) if t is not None else None
    if at is None or ALL not in at:
        return "—"
    base, adapter = at[ALL]["base"][kind], at[ALL]["adapter"][kind]
    if base:
        return f"{round((base - adapter) / base * 100.0, 1):g}%"
    if adapter:
        return f"{adapter} new {_WORDS[kind]}{'s' if adapter != 1 else ''}"
    return f"no {_WORDS[kind]}s either way"


def nearest_threshold(doc: dict, wanted: float | None) -> float | None:
    """The evaluated threshold closest to `wanted` (the training threshold when None)."""
    options = thresholds(doc)
    if not options:
        return None
    if wanted is None:
        wanted = input_threshold(doc) or options[0]
    return min(options, key=lambda t: (abs(t - wanted), t))


def slider_data(doc: dict) -> dict[str, Any]:
    """The JSON the threshold slider reads: every threshold's counts, per label and for ALL."""
    table = counts_by_threshold(doc)
    return {
        "thresholds": thresholds(doc),
        "input": input_threshold(doc),
        "labels": labels_of(doc),
        "counts": {f"{t:g}": rows for t, rows in table.items()},
    }


def summary(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Flagged / unflagged and the FP and FN numbers of one label (or ALL) at one threshold."""
    a, b = counts["adapter"], counts["base"]
    return {
        "flagged": a["tp"] + a["fp"],
        "unflagged": a["fn"] + a["tn"],
        "base_flagged": b["tp"] + b["fp"],
        "fp": a["fp"],
        "fn": a["fn"],
        "tp": a["tp"],
        "base_fp": b["fp"],
        "base_fn": b["fn"],
        "base_tp": b["tp"],
    }


@dataclass(frozen=True)
class Recommendation:
    label: str
    threshold: float
    caught: int  # true positives
    positives: int  # images that have the label
    false_flags: int  # images without the label that get flagged

    @property
    def text(self) -> str:
        ones = "safe one" if self.false_flags == 1 else "safe ones"
        return (
            f"at {self.threshold:g}: catches {self.caught} of {self.positives} {self.label} images, "
            f"flags {self.false_flags} {ones}"
        )


def recommend(doc: dict, label: str) -> Recommendation | None:
    """The threshold with the fewest adapter errors (FP + FN) for a label.

    Ties go to the fewer false negatives (missing harmful content costs more), then to the
    threshold nearest the one the adapter was trained for, then to the lower one.
    """
    table = counts_by_threshold(doc)
    target = input_threshold(doc) or 50.0
    best = None
    for t, rows in table.items():
        if label not in rows:
            continue
        a = rows[label]["adapter"]
        key = (a["fp"] + a["fn"], a["fn"], abs(t - target), t)
        if best is None or key < best[0]:
            best = (key, t, a)
    if best is None:
        return None
    _, t, a = best
    return Recommendation(label, t, a["tp"], a["tp"] + a["fn"], a["fp"])


def chart(doc: dict, label: str = ALL, *, width: int = 320, height: int = 120) -> dict[str, Any]:
    """SVG polyline points of FP and FN against threshold (5..100), base model and adapter."""
    table = counts_by_threshold(doc)
    ts = [t for t in sorted(table) if label in table[t] and t % 5 == 0] or sorted(table)
    series = {
        "adapter_fp": [table[t][label]["adapter"]["fp"] for t in ts],
        "adapter_fn": [table[t][label]["adapter"]["fn"] for t in ts],
        "base_fp": [table[t][label]["base"]["fp"] for t in ts],
        "base_fn": [table[t][label]["base"]["fn"] for t in ts],
    }
    top = max([1, *(v for values in series.values() for v in values)])

    def x(t: float) -> float:
        return round((t - 5.0) / 95.0 * width, 1)

    def y(v: int) -> float:
        return round(height - v / top * height, 1)

    return {
        "width": width,
        "height": height,
        "max": top,
        "lines": {
            name: " ".join(f"{x(t)},{y(v)}" for t, v in zip(ts, values, strict=True))
            for name, values in series.items()
        },
    }


def _names(section: dict | None) -> list[dict]:
    return list((section or {}).get("ModerationLabels") or [])


def test_rows(lines: list[dict], labels: list[str], threshold: float) -> list[dict[str, Any]]:
    """One row per test image: ground truth, base and adapter top-level labels at the threshold.

    `flipped` says the base model and the adapter disagree on some evaluated label.
    """
    rows = []
    for line in lines:
        truth = sorted({label["Name"] for label in _names(line.get("content-moderation-groundtruth"))})
        base = top_level_confidences(_names(line.get("detect-moderation-labels-base-model")))
        adapter = top_level_confidences(_names(line.get("detect-moderation-labels")))
        base_set = {label for label in labels if base.get(label, 0.0) >= threshold}
        adapter_set = {label for label in labels if adapter.get(label, 0.0) >= threshold}
        expected = {label for label in labels if label in truth}
        uri = line.get("source-ref", "")
        rows.append(
            {
                "uri": uri,
                "name": uri.rsplit("/", 1)[-1],
                "truth": truth,
                "base": sorted((name, round(conf, 1)) for name, conf in base.items() if conf >= threshold),
                "adapter": sorted(
                    (name, round(conf, 1)) for name, conf in adapter.items() if conf >= threshold
                ),
                "base_correct": base_set == expected,
                "adapter_correct": adapter_set == expected,
                "flipped": base_set != adapter_set,
            }
        )
    return rows
