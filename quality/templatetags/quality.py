"""What the Assign labels grid (adapters' templates) shows of label quality: the Pre-label panel,
the grid's label-quality filters with their counts, and each card's suggested labels.

Template tags, so that the adapters app, under this one, imports nothing of it. Each asks the
database once per request (the first card looks up every card of the page): the grid's queries
stay the same whatever its page size."""

from __future__ import annotations

from django import template

from adapters.queries import SUGGESTED
from quality import services
from quality.models import LabelSuggestion

register = template.Library()

DEFAULT_ACCEPT_AT = 90  # the confidence the accept form offers first, percent


def _memo(request, name, compute):
    if request is None:
        return compute()
    if not hasattr(request, name):
        setattr(request, name, compute())
    return getattr(request, name)


def _quality(context) -> dict:
    adapter = context["adapter"]

    def compute() -> dict:
        check = services.latest_check(adapter=adapter)
        return {
            # Whether there are any, not how many: the grid counts no rows (its counts come from
            # the dataset counters); the filter itself says how many images it matches.
            "to_review": services.suggestions_to_review(adapter=adapter).exists(),
            "suspects": check.found if check is not None and check.status == check.Status.DONE else None,
        }

    return _memo(context.get("request"), "_quality_counts", compute)


@register.inclusion_tag("quality/_grid_filters.html", takes_context=True)
def quality_filters(context):
    """The grid's filter menu: "Suggestions to review" (the grid, most uncertain first) and
    "Suspected label errors: N" (the latest check's list)."""
    return {
        **_quality(context),
        "adapter": context["adapter"],
        "active": context["applied"]["state"] == SUGGESTED,
        "review_url": f"{context['base_url']}?state={SUGGESTED}",
    }


@register.inclusion_tag("quality/_prelabel.html", takes_context=True)
def prelabel_panel(context):
    """Pre-label with a model, its progress, and the form that accepts the suggestions at or
    above a confidence (for annotators, while the dataset is editable)."""
    adapter = context["adapter"]
    confirm = context.get("confirm_accept")
    return {
        **_quality(context),
        "adapter": adapter,
        "run": services.latest_prelabel(adapter=adapter),
        "sources": list(services.prelabel_sources(adapter=adapter).only("pk", "name")),
        "can_label": context.get("can_label") and context.get("editable"),
        "here": context.get("here", ""),
        "csrf_token": context.get("csrf_token"),
        "confirm": confirm,
        "accept_at": confirm["min_confidence"] if confirm else DEFAULT_ACCEPT_AT,
        "request": context.get("request"),
    }


@register.inclusion_tag("quality/_suggestion.html", takes_context=True)
def label_suggestion(context, image):
    """An unlabeled image's suggested labels, with the model's confidence, set apart from labels."""
    cards = [card for card in context.get("cards") or [] if isinstance(card, dict)]

    def compute() -> dict:
        # Every card's, labeled or not: one query whenever the grid has cards.
        ids = [card["image"].pk for card in cards]
        return {s.image_id: s for s in LabelSuggestion.objects.filter(image_id__in=ids).select_related("run")}

    found = _memo(context.get("request"), "_label_suggestions", compute)
    suggestion = found.get(image.pk) if image.label_state == "unlabeled" else None
    return {"suggestion": suggestion}
