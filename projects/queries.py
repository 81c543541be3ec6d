"""Read models for the project pages."""

from __future__ import annotations

from django.db.models import IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from adapters import performance
from adapters.models import Adapter, DatasetCount
from projects.models import Project


def projects_with_adapters() -> QuerySet[Project]:
    """The home page: every project, newest first, with its adapters (newest first) in one prefetch."""
    return Project.objects.prefetch_related(
        Prefetch("adapters", queryset=Adapter.objects.order_by("-created_at"))
    ).order_by("-created_at")


def adapter_rows(project: Project) -> list[dict]:
    """The project page's table: each adapter with its image count and FP and FN improvement.

    The image count is the sum of the adapter's dataset counters by label state (DatasetCount,
    kept in the same transaction as each change), not a COUNT over its images."""
    images = (
        DatasetCount.objects.filter(adapter=OuterRef("pk"), key__startswith="state:")
        .order_by()
        .values("adapter")
        .annotate(n=Sum("count"))
        .values("n")
    )
    adapters = project.adapters.annotate(
        image_count=Coalesce(Subquery(images, output_field=IntegerField()), 0)
    ).order_by("-created_at")
    return [
        {
            "adapter": adapter,
            "fp": performance.improvement(adapter.evaluation, "fp", adapter.confidence_threshold),
            "fn": performance.improvement(adapter.evaluation, "fn", adapter.confidence_threshold),
        }
        for adapter in adapters
    ]
