"""What the verify page reads: one page of a job's predictions, filtered as the results page
filters them, and each image's card with its verdicts and outcomes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import Count, Exists, OuterRef

from bulk_analysis import histograms
from bulk_analysis.models import BulkAnalysisJob, Prediction
from bulk_analysis.queries import alt_text, file_name, filtered_predictions, job_histograms
from console.lib.pagination import CountedPaginator
from console.lib.protection import Protection
from moderation import taxonomy
from verification.models import ImageReview, SecondReview, Verification, in_order
from verification.rules import OUTCOME_TEXT, image_outcomes, predicted_labels

PAGE_SIZE = 24  # images per page of the verify grid


def card_context(
    prediction: Prediction,
    threshold: float,
    *,
    protection: Protection,
    verdicts: Mapping[str, str] | None = None,
    reviewed: bool | None = None,
    duplicates: int | None = None,
) -> dict[str, Any]:
    """One image of the verify grid: its labels with their verdicts and (once reviewed) outcomes.
    `verdicts`, `reviewed` and `duplicates` (its near-duplicates in the job) when the caller has
    read them already."""
    if verdicts is None:
        verdicts = {v.label: v.verdict for v in prediction.verifications.all()}
    if reviewed is None:
        reviewed = ImageReview.objects.filter(prediction=prediction).exists()
    predicted = predicted_labels(prediction.top_labels, threshold)
    outcomes = dict(image_outcomes(prediction.top_labels, verdicts, threshold)) if reviewed else {}
    rows = [
        {
            "name": name,
            "confidence": prediction.top_labels.get(name),
            "predicted": name in predicted,
            "verdict": verdicts.get(name, ""),
            "outcome": OUTCOME_TEXT.get(outcomes.get(name, ""), ""),
        }
        for name in taxonomy.TOP_LEVEL
        if name in predicted or name in verdicts
    ]
    return {
        "p": prediction,
        "name": file_name(prediction),
        "alt": alt_text(prediction, threshold),
        "rows": rows,
        "reviewed": reviewed,
        "negative": OUTCOME_TEXT["tn"] if reviewed and "" in outcomes else "",
        "flagged": bool(predicted),
        "addable": [name for name in taxonomy.TOP_LEVEL if name not in predicted and name not in verdicts],
        # Predicted at any confidence, or labeled by a reviewer.
        "protect": protection.classes([*prediction.top_labels, *verdicts]),
        "threshold": threshold,
        "duplicates": near_duplicate_count(prediction) if duplicates is None else duplicates,
    }


def near_duplicate_count(prediction: Prediction) -> int:
    """How many other images of its job are in its near-duplicate group (Prediction.duplicate_group)."""
    if prediction.duplicate_group is None:
        return 0
    return prediction.job.predictions.filter(duplicate_group=prediction.duplicate_group).count() - 1


def grid(
    job: BulkAnalysisJob,
    *,
    threshold: float,
    label: str,
    flag: str,
    status: str,
    order: str,
    page: str | None,
    protection: Protection,
    reviewed_matching: Callable[[], int],
    first_unreviewed: Callable[[], int],
    viewer_id: int | None = None,
    group: str = "",
) -> dict[str, Any]:
    """One page of the job's analysed images and their cards. `reviewed_matching()`: how many
    reviewed images the label and flag filters match (verification.services.reviewed_matching,
    from the job's tallies), asked only for a status filter. `first_unreviewed()`: a line no
    unreviewed image comes before (verification.services.queue_start), asked only for the
    "unverified" filter, whose scan then starts past the reviewed lines. The verdicts and reviews
    are read for the shown page only, and the status filter is an EXISTS on the row, so a page
    costs the same at any number of images or reviews (issue 15). An image waiting for a
    blind second review shows `viewer_id` no verdict unless they gave its first review."""
    is_reviewed = Exists(ImageReview.objects.filter(prediction=OuterRef("pk")))
    rows = filtered_predictions(job, label=label, flag=flag, threshold=threshold).filter(
        state=Prediction.State.DONE
    )
    # The page count from the job's histograms, not a COUNT over its predictions; only the
    # reviewed ones (a reviewer's day, not the job's size) are counted by id.
    count = histograms.matching(
        job_histograms(job),
        label=label if label in taxonomy.TOP_LEVEL else "",
        flag=flag,
        threshold=threshold,
        done_only=True,
    )
    if status in ("verified", "unverified"):
        verified = reviewed_matching()
        count = verified if status == "verified" else count - verified
    if status == "verified":
        rows = rows.filter(is_reviewed)
    elif status == "unverified":
        rows = rows.exclude(is_reviewed).filter(line__gte=first_unreviewed())
    if group.isdigit():  # one near-duplicate group (the line of its first image)
        rows = rows.filter(duplicate_group=int(group))
        count = rows.count()
    shown = CountedPaginator(in_order(rows, order, threshold), PAGE_SIZE, count=count).get_page(page)
    # The page's reviews and verdicts by its ids: an EXISTS in the page's query has PostgreSQL
    # hash every review of the job (a "hashed SubPlan") for the 24 rows it shows.
    ids = [p.pk for p in shown]
    reviewed = set(ImageReview.objects.filter(prediction__in=ids).values_list("prediction_id", flat=True))
    verdicts: dict[int, dict[str, str]] = {}
    for pid, name, verdict in Verification.objects.filter(prediction__in=ids).values_list(
        "prediction_id", "label", "verdict"
    ):
        verdicts.setdefault(pid, {})[name] = verdict
    blind = set(
        SecondReview.objects.filter(prediction__in=ids, reviewed_at__isnull=True)
        .exclude(first_user_id=viewer_id)
        .values_list("prediction_id", flat=True)
    )
    # The near-duplicate groups' sizes of the images shown: one grouped query per page.
    sizes = dict(
        job.predictions.filter(duplicate_group__in={p.duplicate_group for p in shown} - {None})
        .values("duplicate_group")
        .annotate(n=Count("id"))
        .values_list("duplicate_group", "n")
    )
    cards = [
        card_context(
            p,
            threshold,
            protection=protection,
            verdicts={} if p.pk in blind else verdicts.get(p.pk, {}),
            reviewed=p.pk in reviewed and p.pk not in blind,
            duplicates=sizes.get(p.duplicate_group, 1) - 1,
        )
        | {"blind": p.pk in blind}
        for p in shown
    ]
    return {"page": shown, "cards": cards}


def label_choices(tops: Mapping[str, float], checked: Iterable[str]) -> list[dict[str, Any]]:
    """Every top-level label as a checkbox of a second review or a decision, with its predicted
    confidence (if any) and whether it starts checked."""
    checked = set(checked)
    return [
        {"name": name, "confidence": tops.get(name), "checked": name in checked}
        for name in taxonomy.TOP_LEVEL
    ]
