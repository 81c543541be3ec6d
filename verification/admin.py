from django.contrib import admin

from console.lib.admin_lists import ListAdmin, recent_values
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

    def get_queryset(self, request):
        return super().get_queryset(request).defer("prediction__job__histograms")


@admin.register(Verification)
class VerificationAdmin(ByPredictionAdmin):
    list_display = ["prediction", "label", "verdict", "threshold", "user", "updated_at"]
    list_filter = ["verdict", recent_values("label")]  # not SELECT DISTINCT over every verdict
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


@admin.register(SecondReviewPlan)
class SecondReviewPlanAdmin(ListAdmin):
    list_display = ["job", "share", "set_by", "updated_at"]
    raw_id_fields = ["job"]
    ordering = ["-pk"]


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
    raw_id_fields = ["job"]
    ordering = ["-pk"]


@admin.register(VerdictTally)
class VerdictTallyAdmin(ByJobAdmin):
    list_display = ["job", "label", "state", "bin", "n"]


@admin.register(ReviewerTally)
class ReviewerTallyAdmin(ByJobAdmin):
    list_display = ["job", "user", "n"]
    list_select_related = ["user"]


@admin.register(LabelAgreementTally)
class LabelAgreementTallyAdmin(ByJobAdmin):
    list_display = ["job", "label", "yy", "yn", "ny", "nn"]


@admin.register(ReviewerAgreementTally)
class ReviewerAgreementTallyAdmin(ByJobAdmin):
    list_display = ["job", "user", "images", "agreeing", "yy", "yn", "ny", "nn"]
    list_select_related = ["user"]


@admin.register(SecondReviewTally)
class SecondReviewTallyAdmin(ByJobAdmin):
    list_display = ["job", "asked", "given", "agreeing", "waiting"]


@admin.register(QueueCursor)
class QueueCursorAdmin(ByJobAdmin):
    list_display = ["job", "line"]
