"""Training an adapter: the training page, the frozen dataset, the task on the real local engine."""

import json

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.storage import default_storage
from django.urls import reverse

from adapters.models import Adapter
from adapters.tasks import train_adapter
from console.models import AuditEntry, Notification
from moderation import manifests
from tests.adapters.conftest import add_dataset, add_image, alcohol_image, make_adapter

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3

pytestmark = pytest.mark.django_db


def train_url(adapter):
    return reverse("adapters-train", args=[adapter.pk])


def post_train(client, adapter, **data):
    body = {
        "confidence_threshold": "50",
        "encryption": "default",
        "kms_key_id": "",
        "tag_key": [],
        "tag_value": [],
    }
    body.update(data)
    return client.post(train_url(adapter), body)


def test_it_shows_the_training_page_with_its_blockers(owner_client, adapter):
    add_image(adapter, alcohol_image(1))
    response = owner_client.get(train_url(adapter))
    assert response.status_code == 200
    body = response.content.decode()
    assert "1 image still unlabeled" in body
    assert "Train adapter" in body and "disabled" in body


def test_it_refuses_to_train_while_images_are_unlabeled(
    owner_client, adapter, django_capture_on_commit_callbacks
):
    add_dataset(adapter, 8, 8)
    add_image(adapter, alcohol_image(99))
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_train(owner_client, adapter)
    assert response.status_code == 400
    assert "1 image still unlabeled" in response.content.decode()
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DRAFT and not adapter.training_manifest
    assert callbacks == []
    assert not default_storage.exists(f"adapters/{adapter.pk}/train.manifest")


def test_it_refuses_a_dataset_too_small_for_a_test_set(owner_client, adapter):
    add_dataset(adapter, 3, 3)
    response = post_train(owner_client, adapter)
    assert response.status_code == 400
    body = response.content.decode()
    assert "a test set needs at least" in body or "the training set needs at least" in body
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DRAFT


def test_it_refuses_bad_tags_kms_keys_and_thresholds_naming_the_field(owner_client, adapter):
    add_dataset(adapter, 8, 8)
    response = post_train(owner_client, adapter, tag_key=["aws:team"], tag_value=["x"])
    assert "Tags key &#x27;aws:team&#x27;" in response.content.decode()
    response = post_train(owner_client, adapter, encryption="custom", kms_key_id="not a key!")
    assert "KMS key" in response.content.decode()
    response = post_train(owner_client, adapter, encryption="custom", kms_key_id="")
    assert "KMS key: enter the key" in response.content.decode()
    response = post_train(owner_client, adapter, confidence_threshold="120")
    assert "Confidence threshold: must be from 0 to 100" in response.content.decode()
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DRAFT


def test_it_refuses_training_to_annotators_and_viewers(client, annotator, viewer, adapter):
    add_dataset(adapter, 8, 8)
    for user in (annotator, viewer):
        client.force_login(user)
        assert client.get(train_url(adapter)).status_code == 403
        assert post_train(client, adapter).status_code == 403
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DRAFT


def test_it_refuses_to_train_an_adapter_that_is_already_training(owner_client, project):
    adapter = make_adapter(project, "busy", status=Adapter.Status.TRAINING_IN_PROGRESS)
    response = post_train(owner_client, adapter)
    assert response.status_code == 400
    assert "only a draft or a failed adapter can be trained" in response.content.decode()


def test_it_freezes_the_dataset_and_enqueues_training(
    owner_client, adapter, django_capture_on_commit_callbacks
):
    add_dataset(adapter, 8, 8)
    add_dataset(adapter, 2, 2, split="test", offset=50)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_train(
            owner_client,
            adapter,
            confidence_threshold="62.5",
            encryption="custom",
            kms_key_id="alias/moderation",
            tag_key=["team", ""],
            tag_value=["trust-safety", ""],
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("adapters-detail", args=[adapter.pk])
    assert len(callbacks) == 1
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS
    assert adapter.confidence_threshold == 62.5
    assert adapter.kms_key_id == "alias/moderation"
    assert adapter.tags == {"team": "trust-safety"}
    assert adapter.training_started_at is not None
    assert adapter.test_data == Adapter.TestData.MANIFEST
    with default_storage.open(adapter.training_manifest) as fh:
        train = manifests.read_groundtruth(fh.read())
    with default_storage.open(adapter.testing_manifest) as fh:
        test = manifests.read_groundtruth(fh.read())
    assert len(train) == 16 and len(test) == 4
    assert sum(line.labels == ["Alcohol"] for line in train) == 8
    assert all(
        line.bucket == f"{BUCKET}" and line.key.startswith(f"datasets/{adapter.pk}/") for line in train
    )
    assert AuditEntry.objects.filter(action="adapter.train", object_id=str(adapter.pk)).exists()
    # A second start is refused: the row is no longer a draft.
    assert post_train(owner_client, adapter).status_code == 400


def test_it_autosplits_when_there_is_no_test_set(owner_client, adapter, django_capture_on_commit_callbacks):
    add_dataset(adapter, 8, 8)
    with django_capture_on_commit_callbacks():
        post_train(owner_client, adapter)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS
    assert adapter.test_data == Adapter.TestData.AUTOSPLIT and adapter.testing_manifest == ""


def test_it_trains_for_real_on_the_local_backend(
    owner, owner_client, adapter, django_capture_on_commit_callbacks
):
    owner.email = "owner@example.com"
    owner.save()
    add_dataset(adapter, 8, 8)
    add_dataset(adapter, 3, 3, split="test", offset=50)
    with django_capture_on_commit_callbacks():
        assert post_train(owner_client, adapter).status_code == 302
    # Label edits after training started do not change what is trained.
    add_image(adapter, alcohol_image(77), ["Alcohol"], name="late.jpg")
    adapter.images.filter(original_name="train-safe-0.jpg").first().labels.create(name="Alcohol")

    train_adapter(adapter.pk)

    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED, adapter.status_message
    doc = adapter.evaluation
    details = doc["EvaluationDetails"]
    assert details["NumberOfTrainingImages"] == 16
    assert details["NumberOfTestingImages"] == 6
    assert details["Labels"] == ["Alcohol"]
    assert details["ProjectVersionArn"] == adapter.arn
    for block in doc["ContentModeration"]["AllConfidenceThresholdsEvalResults"]:
        (row,) = block["LabelEvaluationResults"]
        for model in ("BaseModel", "Adapter"):
            c = row[model]
            assert c["TruePositive"] + c["FalseNegative"] == 3  # Alcohol images in the test set
            assert c["FalsePositive"] + c["TrueNegative"] == 3  # safe ones
    at_input = doc["ContentModeration"]["InputConfidenceThresholdEvalResults"]["AggregatedEvaluationResults"][
        "Adapter"
    ]
    assert at_input["FalsePositive"] + at_input["FalseNegative"] <= 1, (
        at_input
    )  # the adapter learned the families
    assert adapter.f1_score == doc["AggregatedEvaluationResults"]["F1Score"]
    assert len(adapter.test_results) == 6
    truth = sorted(json.dumps(line["content-moderation-groundtruth"]) for line in adapter.test_results)
    assert truth.count(json.dumps({"ModerationLabels": [{"Name": "Alcohol"}]})) == 3
    assert adapter.base_model_version == "8.0"
    assert adapter.training_seconds > 0 and adapter.training_ended_at is not None
    assert {"training_data", "testing_data", "evaluation", "test_output"} <= set(adapter.locations)
    note = Notification.objects.get(user=owner)
    assert "finished training" in note.message and note.link == reverse("adapters-detail", args=[adapter.pk])
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["owner@example.com"]

    # Running the task again (acks_late redelivery) changes nothing.
    train_adapter(adapter.pk)
    assert Notification.objects.filter(user=owner).count() == 1

    page = owner_client.get(reverse("adapters-detail", args=[adapter.pk])).content.decode()
    assert "False positive improvement" in page and "hx-trigger" not in page


def test_it_fails_training_with_the_reason_when_the_backend_refuses(owner, project):
    """A dataset the engine refuses (frozen before the check could see it): TRAINING_FAILED with its message."""
    from django.utils import timezone

    from console.lib import storage

    adapter = make_adapter(project, "tiny", status=Adapter.Status.TRAINING_IN_PROGRESS)
    adapter.training_manifest = storage.save(
        f"adapters/{adapter.pk}/train.manifest",
        manifests.write_groundtruth([(f"s3://{BUCKET}/missing/a.jpg", ["Alcohol"])]).encode(),
    )
    adapter.training_started_at = timezone.now()
    adapter.save()
    train_adapter(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_FAILED
    assert "needs at least" in adapter.status_message or "no such object" in adapter.status_message
    assert Notification.objects.get(user=owner).level == "error"
