"""Verifying a bulk job's predictions, and training an adapter from the verified images."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from adapters import datasets
from adapters.models import Adapter, Image
from adapters.services import create_adapter, start_training
from bulk_analysis import histograms
from bulk_analysis.models import BulkAnalysisJob, Prediction
from bulk_analysis.queries import file_name, job_histograms
from console.backends.base import VerificationMinimums, get_backend
from console.models import record
from moderation import taxonomy
from moderation.engine.evaluation import autosplit_test_size
from moderation.manifests import ManifestError, read_groundtruth
from projects import services as projects
from projects.models import Project
from verification import tallies
from verification.models import (
    ImageReview,
    LabelAgreementTally,
    ProjectSecondReviewPlan,
    QueueCursor,
    ReviewClaim,
    ReviewerAgreementTally,
    ReviewerTally,
    SecondReview,
    SecondReviewPlan,
    SecondReviewTally,
    VerdictTally,
    Verification,
    in_order,
)
from verification.rules import ground_truth, predicted_labels
from verification.tallies import tally_counts, tally_keys

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Verdict = Verification.Verdict

# The tutorial's wording, shown as guidance next to the (looser) gate below.
TUTORIAL_GUIDANCE = (
    "To train an adapter you will need to verify at least 20 false-positive predictions and "
    "50 false-negative predictions for a given label."
)


def minimums() -> VerificationMinimums:
    """What training from verification needs on the configured backend."""
    return get_backend().verification_minimums


# ---------------------------------------------------------------- verdicts


def _check(prediction: Prediction, label: str, threshold: float) -> None:
    if prediction.state != Prediction.State.DONE:
        raise ValidationError(f"Line {prediction.line} has no prediction to verify ({prediction.state}).")
    if label not in taxonomy.TOP_LEVEL:
        raise ValidationError(f"Label: {label!r} is not a top-level moderation label.")
    if not prediction.job.min_confidence <= threshold <= 100:
        raise ValidationError(
            f"Threshold: {threshold} is below the job's minimum confidence {prediction.job.min_confidence:g}."
        )


def set_verdict(
    *, user: User, prediction: Prediction, label: str, verdict: str, threshold: float
) -> Verification:
    """Record a verdict on one label of one image (an upsert: the last verdict on a label wins,
    and verdicts on other labels or images by other reviewers are untouched).

    correct / incorrect apply to a label predicted at `threshold`; added to one that is not.
    """
    _check(prediction, label, threshold)
    is_predicted = label in predicted_labels(prediction.top_labels, threshold)
    if verdict in (Verdict.CORRECT, Verdict.INCORRECT) and not is_predicted:
        raise ValidationError(
            f"{label} is not predicted at threshold {threshold:g}: add it as a missed label instead."
        )
    if verdict == Verdict.ADDED and is_predicted:
        raise ValidationError(
            f"{label} is already predicted at threshold {threshold:g}: mark it correct instead."
        )
    if verdict not in Verdict.values:
        raise ValidationError(f"Verdict: {verdict!r} is not one of {', '.join(Verdict.values)}.")
    if pending_second_review(user=user, prediction=prediction):  # blind: the grid shows no buttons
        raise ValidationError(
            f"Line {prediction.line} waits for a blind second review: give it from Start reviewing.",
            code="blind",
        )
    fields = {"verdict": verdict, "threshold": threshold, "user": user}
    with _tallied(prediction):
        row = _upsert(prediction, label, fields)
        _mark_reviewed(user, prediction)
        record(
            user,
            "verification.verdict",
            row,
            project=_project(prediction),
            job=prediction.job_id,
            line=prediction.line,
            label=label,
            verdict=verdict,
            threshold=threshold,
        )
    return row


def _upsert(prediction: Prediction, label: str, fields: dict[str, Any]) -> Verification:
    """UPDATE the (prediction, label) row, or INSERT it; a concurrent INSERT turns into an UPDATE."""
    rows = Verification.objects.filter(prediction=prediction, label=label)
    if not rows.update(**fields):
        try:
            with transaction.atomic():
                return Verification.objects.create(
                    prediction=prediction, job_id=prediction.job_id, label=label, **fields
                )
        except IntegrityError:
            rows.update(**fields)
    return rows.get()


def _mark_reviewed(user: User, prediction: Prediction) -> tuple[ImageReview, bool]:
    """The image's review, and whether this call wrote it. A conditional write: the first
    reviewer's review stands (an INSERT on a unique row), a later one never takes its credit."""
    try:
        with transaction.atomic():
            review = ImageReview.objects.create(prediction=prediction, job_id=prediction.job_id, user=user)
    except IntegrityError:
        return ImageReview.objects.select_related("user").get(prediction=prediction), False
    _pick_for_second_review(prediction, user)
    return review, True


def _project(prediction: Prediction) -> Project | None:
    adapter = prediction.job.adapter
    return adapter.project if adapter else None


def mark_reviewed(*, user: User, prediction: Prediction) -> None:
    """The reviewer confirms the image as predicted (for an unflagged image: a true negative),
    and lets go of their claim on it (Submit and next).

    If another reviewer reviewed it first, their review stands and this is refused with code
    "reviewed" and a message saying who reviewed it and what they decided."""
    if prediction.state != Prediction.State.DONE:
        raise ValidationError(f"Line {prediction.line} has no prediction to verify ({prediction.state}).")
    with _tallied(prediction):
        review, written = _mark_reviewed(user, prediction)
        if not written and review.user_id != user.pk:
            raise ValidationError(already_reviewed(review, prediction), code="reviewed")
        ReviewClaim.objects.filter(prediction=prediction, user=user).delete()
        if written:
            record(
                user, "verification.review", prediction, project=_project(prediction), job=prediction.job_id
            )


def already_reviewed(review: ImageReview, prediction: Prediction) -> str:
    """What the reviewer who came second is told: who reviewed the image and what it now holds."""
    who = review.user.username if review.user else "(deleted user)"
    verdicts = [
        f"{label} {Verdict(verdict).label.lower()}"
        for label, verdict in prediction.verifications.order_by("label").values_list("label", "verdict")
    ]
    decided = ", ".join(verdicts) if verdicts else "no labels missing, as predicted"
    return (
        f"This image ({file_name(prediction)}, line {prediction.line}) was already reviewed by {who}: "
        f"{decided}. Their review stands."
    )


def undo(
    *, user: User, prediction: Prediction, label: str, expected: str, restore: str, unreview: bool = False
) -> bool:
    """Put a label back to its previous verdict ("" = none), only if it still has the verdict
    this reviewer gave it (`expected`): another reviewer's newer verdict is never undone."""
    with _tallied(prediction):
        if label:
            rows = Verification.objects.filter(prediction=prediction, label=label, verdict=expected)
            if restore:
                changed = rows.update(verdict=restore, user=user)
            else:
                changed = rows.delete()[0]
            if not changed:
                return False
        if unreview and not prediction.verifications.exists():
            ImageReview.objects.filter(prediction=prediction).delete()
            # waits for a first review again: the queue in input order starts there at the latest
            QueueCursor.objects.filter(job_id=prediction.job_id, line__gt=prediction.line).update(
                line=prediction.line
            )
            # no first review any more: nothing to review a second time
            dropped, _ = SecondReview.objects.filter(prediction=prediction, reviewed_at__isnull=True).delete()
            _add(SecondReviewTally, {"asked": -dropped}, job_id=prediction.job_id)
        record(
            user,
            "verification.undo",
            prediction,
            project=_project(prediction),
            job=prediction.job_id,
            label=label,
            undone=expected,
            restored=restore,
        )
    return True


# ---------------------------------------------------------------- tallies (issue 15)


def _image_tally(prediction: Prediction) -> tuple[Counter, int | None, bool]:
    """What the image adds to its job's tallies now: its VerdictTally keys (if reviewed), its
    first reviewer's id and whether it is reviewed."""
    review = ImageReview.objects.filter(prediction=prediction).values_list("user_id", flat=True)
    reviewer = list(review)
    if not reviewer:
        return Counter(), None, False
    verdicts = dict(prediction.verifications.values_list("label", "verdict"))
    return Counter(tally_keys(prediction.top_labels, verdicts)), reviewer[0], True


def _bump(model: type[VerdictTally] | type[ReviewerTally], n: int, **key: Any) -> None:
    """Add n to a tally row, creating it on first use (a concurrent create turns into an update)."""
    rows = model.objects.filter(**key)  # user_id=None is IS NULL
    if not rows.update(n=F("n") + n):
        try:
            with transaction.atomic():
                model.objects.create(n=n, **key)
        except IntegrityError:
            rows.update(n=F("n") + n)


@contextmanager
def _tallied(prediction: Prediction) -> Iterator[None]:
    """A transaction that changes an image's verdicts or review, and moves its job's tallies by
    the difference, so the tallies always equal a recount (recount_tallies).

    The image's row is written first (a no-op UPDATE): it locks the row on PostgreSQL and takes
    SQLite's write lock, so two writes to one image cannot both read the same "before"."""
    with transaction.atomic():
        Prediction.objects.filter(pk=prediction.pk).update(line=F("line"))
        before, before_user, was = _image_tally(prediction)
        yield
        after, after_user, now = _image_tally(prediction)
        job = prediction.job_id
        moved = tallies.levels(after)
        moved.subtract(tallies.levels(before))
        for (label, state, bin_, width), n in moved.items():
            if n:
                _bump(VerdictTally, n, job_id=job, label=label, state=state, bin=bin_, width=width)
        if (was, before_user) != (now, after_user):
            if was:
                _bump(ReviewerTally, -1, job_id=job, user_id=before_user)
            if now:
                _bump(ReviewerTally, 1, job_id=job, user_id=after_user)


def recount_tallies(*, job: BulkAnalysisJob) -> None:
    """Rebuild a job's tallies from its reviews and verdicts (after a bulk load that wrote rows
    directly, such as bench.data; the migration that added them does the same)."""
    verdicts = verdicts_of(job=job)
    keys: Counter = Counter()
    users: Counter = Counter()
    reviews = ImageReview.objects.filter(job=job).values_list(
        "prediction_id", "user_id", "prediction__top_labels"
    )
    with transaction.atomic():
        for pid, user_id, tops in reviews.iterator():
            keys.update(tally_keys(tops, verdicts.get(pid, {})))
            users[user_id] += 1
        VerdictTally.objects.filter(job=job).delete()
        ReviewerTally.objects.filter(job=job).delete()
        VerdictTally.objects.bulk_create(
            VerdictTally(job=job, label=label, state=state, bin=bin_, width=width, n=n)
            for (label, state, bin_, width), n in tallies.levels(keys).items()
        )
        ReviewerTally.objects.bulk_create(ReviewerTally(job=job, user_id=u, n=n) for u, n in users.items())


# ---------------------------------------------------------------- statistics


def verdicts_of(*, job: BulkAnalysisJob) -> dict[int, dict[str, str]]:
    """{prediction id: {label: verdict}} of a job: read by the verdicts' job index, so it costs
    the number of verdicts, not the number of the job's predictions."""
    verdicts: dict[int, dict[str, str]] = defaultdict(dict)
    for pid, label, verdict in Verification.objects.filter(job=job).values_list(
        "prediction_id", "label", "verdict"
    ):
        verdicts[pid][label] = verdict
    return verdicts


def reviewed_ids(*, job: BulkAnalysisJob) -> set[int]:
    """The ids of the job's predictions a reviewer has looked at (by the reviews' job index)."""
    return set(ImageReview.objects.filter(job=job).values_list("prediction_id", flat=True))


@dataclass
class LabelStats:
    label: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def false_positive_rate(self) -> float | None:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None


@dataclass
class Performance:
    threshold: float
    verified: int
    total: int
    labels: list[LabelStats]
    minimums: VerificationMinimums
    test_images: int  # with autosplit
    ready_labels: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return bool(self.ready_labels) and self.test_images >= self.minimums.test_images

    @property
    def blockers(self) -> list[str]:
        m, out = self.minimums, []
        if not self.ready_labels:
            out.append(
                f"Verify at least {m.false_positives} false positives or {m.false_negatives} false "
                "negatives for one label."
            )
        if self.test_images < m.test_images:
            out.append(
                f"Autosplit would give {self.test_images} test images; at least {m.test_images} are needed "
                "(verify more images)."
            )
        return out


def performance(*, job: BulkAnalysisJob, threshold: float) -> Performance:
    """Verified TP, FP, FN, TN per label at a threshold, over the images a reviewer has verified.

    From the job's tallies (two short reads): the same at 1,000 or 500,000 images."""
    reviewed = reviewed_count(job=job)
    counts = tally_counts(_tally_sums(job, threshold), reviewed, threshold)
    stats = [LabelStats(name, *counts[name]) for name in taxonomy.TOP_LEVEL]
    total = job_histograms(job)["done"]  # stored with the finished job: no COUNT
    m = minimums()
    ready = [s.label for s in stats if s.fp >= m.false_positives or s.fn >= m.false_negatives]
    return Performance(
        threshold=threshold,
        verified=reviewed,
        total=total,
        labels=stats,
        minimums=m,
        test_images=autosplit_test_size(reviewed),
        ready_labels=ready,
    )


def reviewed_matching(*, job: BulkAnalysisJob, label: str, flag: str, threshold: float) -> int:
    """How many reviewed images of the job match the verify grid's label and flag filters (its
    "verified" status count), from the tallies."""
    return tallies.reviewed_matching(
        _tally_sums(job, threshold), reviewed_count(job=job), label=label, flag=flag, threshold=threshold
    )


def _tally_sums(job: BulkAnalysisJob, threshold: float) -> list[tuple[str, str, int, int]]:
    """The job's verdict tallies summed in SQL at and above the threshold's first bin and below
    it, as (label, state, bin, n) rows for verification.tallies: two a label and state. One
    query over the whole points other than the threshold's, and that point's 0.1 bins: at most
    21 x 112 rows, however many verdicts the job has (VerdictTally)."""
    first = histograms.first_bin(threshold)
    point = first // tallies.POINT

    def sums(rows: QuerySet[VerdictTally], split: int) -> QuerySet:
        return (
            rows.filter(job=job)
            .values("label", "state")
            .annotate(above=Sum("n", filter=Q(bin__gte=split)), below=Sum("n", filter=Q(bin__lt=split)))
            .order_by()
        )

    around = VerdictTally.objects.filter(width=tallies.POINT).exclude(bin=point)
    within = VerdictTally.objects.filter(
        width=1, bin__gte=point * tallies.POINT, bin__lt=(point + 1) * tallies.POINT
    )
    totals: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in sums(around, point).union(sums(within, first), all=True):
        total = totals[(s["label"], s["state"])]
        total[0] += s["above"] or 0
        total[1] += s["below"] or 0
    return [
        row
        for (label, state), (above, below) in totals.items()
        for row in ((label, state, first, above), (label, state, -1, below))
    ]


def reviewed_count(*, job: BulkAnalysisJob) -> int:
    """How many of the job's images are reviewed (its reviewers' tallies)."""
    return sum(ReviewerTally.objects.filter(job=job).values_list("n", flat=True))


# ---------------------------------------------------------------- training


def training_set(*, job: BulkAnalysisJob, threshold: float) -> list[tuple[Prediction, list[str]]]:
    """The verified images of a job with their ground truth at a threshold."""
    verdicts = verdicts_of(job=job)
    reviewed = reviewed_ids(job=job)
    rows = job.predictions.filter(state=Prediction.State.DONE, pk__in=reviewed).order_by("line")
    return [
        (p, ground_truth(predicted_labels(p.top_labels, threshold), verdicts.get(p.pk, {}))) for p in rows
    ]


def train_from_verification(
    *,
    user: User,
    job: BulkAnalysisJob,
    threshold: float,
    adapter_name: str,
    project: Project | None = None,
    project_name: str = "",
    auto_update: bool = True,
    test_manifest: tuple[str, bytes] | None = None,
    tags: dict[str, str] | None = None,
    kms_key_id: str = "",
) -> Adapter:
    """Create (or reuse) a project, a new adapter holding the verified images with their ground
    truth, and start training it (adapters.services.start_training). Nothing is kept if any
    step is refused: no row, no stored file.

    The project and adapter rows are written first; the images are read, checked and stored
    outside any transaction (adapters.datasets.stage_images); then one short transaction writes
    the images' rows, the audit entry and the training's start (enqueued on commit)."""
    if threshold < job.min_confidence:
        raise ValidationError(
            f"Threshold: {threshold:g} is below the job's minimum confidence {job.min_confidence:g}."
        )
    stats = performance(job=job, threshold=threshold)
    if not stats.ready_labels or (test_manifest is None and stats.test_images < stats.minimums.test_images):
        raise ValidationError("Not enough verified predictions to train: " + " ".join(stats.blockers))
    items = training_set(job=job, threshold=threshold)
    if test_manifest is not None:
        _test_manifest_lines(*test_manifest)  # every bad line, before anything is created
    new_project = project is None
    with transaction.atomic():
        if project is None:
            project = projects.create_project(
                user=user, name=project_name, auto_update=auto_update, tags=tags or {}
            )
        adapter = create_adapter(
            user=user,
            project=project,
            name=adapter_name,
            description=f"Verified predictions of bulk analysis job {job.name}"[:255],
        )
    # The images are read, checked and stored outside any transaction (on SQLite a write
    # transaction locks the whole database: workers would wait for the reads); a refusal removes
    # the project and adapter again (projects.services.undo_create).
    stages: list[datasets.StagedImport] = []
    try:
        existing: dict[str, dict[str, str]] = {}
        verified = datasets.stage_images(
            adapter=adapter,
            images=((p.source_ref, p.read_image(), labels) for p, labels in items),
            source=Image.Source.VERIFICATION,
            existing=existing,
        )
        stages.append(verified)
        if verified.report.failed:
            raise ValidationError([f"{name}: {reason}" for name, reason in verified.report.failed])
        if test_manifest is not None:
            name, data = test_manifest
            try:
                stages.append(
                    datasets.stage_manifest(
                        adapter=adapter, data=data, name=name, split="test", existing=existing
                    )
                )
            except ManifestError as exc:  # names the file and each bad line
                raise ValidationError(str(exc).splitlines()) from None
            if not stages[-1].staged:
                raise ValidationError(f"Test manifest {name}: no test image could be imported.")
        with transaction.atomic():
            datasets.write_staged(
                user=user, adapter=adapter, stages=stages, test_manifest=test_manifest is not None
            )
            record(
                user,
                "verification.train",
                adapter,
                project=project,
                job=job.pk,
                threshold=threshold,
                images=len(verified.report.added),
            )
            adapter = start_training(
                user=user,
                adapter=adapter,
                confidence_threshold=threshold,
                tags=tags or {},
                kms_key_id=kms_key_id,
            )
    except BaseException:
        datasets.discard_staged(stages)
        projects.undo_create(adapter=adapter, project=project if new_project else None)
        raise
    return adapter


def _test_manifest_lines(name: str, data: bytes) -> None:
    try:
        read_groundtruth(data, name=name)
    except ManifestError as exc:  # names the file and each bad line
        raise ValidationError(str(exc).splitlines()) from None


# ---------------------------------------------------------------- near-duplicate groups

# A verdict given to a near-duplicate group larger than this many other images is asked about
# first: one click must not relabel a whole job by mistake.
GROUP_CONFIRM_LIMIT = 20
GROUP_UNDO_SALT = "verification.group-undo"
GROUP_UNDO_MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class GroupChange:
    """A verdict a group action gave one image, and what it had before (for undo)."""

    prediction_id: int
    line: int
    label: str
    verdict: str
    previous: str  # "" = none
    was_reviewed: bool


def near_duplicates(*, prediction: Prediction) -> list[Prediction]:
    """The other analysed images of its job in its near-duplicate group (Prediction.duplicate_group)."""
    if prediction.duplicate_group is None:
        return []
    others = prediction.job.predictions.filter(
        duplicate_group=prediction.duplicate_group, state=Prediction.State.DONE
    ).exclude(pk=prediction.pk)
    found = list(others.order_by("line"))
    for other in found:
        other.job = prediction.job
    return found


def apply_to_group(
    *, user: User, prediction: Prediction, label: str, threshold: float, confirmed: bool = False
) -> list[GroupChange]:
    """This image's verdict on `label`, given to its near-duplicates: the label is there
    (correct where predicted, else added) or it is not (incorrect where predicted). A group of
    more than GROUP_CONFIRM_LIMIT other images is refused (code "limit") unless `confirmed`."""
    _check(prediction, label, threshold)
    given = (
        Verification.objects.filter(prediction=prediction, label=label)
        .values_list("verdict", flat=True)
        .first()
    )
    if not given:
        raise ValidationError(
            f"Line {prediction.line} has no verdict on {label} to give its near-duplicates."
        )
    members = near_duplicates(prediction=prediction)
    if not members:
        raise ValidationError(f"Line {prediction.line} has no near-duplicates in this job.")
    if len(members) > GROUP_CONFIRM_LIMIT and not confirmed:
        raise ValidationError(
            f"This gives {label} ({given}) to {len(members)} near-duplicates of line {prediction.line}, "
            f"more than {GROUP_CONFIRM_LIMIT}: confirm to go on.",
            code="limit",
        )
    present = given != Verdict.INCORRECT
    previous = dict(
        Verification.objects.filter(prediction__in=members, label=label).values_list(
            "prediction_id", "verdict"
        )
    )
    reviewed = set(ImageReview.objects.filter(prediction__in=members).values_list("prediction_id", flat=True))
    changes: list[GroupChange] = []
    with transaction.atomic():
        for member in members:
            predicted = label in predicted_labels(member.top_labels, threshold)
            if present:
                verdict = Verdict.CORRECT if predicted else Verdict.ADDED
            elif predicted:
                verdict = Verdict.INCORRECT
            else:
                continue  # not predicted and not there: nothing to say
            if previous.get(member.pk) == verdict:
                continue
            set_verdict(user=user, prediction=member, label=label, verdict=verdict, threshold=threshold)
            changes.append(
                GroupChange(
                    member.pk, member.line, label, verdict, previous.get(member.pk, ""), member.pk in reviewed
                )
            )
        record(
            user,
            "verification.group_verdict",
            prediction,
            project=_project(prediction),
            job=prediction.job_id,
            label=label,
            verdict=given,
            lines=[change.line for change in changes],
        )
    return changes


def group_undo_token(changes: list[GroupChange]) -> str:
    """What undo_group needs, signed: the page hands it back with the Undo button."""
    return signing.dumps([list(asdict(change).values()) for change in changes], salt=GROUP_UNDO_SALT)


def undo_group(*, user: User, job: BulkAnalysisJob, token: str) -> int:
    """Undo a group action (group_undo_token): each image back to its previous verdict, unless
    someone has changed it since (undo's rule). Returns how many were undone."""
    try:
        rows = signing.loads(token, salt=GROUP_UNDO_SALT, max_age=GROUP_UNDO_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError(
            "Not undone: that undo is not one this console gave, or it is older than a day."
        ) from None
    changes = [GroupChange(*row) for row in rows]
    by_id = {p.pk: p for p in job.predictions.filter(pk__in=[c.prediction_id for c in changes])}
    undone = 0
    with transaction.atomic():
        for change in changes:
            prediction = by_id.get(change.prediction_id)
            if prediction is None:
                continue
            prediction.job = job
            undone += undo(
                user=user,
                prediction=prediction,
                label=change.label,
                expected=change.verdict,
                restore=change.previous,
                unreview=not change.was_reviewed,
            )
    return undone


# ---------------------------------------------------------------- the review queue

CLAIM_SECONDS = 300  # a claim nobody acted on for this long is handed to the next reviewer
QUEUE_ORDERS = {"": "Input order", "least-sure": "Most uncertain first", "flagged": "Flagged first"}


def claim_next(*, user: User, job: BulkAnalysisJob, order: str = "", threshold: float) -> Prediction | None:
    """Hand `user` the next image of the job nobody has reviewed or holds, and hold it for them
    (their previous claim in the job is released). None when nothing is left.

    Two reviewers asking at once get different images: the claim is one row per image (unique),
    and an expired claim is taken over by a conditional update, so only one of them wins it."""
    if order not in QUEUE_ORDERS:
        raise ValidationError(
            f"Order: {order!r} is not one of {', '.join(o or 'input' for o in QUEUE_ORDERS)}."
        )
    now = timezone.now()
    expiry = now - timedelta(seconds=CLAIM_SECONDS)
    ReviewClaim.objects.filter(job=job, user=user).delete()
    # Nobody has reviewed it, or it waits for a second review that this user may give (they
    # did not give its first): the only way two reviewers are handed one image.
    unreviewed = ~Exists(ImageReview.objects.filter(prediction=OuterRef("pk")))
    second = Exists(
        SecondReview.objects.filter(prediction=OuterRef("pk"), reviewed_at__isnull=True).exclude(
            first_user=user
        )
    )
    free = ~Exists(ReviewClaim.objects.filter(prediction=OuterRef("pk"), claimed_at__gte=expiry))
    done = job.predictions.filter(state=Prediction.State.DONE)
    candidates: Any
    if order:
        candidates = in_order(done.filter(unreviewed | second, free), order, threshold)[:50]
    else:
        # From the job's cursor (no line before it waits for a first review), and the second
        # reviews this user may give read from their own table: neither steps past the job's
        # reviewed rows, so this costs the same at 1,000 or 500,000 reviewed predictions.
        fresh = done.filter(unreviewed, free, line__gte=queue_start(job)).order_by("line")[:50]
        waiting = SecondReview.objects.filter(job=job, reviewed_at__isnull=True).exclude(first_user=user)
        seconds = (  # none waiting: no walk of the job's lines looking for one (SQLite's plan)
            done.filter(free, pk__in=waiting.values("prediction_id")).order_by("line")[:50]
            if waiting.exists()
            else []
        )
        candidates = sorted([*fresh, *seconds], key=lambda p: p.line)[:50]
    for prediction in candidates:
        if ReviewClaim.objects.filter(prediction=prediction, claimed_at__lt=expiry).update(
            user=user, claimed_at=now
        ):
            return prediction
        try:
            with transaction.atomic():
                ReviewClaim.objects.create(prediction=prediction, job=job, user=user, claimed_at=now)
        except IntegrityError:
            continue  # another reviewer took it a moment ago
        return prediction
    return None


def queue_start(job: BulkAnalysisJob) -> int:
    """The first line of the job that may wait for a first review (where the queue and the
    verify grid's "unverified" filter start): the job's QueueCursor, moved forward past the
    lines reviewed since it last moved (amortised: each reviewed line is stepped past once),
    under the cursor row's lock so an undo moving it back is not lost."""
    unreviewed = ~Exists(ImageReview.objects.filter(prediction=OuterRef("pk")))
    with transaction.atomic():
        cursor, _ = QueueCursor.objects.select_for_update().get_or_create(job=job)
        lines = job.predictions.filter(state=Prediction.State.DONE, line__gte=cursor.line)
        first = lines.filter(unreviewed).order_by("line").values_list("line", flat=True).first()
        if first is None:  # nothing left: past the last line
            first = (job.predictions.order_by("-line").values_list("line", flat=True).first() or 0) + 1
        if first > cursor.line:
            QueueCursor.objects.filter(pk=cursor.pk).update(line=first)
    return first if first > cursor.line else cursor.line


def renew_claim(*, user: User, prediction: Prediction) -> None:
    """A verdict keeps the reviewer's claim on the image alive."""
    ReviewClaim.objects.filter(prediction=prediction, user=user).update(claimed_at=timezone.now())


def queue_progress(*, job: BulkAnalysisJob) -> dict[str, Any]:
    """Who reviewed how many of the job's images, and how many remain (the reviewers' tallies
    and the finished job's stored histograms: no count over reviews or predictions)."""
    per_user: Counter = Counter()
    for name, n in ReviewerTally.objects.filter(job=job, n__gt=0).values_list("user__username", "n"):
        per_user[name or "(deleted user)"] += n
    reviewed = sum(per_user.values())
    total = job_histograms(job)["done"]
    return {
        "per_user": sorted(per_user.items(), key=lambda item: (-item[1], item[0])),
        "remaining": total - reviewed,
        "total": total,
    }


# ---------------------------------------------------------------- reviewer agreement


def project_jobs(project: Project) -> QuerySet[BulkAnalysisJob]:
    """The bulk jobs run with an adapter of the project: what its agreement page and its share
    cover (agreement, agreement_summary and disagreements take any queryset of jobs)."""
    return BulkAnalysisJob.objects.filter(adapter__project=project)


def only(job: BulkAnalysisJob) -> QuerySet[BulkAnalysisJob]:
    """One job as a queryset of jobs (the job's agreement page)."""
    return BulkAnalysisJob.objects.filter(pk=job.pk)


def second_review_share(*, job: BulkAnalysisJob) -> int:
    """The percent of the job's reviewed images it asks a second review of (0: none): its own
    share when set, else its adapter's project's. By the plans' keys, no join."""
    own = SecondReviewPlan.objects.filter(job=job).values_list("share", flat=True).first()
    if own is not None:
        return own
    if job.adapter is None:  # loaded with the job by the pages (bulk_analysis.queries.get_job)
        return 0
    project = ProjectSecondReviewPlan.objects.filter(project_id=job.adapter.project_id)
    return project.values_list("share", flat=True).first() or 0


def project_second_review_share(*, project: Project) -> int:
    """The percent a project asks of its jobs' reviewed images (0: none)."""
    return (
        ProjectSecondReviewPlan.objects.filter(project=project).values_list("share", flat=True).first() or 0
    )


def _check_share(share: int) -> None:
    if not 0 <= share <= 100:
        raise ValidationError(f"Second review: {share} is not a percent from 0 to 100.")


def set_second_review_share(*, user: User, job: BulkAnalysisJob, share: int) -> int:
    """Ask for a second review of `share` percent of the job's reviewed images: images reviewed
    from now on are picked at that rate as their first review is written, and the images
    reviewed already are topped up at random to that share. Returns how many were picked now.
    0 stops asking and drops the second reviews nobody has given yet. The job's own share wins
    over its project's (set_project_second_review_share)."""
    _check_share(share)
    with transaction.atomic():
        SecondReviewPlan.objects.update_or_create(job=job, defaults={"share": share, "set_by": user})
        picked = _apply_share(only(job), share)
        record(user, "verification.second_review_share", job, project=_job_project(job), share=share)
    return picked


def set_project_second_review_share(*, user: User, project: Project, share: int) -> int:
    """The same for every bulk job run with an adapter of the project that has no share of its
    own, now and later. Returns how many images were picked now over those jobs."""
    _check_share(share)
    with transaction.atomic():
        ProjectSecondReviewPlan.objects.update_or_create(
            project=project, defaults={"share": share, "set_by": user}
        )
        jobs = project_jobs(project).exclude(Exists(SecondReviewPlan.objects.filter(job=OuterRef("pk"))))
        picked = _apply_share(jobs, share)
        record(user, "verification.project_second_review_share", project, project=project, share=share)
    return picked


def _apply_share(jobs: QuerySet[BulkAnalysisJob], share: int) -> int:
    """Top each job's second reviews up to `share` of its reviewed images (a one-off random pick
    by the manager's action, not per page view), or with 0 drop those nobody has given yet."""
    if share == 0:
        SecondReview.objects.filter(job__in=jobs, reviewed_at__isnull=True).delete()
        # the ungiven ones were each job's asked minus given: what stays asked is what was given
        SecondReviewTally.objects.filter(job__in=jobs).update(asked=F("given"))
        return 0
    picked = 0
    for job in jobs.only("pk"):
        reviewed = ImageReview.objects.filter(job=job)
        wanted = math.ceil(reviewed.count() * share / 100) - SecondReview.objects.filter(job=job).count()
        if wanted > 0:
            rows = reviewed.exclude(Exists(SecondReview.objects.filter(prediction=OuterRef("prediction"))))
            created = SecondReview.objects.bulk_create(
                SecondReview(prediction_id=pid, job=job, first_user_id=uid)
                for pid, uid in rows.order_by("?").values_list("prediction_id", "user_id")[:wanted]
            )
            _add(SecondReviewTally, {"asked": len(created)}, job_id=job.pk)
            picked += wanted
    return picked


def _job_project(job: BulkAnalysisJob) -> Project | None:
    return job.adapter.project if job.adapter else None


def _pick_for_second_review(prediction: Prediction, first_user: User) -> None:
    """As an image's first review is written: pick it for a second review at the job's share."""
    share = second_review_share(job=prediction.job)
    if share and random.random() * 100 < share:  # a sample, not a secret
        SecondReview.objects.create(prediction=prediction, job_id=prediction.job_id, first_user=first_user)
        _add(SecondReviewTally, {"asked": 1}, job_id=prediction.job_id)


def first_review_labels(prediction: Prediction, threshold: float) -> list[str]:
    """The labels the image has by its verdicts (the first review, or an adjudicator's decision)."""
    verdicts = dict(prediction.verifications.values_list("label", "verdict"))
    return ground_truth(predicted_labels(prediction.top_labels, threshold), verdicts)


def pending_second_review(*, user: User, prediction: Prediction) -> SecondReview | None:
    """The second review `user` may give this image now (they did not give its first), if any."""
    return (
        SecondReview.objects.filter(prediction=prediction, reviewed_at__isnull=True)
        .exclude(first_user=user)
        .first()
    )


def submit_second_review(
    *, user: User, prediction: Prediction, labels: list[str], threshold: float
) -> SecondReview:
    """The second reviewer's labels for an image picked for a second review, compared with the
    first review's labels as they are now. The first review stays the verdict; a disagreement
    waits for a manager (adjudicate). Only the first second reviewer to submit counts."""
    _check(prediction, taxonomy.TOP_LEVEL[0], threshold)  # the image and threshold; labels below
    second = _top_level(labels)
    with transaction.atomic():
        first = first_review_labels(prediction, threshold)
        rows = SecondReview.objects.filter(prediction=prediction, reviewed_at__isnull=True).exclude(
            first_user=user
        )
        if not rows.update(
            user=user,
            labels=second,
            first_labels=first,
            threshold=threshold,
            reviewed_at=timezone.now(),
            agrees=first == second,
        ):
            raise ValidationError(
                f"Line {prediction.line} needs no second review from you: it was not asked for, "
                "another reviewer gave it, or you gave its first review.",
                code="reviewed",
            )
        ReviewClaim.objects.filter(prediction=prediction, user=user).delete()
        row = SecondReview.objects.select_related("first_user").get(prediction=prediction)
        _tally_agreement(row)
        _record_second_review(
            user, "verification.second_review", prediction, row, threshold, labels=second, agrees=row.agrees
        )
    return row


def adjudicate(*, user: User, prediction: Prediction, labels: list[str]) -> SecondReview:
    """A manager's decision on an image whose two reviews disagree: it becomes the image's
    verdicts (at the threshold the second review was given at), and the audit entry keeps both
    reviews next to it. Only one decision counts (a conditional update)."""
    decision = _top_level(labels)
    with transaction.atomic():
        if not SecondReview.objects.filter(
            prediction=prediction, agrees=False, decided_at__isnull=True
        ).update(decided_by=user, decided_at=timezone.now(), decision=decision):
            raise ValidationError(f"Line {prediction.line} has no disagreement waiting for a decision.")
        _add(SecondReviewTally, {"waiting": -1}, job_id=prediction.job_id)
        row = SecondReview.objects.select_related("first_user", "user").get(prediction=prediction)
        threshold = row.threshold if row.threshold is not None else prediction.job.min_confidence
        predicted = predicted_labels(prediction.top_labels, threshold)
        with _tallied(prediction):
            for name in taxonomy.TOP_LEVEL:
                if name in predicted:
                    verdict = Verdict.CORRECT if name in decision else Verdict.INCORRECT
                elif name in decision:
                    verdict = Verdict.ADDED
                else:
                    Verification.objects.filter(prediction=prediction, label=name).delete()
                    continue
                _upsert(prediction, name, {"verdict": verdict, "threshold": threshold, "user": user})
        _record_second_review(
            user,
            "verification.adjudicate",
            prediction,
            row,
            threshold,
            decision=decision,
            second_user=row.user.username if row.user else None,
            second_labels=row.labels,
        )
    return row


def _top_level(labels: list[str]) -> list[str]:
    """A reviewer's labels in taxonomy order, refused unless each is a top-level label."""
    unknown = [name for name in labels if name not in taxonomy.TOP_LEVEL]
    if unknown:
        raise ValidationError(f"Labels: {', '.join(unknown)} are not top-level moderation labels.")
    return [name for name in taxonomy.TOP_LEVEL if name in labels]


def _record_second_review(
    user: User, action: str, prediction: Prediction, row: SecondReview, threshold: float, **detail: Any
) -> None:
    """Audit a second review or its decision with the first review it was compared with."""
    record(
        user,
        action,
        prediction,
        project=_project(prediction),
        job=prediction.job_id,
        line=prediction.line,
        threshold=threshold,
        first_user=row.first_user.username if row.first_user else None,
        first_labels=row.first_labels,
        **detail,
    )


def _tally_agreement(row: SecondReview) -> None:
    """Add a given second review to its job's agreement tallies (in its transaction)."""
    agrees = int(bool(row.agrees))
    _add(SecondReviewTally, {"given": 1, "agreeing": agrees, "waiting": 1 - agrees}, job_id=row.job_id)
    for label, key in tallies.label_cells(row.first_labels, row.labels).items():
        _add(LabelAgreementTally, {key: 1}, job_id=row.job_id, label=label)
    for user_id, mine, theirs in (
        (row.first_user_id, row.first_labels, row.labels),
        (row.user_id, row.labels, row.first_labels),
    ):
        _add(
            ReviewerAgreementTally, tallies.reviewer_counts(mine, theirs), job_id=row.job_id, user_id=user_id
        )


def _add(
    model: type[LabelAgreementTally] | type[ReviewerAgreementTally] | type[SecondReviewTally],
    counts: dict,
    **key: Any,
) -> None:
    """Add counts to a tally row, creating it on first use (as _bump); nothing to add, no write."""
    if not any(counts.values()):
        return
    rows = model.objects.filter(**key)
    moves = {name: F(name) + n for name, n in counts.items()}
    if not rows.update(**moves):
        try:
            with transaction.atomic():
                model.objects.create(**counts, **key)
        except IntegrityError:
            rows.update(**moves)


@dataclass
class Agreement:
    """How often two reviews of one image agree: `images` compared, `agreeing` of them, and
    Cohen's kappa over the yes/no decisions (None where it is undefined: one class only)."""

    name: str
    images: int = 0
    agreeing: int = 0
    kappa: float | None = None

    @property
    def share(self) -> float | None:
        return self.agreeing / self.images if self.images else None


_CELL_SUMS = {key: Sum(key) for key in tallies.CELLS}


def agreement(*, jobs: QuerySet[BulkAnalysisJob]) -> dict[str, Any]:
    """Reviewer agreement over the given second reviews of `jobs` (one job, or a project's):
    per label (the two reviews say the same about that label), per reviewer (an image agrees
    when both reviews give the same labels; kappa over every label's yes/no, this reviewer
    against the other). From the jobs' agreement tallies: two grouped reads, whatever the
    number of second reviews."""
    label_rows = (
        LabelAgreementTally.objects.filter(job__in=jobs)
        .values("label")
        .annotate(**_CELL_SUMS)
        .values_list("label", *tallies.CELLS)
    )
    by_label: dict[str, list[int]] = {row[0]: [n or 0 for n in row[1:]] for row in label_rows}
    labels = []
    for name in taxonomy.TOP_LEVEL:
        yy, yn, ny, nn = cells = by_label.get(name, [0, 0, 0, 0])
        labels.append(Agreement(name, sum(cells), yy + nn, tallies.kappa(yy, yn, ny, nn)))
    reviewer_rows = (
        ReviewerAgreementTally.objects.filter(job__in=jobs)
        .values("user__username")
        .annotate(images_=Sum("images"), agreeing_=Sum("agreeing"), **_CELL_SUMS)
        .values_list("user__username", "images_", "agreeing_", *tallies.CELLS)
    )
    reviewers = [
        Agreement(name or "(deleted user)", images, agreeing, tallies.kappa(yy, yn, ny, nn))
        for name, images, agreeing, yy, yn, ny, nn in reviewer_rows
        if images
    ]
    reviewers.sort(key=lambda item: item.name)
    return {"labels": labels, "reviewers": reviewers}


_SUMMARY = ("asked", "given", "agreeing", "waiting")  # SecondReviewTally's counts


def agreement_summary(*, jobs: QuerySet[BulkAnalysisJob]) -> dict[str, int]:
    """Second reviews asked and given, how many agree, and the disagreements waiting for a
    decision (the job pages' summary): a sum over the jobs' SecondReviewTally rows, one a job,
    whatever the number of second reviews."""
    sums = SecondReviewTally.objects.filter(job__in=jobs).aggregate(**{key: Sum(key) for key in _SUMMARY})
    return {key: sums[key] or 0 for key in _SUMMARY}


def disagreements(*, jobs: QuerySet[BulkAnalysisJob]) -> QuerySet[SecondReview]:
    """The jobs' second reviews that disagree with the first and wait for a manager's decision."""
    return (
        SecondReview.objects.filter(job__in=jobs, agrees=False, decided_at__isnull=True)
        .select_related("prediction", "first_user", "user", "job")
        .defer("job__histograms")
        .prefetch_related("prediction__verifications")  # the cards' verdicts: one query a page
        .order_by("job_id", "prediction__line")
    )
