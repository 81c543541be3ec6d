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
    assert status.base_model_version == "8.0"
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
    assert response["ModerationModelVersion"] == "8.0"
    assert LABEL in {label["Name"] for label in response["ModerationLabels"]}
    assert ImageEmbedding.objects.count() == 40  # reused, not recomputed

    # A new base model version deprecates the adapter, which keeps answering until it expires.
    settings.LOCAL_MODEL_VERSION = "8.1"
    response = backend.detect_moderation_labels(
        image=positive.image, min_confidence=0, adapter_arn=ADAPTER_ARN
    )
    assert response["ModerationModelVersion"] == "8.1" and response["ProjectVersion"] == ADAPTER_ARN
    assert LABEL in {label["Name"] for label in response["ModerationLabels"]}
    settings.LOCAL_MODEL_VERSION = "8.0"

    backend.delete_adapter(adapter_arn=ADAPTER_ARN)
    assert not default_storage.exists("projects/p/v1/output/evaluation.json")
    with pytest.raises(BackendError) as exc:
        backend.detect_moderation_labels(image=positive.image, adapter_arn=ADAPTER_ARN)
    assert exc.value.code == "ResourceNotFoundException" and not exc.value.retryable


@pytest.mark.django_db
def test_it_flags_no_benign_photo_without_an_adapter(files):
    response = LocalBackend().detect_moderation_labels(image=photo_bytes("skimage.data", "astronaut.png"))
    assert response == {"ModerationLabels": [], "ModerationModelVersion": "8.0", "ContentTypes": []}


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


# detect_moderation_labels_many: a bulk analysis unit's pipeline


def one_by_one(backend, refs, **kwargs):
    out = []
    for ref in refs:
        try:
            out.append(backend.detect_moderation_labels(image=ref, **kwargs))
        except BackendError as exc:
            out.append(exc)
    return out


def as_comparable(outcomes):
    return [(o.code, o.message, o.retryable) if isinstance(o, BackendError) else o for o in outcomes]


@pytest.mark.django_db
@pytest.mark.parametrize("read_ahead", [25, 2])
def test_it_analyses_many_images_in_order_as_one_by_one_would(files, monkeypatch, read_ahead):
    from console.backends import local

    monkeypatch.setattr(local, "READ_AHEAD", read_ahead)  # batches of 2: reading crosses batches
    photos = [data for data, _ in symbol_set(TRAIN_PHOTOS, 5, seed=21)]
    refs = [put(f"many/{i}.jpg", data) for i, data in enumerate(photos)]
    refs.insert(2, put("many/copy.jpg", photos[0]))  # the same content as the first
    refs.insert(4, put("many/bad.jpg", photos[1][: len(photos[1]) // 2]))  # a truncated JPEG
    refs.append(ImageRef(refs[0].bucket, "many/missing.jpg"))
    backend = LocalBackend()
    backend.analyse(photos[4])  # one image is in the cache already

    many = list(backend.detect_moderation_labels_many(images=refs, min_confidence=0))

    # One embedding per content: the copy was analysed once, the cached one not again.
    assert ImageEmbedding.objects.count() == 5
    assert len(many) == len(refs)
    assert many[0] == many[2] and many[0]["ModerationModelVersion"] == "8.0"
    assert isinstance(many[4], BackendError) and many[4].code == "InvalidImageFormatException"
    assert many[4].message.startswith(refs[4].uri) and not many[4].retryable
    assert isinstance(many[-1], BackendError) and many[-1].code == "InvalidS3ObjectException"
    assert many[-1].message.startswith(refs[-1].uri)
    # The same answers, errors included, as one call per image (now from the cache).
    assert as_comparable(many) == as_comparable(one_by_one(backend, refs, min_confidence=0))
    assert ImageEmbedding.objects.count() == 5
    higher = list(backend.detect_moderation_labels_many(images=refs[:2], min_confidence=60))
    assert higher == one_by_one(backend, refs[:2], min_confidence=60)


@pytest.mark.django_db
def test_it_gives_every_image_the_error_of_a_bad_adapter_or_confidence(files):
    refs = [put(f"many/{i}.jpg", data) for i, (data, _) in enumerate(symbol_set(TRAIN_PHOTOS, 2, seed=5))]
    backend = LocalBackend()
    missing = list(backend.detect_moderation_labels_many(images=refs, adapter_arn=ADAPTER_ARN))
    assert [(e.code, e.retryable) for e in missing] == [("ResourceNotFoundException", False)] * 2
    bad = list(backend.detect_moderation_labels_many(images=refs, min_confidence=101))
    assert [e.code for e in bad] == ["InvalidParameterException"] * 2
    assert ImageEmbedding.objects.count() == 0


@pytest.mark.django_db
def test_it_stops_when_closed_keeping_what_it_analysed(files):
    import threading

    photos = [data for data, _ in symbol_set(TRAIN_PHOTOS, 6, seed=8)]
    refs = [put(f"many/{i}.jpg", data) for i, data in enumerate(photos)]
    outcomes = LocalBackend().detect_moderation_labels_many(images=refs)
    first = next(outcomes)
    outcomes.close()

    assert first["ModerationModelVersion"] == "8.0"
    # The image in the networks finished; the queued one was dropped; nothing is left running.
    assert 0 < ImageEmbedding.objects.count() < 6
    assert not [t for t in threading.enumerate() if t.name.startswith("engine")]
