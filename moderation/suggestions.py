"""Suggested labels from a DetectModerationLabels answer (pre-labeling): pure, no Django.

An answer lists labels at any level of the taxonomy with a confidence (0-100). The dataset is
labeled with top-level labels, so each top-level label scores the highest confidence of itself or
any label under it; a label the answer leaves out scores 0 (the answer was asked for every label,
MinConfidence 0). A top-level label is suggested at SUGGEST_AT or above; none suggested means
"no moderation label (safe)".

The suggestion's confidence is the least sure of its yes/no answers, label by label:
min(max(p, 100 - p)), 50-100. A suggestion at 95 is one where every label is clearly in or out;
one near 50 has a label the model could not decide, which a person should look at first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moderation import taxonomy

SUGGEST_AT = 50.0  # Rekognition's default MinConfidence


@dataclass(frozen=True)
class Suggestion:
    labels: list[str]  # top-level labels, in the taxonomy's order; [] is safe
    scores: dict[str, float]  # top-level label -> confidence 0-100 (only those above 0)
    confidence: float  # 50-100


def suggest(moderation_labels: Iterable[dict]) -> Suggestion:
    """The suggestion for one image from its answer's ModerationLabels."""
    scores: dict[str, float] = {}
    for item in moderation_labels:
        name = item.get("Name", "")
        if not taxonomy.is_label(name):
            continue  # a label of a newer taxonomy than this console's: not one it can give
        top = taxonomy.top_level_of(name)
        scores[top] = max(scores.get(top, 0.0), float(item.get("Confidence", 0.0)))
    labels = [name for name in taxonomy.TOP_LEVEL if scores.get(name, 0.0) >= SUGGEST_AT]
    confidence = min((max(p, 100.0 - p) for p in scores.values()), default=100.0)
    return Suggestion(
        labels=labels,
        scores={name: round(p, 2) for name, p in scores.items() if p > 0},
        confidence=round(confidence, 2),
    )
