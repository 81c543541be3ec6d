"""The adapter detail page: status polling, performance, per label, test images, details, Use adapter."""

import ast
import html
import re

import pytest
from django.conf import settings
from django.urls import reverse

from adapters.models import Adapter
from tests.adapters.conftest import make_adapter

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3

pytestmark = pytest.mark.django_db


def page(client, adapter, **params):
    response = client.get(reverse("adapters-detail", args=[adapter.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_it_polls_only_while_training(owner_client, project, trained):
    training = make_adapter(project, "busy", status=Adapter.Status.TRAINING_IN_PROGRESS)
    from django.utils import timezone

    Adapter.objects.filter(pk=training.pk).update(training_started_at=timezone.now())
    body = page(owner_client, training)
    assert 'hx-trigger="every 2s"' in body
    fragment = owner_client.get(
        reverse("adapters-detail", args=[training.pk]), headers={"HX-Request": "true"}
    )
    assert fragment.content.decode().lstrip().startswith('<div id="adapter-body"')
    assert "<html" not in fragment.content.decode()
    Adapter.objects.filter(pk=training.pk).update(
        status=Adapter.Status.TRAINING_FAILED, status_message="the test set is empty"
    )
    fragment = owner_client.get(
        reverse("adapters-detail", args=[training.pk]), headers={"HX-Request": "true"}
    )
    text = fragment.content.decode()
    assert "hx-trigger" not in text and "Training failed: the test set is empty" in text
    assert "hx-trigger" not in page(owner_client, trained)


def test_it_shows_improvements_threshold_counts_and_recommendations(owner_client, trained):
    body = page(owner_client, trained)
    # At 50: FP base 2 -> adapter 1 (50%), FN base 3 -> adapter 1 (66.7%).
    assert re.search(r'id="fp-improvement">50%', body)
    assert re.search(r'id="fn-improvement">66.7%', body)
    assert 'data-metric="flagged">5<' in body
    assert 'id="threshold-data"' in body
    assert "at 30: catches 5 of 5 Alcohol images, flags 1 safe one" in body


def test_it_shows_per_label_counts_at_the_chosen_threshold_and_a_chart(owner_client, trained):
    body = page(owner_client, trained, tab="labels", threshold="90")
    assert re.search(r'data-label="Alcohol" data-metric="fn">3<', body)
    assert re.search(r'data-label="Alcohol" data-metric="base_fn">5<', body)
    assert "<polyline" in body and 'data-chart-label="Alcohol"' in body


def test_it_lists_test_images_and_filters_the_flipped_ones(owner_client, trained):
    body = page(owner_client, trained, tab="test")
    assert body.count("<tr") - 1 == 10
    flipped = page(owner_client, trained, tab="test", flipped="1")
    assert flipped.count('class="flipped"') == 3 and flipped.count("<tr") - 1 == 3
    assert "fixed by the adapter" in flipped


def test_it_shows_tags_details_and_locations(owner_client, trained):
    assert "trust-safety" in page(owner_client, trained, tab="tags")
    body = page(owner_client, trained, tab="details")
    assert trained.arn in body and "7.0" in body and "12.5 s" in body
    assert f"s3://{BUCKET}/adapters/1/output/evaluation.json" in body


def snippet(body, element_id):
    match = re.search(rf'<pre class="code" id="{element_id}">(.*?)</pre>', body, re.S)
    return html.unescape(match.group(1))


def test_it_gives_a_python_snippet_that_is_valid_python_naming_the_arn(owner_client, trained, settings):
    body = page(owner_client, trained, tab="use")
    code = snippet(body, "python-snippet")
    tree = ast.parse(code)
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert trained.arn in strings
    assert settings.CONSOLE_API_URL in strings  # the local backend: this console's endpoint
    assert "us-east-1" in strings
    assert "detect_moderation_labels" in code
    cli = snippet(body, "cli-snippet")
    assert f"--project-version {trained.arn}" in cli and f"--endpoint-url {settings.CONSOLE_API_URL}" in cli
    assert 'data-copy="python-snippet"' in body


def test_it_warns_when_the_adapter_is_deprecated_or_expired(owner_client, trained):
    from adapters.models import expiry_from

    expires = expiry_from()
    Adapter.objects.filter(pk=trained.pk).update(status=Adapter.Status.DEPRECATED, expires_at=expires)
    body = page(owner_client, trained, tab="use")
    assert f"expires on {expires:%Y-%m-%d}" in body and 'id="use-warning"' in body
    Adapter.objects.filter(pk=trained.pk).update(status=Adapter.Status.EXPIRED)
    assert "has expired" in page(owner_client, trained, tab="use")


def test_it_shows_the_training_images_of_a_draft(owner_client, adapter):
    from tests.adapters.conftest import add_dataset

    add_dataset(adapter, 1, 1)
    body = page(owner_client, adapter, tab="training")
    assert "train-alcohol-0.jpg" in body and "Safe" in body
    # Each image is shown by its thumbnail, served through the access-checked view.
    for image in adapter.images.all():
        assert reverse("projects-image-thumbnail", args=[image.pk]) in body


def test_viewers_see_the_page_but_no_one_sees_a_missing_adapter(client, viewer, trained):
    client.force_login(viewer)
    assert client.get(reverse("adapters-detail", args=[trained.pk])).status_code == 200
    assert client.get(reverse("adapters-detail", args=[trained.pk + 999])).status_code == 404


def test_the_training_tab_reads_only_the_lines_it_lists_of_a_frozen_manifest(owner_client, trained):
    import json

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from adapters.queries import MAX_LISTED_IMAGES

    line = {
        "source-ref": f"s3://{BUCKET}/datasets/x/{{}}.jpg",
        "content-moderation-groundtruth": {"ModerationLabels": []},
    }
    good = [
        json.dumps({**line, "source-ref": line["source-ref"].format(i)}) for i in range(MAX_LISTED_IMAGES)
    ]
    # A line past those the tab lists that a full read would refuse: the page never reads it.
    name = default_storage.save(
        "manifests/long-training.manifest", ContentFile("\n".join([*good, "not json"]).encode())
    )
    Adapter.objects.filter(pk=trained.pk).update(training_manifest=name)

    body = page(owner_client, trained, tab="training")
    assert "0.jpg" in body and f"{MAX_LISTED_IMAGES - 1}.jpg" in body
