"""Assign labels: the grid, its filters and counts, labeling actions, and what goes with them."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import DatasetCount, Image, ImageLabel
from console.models import AuditEntry, Profile
from tests.projects.conftest import add_images, gt, jpeg, page_text, put

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3

pytestmark = pytest.mark.django_db


def labels_url(adapter, **params):
    url = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def action_url(adapter):
    return reverse("projects-label-images", args=[adapter.project_id, adapter.pk])


def grid_ids(response) -> list[int]:
    import re

    return [int(x) for x in re.findall(r'class="card" data-id="(\d+)"', response.content.decode())]


def facet_count(text, attr, value) -> int:
    import re

    match = re.search(
        rf'data-{attr}="{re.escape(value)}"[^>]*><span>[^<]*</span><span class="count">(\d+)</span>', text
    )
    return int(match.group(1))


@pytest.fixture
def dataset(owner, adapter):
    images = add_images(owner, adapter, 6)
    datasets.set_labels(user=owner, images=images[:2], add=["Alcohol"])
    datasets.set_labels(user=owner, images=images[1:3], add=["Violence"])
    datasets.set_labels(user=owner, images=[images[3]], safe=True)
    return images


def test_the_grid_shows_training_images_with_counts_next_to_each_filter(owner_client, adapter, dataset):
    response = owner_client.get(labels_url(adapter))
    text = page_text(response)
    assert grid_ids(response) == [i.pk for i in dataset]
    assert facet_count(text, "state", "") == 6
    assert facet_count(text, "state", "unlabeled") == 2
    assert facet_count(text, "state", "labeled") == 4
    assert facet_count(text, "state", "safe") == 1
    assert facet_count(text, "label", "Alcohol") == 2 and facet_count(text, "label", "Violence") == 2
    assert facet_count(text, "label", "Gambling") == 0
    assert reverse("projects-image-thumbnail", args=[dataset[0].pk]) in text
    assert "No moderation label (safe)" in text


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"state": "unlabeled"}, [4, 5]),
        ({"state": "labeled"}, [0, 1, 2, 3]),
        ({"state": "safe"}, [3]),
        ({"label": "Alcohol"}, [0, 1]),
        ({"label": "Violence", "state": "labeled"}, [1, 2]),
        ({"label": "Gambling"}, []),
    ],
)
def test_the_grid_filters(owner_client, adapter, dataset, params, expected):
    assert grid_ids(owner_client.get(labels_url(adapter, **params))) == [dataset[i].pk for i in expected]


def test_the_grid_shows_only_training_images(owner_client, owner, adapter, dataset):
    t = put("t/1.jpg", jpeg(99))
    datasets.import_manifest(
        user=owner, adapter=adapter, data=json.dumps(gt(t)).encode(), name="t", split="test"
    )
    assert len(grid_ids(owner_client.get(labels_url(adapter)))) == 6


def test_the_grid_paginates(owner_client, owner, adapter):
    images = add_images(owner, adapter, 30)
    response = owner_client.get(labels_url(adapter, per_page=24, page=2))
    assert grid_ids(response) == [i.pk for i in images[24:]]
    assert "Page 2 of 2" in page_text(response)


def test_the_grid_and_filter_queries_are_constant_whatever_the_page_size(owner_client, owner, adapter):
    images = add_images(owner, adapter, 100)
    datasets.set_labels(user=owner, images=images[:60], add=["Alcohol", "Explicit"])
    counts = {}
    for params in ({}, {"state": "labeled"}, {"label": "Alcohol"}, {"state": "labeled", "label": "Explicit"}):
        for per_page in (24, 96):
            with CaptureQueriesContext(connection) as ctx:
                response = owner_client.get(labels_url(adapter, per_page=per_page, **params))
            assert response.status_code == 200 and len(grid_ids(response)) == min(
                per_page, 100 if not params else 60
            )
            counts[(tuple(params), per_page)] = len(ctx.captured_queries)
    assert len(set(counts.values())) == 1, counts


def test_the_grid_stays_fast_at_50000_images(owner_client, adapter):
    rows = [
        Image(
            adapter=adapter,
            file=f"x/{i}.jpg",
            thumbnail=f"x/t{i}.jpg",
            original_name=f"{i}.jpg",
            sha256=f"{i:064x}",
            size=1,
            format="JPEG",
            width=100,
            height=100,
            source="upload",
            label_state="labeled" if i % 2 else "unlabeled",
        )
        for i in range(50_000)
    ]
    Image.objects.bulk_create(rows, batch_size=5000)
    ids = list(Image.objects.filter(label_state="labeled").values_list("pk", flat=True))
    ImageLabel.objects.bulk_create([ImageLabel(image_id=pk, name="Alcohol") for pk in ids], batch_size=5000)
    DatasetCount.objects.recount(adapter)  # rows written around the services
    for params in ({}, {"state": "unlabeled", "page": 400}, {"label": "Alcohol", "per_page": 200}):
        # How fast: make bench (bench/pages.py); the query count: tests/perf.
        response = owner_client.get(labels_url(adapter, **params))
        assert response.status_code == 200, params
    assert facet_count(page_text(response), "state", "unlabeled") == 25_000


def test_it_adds_a_label_to_many_images_in_one_action(owner_client, owner, adapter, dataset):
    ids = [dataset[4].pk, dataset[5].pk, dataset[0].pk]
    response = owner_client.post(
        action_url(adapter), {"image": ids, "action": "add", "label": "Gambling", "q": ""}
    )
    assert response.status_code == 302
    assert set(ImageLabel.objects.filter(name="Gambling").values_list("image_id", flat=True)) == set(ids)
    assert Image.objects.filter(pk__in=ids, label_state="labeled").count() == 3
    entry = AuditEntry.objects.filter(action="image.label").latest("pk")
    assert (
        entry.user == owner
        and sorted(entry.detail["images"]) == sorted(ids)
        and entry.detail["add"] == ["Gambling"]
    )


def test_removing_the_last_label_leaves_an_image_unlabeled(owner_client, adapter, dataset):
    owner_client.post(
        action_url(adapter), {"image": [dataset[0].pk, dataset[1].pk], "action": "remove", "label": "Alcohol"}
    )
    states = dict(Image.objects.values_list("pk", "label_state"))
    assert states[dataset[0].pk] == "unlabeled"
    assert states[dataset[1].pk] == "labeled"  # still Violence


def test_marking_safe_removes_every_label(owner_client, adapter, dataset):
    owner_client.post(action_url(adapter), {"image": [dataset[1].pk], "action": "safe"})
    image = Image.objects.get(pk=dataset[1].pk)
    assert image.label_state == "safe" and image.label_names == []


def test_the_picker_sets_exactly_the_checked_labels(owner_client, adapter, dataset):
    owner_client.post(
        action_url(adapter), {"image": [dataset[1].pk], "action": "set", "label": ["Gambling", "Alcohol"]}
    )
    assert sorted(Image.objects.get(pk=dataset[1].pk).label_names) == ["Alcohol", "Gambling"]


def test_it_labels_all_images_matching_the_filter(owner_client, adapter, dataset):
    response = owner_client.post(
        action_url(adapter),
        {"all_matching": "on", "action": "add", "label": "Hate Symbols", "q": "state=unlabeled"},
    )
    assert response["Location"].endswith("?state=unlabeled")
    assert set(ImageLabel.objects.filter(name="Hate Symbols").values_list("image_id", flat=True)) == {
        dataset[4].pk,
        dataset[5].pk,
    }


def test_htmx_gets_the_refreshed_workspace_with_new_counts(owner_client, adapter, dataset):
    response = owner_client.post(
        action_url(adapter),
        {"image": [dataset[4].pk], "action": "safe", "q": ""},
        headers={"HX-Request": "true"},
    )
    text = page_text(response)
    assert response.status_code == 200 and "<html" not in text
    assert "1 image marked safe." in text and facet_count(text, "state", "unlabeled") == 1


@pytest.mark.parametrize(
    "data,message",
    [
        ({"action": "add", "label": "Alcohol"}, "Images: select at least one image"),
        ({"image": [1], "action": "add"}, "Label: choose a label"),
        ({"image": [1], "action": "add", "label": "Sleeping"}, "Select a valid choice"),
        ({"image": [1], "action": "explode", "label": "Alcohol"}, "Select a valid choice"),
    ],
)
def test_it_refuses_bad_labeling_actions(owner_client, adapter, dataset, data, message):
    data = {**data, "image": [dataset[0].pk] if data.get("image") else []}
    before = ImageLabel.objects.count()
    response = owner_client.post(action_url(adapter), {**data, "q": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and message in page_text(response)
    assert ImageLabel.objects.count() == before


def test_it_ignores_images_of_other_adapters(owner_client, owner, adapter, dataset):
    other = adapter_services.create_adapter(user=owner, project=adapter.project, name="other")
    foreign = add_images(owner, other, 1, start=50)[0]
    response = owner_client.post(action_url(adapter), {"image": [foreign.pk], "action": "safe"}, follow=True)
    assert "Images: select at least one image" in page_text(response)
    assert Image.objects.get(pk=foreign.pk).label_state == "unlabeled"


def test_labels_of_a_trained_adapter_are_frozen(owner_client, adapter, dataset):
    adapter.transition([adapter.Status.DRAFT], adapter.Status.TRAINING_COMPLETED)
    response = owner_client.post(
        action_url(adapter), {"image": [dataset[4].pk], "action": "safe"}, follow=True
    )
    assert "its dataset is frozen" in page_text(response)
    assert Image.objects.get(pk=dataset[4].pk).label_state == "unlabeled"


def test_annotators_label_viewers_only_look(client, annotator, viewer, adapter, dataset):
    client.force_login(viewer)
    assert client.get(labels_url(adapter)).status_code == 200
    assert client.post(action_url(adapter), {"image": [dataset[4].pk], "action": "safe"}).status_code == 403
    client.force_login(annotator)
    assert client.post(action_url(adapter), {"image": [dataset[4].pk], "action": "safe"}).status_code == 302
    assert Image.objects.get(pk=dataset[4].pk).label_state == "safe"


def test_protected_images_are_blurred_unless_the_user_turns_it_off(owner_client, owner, adapter, dataset):
    datasets.set_labels(user=owner, images=[dataset[5]], add=["Explicit"])
    text = page_text(owner_client.get(labels_url(adapter)))
    # The defaults protect Violence (images 1 and 2) and Explicit (image 5), not Alcohol (image 0).
    assert text.count('data-protect="blurred"') == 3 and "Reveal</button>" in text
    owner_client.post(reverse("console-protection"), {"protection_mode": "none"})
    assert Profile.objects.get(user=owner).protection_mode == "none"
    assert "data-protect" not in page_text(owner_client.get(labels_url(adapter)))


def test_thumbnails_and_images_are_served_with_cache_headers(client, viewer, adapter, dataset):
    client.force_login(viewer)
    image = dataset[0]
    response = client.get(reverse("projects-image-thumbnail", args=[image.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=86400"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xff\xd8\xff")
    again = client.get(
        reverse("projects-image-thumbnail", args=[image.pk]), headers={"If-None-Match": response["ETag"]}
    )
    assert again.status_code == 304
    full = client.get(reverse("projects-image-file", args=[image.pk]))
    assert b"".join(full.streaming_content) == jpeg(0)
    assert client.get(reverse("projects-image-file", args=[99999])).status_code == 404


def test_download_manifest_exports_the_labeled_dataset(owner_client, adapter, dataset):
    response = owner_client.get(reverse("projects-manifest", args=[adapter.project_id, adapter.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="first-train.manifest"'
    lines = [json.loads(line) for line in response.content.decode().splitlines()]
    assert len(lines) == 4  # the unlabeled images are left out
    assert lines[0] == {
        "source-ref": f"s3://{BUCKET}/{dataset[0].file}",
        "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Alcohol"}]},
    }
    assert lines[1]["content-moderation-groundtruth"]["ModerationLabels"] == [
        {"Name": "Violence"},
        {"Name": "Alcohol"},
    ]
    assert lines[3]["content-moderation-groundtruth"]["ModerationLabels"] == []
    from moderation.manifests import read_groundtruth

    assert len(read_groundtruth(response.content)) == 4


def test_start_training_is_disabled_and_says_what_is_missing(owner_client, owner, adapter, dataset):
    text = page_text(owner_client.get(labels_url(adapter)))
    assert (
        '<button class="button primary" disabled aria-describedby="training-blockers">Start training</button>'
        in text
    )
    assert "2 images still unlabeled" in text
    assert "a test set needs at least 2 images on this console's local engine" in text


def test_dataset_blockers(owner, adapter, settings):
    assert datasets.dataset_blockers(adapter) == ["no images yet: add training images"]
    images = add_images(owner, adapter, 13)
    datasets.set_labels(user=owner, images=images, safe=True)
    assert datasets.dataset_blockers(adapter) == [
        "no image has a moderation label yet: label at least one image with a category"
    ]
    datasets.set_labels(user=owner, images=images[:5], add=["Alcohol"])
    assert datasets.dataset_blockers(adapter) == []
    settings.MODERATION_BACKEND = "aws"
    assert datasets.dataset_blockers(adapter) == [
        "a test set needs at least 20 images on AWS: autosplit uses 20% of the labeled images, so label at "
        "least 98 (now 13)"
    ]
