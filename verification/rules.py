"""The verification rules, pure: which labels are predicted at a threshold, an image's ground
truth from its verdicts, and each label's outcome (true/false positive/negative).

No Django import: verification.models, services and queries all use these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from moderation import taxonomy

# A reviewer's verdict on a label (Verification.Verdict's values): CORRECT keeps a predicted
# label, INCORRECT removes it (a false positive), ADDED is a label the model missed.
CORRECT, INCORRECT, ADDED = "correct", "incorrect", "added"

OUTCOME_TEXT = {
    "tp": "true positive",
    "fp": "false positive",
    "fn": "false negative",
    "tn": "true negative",
}


def predicted_labels(tops: Mapping[str, float], threshold: float) -> list[str]:
    """The top-level labels predicted at a threshold, in taxonomy order."""
    return [
        name for name in taxonomy.TOP_LEVEL if tops.get(name, 0.0) >= threshold and tops.get(name, 0.0) > 0
    ]


def ground_truth(predicted: Iterable[str], verdicts: Mapping[str, str]) -> list[str]:
    """An image's true labels: predicted labels minus those marked incorrect, plus those added.

    A label confirmed correct stays true even when it is not predicted at this threshold (it
    was predicted at the threshold the reviewer saw). An empty list means safe. Taxonomy order.
    """
    predicted = set(predicted)
    truth = {name for name in predicted if verdicts.get(name) != INCORRECT}
    truth |= {name for name, verdict in verdicts.items() if verdict in (ADDED, CORRECT)}
    return [name for name in taxonomy.TOP_LEVEL if name in truth]


def outcome(is_predicted: bool, is_true: bool) -> str:
    """tp, fp, fn or tn."""
    return ("t" if is_predicted == is_true else "f") + ("p" if is_predicted else "n")


def image_outcomes(
    tops: Mapping[str, float], verdicts: Mapping[str, str], threshold: float
) -> list[tuple[str, str]]:
    """(label, outcome) for every label predicted or verdicted; [("", "tn")] for a clean safe image."""
    predicted = predicted_labels(tops, threshold)
    truth = set(ground_truth(predicted, verdicts))
    shown = [name for name in taxonomy.TOP_LEVEL if name in predicted or name in verdicts]
    if not shown:
        return [("", "tn")]
    return [(name, outcome(name in predicted, name in truth)) for name in shown]
