"""The Compare page: two adapters' frozen datasets side by side, the manifests and the diff to
download, and who may see them (viewers read; another project's adapter is a 404)."""

import hashlib
import json

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from adapters.models import Adapter, Image
from console.lib import storage
from moderation import manifests
from projects.models import Project
from tests.adapters.conftest import add_dataset, add_image, alcohol_image, finished_evaluation, make_adapter

pytestmark = pytest.mark.django_db


def freeze(adapter: Adapter, *, f1: float | None = None) -> Adapter:
    """Freeze the dataset as training does (adapters.services.start_training writes the labeled
    images into manifests) and mark it trained with an evaluation."""
    lines: dict[str, list] = {"train": [], "test": []}
    for image in adapter.images.labeled().prefetch_related("labels").order_by("pk"):
        lines[image.split].append((storage.uri_for(image.file), sorted(image.label_names)))
    names = {
        split: storage.save(
            f"adapters/{adapter.pk}/{split}.manifest", manifests.write_groundtruth(rows).encode()
        )
        for split, rows in lines.items()
        if rows
    }
    evaluation = finished_evaluation(adapter.arn)
    if f1 is not None:
        evaluation["AggregatedEvaluationResults"]["F1Score"] = f1
    Adapter.objects.filter(pk=adapter.pk).update(
        status=Adapter.Status.TRAINING_COMPLETED,
        training_manifest=names["train"],
        testing_manifest=names.get("test", ""),
        evaluation=evaluation,
    )
    adapter.refresh_from_db()
    return adapter


def real_sha256(adapter: Adapter) -> None:
    """Give each image the sha256 of its bytes, as the dataset's imports do."""
    for image in adapter.images.all():
        with default_storage.open(image.file, "rb") as fh:
            Image.objects.filter(pk=image.pk).update(sha256=hashlib.sha256(fh.read()).hexdigest())


@pytest.fixture
def pair(project):
    """v1 and v2 of the project: v2 drops a bottle, adds one, relabels a safe image and moves
    one to the test set (the same pictures, stored again for v2 under other names)."""
    v1 = make_adapter(project, "v1")
    add_dataset(v1, 4, 4)
    add_dataset(v1, 2, 2, split="test", offset=10)
    real_sha256(v1)
    v2 = make_adapter(project, "v2")
    add_dataset(v2, 3, 4)  # train-alcohol-3 removed
    add_dataset(v2, 2, 2, split="test", offset=10)
    add_image(v2, alcohol_image(50), ["Alcohol"], name="new-bottle.jpg")
    real_sha256(v2)
    relabeled = v2.images.get(original_name="train-safe-0.jpg")
    relabeled.labels.create(name="Alcohol")
    Image.objects.filter(pk=relabeled.pk).update(label_state=Image.LabelState.LABELED)
    v2.images.filter(original_name="train-safe-1.jpg").update(split="test")
    return freeze(v1, f1=0.5), freeze(v2)


def test_it_shows_two_adapters_datasets_side_by_side(client, viewer, pair):
    v1, v2 = pair
    client.force_login(viewer)
    response = client.get(reverse("quality-compare", args=[v1.pk]), {"a": v1.pk, "b": v2.pk})
    assert response.status_code == 200
    diff = response.context["diff"]
    kinds = {c.kind: c for c in diff.changes}
    assert sorted(c.kind for c in diff.changes) == ["added", "labels", "removed", "split"]
    assert kinds["added"].after.ref.endswith("new-bottle.jpg")
    assert kinds["removed"].before.ref.endswith("train-alcohol-3.jpg")
    assert kinds["labels"].before.labels == () and kinds["labels"].after.labels == ("Alcohol",)
    assert (kinds["split"].before.split, kinds["split"].after.split) == ("train", "test")
    assert (
        diff.unchanged == 9
    )  # 12 images, 3 changed; # the same images, stored under v2's names: matched by sha256
    counts = {row["label"]: row for row in response.context["counts"]}
    assert counts["Alcohol"]["before"] == {"train": 4, "test": 2, "total": 6}
    assert counts["Alcohol"]["after"] == {"train": 5, "test": 2, "total": 7}
    assert response.context["before_scores"]["overall"]["f1"] == 0.5
    assert response.context["after_scores"]["overall"]["f1"] == 0.8
    page = response.content.decode()
    assert "Images added: 1" in page and "Split changes: 1" in page and "new-bottle.jpg" in page
    assert reverse("quality-compare-diff", args=[v1.pk, v2.pk]) in page


def test_the_adapter_page_links_the_compare_page(client, viewer, pair):
    v1, _ = pair
    client.force_login(viewer)
    page = client.get(reverse("adapters-detail", args=[v1.pk]), {"tab": "details"}).content.decode()
    assert reverse("quality-compare", args=[v1.pk]) in page
    form = client.get(reverse("quality-compare", args=[v1.pk])).content.decode()
    assert 'name="a"' in form and 'name="b"' in form and "v2" in form


def test_it_lists_at_most_a_page_of_each_change_and_says_how_many(client, viewer, project, settings):
    v1 = make_adapter(project, "big1")
    v2 = make_adapter(project, "big2")
    for i in range(3):
        add_image(v2, alcohol_image(100 + i), ["Alcohol"], name=f"added-{i}.jpg")
    add_image(v1, alcohol_image(1), ["Alcohol"], name="kept.jpg")
    freeze(v1), freeze(v2)
    settings.DEBUG = False
    from quality import views

    views.LISTED_CHANGES, listed = 2, views.LISTED_CHANGES
    try:
        client.force_login(viewer)
        page = client.get(reverse("quality-compare", args=[v1.pk]), {"a": v1.pk, "b": v2.pk}).content.decode()
    finally:
        views.LISTED_CHANGES = listed
    assert "Images added: 3" in page and "The first 2 of 3" in page
    assert "added-2.jpg" not in page


def test_it_downloads_the_frozen_manifests_and_the_diff(client, viewer, pair):
    v1, v2 = pair
    client.force_login(viewer)
    train = client.get(reverse("quality-frozen-manifest", args=[v1.pk]) + "?split=train")
    assert train.status_code == 200 and "attachment" in train["Content-Disposition"]
    lines = manifests.read_groundtruth(b"".join(train.streaming_content))
    assert len(lines) == 8
    test = client.get(reverse("quality-frozen-manifest", args=[v2.pk]) + "?split=test")
    assert len(manifests.read_groundtruth(b"".join(test.streaming_content))) == 5
    diff = client.get(reverse("quality-compare-diff", args=[v1.pk, v2.pk]))
    assert diff.status_code == 200 and diff["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in diff.content.decode().splitlines()]
    assert [row["change"] for row in rows] == ["added", "removed", "labels", "split"]
    assert rows[2]["labels_before"] == [] and rows[2]["labels_after"] == ["Alcohol"]
    assert rows[3]["split_before"] == "train" and rows[3]["split_after"] == "test"
    assert set(rows[0]) == {
        "ref",
        "ref_before",
        "image",
        "change",
        "labels_before",
        "labels_after",
        "split_before",
        "split_after",
    }


def test_it_has_no_test_manifest_for_an_autosplit_adapter(client, viewer, project):
    adapter = make_adapter(project, "auto")
    add_dataset(adapter, 2, 2)
    freeze(adapter)
    client.force_login(viewer)
    assert (
        client.get(reverse("quality-frozen-manifest", args=[adapter.pk]) + "?split=test").status_code == 404
    )
    assert (
        client.get(reverse("quality-frozen-manifest", args=[adapter.pk]) + "?split=other").status_code == 404
    )
    draft = make_adapter(project, "draft")
    assert client.get(reverse("quality-frozen-manifest", args=[draft.pk]) + "?split=train").status_code == 404


def test_an_adapter_of_another_project_or_none_is_a_404(client, viewer, owner, pair):
    v1, v2 = pair
    other = Project.objects.create(name="other", arn=Project.build_arn("other"), created_by=owner)
    stranger = make_adapter(other, "x")
    add_dataset(stranger, 2, 2)
    freeze(stranger)
    client.force_login(viewer)
    url = reverse("quality-compare", args=[v1.pk])
    assert client.get(url, {"a": v1.pk, "b": stranger.pk}).status_code == 404
    assert client.get(url, {"a": stranger.pk, "b": v2.pk}).status_code == 404
    assert client.get(url, {"a": v1.pk, "b": "nope"}).status_code == 404
    assert client.get(reverse("quality-compare", args=[99999])).status_code == 404
    assert client.get(reverse("quality-compare-diff", args=[v1.pk, stranger.pk])).status_code == 404
    assert client.get(reverse("quality-frozen-manifest", args=[99999]) + "?split=train").status_code == 404


def test_it_says_so_when_an_adapter_never_trained(client, viewer, pair, project):
    v1, _ = pair
    draft = make_adapter(project, "draft")
    client.force_login(viewer)
    response = client.get(reverse("quality-compare", args=[v1.pk]), {"a": v1.pk, "b": draft.pk})
    assert response.status_code == 200
    assert "draft has no frozen dataset" in response.content.decode()
    assert client.get(reverse("quality-compare-diff", args=[v1.pk, draft.pk])).status_code == 404


def test_an_anonymous_user_is_sent_to_the_login_page(client, pair):
    v1, v2 = pair
    response = client.get(reverse("quality-compare", args=[v1.pk]), {"a": v1.pk, "b": v2.pk})
    assert response.status_code == 302 and "login" in response["Location"]
