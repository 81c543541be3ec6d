"""What the bulk analysis pages read: the job list, a job's progress and histograms, and the
results grid with its filters (the verify page filters the same way)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.html import json_script

from bulk_analysis import histograms
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console import access
from console.lib.pagination import CountedPaginator
from console.lib.protection import Protection
from moderation import taxonomy

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

GRID_PAGE = 60  # images per page of the job's grid


def get_job(user: User | AnonymousUser, pk: int, role: str = access.VIEWER) -> BulkAnalysisJob:
    """The job a page shows, for a user with `role`: 404 if there is none, 403 below the role."""
    return access.get_or_404(user, BulkAnalysisJob.objects.select_related("adapter__project"), pk, role)


def job_list() -> QuerySet[BulkAnalysisJob]:
    """Every job, newest first (the list page). Its numbers are stored on the job: total_images
    (counted as images are added, frozen when it starts) and flagged_images (stored when it
    finishes), so the page reads no prediction, whatever the jobs' sizes."""
    return (
        BulkAnalysisJob.objects.select_related("adapter__project").defer("histograms").order_by("-created_at")
    )


# ---------------------------------------------------------------- progress and histograms


def progress(job: BulkAnalysisJob) -> dict[str, int]:
    """Done, failed and pending counts of a job, from the counters kept with its rows (total_images
    as images are added; done_images and failed_images in each row's transaction): no query."""
    return _counts(job.total_images, job.done_images, job.failed_images)


def job_histograms(job: BulkAnalysisJob) -> dict[str, Any]:
    """The histograms stored when the job finished; computed from the rows while it has none."""
    return job.histograms if job.histograms is not None else job.predictions.histograms()


def finished_progress(binned: dict[str, Any]) -> dict[str, int]:
    """progress() of a finished job, from its histograms."""
    return _counts(binned["total"], binned["done"], binned["failed"])


def _counts(total: int, done: int, failed: int) -> dict[str, int]:
    finished = done + failed
    return {
        "total": total,
        "done": done,
        "failed": failed,
        "finished": finished,
        "pending": total - finished,
        "percent": round(100 * finished / total) if total else 0,
    }


def job_progress(job: BulkAnalysisJob) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """(histograms or None while it runs, progress) of a job. A finished job reads its stored
    histograms: no query over its predictions for the counts."""
    binned = None if job.is_running else job_histograms(job)
    return binned, finished_progress(binned) if binned else progress(job)


# ---------------------------------------------------------------- the results grid


def filtered_predictions(
    job: BulkAnalysisJob, *, label: str, flag: str, threshold: float
) -> QuerySet[Prediction]:
    """The job's predictions the results filters match (histograms.matching counts them)."""
    rows = job.predictions.all()
    if label in taxonomy.TOP_LEVEL:
        rows = rows.filter(**{f"top_labels__{label}__gte": threshold})
    unflagged = Q(max_confidence__lt=threshold) | Q(max_confidence=0)
    if flag == "flagged":
        # Written as "not unflagged": a range on max_confidence would lead SQLite's planner to
        # the confidence index and a sort of every flagged row of the job; this way the
        # (job, state, line) index serves the filter and the order, and a page reads its rows.
        rows = rows.filter(state=Prediction.State.DONE).exclude(unflagged)
    elif flag == "unflagged":
        rows = rows.filter(state=Prediction.State.DONE).filter(unflagged)
    elif flag == "failed":
        rows = rows.filter(state=Prediction.State.FAILED)
    return rows


def slider_data(job: BulkAnalysisJob, binned: dict[str, Any]) -> dict[str, Any]:
    """What static/js/bulk.js counts from: the histograms, labels in taxonomy order (1,001 bins
    each, so the page weighs the same at 1,000 or 50,000 images)."""
    return {
        "min": job.min_confidence,
        "done": binned["done"],
        "max": binned["max"],
        "labels": list(taxonomy.TOP_LEVEL),
        "conf": [binned["labels"].get(name) for name in taxonomy.TOP_LEVEL],  # null: no image has it
    }


def results(
    job: BulkAnalysisJob,
    binned: dict[str, Any],
    *,
    threshold: float,
    label: str,
    flag: str,
    page: str | None,
    protection: Protection,
) -> dict[str, Any]:
    """The finished job's results: counts at the threshold, per-label bars and one page of cards."""
    counts = histograms.counts_at(binned, threshold, taxonomy.TOP_LEVEL)
    rows = filtered_predictions(job, label=label, flag=flag, threshold=threshold).order_by("line")
    known = histograms.matching(
        binned,
        label=label if label in taxonomy.TOP_LEVEL else "",
        flag=flag,
        threshold=threshold,
        done_only=False,
    )
    grid = CountedPaginator(rows, GRID_PAGE, count=known).get_page(page)
    peak = max([n for _, n in counts["per_label"]] + [1])
    return {
        "threshold": threshold,
        "label": label,
        "flag": flag,
        "threshold_script": json_script(slider_data(job, binned), "threshold-data"),
        "counts": counts,
        "bars": [(name, n, round(100 * n / peak)) for name, n in counts["per_label"]],
        "page": grid,
        # chips for this page's predictions only
        "cards": [card(p, threshold, protection) for p in grid],
        "failed": binned["failed"],
    }


def card(prediction: Prediction, threshold: float, protection: Protection) -> dict[str, Any]:
    """One image of the results grid: its labels by confidence, those shown at the threshold, and
    the classes reviewer protection gives its thumbnail (predicted at any confidence)."""
    tops = sorted(prediction.top_labels.items(), key=lambda item: -item[1])
    return {
        "p": prediction,
        "name": file_name(prediction),
        "alt": alt_text(prediction, threshold),
        "labels": tops,
        "shown": [(n, c) for n, c in tops if c >= threshold],
        "protect": protection.classes(prediction.top_labels),
    }


def file_name(prediction: Prediction) -> str:
    """The image's file name: the last part of its source-ref (an upload keeps its name in storage)."""
    return prediction.source_ref.rstrip("/").rsplit("/", 1)[-1] or f"line {prediction.line}"


def alt_text(prediction: Prediction, threshold: float) -> str:
    """What the image is, for a screen reader: its file name and the labels predicted at the threshold."""
    shown = [
        name for name, conf in sorted(prediction.top_labels.items(), key=lambda i: -i[1]) if conf >= threshold
    ]
    return f"{file_name(prediction)}: " + (f"predicted {', '.join(shown)}" if shown else "no label predicted")
