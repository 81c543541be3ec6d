"""Read models for the project pages."""

from __future__ import annotations

from django.db.models import Count

from moderation.engine.evaluation import fn_improvement, fp_improvement
from projects.models import Project


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
    """The project page's table: each adapter with its image count and FP and FN improvement."""
    adapters = project.adapters.annotate(image_count=Count("images")).order_by("-created_at")
    return [
        {
            "adapter": adapter,
            "fp": _improvement(fp_improvement, adapter),
            "fn": _improvement(fn_improvement, adapter),
        }
        for adapter in adapters
    ]
