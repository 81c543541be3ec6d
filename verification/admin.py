from django.contrib import admin

from verification.models import ImageReview, Verification


@admin.register(Verification)
class VerificationAdmin(admin.ModelAdmin):
    list_display = ["prediction", "label", "verdict", "threshold", "user", "updated_at"]
    list_filter = ["verdict", "label"]
    search_fields = ["prediction__source_ref", "prediction__job__name", "user__username"]
    raw_id_fields = ["prediction", "job"]


@admin.register(ImageReview)
class ImageReviewAdmin(admin.ModelAdmin):
    list_display = ["prediction", "user", "reviewed_at"]
    raw_id_fields = ["prediction", "job"]
