"""Read models for the project pages."""

from __future__ import annotations

from django.db.models import IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from adapters.models import Adapter, DatasetCount
from moderation.engine.evaluation import fn_improvement, fp_improvement
from projects.models import Project


def projects_with_adapters() -> QuerySet[Project]:
    """The home page: every project, newest first, with its adapters (newest first) in one prefetch."""
    return Project.objects.prefetch_related(
        Prefetch("adapters", queryset=Adapter.objects.order_by("-created_at"))
    ).order_by("-created_at")


def _improvement(fn, adapter):
    if not adapter.evaluation:
        return None
    try:
        return fn(adapter.evaluation, adapter.confidence_threshold)
    except (KeyError, ValueError, StopIteration):
        try:
            return fn(adapter.evaluation)  # a threshold between the 20 evaluated ones: the input one
        except (KeyError, ValueError, StopIteration):
            return None


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
            "fp": _improvement(fp_improvement, adapter),
            "fn": _improvement(fn_improvement, adapter),
        }
        for adapter in adapters
    ]
