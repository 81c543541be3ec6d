"""Read models for the adapters' pages: the labeling workspace and the adapter page."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, Prefetch
from django.http import QueryDict
from django.urls import reverse

from adapters import performance, snippets
from adapters.datasets import EDITABLE, dataset_blockers, dataset_counts
from adapters.models import Adapter, Image, ImageLabel
from console import access
from console.backends.base import get_backend
from console.lib import storage
from console.lib.pagination import CountedPaginator
from console.lib.protection import Protection
from console.models import Profile
from moderation import manifests, taxonomy

PAGE_SIZES = (24, 48, 96, 200)
STATE_FILTERS = [
    ("", "All images"),
    ("unlabeled", "Unlabeled"),
    ("labeled", "Labeled"),
    ("safe", "No moderation label (safe)"),
]
TABS = [
    ("performance", "Adapter performance"),
    ("labels", "Per label performance"),
    ("test", "Test images"),
    ("training", "Training images"),
    ("tags", "Tags"),
    ("details", "Details"),
    ("use", "Use adapter"),
]
# The grid's filter of unlabeled images with a pre-labeling suggestion (quality), not a counter's.
SUGGESTED = "suggested"
MAX_LISTED_IMAGES = 500  # the test and training image tabs list at most this many rows


# ---------------------------------------------------------------- assign labels


def filtered_images(adapter: Adapter, params) -> tuple:
    """The grid's images for a filter (query parameters), and the filter as applied."""
    images = Image.objects.filter(adapter=adapter, split=Image.Split.TRAIN)
    state = params.get("state", "")
    label = params.get("label", "")
    if state == "labeled":
        images = images.exclude(label_state=Image.LabelState.UNLABELED)
    elif state == SUGGESTED:
        # Pre-labeling's suggestions still to review, most uncertain first: the images of the
        # adapter's runs' suggestions (quality.LabelSuggestion, reached by its relation: this app
        # imports nothing of quality), not each unlabeled image probed for one.
        suggestions = Image.label_suggestion.related.related_model.objects.filter(run__adapter=adapter)
        images = images.filter(
            pk__in=suggestions.values("image_id"), label_state=Image.LabelState.UNLABELED
        ).order_by("label_suggestion__confidence", "pk")
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
    if applied["state"] == SUGGESTED:
        return -1  # no counter: the caller counts
    if not applied["label"]:
        return counts[applied["state"]]
    if applied["state"] in ("", "labeled"):
        return per_label.get(applied["label"], 0)
    return 0


def labeling_workspace(*, user, adapter: Adapter, params) -> dict:
    """Everything the grid shows, in a constant number of queries whatever the page size.

    Every count (facets, pagination, blockers) comes from the dataset counters, one query:
    the page costs the same at 1,000 or 50,000 images.
    """
    images, applied = filtered_images(adapter, params)
    dataset = dataset_counts(adapter)  # query 1
    train = Image.Split.TRAIN
    counts = {value: dataset.get((train, f"state:{value}"), 0) for value in Image.LabelState.values}
    counts[""] = sum(counts.values())
    counts["total"] = counts[""]
    counts["labeled"] = counts[""] - counts[Image.LabelState.UNLABELED]
    per_label = {name: dataset.get((train, f"label:{name}"), 0) for name in taxonomy.TOP_LEVEL}
    order = {name: i for i, name in enumerate(taxonomy.TOP_LEVEL)}
    # The number keys follow the taxonomy's order and never move (1 = its first label).
    most_used = list(taxonomy.TOP_LEVEL[:9])
    try:
        per_page = int(params.get("per_page", PAGE_SIZES[1]))
    except ValueError:
        per_page = PAGE_SIZES[1]
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[1]
    # Queries 2-3: one page of images with only the columns the grid needs, and their labels in
    # one prefetch; the page count comes from the counters, not a COUNT over the dataset.
    page_images = (
        # file and sha256: the card's hash bank matches and "Add to bank" form.
        images.only(
            "pk", "file", "sha256", "thumbnail", "original_name", "label_state", "width", "height"
        ).prefetch_related(Prefetch("labels", queryset=ImageLabel.objects.only("pk", "image_id", "name")))
    )
    if not page_images.query.order_by:
        page_images = page_images.order_by("pk")
    total = _filtered_count(applied, counts, per_label)
    if total < 0:
        total = images.count()
    page = CountedPaginator(page_images, per_page, count=total).get_page(params.get("page"))
    protection = Profile.for_user(user).protection()  # queries 4-5
    cards = []
    for image in page.object_list:
        names = sorted((label.name for label in image.labels.all()), key=order.get)
        cards.append(
            {
                "image": image,
                "labels": names,
                "protect": protection.classes(names),
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
    base = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    query_string = query.urlencode()
    return {
        "adapter": adapter,
        "project": adapter.project,
        "applied": applied,
        "counts": counts,
        "state_filters": [
            (value, name, counts[value], _filter_url(base, query_string, state=value))
            for value, name in STATE_FILTERS
        ],
        "label_filters": [
            (name, per_label.get(name, 0), _filter_url(base, query_string, label=name))
            for name in taxonomy.TOP_LEVEL
        ],
        "most_used": most_used,
        "page": page,
        "cards": cards,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "query": query_string,
        "here": here.urlencode(),
        "top_level": taxonomy.TOP_LEVEL,
        "can_label": access.has_role(user, access.ANNOTATOR),
        "editable": adapter.status in EDITABLE,
        "dataset_counts": dataset,
        "base_url": base,
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


def labeling_page(*, user, adapter: Adapter, params) -> dict:
    """The Assign labels page: the workspace, what blocks training, and the way to train."""
    context = labeling_workspace(user=user, adapter=adapter, params=params)
    context["train_url"] = reverse("adapters-train", args=[adapter.pk])
    # dataset_blockers on the counters, not adapters.services.training_blockers: that one reads the
    # whole dataset (seconds at 50,000 images); the training page still checks it before training.
    context["blockers"] = dataset_blockers(adapter, counts=context["dataset_counts"])
    context["can_manage"] = access.has_role(user, access.MANAGER)
    return context


# ---------------------------------------------------------------- the adapter page


def _float(value, default=None):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _training_images(adapter: Adapter) -> list[dict]:
    """The frozen training manifest's first images (the tab lists MAX_LISTED_IMAGES: only those
    lines are read, whatever the manifest's size), or the dataset's while it is a draft."""
    if adapter.training_manifest and default_storage.exists(adapter.training_manifest):
        with default_storage.open(adapter.training_manifest, "rb") as fh:
            head = b"".join(itertools.islice(fh, MAX_LISTED_IMAGES))
        lines = manifests.read_groundtruth(head, name=adapter.training_manifest)
        return [
            {"name": line.key.rsplit("/", 1)[-1], "uri": line.uri, "labels": line.labels} for line in lines
        ]
    # in the grid index's order (adapter, split, label state, id): by id alone, SQLite walks the
    # (split, id) index over every dataset's training images to find this adapter's few
    images = (
        adapter.images.training().order_by("label_state", "pk").prefetch_related("labels")[:MAX_LISTED_IMAGES]
    )
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
    """Give each row whose image is still in the adapter's dataset the id its thumbnail is served by
    and its original file name (manifests name the stored file, a sha256)."""
    prefix = f"s3://{storage.bucket()}/"
    keys = [row["uri"][len(prefix) :] for row in rows if row["uri"].startswith(prefix)]
    found = {
        file: (pk, name)
        for file, pk, name in adapter.images.filter(file__in=keys).values_list("file", "pk", "original_name")
    }
    for row in rows:
        pk, name = found.get(row["uri"][len(prefix) :], (None, None))
        row["image_id"] = pk
        if name:
            row["name"] = name
    return rows


def _protected(rows: list[dict], protection: Protection, *keys: str) -> list[dict]:
    """Give each row the classes reviewer protection gives its thumbnail, from its labels under
    `keys` (names, or (name, confidence) pairs)."""
    for row in rows:
        names = [item[0] if isinstance(item, tuple | list) else item for key in keys for item in row[key]]
        row["protect"] = protection.classes(names)
    return rows


def adapter_page(*, adapter: Adapter, params, protection: Protection) -> dict:
    """The adapter page: its tabs, and the selected one's content at the chosen threshold and label;
    the image tabs' thumbnails protected as `protection` says."""
    tab = params.get("tab", "performance")
    if tab not in dict(TABS):
        tab = "performance"
    doc = adapter.evaluation
    ctx = {"adapter": adapter, "tabs": TABS, "tab": tab, "has_results": bool(doc)}
    if doc:
        labels = performance.labels_of(doc)
        threshold = performance.nearest_threshold(doc, _float(params.get("threshold")))
        label = params.get("label", performance.ALL)
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
            fp_improvement=performance.improvement(doc, "fp"),
            fn_improvement=performance.improvement(doc, "fn"),
            per_label=[{"label": name, **performance.summary(at[name])} for name in labels if name in at],
            recommendations=[r for r in (performance.recommend(doc, name) for name in labels) if r],
            charts=[{"label": name, **performance.chart(doc, name)} for name in labels],
            details=doc.get("EvaluationDetails") or {},
        )
        if tab == "test":
            rows = performance.test_rows(adapter.test_results or [], labels, threshold)
            flipped_only = params.get("flipped") == "1"
            ctx.update(
                test_rows=_protected(
                    _with_thumbnails(
                        adapter, [r for r in rows if r["flipped"] or not flipped_only][:MAX_LISTED_IMAGES]
                    ),
                    protection,
                    "truth",
                    "base",
                    "adapter",
                ),
                flipped_only=flipped_only,
                flipped_count=sum(r["flipped"] for r in rows),
                test_count=len(rows),
            )
    if tab == "training":
        ctx["training_images"] = _protected(
            _with_thumbnails(adapter, _training_images(adapter)[:MAX_LISTED_IMAGES]), protection, "labels"
        )
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


def labeling_page_size(params) -> int:
    """The Assign labels grid's images per page for these parameters (as labeling_workspace reads it)."""
    try:
        per_page = int(params.get("per_page", PAGE_SIZES[1]))
    except (TypeError, ValueError):
        per_page = PAGE_SIZES[1]
    return per_page if per_page in PAGE_SIZES else PAGE_SIZES[1]
