"""The local backend end to end: real engine, real storage (a temporary folder), real database."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from console.backends.base import BackendError, ImageRef, ManifestEntry, TrainingSpec
from console.backends.local import LocalBackend
from console.models import ImageEmbedding
from tests.engine.imagegen import LABEL, TRAIN_PHOTOS, photo_bytes, symbol_set

ADAPTER_ARN = "arn:aws:rekognition:us-east-1:000000000000:project/p/version/v1/1700000000000"


@pytest.fixture
def files(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    return tmp_path


def put(name, data):
    from django.conf import settings

    return ImageRef(settings.STORAGE_BUCKET, default_storage.save(name, ContentFile(data)))


def make_spec(entries, testing=None, output_prefix="projects/p/v1/output"):
    return TrainingSpec(
        project_arn="arn:aws:rekognition:us-east-1:000000000000:project/p/1700000000000",
        adapter_arn=ADAPTER_ARN,
        version_name="v1",
        training=entries,
        testing=testing,
        output_prefix=output_prefix,
    )


@pytest.fixture
def symbol_entries(files):
    items = symbol_set(TRAIN_PHOTOS, 40, seed=3)
    return [ManifestEntry(put(f"train/{i}.jpg", data), labels) for i, (data, labels) in enumerate(items)]


@pytest.mark.django_db
def test_it_trains_evaluates_and_serves_an_adapter(symbol_entries, settings):
    backend = LocalBackend()
    status = backend.start_training(spec=make_spec(symbol_entries))

    assert status.status == "TRAINING_COMPLETED"
    assert status.base_model_version == "7.0"
    doc = status.evaluation
    assert doc["EvaluationDetails"]["Labels"] == [LABEL]
    assert doc["EvaluationDetails"]["NumberOfTrainingImages"] == 32
    assert doc["EvaluationDetails"]["NumberOfTestingImages"] == 8
    assert len(doc["ContentModeration"]["AllConfidenceThresholdsEvalResults"]) == 20
    assert status.f1_score == doc["AggregatedEvaluationResults"]["F1Score"]
    assert len(status.test_results) == 8
    line = status.test_results[0]
    assert set(line) == {
        "source-ref",
        "content-moderation-groundtruth",
        "detect-moderation-labels",
        "detect-moderation-labels-base-model",
    }
    assert line["detect-moderation-labels"]["ProjectVersion"] == ADAPTER_ARN
    assert set(status.locations) == {"artifact", "evaluation", "train_output", "test_output"}
    assert status.locations["evaluation"].endswith("projects/p/v1/output/evaluation.json")
    assert default_storage.exists("projects/p/v1/output/train_output.manifest")
    # Every image was embedded once and stored.
    assert ImageEmbedding.objects.count() == 40

    again = backend.training_status(project_arn="", adapter_arn=ADAPTER_ARN, version_name="v1")
    assert again.status == "TRAINING_COMPLETED"
    assert again.evaluation == doc and again.test_results == status.test_results

    positive = next(e for e in symbol_entries if e.labels)
    response = backend.detect_moderation_labels(
        image=positive.image, min_confidence=0, adapter_arn=ADAPTER_ARN
    )
    assert response["ProjectVersion"] == ADAPTER_ARN
    assert response["ModerationModelVersion"] == "7.0"
    assert LABEL in {label["Name"] for label in response["ModerationLabels"]}
    assert ImageEmbedding.objects.count() == 40  # reused, not recomputed

    # A new base model version deprecates the adapter, which keeps answering until it expires.
    settings.LOCAL_MODEL_VERSION = "7.1"
    response = backend.detect_moderation_labels(
        image=positive.image, min_confidence=0, adapter_arn=ADAPTER_ARN
    )
    assert response["ModerationModelVersion"] == "7.1" and response["ProjectVersion"] == ADAPTER_ARN
    assert LABEL in {label["Name"] for label in response["ModerationLabels"]}
    settings.LOCAL_MODEL_VERSION = "7.0"

    backend.delete_adapter(adapter_arn=ADAPTER_ARN)
    assert not default_storage.exists("projects/p/v1/output/evaluation.json")
    with pytest.raises(BackendError) as exc:
        backend.detect_moderation_labels(image=positive.image, adapter_arn=ADAPTER_ARN)
    assert exc.value.code == "ResourceNotFoundException" and not exc.value.retryable


@pytest.mark.django_db
def test_it_flags_no_benign_photo_without_an_adapter(files):
    response = LocalBackend().detect_moderation_labels(image=photo_bytes("skimage.data", "astronaut.png"))
    assert response == {"ModerationLabels": [], "ModerationModelVersion": "7.0", "ContentTypes": []}


@pytest.mark.django_db
def test_it_refuses_too_few_images_and_names_a_bad_image(symbol_entries):
    backend = LocalBackend()
    with pytest.raises(BackendError, match="at least 10"):
        backend.start_training(spec=make_spec(symbol_entries[:6]))
    bad = ManifestEntry(put("train/bad.jpg", b"GIF89a" + b"\0" * 100), [])
    with pytest.raises(BackendError) as exc:
        backend.start_training(spec=make_spec([*symbol_entries[:20], bad]))
    assert exc.value.code == "InvalidImageFormatException"
    assert bad.image.uri in exc.value.message


@pytest.mark.django_db
def test_it_applies_the_image_limits(files):
    backend = LocalBackend()
    with pytest.raises(BackendError) as exc:
        backend.detect_moderation_labels(image=b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024))
    assert exc.value.code == "ImageTooLargeException"
    with pytest.raises(BackendError) as exc:
        backend.detect_moderation_labels(image=b"GIF89a" + b"\0" * 100)
    assert exc.value.code == "InvalidImageFormatException"
    from django.conf import settings

    with pytest.raises(BackendError) as exc:
        backend.detect_moderation_labels(image=ImageRef(settings.STORAGE_BUCKET, "missing.jpg"))
    assert exc.value.code == "InvalidS3ObjectException"
    with pytest.raises(BackendError) as exc:
        backend.detect_moderation_labels(image=photo_bytes("skimage.data", "coffee.png"), min_confidence=101)
    assert exc.value.code == "InvalidParameterException"
