"""The verify page's tallies (verification.models.VerdictTally), plain Python: what one reviewed
image adds to them, and the per-label counts at a threshold they give. On the confidence bins of
bulk_analysis.histograms, so a threshold on the 0.1 grid counts exactly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping

from bulk_analysis import histograms
from moderation import taxonomy
from verification import rules


def tally_keys(tops: Mapping[str, float], verdicts: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """What one reviewed image adds to its job's tallies (verification.models.VerdictTally):
    (label, state, confidence bin) for each label predicted at some confidence or given a
    verdict. State "yes" (correct or added: there at any threshold), "no" (incorrect), "asis"
    (no verdict: there where predicted). A label with neither adds nothing: a true negative at
    every threshold, counted as the reviewed images minus the others. And ("", "max", bin) of the
    image's highest confidence, for the grid's flagged / unflagged counts of reviewed images."""
    highest = max(tops.values(), default=0.0)
    # The image's highest confidence: how many reviewed images are flagged at a threshold.
    keys = [("", "max", histograms.bin_of(highest) if highest > 0 else -1)]
    for name in taxonomy.TOP_LEVEL:
        confidence = tops.get(name, 0.0)
        verdict = verdicts.get(name)
        if confidence <= 0 and verdict is None:
            continue
        state = "asis" if verdict is None else ("no" if verdict == rules.INCORRECT else "yes")
        keys.append((name, state, histograms.bin_of(confidence) if confidence > 0 else -1))
    return keys


POINT = 10  # the width of a whole point's bin, in 0.1 bins


def levels(keys: Mapping[tuple[str, str, int], int]) -> Counter[tuple[str, str, int, int]]:
    """Tally keys at both widths of verification.models.VerdictTally: each (label, state, bin)
    as (label, state, bin, 1) and in its whole point, (label, state, bin // POINT, POINT)."""
    out: Counter[tuple[str, str, int, int]] = Counter()
    for (label, state, bin_), n in keys.items():
        out[(label, state, bin_, 1)] += n
        out[(label, state, bin_ // POINT, POINT)] += n  # -1 (not predicted) stays -1
    return out


def tally_counts(rows: Iterable[tuple[str, str, int, int]], reviewed: int, threshold: float) -> dict:
    """{label: (tp, fp, fn, tn)} at a threshold from (label, state, bin, n) tally rows over
    `reviewed` images: what ground_truth and outcome give image by image."""
    first = histograms.first_bin(threshold)
    counts = {name: [0, 0, 0] for name in taxonomy.TOP_LEVEL}
    for label, state, bin_, n in rows:
        if label not in counts:
            continue
        predicted = bin_ >= first and bin_ >= 0
        if predicted:
            counts[label][1 if state == "no" else 0] += n
        elif state == "yes":
            counts[label][2] += n
    return {name: (tp, fp, fn, reviewed - tp - fp - fn) for name, (tp, fp, fn) in counts.items()}


def reviewed_matching(
    rows: Iterable[tuple[str, str, int, int]], reviewed: int, *, label: str, flag: str, threshold: float
) -> int:
    """How many of `reviewed` images the grid's filters match (as bulk_analysis.histograms.matching
    counts all of them): with `label` at >= threshold, flagged, or unflagged."""
    first = histograms.first_bin(threshold)
    if flag == "failed" or (label and flag == "unflagged"):
        return 0  # reviewed images are analysed; a label at >= threshold > 0 flags the image
    if label:
        return sum(n for name, _, bin_, n in rows if name == label and bin_ >= first and bin_ >= 0)
    flagged = sum(n for name, _, bin_, n in rows if name == "" and bin_ >= first and bin_ >= 0)
    if flag == "flagged":
        return flagged
    if flag == "unflagged":
        return reviewed - flagged
    return reviewed


# ---------------------------------------------------------------- reviewer agreement (issue 18)

CELLS = ("yy", "yn", "ny", "nn")


def cell(a: bool, b: bool) -> str:
    """The 2×2 cell of two yes/no decisions: "yn" = the first says yes, the second no."""
    return ("y" if a else "n") + ("y" if b else "n")


def label_cells(first: Collection[str], second: Collection[str]) -> dict[str, str]:
    """{label: cell} of one image's two reviews, for every top-level label."""
    a, b = set(first), set(second)
    return {name: cell(name in a, name in b) for name in taxonomy.TOP_LEVEL}


def reviewer_counts(mine: Collection[str], theirs: Collection[str]) -> dict[str, int]:
    """What one image adds to a reviewer's agreement tally (ReviewerAgreementTally): one image,
    agreeing if both give the same labels, and their yes/no against the other's on each label."""
    cells = label_cells(mine, theirs)
    counts = {key: 0 for key in CELLS}
    for key in cells.values():
        counts[key] += 1
    return {"images": 1, "agreeing": int(set(mine) == set(theirs)), **counts}


def kappa(yy: int, yn: int, ny: int, nn: int) -> float | None:
    """Cohen's kappa of a 2×2 table (what sklearn's cohen_kappa_score gives on the expanded
    lists); None where it is undefined: no pair, or both said the same one thing every time."""
    n = yy + yn + ny + nn
    if not n:
        return None
    observed = (yy + nn) / n
    chance = ((yy + yn) * (yy + ny) + (ny + nn) * (yn + nn)) / (n * n)
    if chance >= 1:
        return None
    return (observed - chance) / (1 - chance)
