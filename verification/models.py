from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet

from bulk_analysis.models import BulkAnalysisJob, Prediction
from moderation import taxonomy
from verification import rules


class Verification(models.Model):
    """A person's verdict on one top-level label of one prediction.

    CORRECT keeps a predicted label, INCORRECT removes it (a false positive), and
    ADDED is a label the model missed (a false negative).
    """

    class Verdict(models.TextChoices):
        CORRECT = rules.CORRECT, "Correct"
        INCORRECT = rules.INCORRECT, "Incorrect"
        ADDED = rules.ADDED, "Added"

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="verifications")
    # The prediction's job, so that a job's verdicts are read from this table's index alone
    # (the verify page), not by joining the job's 50,000 predictions.
    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="verifications")
    label = models.CharField(max_length=128, choices=[(n, n) for n in taxonomy.TOP_LEVEL])
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    # The threshold the reviewer saw: a verdict on a label below it is not a prediction.
    threshold = models.FloatField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prediction", "label"], name="verification_unique_label")
        ]
        indexes = [  # the admin's filters, newest first
            models.Index(fields=["verdict", "id"], name="verification_verdict_idx"),
            models.Index(fields=["label", "id"], name="verification_label_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.prediction}: {self.label} {self.verdict}"


class ImageReview(models.Model):
    """That a person has looked at a prediction's image (a safe image has no label to verdict)."""

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="review")
    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="reviews")  # as above
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reviewed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.prediction} reviewed by {self.user}"


class ReviewClaim(models.Model):
    """A reviewer's hold on one image of a job's review queue: nobody else is handed it until the
    claim is older than verification.services.CLAIM_SECONDS (renewed by each verdict)."""

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="claim")
    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="claims")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    claimed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.prediction} claimed by {self.user}"


class Merged:
    """Rows of several querysets, each already in `key` order, in `key` order: a slice [a:b]
    reads the first b rows of each and merges them. An order that is a sort of the whole job in
    one query is, in parts, each part read off an index up to the page asked for."""

    def __init__(self, parts: list[QuerySet[Prediction]], key: Callable[[Prediction], Any]):
        self.parts, self.key = parts, key

    def __getitem__(self, window: slice) -> list[Prediction]:
        merged = heapq.merge(*(part[: window.stop] for part in self.parts), key=self.key)
        return list(itertools.islice(merged, window.start, window.stop))


def in_order(rows: QuerySet[Prediction], order: str, threshold: float) -> QuerySet[Prediction] | Merged:
    """The verify grid's and the review queue's orders (verification.services.QUEUE_ORDERS).
    Least sure first: the images whose strongest label is closest to the threshold, the ones at
    or above it upward and the ones below it downward. Flagged first (a label at or above the
    threshold): the flagged ones, then the others. Ties and the input order by line."""
    if order == "least-sure":
        return Merged(
            [
                rows.filter(max_confidence__gte=threshold).order_by("max_confidence", "line"),
                rows.filter(max_confidence__lt=threshold).order_by("-max_confidence", "line"),
            ],
            key=lambda p: (abs(p.max_confidence - threshold), p.line),
        )
    if order == "flagged":
        flagged = Q(max_confidence__gte=threshold, max_confidence__gt=0)
        return Merged(
            [rows.filter(flagged).order_by("line"), rows.exclude(flagged).order_by("line")],
            key=lambda p: (not (p.max_confidence >= threshold and p.max_confidence > 0), p.line),
        )
    return rows.order_by("line")


class SecondReviewPlan(models.Model):
    """A job's request for a second, blind review of a share of its reviewed images (issue 18's
    reviewer agreement). Kept here, not on the job, so that verification owns its migration."""

    job = models.OneToOneField(BulkAnalysisJob, on_delete=models.CASCADE, related_name="second_review_plan")
    share = models.PositiveSmallIntegerField()  # percent of the reviewed images, 0 to 100
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.job}: second review of {self.share}%"


class SecondReview(models.Model):
    """One image picked for a second review: pending until a reviewer other than the first gives
    it (blind: the labels they say the image has), then compared with the first review's labels
    as they were at that moment. A disagreement waits for a manager's decision, which becomes
    the image's verdicts; until then the first review stands."""

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="second_review")
    # By the job's index the queue and the agreement page read a job's rows alone.
    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="second_reviews")
    first_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    threshold = models.FloatField(null=True, blank=True)  # the threshold the second reviewer saw
    first_labels = models.JSONField(default=list)  # the first review's ground truth then
    labels = models.JSONField(default=list)  # the second reviewer's
    reviewed_at = models.DateTimeField(null=True, blank=True)
    agrees = models.BooleanField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.JSONField(default=list)  # the adjudicator's labels, now the verdict

    def __str__(self) -> str:
        return f"second review of {self.prediction}"


class VerdictTally(models.Model):
    """How many reviewed images of a job hold `label` in `state` with its confidence in `bin`
    (bulk_analysis.histograms' 0.1 bins; -1: not predicted at any confidence). Moved in the
    transaction of every verdict and review (verification.services._tallied), so the verify
    page's per-label TP/FP/FN/TN at any threshold are sums over these rows, not a read of every
    reviewed image (issue 15). State (verification.rules.tally_keys): "yes" the reviewer says
    the label is there, "no" not there, "asis" no verdict (there if predicted).

    Each image is counted twice (verification.tallies.levels): in its 0.1 bin (width 1), and in
    the bin of its whole point (width 10, bin // 10). The sums at a threshold read the whole
    points and the 0.1 bins of one point: at most 21 x 112 rows a job, where the 0.1 bins alone
    fill up to 21 x 1,001."""

    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=128)
    state = models.CharField(max_length=8)
    bin = models.SmallIntegerField()
    width = models.PositiveSmallIntegerField(default=1)  # of the bin, in tenths of a point: 1 or 10
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # In this order, the index reads a job's whole points, or its 0.1 bins of one point.
            models.UniqueConstraint(
                fields=["job", "width", "bin", "label", "state"], name="verdict_tally_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.label} {self.state} bin {self.bin} of width {self.width}: {self.n}"


class ReviewerTally(models.Model):
    """How many of a job's images a reviewer reviewed first (ImageReview), moved with the reviews:
    the queue's "who reviewed how many" and the verified count without counting the reviews."""

    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "user"], name="reviewer_tally_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}: user {self.user_id} reviewed {self.n}"


class ProjectSecondReviewPlan(models.Model):
    """A project's request for a second review of a share of the reviewed images of every bulk
    job run with one of its adapters; a job's own SecondReviewPlan, when set, wins."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="second_review_plan"
    )
    share = models.PositiveSmallIntegerField()  # percent of the reviewed images, 0 to 100
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.project}: second review of {self.share}%"


class LabelAgreementTally(models.Model):
    """A job's given second reviews on one label as a 2×2 table: yn = the first review says the
    label is there and the second says not, and so on. Moved in submit_second_review's
    transaction, so the agreement page's per-label share and kappa read no second review."""

    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=128)
    yy = models.IntegerField(default=0)
    yn = models.IntegerField(default=0)
    ny = models.IntegerField(default=0)
    nn = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "label"], name="label_agreement_tally_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.label} agreement"


class ReviewerAgreementTally(models.Model):
    """A reviewer's given second reviews in a job (as first or second reviewer): images compared,
    how many agree on every label, and the 2×2 table of their yes/no against the other
    reviewer's over every label of those images (yn = this reviewer yes, the other no)."""

    job = models.ForeignKey(BulkAnalysisJob, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    images = models.IntegerField(default=0)
    agreeing = models.IntegerField(default=0)
    yy = models.IntegerField(default=0)
    yn = models.IntegerField(default=0)
    ny = models.IntegerField(default=0)
    nn = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "user"], name="reviewer_agreement_tally_unique")
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: user {self.user_id} agreement"


class SecondReviewTally(models.Model):
    """A job's second reviews: asked (picked, given or not), given, agreeing, and disagreements
    waiting for a decision. Moved in the transaction of every pick, drop, submit and decision
    (verification.services), so the job pages' agreement summary counts no second review at
    500,000 reviewed images (issue 15)."""

    job = models.OneToOneField(BulkAnalysisJob, on_delete=models.CASCADE, related_name="+")
    asked = models.IntegerField(default=0)
    given = models.IntegerField(default=0)
    agreeing = models.IntegerField(default=0)
    waiting = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.job_id}: {self.given} of {self.asked} second reviews given"


class QueueCursor(models.Model):
    """Where a job's review queue in input order starts looking: no line before it waits for a
    first review (a lower bound: moved forward by verification.services.claim_next past the
    lines reviewed since, moved back by an undo that un-reviews an image). So handing out the
    next image does not step past every reviewed row first (issue 15's 500,000 predictions)."""

    job = models.OneToOneField(BulkAnalysisJob, on_delete=models.CASCADE, related_name="+")
    line = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.job_id}: queue from line {self.line}"
