from django.contrib import admin

from console.lib.admin_lists import ListAdmin, recent_values
from moderation import taxonomy
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
)


class ByPredictionAdmin(ListAdmin):
    """A changelist of rows of a prediction, shown with its job (whose confidence histograms,
    up to ~45 KB, are not read once a row)."""

    raw_id_fields = ["prediction", "job"]
    ordering = ["-pk"]


@admin.register(Verification)
class VerificationAdmin(ByPredictionAdmin):
    list_display = ["prediction", "label", "verdict", "threshold", "user", "updated_at"]
    list_filter = ["verdict", recent_values("label", known=taxonomy.TOP_LEVEL)]  # verdicts' only labels
    search_fields = ["prediction__source_ref", "prediction__job__name", "user__username"]
    list_select_related = ["prediction__job", "user"]


@admin.register(ImageReview)
class ImageReviewAdmin(ByPredictionAdmin):
    list_display = ["prediction", "user", "reviewed_at"]
    list_select_related = ["prediction__job", "user"]


@admin.register(ReviewClaim)
class ReviewClaimAdmin(ByPredictionAdmin):
    list_display = ["prediction", "user", "claimed_at"]  # a prediction is shown with its job
    list_select_related = ["prediction__job", "user"]


@admin.register(SecondReview)
class SecondReviewAdmin(ByPredictionAdmin):
    list_display = ["prediction", "first_user", "user", "agrees", "decided_by", "reviewed_at"]
    list_filter = ["agrees"]
    list_select_related = ["prediction__job", "first_user", "user", "decided_by"]


@admin.register(ProjectSecondReviewPlan)
class ProjectSecondReviewPlanAdmin(ListAdmin):
    list_display = ["project", "share", "set_by", "updated_at"]
    raw_id_fields = ["project"]
    ordering = ["-pk"]


# The tallies and the queue cursor (kept by verification.services in each review's transaction):
# to look at, by job.
class ByJobAdmin(ListAdmin):
    """A changelist of rows of a job, shown with the job read in the same query, without its
    confidence histograms (up to ~45 KB a job: 4.5 MB a page of 100 rows otherwise)."""

    raw_id_fields = ["job"]
    ordering = ["-pk"]
    list_select_related = ["job"]


@admin.register(SecondReviewPlan)
class SecondReviewPlanAdmin(ByJobAdmin):
    list_display = ["job", "share", "set_by", "updated_at"]
    list_select_related = ["job", "set_by"]


@admin.register(VerdictTally)
class VerdictTallyAdmin(ByJobAdmin):
    list_display = ["job", "label", "state", "bin", "width", "n"]


@admin.register(ReviewerTally)
class ReviewerTallyAdmin(ByJobAdmin):
    list_display = ["job", "user", "n"]
    list_select_related = ["job", "user"]


@admin.register(LabelAgreementTally)
class LabelAgreementTallyAdmin(ByJobAdmin):
    list_display = ["job", "label", "yy", "yn", "ny", "nn"]


@admin.register(ReviewerAgreementTally)
class ReviewerAgreementTallyAdmin(ByJobAdmin):
    list_display = ["job", "user", "images", "agreeing", "yy", "yn", "ny", "nn"]
    list_select_related = ["job", "user"]


@admin.register(SecondReviewTally)
class SecondReviewTallyAdmin(ByJobAdmin):
    list_display = ["job", "asked", "given", "agreeing", "waiting"]


@admin.register(QueueCursor)
class QueueCursorAdmin(ByJobAdmin):
    list_display = ["job", "line"]
