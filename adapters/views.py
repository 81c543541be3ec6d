from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from adapters import performance, services, snippets
from adapters.forms import TrainForm
from adapters.models import Adapter
from console import access
from console.backends.base import get_backend
from console.lib import storage
from moderation import manifests
from moderation.engine.evaluation import fn_improvement, fp_improvement

TABS = [
    ("performance", "Adapter performance"),
    ("labels", "Per label performance"),
    ("test", "Test images"),
    ("training", "Training images"),
    ("tags", "Tags"),
    ("details", "Details"),
    ("use", "Use adapter"),
]
MAX_LISTED_IMAGES = 500  # the test and training image tabs list at most this many rows


def _float(value, default=None):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _training_images(adapter: Adapter) -> list[dict]:
    """The frozen training manifest's images, or the dataset's while it is a draft."""
    if adapter.training_manifest and default_storage.exists(adapter.training_manifest):
        with default_storage.open(adapter.training_manifest, "rb") as fh:
            lines = manifests.read_groundtruth(fh.read(), name=adapter.training_manifest)
        return [
            {"name": line.key.rsplit("/", 1)[-1], "uri": line.uri, "labels": line.labels} for line in lines
        ]
    images = adapter.images.training().prefetch_related("labels")[:MAX_LISTED_IMAGES]
    return [
        {
            "name": image.original_name,
            "uri": storage.uri_for(image.file),
            "labels": image.label_names,
            "state": image.label_state,
        }
        for image in images
    ]


def _with_thumbnails(adapter: Adapter, rows: list[dict]) -> list[dict]:
    """Give each row whose image is still in the adapter's dataset the id its thumbnail is served by."""
    prefix = f"s3://{storage.bucket()}/"
    keys = [row["uri"][len(prefix) :] for row in rows if row["uri"].startswith(prefix)]
    ids = dict(adapter.images.filter(file__in=keys).values_list("file", "pk"))
    for row in rows:
        row["image_id"] = ids.get(row["uri"][len(prefix) :])
    return rows


def _context(request, adapter: Adapter) -> dict:
    tab = request.GET.get("tab", "performance")
    if tab not in dict(TABS):
        tab = "performance"
    doc = adapter.evaluation
    ctx = {"adapter": adapter, "tabs": TABS, "tab": tab, "has_results": bool(doc)}
    if doc:
        labels = performance.labels_of(doc)
        threshold = performance.nearest_threshold(doc, _float(request.GET.get("threshold")))
        label = request.GET.get("label", performance.ALL)
        if label not in labels:
            label = performance.ALL
        table = performance.counts_by_threshold(doc)
        at = table[threshold]
        ctx.update(
            labels=labels,
            label=label,
            threshold=threshold,
            thresholds=performance.thresholds(doc),
            slider=performance.slider_data(doc),
            summary=performance.summary(at[label]),
            fp_improvement=fp_improvement(doc),
            fn_improvement=fn_improvement(doc),
            per_label=[{"label": name, **performance.summary(at[name])} for name in labels if name in at],
            recommendations=[r for r in (performance.recommend(doc, name) for name in labels) if r],
            charts=[{"label": name, **performance.chart(doc, name)} for name in labels],
            details=doc.get("EvaluationDetails") or {},
        )
        if tab == "test":
            rows = performance.test_rows(adapter.test_results or [], labels, threshold)
            flipped_only = request.GET.get("flipped") == "1"
            ctx.update(
                test_rows=_with_thumbnails(
                    adapter, [r for r in rows if r["flipped"] or not flipped_only][:MAX_LISTED_IMAGES]
                ),
                flipped_only=flipped_only,
                flipped_count=sum(r["flipped"] for r in rows),
                test_count=len(rows),
            )
    if tab == "training":
        ctx["training_images"] = _with_thumbnails(adapter, _training_images(adapter)[:MAX_LISTED_IMAGES])
    if tab == "use":
        args = {
            "adapter_arn": adapter.remote_arn,
            "region": settings.AWS_REGION,
            "bucket": storage.bucket(),
            "key": "image-name.jpg",
            "endpoint_url": get_backend().snippet_endpoint_url,
        }
        ctx.update(cli_snippet=snippets.cli_snippet(**args), python_snippet=snippets.python_snippet(**args))
    return ctx


def adapter_detail(request, pk):
    """The adapter page; htmx polls the same view for the body while training runs."""
    adapter = access.get_adapter(request.user, pk)
    ctx = _context(request, adapter)
    if request.htmx:
        return render(request, "adapters/_body.html", ctx)
    return render(request, "adapters/detail.html", ctx)


@require_http_methods(["GET", "POST"])
def train_adapter(request, pk):
    adapter = access.get_adapter(request.user, pk, access.MANAGER)
    blockers = services.training_blockers(adapter)
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


@require_http_methods(["GET", "POST"])
def delete_adapter(request, pk):
    adapter = access.get_adapter(request.user, pk, access.MANAGER)
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
