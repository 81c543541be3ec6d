"""Suspected label errors: an adapter's latest check, the button that starts one, one-click fixes."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from adapters.models import Adapter
from console import access
from quality import services
from quality.models import SuspectedLabelError

PAGE_SIZE = 60


@require_http_methods(["GET", "HEAD"])
def label_errors(request, adapter_pk):
    """The adapter's latest check: its progress while it runs (htmx polls the fragment), then its
    suspects, most disputed first."""
    adapter = access.get_or_404(request.user, Adapter.objects.select_related("project"), adapter_pk)
    check = services.latest_check(adapter=adapter)
    page = None
    if check is not None and check.status == check.Status.DONE:
        suspects = check.suspects.select_related("image").prefetch_related("image__labels")
        page = Paginator(suspects, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "adapter": adapter,
        "check": check,
        "page": page,
        "can_check": access.has_role(request.user, access.ANNOTATOR),
        "editable": adapter.status == Adapter.Status.DRAFT,
    }
    template = "quality/_results.html" if request.htmx else "quality/label_errors.html"
    return render(request, template, context)


@require_POST
def start_check(request, adapter_pk):
    adapter = access.get_or_404(
        request.user, Adapter.objects.select_related("project"), adapter_pk, access.ANNOTATOR
    )
    services.start_check(user=request.user, adapter=adapter)
    return redirect("quality-label-errors", adapter.pk)


def _suspect(request, pk) -> SuspectedLabelError:
    return access.get_or_404(
        request.user,
        SuspectedLabelError.objects.select_related("image__adapter__project", "label_check"),
        pk,
        access.ANNOTATOR,
    )


def _back(suspect: SuspectedLabelError, page: str):
    url = reverse("quality-label-errors", args=[suspect.label_check.adapter_id])
    return redirect(f"{url}?page={page}" if page.isdigit() else url)


@require_POST
def fix_suspect(request, pk):
    """Give the image what the model expects (audited; undone by undo_fix)."""
    suspect = _suspect(request, pk)
    try:
        services.fix_suspect(user=request.user, suspect=suspect)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{suspect.image.original_name}: fixed.")
    return _back(suspect, request.POST.get("page", ""))


@require_POST
def undo_fix(request, pk):
    suspect = _suspect(request, pk)
    try:
        services.undo_fix(user=request.user, suspect=suspect)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{suspect.image.original_name}: fix undone.")
    return _back(suspect, request.POST.get("page", ""))
