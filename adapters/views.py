from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from adapters import datasets, queries, services, uploads
from adapters.forms import AddImagesForm, LabelForm, TrainForm
from adapters.models import Adapter, Image
from console import access, leases
from console.models import Profile
from moderation import taxonomy
from moderation.manifests import ManifestError

# ---------------------------------------------------------------- the adapter page, training, deletion


def _get_adapter(request, pk, role=access.VIEWER) -> Adapter:
    return access.get_or_404(request.user, Adapter.objects.select_related("project"), pk, role)


def adapter_detail(request, pk):
    """The adapter page; htmx polls the same view for the body while training runs."""
    adapter = _get_adapter(request, pk)
    ctx = queries.adapter_page(
        adapter=adapter, params=request.GET, protection=Profile.for_user(request.user).protection()
    )
    ctx["recoveries"] = leases.recovery_notes(adapter, "adapter.worker_lost")
    if request.htmx:
        return render(request, "adapters/_body.html", ctx)
    return render(request, "adapters/detail.html", ctx)


@require_POST
def cancel_training(request, pk):
    adapter = _get_adapter(request, pk, access.MANAGER)
    if services.cancel_training(user=request.user, adapter=adapter):
        messages.success(request, f"Training of adapter {adapter.name} cancelled.")
    else:
        messages.error(request, f"Adapter {adapter.name} is not training: nothing to cancel.")
    return redirect("adapters-detail", pk)


@require_http_methods(["GET", "POST"])
def train_adapter(request, pk):
    adapter = _get_adapter(request, pk, access.MANAGER)
    blockers = services.training_blockers(adapter=adapter)
    form = TrainForm(request.POST or None, initial={"confidence_threshold": adapter.confidence_threshold})
    if request.method == "POST" and form.is_valid():
        try:
            services.start_training(
                user=request.user,
                adapter=adapter,
                confidence_threshold=form.cleaned_data["confidence_threshold"],
                tags=form.cleaned_data["tags"],
                kms_key_id=form.cleaned_data["kms_key_id"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, f"Training of adapter {adapter.name} started.")
            return redirect("adapters-detail", adapter.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "adapters/train.html",
        {"adapter": adapter, "form": form, "blockers": blockers},
        status=status,
    )


@require_POST
def retrain_adapter(request, pk):
    """One click on a deprecated or expired adapter: a new version trained on its frozen dataset."""
    adapter = _get_adapter(request, pk, access.MANAGER)
    if (
        adapter.status not in (Adapter.Status.DEPRECATED, Adapter.Status.EXPIRED)
        or not adapter.training_manifest
    ):
        messages.error(
            request, "Only a deprecated or expired adapter with a frozen dataset can be retrained."
        )
        return redirect("adapters-detail", adapter.pk)
    try:
        new = services.retrain_frozen(adapter=adapter)
    except (ValidationError, OSError) as exc:
        messages.error(request, f"Retraining could not start: {exc}")
        return redirect("adapters-detail", adapter.pk)
    messages.success(request, f"Adapter {new.name} is training on the dataset of {adapter.name}.")
    return redirect("adapters-detail", new.pk)


@require_http_methods(["GET", "POST"])
def delete_adapter(request, pk):
    adapter = _get_adapter(request, pk, access.MANAGER)
    if request.method == "POST":
        project = adapter.project
        try:
            services.delete_adapter(user=request.user, adapter=adapter)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("adapters-detail", adapter.pk)
        messages.success(request, f"Adapter {adapter.name} deleted.")
        return redirect("projects-detail", project.pk)
    return render(request, "adapters/delete.html", {"adapter": adapter})


# ---------------------------------------------------------------- the dataset: images


def _adapter_in_project(request, pk, adapter_pk, role):
    """An adapter addressed under its project (the dataset pages' URLs)."""
    adapter = _get_adapter(request, adapter_pk, role)
    if adapter.project_id != pk:
        raise Http404("No such adapter in this project")
    return adapter


def add_images(request, pk, adapter_pk):
    """Add images to an adapter's dataset: upload, manifest or S3 prefix, and a test manifest."""
    adapter = _adapter_in_project(request, pk, adapter_pk, access.MANAGER)
    initial = {"source": "upload", "test_data": "keep"}
    context = {"adapter": adapter}
    if request.method != "POST":
        return render(
            request, "projects/add_images.html", {**context, "form": AddImagesForm(initial=initial)}
        )
    too_many = uploads.too_many_files(request)
    form = AddImagesForm(request.POST, request.FILES, initial=initial)
    context["form"] = form
    if too_many:
        form.is_valid()
        form.add_error(None, uploads.TOO_MANY)
    elif form.is_valid():
        sources = form.sources()
        try:
            report = datasets.add_images(
                user=request.user, adapter=adapter, files=uploads.uploaded_files(request, form), **sources
            )
        except ManifestError as exc:
            uploads.add_manifest_error(form, exc, sources)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return uploads.import_response(request, adapter, report)
    return uploads.errors_response(request, form, "projects/add_images.html", context)


@require_POST
def upload_images(request, pk, adapter_pk):
    """One batch of files from the browser (at most 30); JSON with each file's outcome."""
    adapter = _adapter_in_project(request, pk, adapter_pk, access.MANAGER)
    if uploads.too_many_files(request):
        return JsonResponse(
            {"error": f"Images: send at most {uploads.UPLOAD_BATCH} files per request"}, status=400
        )
    files = request.FILES.getlist("files")
    if not files:
        return JsonResponse({"error": "Images: no files were sent"}, status=400)
    if len(files) > uploads.UPLOAD_BATCH:
        return JsonResponse(
            {"error": f"Images: send at most {uploads.UPLOAD_BATCH} files per request"}, status=400
        )
    try:
        report = datasets.import_files(
            user=request.user, adapter=adapter, files=[(f.name, f.read()) for f in files]
        )
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse(report.as_json())


def _serve(request, image_pk, field):
    image = get_object_or_404(Image.objects.only("pk", "file", "thumbnail", "format", "sha256"), pk=image_pk)
    access.require_role(request.user, access.VIEWER)
    name = getattr(image, field)
    if not name:
        raise Http404("This image has no thumbnail")
    etag = f'"{image.sha256}-{field}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        try:
            fh = default_storage.open(name, "rb")
        except OSError:
            raise Http404("The stored file is missing") from None
        content_type = "image/png" if field == "file" and image.format == "PNG" else "image/jpeg"
        response = FileResponse(fh, content_type=content_type)
    # Stored files never change under a name: browsers may keep them, but not shared caches.
    response["Cache-Control"] = "private, max-age=86400"
    response["ETag"] = etag
    return response


def image_thumbnail(request, image_pk):
    return _serve(request, image_pk, "thumbnail")


def image_file(request, image_pk):
    return _serve(request, image_pk, "file")


def download_manifest(request, pk, adapter_pk):
    adapter = _adapter_in_project(request, pk, adapter_pk, access.VIEWER)
    split = "test" if request.GET.get("split") == "test" else "train"
    if datasets.manifest_size(adapter=adapter, split=split) > settings.EXPORTS_INLINE_MAX_IMAGES:
        # Too large to write in the request: the worker writes it, with progress (exports).
        return redirect(f"{reverse('exports-adapter-manifest', args=[adapter.pk])}?split={split}")
    response = HttpResponse(
        datasets.export_manifest(adapter=adapter, split=split), content_type="application/x-ndjson"
    )
    response["Content-Disposition"] = f'attachment; filename="{adapter.name}-{split}.manifest"'
    return response


# ---------------------------------------------------------------- the dataset: assign labels


def assign_labels(request, pk, adapter_pk):
    """Assign labels to images: the grid, its filters and counts. htmx gets the workspace only."""
    adapter = _adapter_in_project(request, pk, adapter_pk, access.VIEWER)
    if request.htmx:
        context = queries.labeling_workspace(user=request.user, adapter=adapter, params=request.GET)
        return render(request, "projects/_workspace.html", context)
    context = queries.labeling_page(user=request.user, adapter=adapter, params=request.GET)
    return render(request, "projects/labels.html", context)


ACTIONS_DONE = {"add": "labeled", "remove": "updated", "safe": "marked safe", "set": "labeled"}


@require_POST
def label_images(request, pk, adapter_pk):
    """One labeling action on the selected images, or on every image matching the filter.

    htmx (the page's script) gets the refreshed workspace back; a plain form post is redirected.
    """
    adapter = _adapter_in_project(request, pk, adapter_pk, access.ANNOTATOR)
    form = LabelForm(request.POST)
    q = request.POST.get("q", "")
    notice = error = ""
    if form.is_valid():
        data = form.cleaned_data
        if data["all_matching"]:
            images, _ = queries.filtered_images(adapter, QueryDict(q))
        else:
            images = Image.objects.filter(adapter=adapter, split=Image.Split.TRAIN, pk__in=data["image"])
        labels = data["label"]
        per_page = queries.labeling_page_size(QueryDict(q))
        count = images.count() if data["action"] != "undo" else 0
        if data["action"] == "undo":
            try:
                n = datasets.undo_labels(user=request.user, adapter=adapter, token=data["undo"])
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                notice = f"Undone: {n} image{'s' if n != 1 else ''} restored."
            return _labeling_answer(request, adapter, pk, q, notice, error)
        if count > per_page and not data["confirmed"]:
            # More than a page of images: ask first, saying how many change.
            confirm = {"count": count, "action": data["action"], "labels": labels}
            return _labeling_answer(request, adapter, pk, q, "", "", confirm=confirm)
        undo = datasets.save_undo(adapter=adapter, images=images) if count else ""
        kwargs = {
            "add": {"add": labels},
            "remove": {"remove": labels},
            "safe": {"safe": True},
            # The per-image picker: exactly the checked labels.
            "set": {"add": labels, "remove": [n for n in taxonomy.TOP_LEVEL if n not in labels]},
        }[data["action"]]
        try:
            n = datasets.set_labels(user=request.user, images=images, **kwargs)
        except ValidationError as exc:
            error = " ".join(exc.messages)
            undo = ""
        else:
            notice = f"{n} image{'s' if n != 1 else ''} {ACTIONS_DONE[data['action']]}."
        return _labeling_answer(request, adapter, pk, q, notice, error, undo=undo)
    error = " ".join(uploads.form_messages(form))
    return _labeling_answer(request, adapter, pk, q, notice, error)


def _labeling_answer(request, adapter, pk, q, notice, error, *, undo="", confirm=None):
    """The refreshed workspace (htmx), or a redirect to the page (a plain form post)."""
    if request.htmx:
        context = queries.labeling_workspace(user=request.user, adapter=adapter, params=QueryDict(q))
        context.update(notice=notice, error=error, undo=undo, confirm=confirm)
        return render(request, "projects/_workspace.html", context, status=400 if error else 200)
    if confirm:
        messages.warning(
            request,
            f"This changes {confirm['count']} images, more than one page: choose again and confirm.",
        )
        base = reverse("projects-labels", args=[pk, adapter.pk])
        return redirect(f"{base}?{q}" if q else base)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    base = reverse("projects-labels", args=[pk, adapter.pk])
    return redirect(f"{base}?{q}" if q else base)
