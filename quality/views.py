"""Label quality pages: suspected label errors (an adapter's latest check, the button that starts
one, one-click fixes) and dataset snapshots (two adapters' frozen datasets compared, downloads)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from adapters import queries as adapter_queries
from adapters.models import Adapter
from console import access
from console.lib.pagination import CountedPaginator
from moderation import snapshots
from quality import services
from quality.models import SuspectedLabelError

PAGE_SIZE = 60
LISTED_CHANGES = 100  # rows the Compare page lists of each kind of change; the diff download has all


@require_http_methods(["GET", "HEAD"])
def label_errors(request, adapter_pk):
    """The adapter's latest check: its progress while it runs (htmx polls the fragment), then its
    suspects, most disputed first."""
    adapter = access.get_or_404(request.user, Adapter.objects.select_related("project"), adapter_pk)
    check = services.latest_check(adapter=adapter)
    page = None
    if check is not None and check.status == check.Status.DONE:
        suspects = check.suspects.select_related("image").prefetch_related("image__labels")
        page = CountedPaginator(suspects, PAGE_SIZE, count=check.found).get_page(request.GET.get("page"))
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


# ---------------------------------------------------------------- pre-labeling


def _grid_url(adapter: Adapter, q: str = "") -> str:
    base = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    return f"{base}?{q}" if q else base


@require_http_methods(["GET", "HEAD"])
def prelabel_status(request, adapter_pk):
    """The latest pre-labeling run's status (the grid's fragment polls it while the run runs)."""
    adapter = access.get_or_404(request.user, Adapter.objects.select_related("project"), adapter_pk)
    context = {"adapter": adapter, "run": services.latest_prelabel(adapter=adapter)}
    return render(request, "quality/_prelabel_status.html", context)


@require_POST
def start_prelabel(request, adapter_pk):
    """Pre-label with the base model (source empty) or a trained adapter of the project."""
    adapter = access.get_or_404(
        request.user, Adapter.objects.select_related("project"), adapter_pk, access.ANNOTATOR
    )
    source = None
    if request.POST.get("source"):
        source = _in_project(request, adapter.project_id, request.POST["source"])
    try:
        run = services.start_prelabel(user=request.user, adapter=adapter, source=source)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Pre-labeling with {run.source_name} started.")
    return redirect(_grid_url(adapter))


def _min_confidence(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 50 <= number <= 100 else None


@require_POST
def accept_suggestions(request, adapter_pk):
    """Label every unlabeled image whose suggestion is at or above the chosen confidence, asking
    first when that is more than one page of images (as the grid's other bulk actions do); undone
    by the grid's Undo. htmx gets the refreshed workspace, a plain form post a redirect."""
    adapter = access.get_or_404(
        request.user, Adapter.objects.select_related("project"), adapter_pk, access.ANNOTATOR
    )
    q = request.POST.get("q", "")
    notice = error = undo = ""
    confirm = None
    min_confidence = _min_confidence(request.POST.get("min_confidence"))
    if min_confidence is None:
        error = "Minimum confidence: give a number from 50 to 100"
    else:
        count = services.suggestions_to_accept(adapter=adapter, min_confidence=min_confidence).count()
        if count > adapter_queries.labeling_page_size(QueryDict(q)) and not request.POST.get("confirmed"):
            confirm = {"count": count, "min_confidence": min_confidence}
        else:
            try:
                n, undo = services.accept_suggestions(
                    user=request.user, adapter=adapter, min_confidence=min_confidence
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                notice = f"{n} suggestion{'s' if n != 1 else ''} accepted as labels."
    if request.htmx:
        context = adapter_queries.labeling_workspace(user=request.user, adapter=adapter, params=QueryDict(q))
        context.update(notice=notice, error=error, undo=undo, confirm_accept=confirm)
        return render(request, "projects/_workspace.html", context, status=400 if error else 200)
    if confirm:
        messages.warning(
            request, f"This labels {confirm['count']} images, more than one page: accept again and confirm."
        )
    elif error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(_grid_url(adapter, q))


# ---------------------------------------------------------------- dataset snapshots


def _in_project(request, project_id: int, pk) -> Adapter:
    """An adapter of the project for this user; 404 for one of another project, or not a number."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such adapter") from None
    return access.get_or_404(request.user, Adapter.objects.filter(project_id=project_id), pk)


@require_http_methods(["GET", "HEAD"])
def compare(request, adapter_pk):
    """Two adapters of the project, picked in a GET form (a: before, b: after), side by side: their
    frozen datasets' differences, label counts and evaluations."""
    adapter = access.get_or_404(request.user, Adapter.objects.select_related("project"), adapter_pk)
    project = adapter.project
    context = {
        "adapter": adapter,
        "project": project,
        "choices": list(services.frozen_adapters(project=project).only("pk", "name", "status", "test_data")),
        "a": adapter.pk,
        "b": None,
        "listed": LISTED_CHANGES,
    }
    if request.GET.get("b"):
        before = _in_project(request, project.pk, request.GET.get("a") or adapter.pk)
        after = _in_project(request, project.pk, request.GET["b"])
        context.update(a=before.pk, b=after.pk, before=before, after=after)
        try:
            result = services.compare(before=before, after=after)
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
        else:
            diff = result["diff"]
            context.update(
                result,
                sections=[
                    ("added", "Images added", diff.of(snapshots.ADDED)),
                    ("removed", "Images removed", diff.of(snapshots.REMOVED)),
                    (
                        "labels",
                        "Labels changed",
                        diff.of(snapshots.LABELS, snapshots.LABELS_AND_SPLIT),
                    ),
                    ("split", "Split changes", diff.of(snapshots.SPLIT, snapshots.LABELS_AND_SPLIT)),
                ],
            )
    return render(request, "quality/compare.html", context)


@require_http_methods(["GET", "HEAD"])
def download_manifest(request, adapter_pk):
    """The adapter's frozen manifest of ?split= (train, the default, or test) as stored when it
    trained (a query parameter: URLs here take ids only)."""
    split = request.GET.get("split", "train")
    adapter = access.get_or_404(request.user, Adapter.objects.all(), adapter_pk)
    name = services.manifest_name(adapter=adapter, split=split) if split in services.MANIFEST_SPLITS else ""
    if not name or not default_storage.exists(name):
        raise Http404("This adapter has no frozen manifest of that split")
    return FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=True,
        filename=f"{adapter.name}-{split}.manifest",
        content_type="application/x-ndjson",
    )


@require_http_methods(["GET", "HEAD"])
def download_diff(request, adapter_pk, other_pk):
    """What changed from this adapter's frozen dataset to the other's, one JSON line per image."""
    before = access.get_or_404(request.user, Adapter.objects.all(), adapter_pk)
    after = _in_project(request, before.project_id, other_pk)
    try:
        body = "".join(services.diff_lines(before=before, after=after))
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from exc
    response = HttpResponse(body, content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{before.name}-to-{after.name}.diff.jsonl"'
    return response
