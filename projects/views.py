from django.contrib import messages
from django.core.exceptions import TooManyFilesSent, ValidationError
from django.core.files.storage import default_storage
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from adapters import datasets
from adapters.models import Image, ImageLabel
from console import access
from console.lib import s3, storage
from console.lib.http import wants_json
from console.lib.pagination import CountedPaginator
from console.models import Profile
from moderation import taxonomy
from moderation.engine.evaluation import fn_improvement, fp_improvement
from moderation.manifests import ManifestError
from projects import services
from projects.forms import AddImagesForm, LabelForm, ProjectForm

UPLOAD_BATCH = 30  # files per upload request, as the AWS console sends them
PAGE_SIZES = (24, 48, 96, 200)
REPORT_LINES = 20  # files named in a flash message; the rest are counted
STATE_FILTERS = [
    ("", "All images"),
    ("unlabeled", "Unlabeled"),
    ("labeled", "Labeled"),
    ("safe", "No moderation label (safe)"),
]


# ---------------------------------------------------------------- helpers


def _adapter(request, pk, adapter_pk, role):
    adapter = access.get_adapter(request.user, adapter_pk, role)
    if adapter.project_id != pk:
        raise Http404("No such adapter in this project")
    return adapter


def _form_messages(form) -> list[str]:
    out = []
    for name, errors in form.errors.items():
        label = form.fields[name].label or name.replace("_", " ").capitalize() if name != "__all__" else ""
        for error in errors:
            out.append(error if not label or error.startswith(label) else f"{label}: {error}")
    return out


def _named_list(items) -> str:
    shown = "; ".join(f"{name} ({reason})" for name, reason in items[:REPORT_LINES])
    more = len(items) - REPORT_LINES
    return shown + (f"; and {more} more" if more > 0 else "")


def _flash_report(request, report: datasets.ImportReport) -> None:
    n = len(report.added)
    messages.success(request, f"{n} image{'s' if n != 1 else ''} added.")
    if report.skipped:
        messages.warning(request, f"{len(report.skipped)} skipped: {_named_list(report.skipped)}")
    if report.failed:
        messages.error(request, f"{len(report.failed)} refused: {_named_list(report.failed)}")


def _files(request, form) -> list[tuple[str, bytes]]:
    return (
        [(f.name, f.read()) for f in request.FILES.getlist("files")]
        if form.cleaned_data["source"] == "upload"
        else []
    )


def _too_many_files(request) -> bool:
    """Parse the POST body once; True when it carried more files than Django accepts."""
    try:
        request.POST  # noqa: B018 - parses the body and the files
        return False
    except TooManyFilesSent:
        return True


TOO_MANY = (
    "Images: too many files in one submission. Without JavaScript at most 60 files can be sent at "
    "once; send the rest with Add images (with JavaScript the page sends any number, 30 at a time)."
)


def _manifest_error(form, exc: ManifestError, sources: dict) -> None:
    """Put a refused manifest's bad lines under the field that held it."""
    manifest, test = sources.get("manifest"), sources.get("test_manifest")
    if manifest and manifest[0] == exc.filename:
        field = "manifest"
    elif test and test[0] == exc.filename:
        field = "test_manifest"
    else:
        field = None
    form.add_error(
        field,
        [f"The manifest {exc.filename} was refused and nothing was imported; its bad lines:"]
        + [e.describe(exc.filename) for e in exc.errors],
    )


def _import_response(request, form, adapter, report):
    labels_url = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    if wants_json(request):
        return JsonResponse(
            {
                "upload_url": reverse("projects-upload", args=[adapter.project_id, adapter.pk]),
                "next_url": labels_url,
                "batch": UPLOAD_BATCH,
                "report": report.as_json(),
            }
        )
    _flash_report(request, report)
    return redirect(labels_url)


def _form_context(**context) -> dict:
    return {**context, "s3_configured": s3.configured(), "storage_bucket": storage.bucket()}


def _errors_response(request, form, template, context):
    if wants_json(request):
        return JsonResponse({"errors": _form_messages(form)}, status=400)
    return render(request, template, _form_context(**context), status=400)


# ---------------------------------------------------------------- projects


def new_project(request):
    """Create project: a new project or an existing one, an adapter, and its images."""
    access.require_role(request.user, access.MANAGER)
    initial = {"auto_update": True, "project_mode": "new", "source": "upload", "test_data": "autosplit"}
    if request.GET.get("project"):
        initial.update(project_mode="existing", project=request.GET["project"])
    if request.method != "POST":
        return render(request, "projects/new.html", _form_context(form=ProjectForm(initial=initial)))
    too_many = _too_many_files(request)
    form = ProjectForm(request.POST, request.FILES, initial=initial)
    if too_many:
        form.is_valid()
        form.add_error(None, TOO_MANY)
    elif form.is_valid():
        data = form.cleaned_data
        sources = form.sources()
        existing = data["project_mode"] == "existing"
        try:
            adapter, report = services.create_adapter_with_images(
                user=request.user,
                project=data["project"] if existing else None,
                project_name=data["project_name"],
                auto_update=data["auto_update"],
                adapter_name=data["adapter_name"],
                description=data["adapter_description"],
                copy_from=data["copy_from"] if existing else None,
                files=_files(request, form),
                **sources,
            )
        except ManifestError as exc:
            _manifest_error(form, exc, sources)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _import_response(request, form, adapter, report)
    return _errors_response(request, form, "projects/new.html", {"form": form})


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


def project_detail(request, pk):
    project = access.get_project(request.user, pk)
    adapters = project.adapters.annotate(image_count=Count("images")).order_by("-created_at")
    rows = [
        {
            "adapter": adapter,
            "fp": _improvement(fp_improvement, adapter),
            "fn": _improvement(fn_improvement, adapter),
        }
        for adapter in adapters
    ]
    return render(
        request,
        "projects/detail.html",
        {"project": project, "rows": rows, "can_manage": access.has_role(request.user, access.MANAGER)},
    )


@require_POST
def delete_project(request, pk):
    project = access.get_project(request.user, pk, access.MANAGER)
    try:
        services.delete_project(user=request.user, project=project)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("projects-detail", pk)
    messages.success(request, f"Project {project.name} deleted.")
    return redirect("console-home")


# ---------------------------------------------------------------- images


def add_images(request, pk, adapter_pk):
    """Add images to an adapter's dataset: upload, manifest or S3 prefix, and a test manifest."""
    adapter = _adapter(request, pk, adapter_pk, access.MANAGER)
    initial = {"source": "upload", "test_data": "keep"}
    context = {"adapter": adapter}
    if request.method != "POST":
        return render(
            request, "projects/add_images.html", {**context, "form": AddImagesForm(initial=initial)}
        )
    too_many = _too_many_files(request)
    form = AddImagesForm(request.POST, request.FILES, initial=initial)
    context["form"] = form
    if too_many:
        form.is_valid()
        form.add_error(None, TOO_MANY)
    elif form.is_valid():
        sources = form.sources()
        try:
            report = datasets.add_images(
                user=request.user, adapter=adapter, files=_files(request, form), **sources
            )
        except ManifestError as exc:
            _manifest_error(form, exc, sources)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _import_response(request, form, adapter, report)
    return _errors_response(request, form, "projects/add_images.html", context)


@require_POST
def upload_images(request, pk, adapter_pk):
    """One batch of files from the browser (at most 30); JSON with each file's outcome."""
    adapter = _adapter(request, pk, adapter_pk, access.MANAGER)
    if _too_many_files(request):
        return JsonResponse({"error": f"Images: send at most {UPLOAD_BATCH} files per request"}, status=400)
    files = request.FILES.getlist("files")
    if not files:
        return JsonResponse({"error": "Images: no files were sent"}, status=400)
    if len(files) > UPLOAD_BATCH:
        return JsonResponse({"error": f"Images: send at most {UPLOAD_BATCH} files per request"}, status=400)
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
    adapter = _adapter(request, pk, adapter_pk, access.VIEWER)
    split = "test" if request.GET.get("split") == "test" else "train"
    response = HttpResponse(
        datasets.export_manifest(adapter=adapter, split=split), content_type="application/x-ndjson"
    )
    response["Content-Disposition"] = f'attachment; filename="{adapter.name}-{split}.manifest"'
    return response


# ---------------------------------------------------------------- assign labels


def _filtered(adapter, params) -> tuple:
    """The grid's images for a filter (query parameters), and the filter as applied."""
    images = Image.objects.filter(adapter=adapter, split=Image.Split.TRAIN)
    state = params.get("state", "")
    label = params.get("label", "")
    if state == "labeled":
        images = images.exclude(label_state=Image.LabelState.UNLABELED)
    elif state in (Image.LabelState.UNLABELED, Image.LabelState.SAFE):
        images = images.filter(label_state=state)
    else:
        state = ""
    if label in taxonomy.TOP_LEVEL:
        images = images.filter(Exists(ImageLabel.objects.filter(image=OuterRef("pk"), name=label)))
    else:
        label = ""
    return images, {"state": state, "label": label}


def _filtered_count(applied: dict, counts: dict, per_label: dict) -> int:
    """How many training images a filter matches, from the counters.

    A label is only ever on a labeled image (set_labels and the imports keep it so), so an
    unlabeled or safe image never matches a label filter.
    """
    if not applied["label"]:
        return counts[applied["state"]]
    if applied["state"] in ("", "labeled"):
        return per_label.get(applied["label"], 0)
    return 0


def _workspace(request, adapter, params) -> dict:
    """Everything the grid shows, in a constant number of queries whatever the page size.

    Every count (facets, pagination, blockers) comes from the dataset counters, one query:
    the page costs the same at 1,000 or 50,000 images.
    """
    images, applied = _filtered(adapter, params)
    dataset = datasets.dataset_counts(adapter)  # query 1
    train = Image.Split.TRAIN
    counts = {value: dataset.get((train, f"state:{value}"), 0) for value in Image.LabelState.values}
    counts[""] = sum(counts.values())
    counts["total"] = counts[""]
    counts["labeled"] = counts[""] - counts[Image.LabelState.UNLABELED]
    per_label = {name: dataset.get((train, f"label:{name}"), 0) for name in taxonomy.TOP_LEVEL}
    order = {name: i for i, name in enumerate(taxonomy.TOP_LEVEL)}
    most_used = sorted(taxonomy.TOP_LEVEL, key=lambda n: (-per_label.get(n, 0), order[n]))[:9]
    try:
        per_page = int(params.get("per_page", PAGE_SIZES[1]))
    except ValueError:
        per_page = PAGE_SIZES[1]
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[1]
    # Queries 2-3: one page of images with only the columns the grid needs, and their labels in
    # one prefetch; the page count comes from the counters, not a COUNT over the dataset.
    page_images = (
        images.only("pk", "thumbnail", "original_name", "label_state", "width", "height")
        .prefetch_related(Prefetch("labels", queryset=ImageLabel.objects.only("pk", "image_id", "name")))
        .order_by("pk")
    )
    total = _filtered_count(applied, counts, per_label)
    page = CountedPaginator(page_images, per_page, count=total).get_page(params.get("page"))
    blur = Profile.for_user(request.user).blur_explicit  # query 4
    cards = []
    for image in page.object_list:
        names = sorted((label.name for label in image.labels.all()), key=order.get)
        cards.append(
            {
                "image": image,
                "labels": names,
                "blurred": blur and taxonomy.BLURRED_TOP_LEVEL in names,
            }
        )
    query = QueryDict(mutable=True)
    for key in ("state", "label"):
        if applied[key]:
            query[key] = applied[key]
    if per_page != PAGE_SIZES[1]:
        query["per_page"] = per_page
    here = query.copy()
    if page.number > 1:
        here["page"] = page.number
    return {
        "adapter": adapter,
        "project": adapter.project,
        "applied": applied,
        "counts": counts,
        "state_filters": [(value, name, counts[value]) for value, name in STATE_FILTERS],
        "label_filters": [(name, per_label.get(name, 0)) for name in taxonomy.TOP_LEVEL],
        "most_used": most_used,
        "page": page,
        "cards": cards,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "query": query.urlencode(),
        "here": here.urlencode(),
        "top_level": taxonomy.TOP_LEVEL,
        "blur": blur,
        "can_label": access.has_role(request.user, access.ANNOTATOR),
        "editable": adapter.status in datasets.EDITABLE,
        "dataset_counts": dataset,
    }


def _filter_url(base, query, **changes) -> str:
    q = QueryDict(query, mutable=True)
    q.pop("page", None)
    for key, value in changes.items():
        if value:
            q[key] = value
        else:
            q.pop(key, None)
    return f"{base}?{q.urlencode()}" if q else base


def _with_urls(context, pk, adapter) -> dict:
    base = reverse("projects-labels", args=[pk, adapter.pk])
    context["base_url"] = base
    for row, key in (("state_filters", "state"), ("label_filters", "label")):
        context[row] = [
            (*item, _filter_url(base, context["query"], **{key: item[0]})) for item in context[row]
        ]
    return context


def assign_labels(request, pk, adapter_pk):
    """Assign labels to images: the grid, its filters and counts. htmx gets the workspace only."""
    adapter = _adapter(request, pk, adapter_pk, access.VIEWER)
    context = _with_urls(_workspace(request, adapter, request.GET), pk, adapter)
    if request.htmx:
        return render(request, "projects/_workspace.html", context)
    try:
        context["train_url"] = reverse("adapters-train", args=[adapter.pk])
    except NoReverseMatch:  # the training page belongs to the next issue
        context["train_url"] = ""
    # dataset_blockers on the counters, not adapters.services.training_blockers: that one reads the
    # whole dataset (seconds at 50,000 images); the training page still checks it before training.
    context["blockers"] = datasets.dataset_blockers(adapter, counts=context["dataset_counts"])
    context["can_manage"] = access.has_role(request.user, access.MANAGER)
    return render(request, "projects/labels.html", context)


ACTIONS_DONE = {"add": "labeled", "remove": "updated", "safe": "marked safe", "set": "labeled"}


@require_POST
def label_images(request, pk, adapter_pk):
    """One labeling action on the selected images, or on every image matching the filter.

    htmx (the page's script) gets the refreshed workspace back; a plain form post is redirected.
    """
    adapter = _adapter(request, pk, adapter_pk, access.ANNOTATOR)
    form = LabelForm(request.POST)
    q = request.POST.get("q", "")
    notice = error = ""
    if form.is_valid():
        data = form.cleaned_data
        if data["all_matching"]:
            images, _ = _filtered(adapter, QueryDict(q))
        else:
            images = Image.objects.filter(adapter=adapter, split=Image.Split.TRAIN, pk__in=data["image"])
        labels = data["label"]
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
        else:
            notice = f"{n} image{'s' if n != 1 else ''} {ACTIONS_DONE[data['action']]}."
    else:
        error = " ".join(_form_messages(form))
    if request.htmx:
        context = _with_urls(_workspace(request, adapter, QueryDict(q)), pk, adapter)
        context.update(notice=notice, error=error)
        return render(request, "projects/_workspace.html", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    base = reverse("projects-labels", args=[pk, adapter.pk])
    return redirect(f"{base}?{q}" if q else base)


@require_POST
def toggle_blur(request):
    """The per-user setting: blur images labeled Explicit until revealed."""
    access.require_role(request.user, access.VIEWER)
    services.set_blur_explicit(user=request.user, enabled=request.POST.get("blur") == "on")
    nxt = request.POST.get("next", "")
    # Only a page of this console ("/\\evil.example" is another site to a browser).
    safe = url_has_allowed_host_and_scheme(
        nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(nxt if safe and nxt.startswith("/") else "console-home")
