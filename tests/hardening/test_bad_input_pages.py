"""The bad-input corpus through the console's pages: each refusal names the file, line or field,
and afterwards no table has a new row and storage holds no new file."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from adapters import services as adapter_services
from adapters.models import Adapter
from bulk_analysis import services as bulk
from moderation.manifests import IMAGE_SUFFIXES
from projects import services
from tests.hardening import corpus
from tests.hardening.conftest import page_text
from tests.verification.test_verify import make_trainable

pytestmark = pytest.mark.django_db

AUDIT = "console.AuditEntry"  # an import attempt is audited with its refusals, even when none was added


def assert_error(text: str, field: str, message: str) -> None:
    """`message` appears in one error that starts by naming `field` (the file, line or field)."""
    pattern = re.escape(field) + r"[^<]{0,400}?" + re.escape(message)
    assert re.search(pattern, text), f"no error naming {field!r} with {message!r} in:\n{text[:3000]}"


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def adapter(owner):
    project = services.create_project(user=owner, name="policy")
    return adapter_services.create_adapter(user=owner, project=project, name="first")


@pytest.fixture
def job(owner):
    return bulk.create_job(user=owner, name="nightly")


def create_form(**fields):
    data = {
        "project_mode": "new",
        "project_name": "fresh",
        "adapter_name": "v1",
        "adapter_description": "",
        "auto_update": "on",
        "source": "upload",
        "test_data": "autosplit",
    }
    data.update(fields)
    return data


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("case", "name", "build", "message"), corpus.BAD_IMAGES, ids=[c[0] for c in corpus.BAD_IMAGES]
)
def test_it_refuses_each_bad_image_on_the_add_images_page(
    owner_client, adapter, snapshot, case, name, build, message
):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {"source": "upload", "test_data": "keep", "files": upload(name, data)},
        follow=True,
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "0 images added." in text
    assert_error(text, f"1 refused: {name} (", message)
    before.assert_unchanged(allow_rows={AUDIT})
    assert not adapter.images.exists()


@pytest.mark.parametrize(
    ("case", "name", "build", "message"), corpus.BAD_IMAGES, ids=[c[0] for c in corpus.BAD_IMAGES]
)
def test_it_refuses_each_bad_image_in_an_upload_batch(
    owner_client, adapter, snapshot, case, name, build, message
):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("projects-upload", args=[adapter.project_id, adapter.pk]),
        {"files": [upload(name, data), upload("fine.jpg", corpus.make_image_bytes(120, 100, seed=77))]},
    )
    assert response.status_code == 200
    report = response.json()
    assert [item["name"] for item in report["added"]] == ["fine.jpg"]
    assert [item["name"] for item in report["failed"]] == [name]
    assert message in report["failed"][0]["reason"]
    # Only the good file was written: one image row (and its PDQ hash), its file and its thumbnail.
    image = adapter.images.get()
    assert image.original_name == "fine.jpg"
    before.assert_unchanged(
        allow_rows={AUDIT, "adapters.Image", "adapters.DatasetCount", "hashbanks.ImageHash"},
        allow_files={image.file, image.thumbnail},
    )


# Bulk analysis checks the file name first, then Pillow's reading of the file, then the engine's limits.
BULK_MESSAGES = {
    "claims.png": "is not a readable JPEG or PNG image",
    "photo.png": "is a GIF image; only JPEG and PNG are accepted",
    "empty.jpg": "is not a readable JPEG or PNG image",
    "bomb.png": "is not a readable JPEG or PNG image",
    "huge.jpg": "is 16,777,216 bytes; the limit is 15 MB",
    "script.jpg": "is not a readable JPEG or PNG image",
}


def bulk_message(name: str, message: str) -> str:
    if not name.lower().endswith(IMAGE_SUFFIXES):
        return "is not a .jpg, .jpeg or .png file"
    return BULK_MESSAGES.get(name, message)


@pytest.mark.parametrize(
    ("case", "name", "build", "message"), corpus.BAD_IMAGES, ids=[c[0] for c in corpus.BAD_IMAGES]
)
def test_it_refuses_each_bad_image_for_a_bulk_job(owner_client, job, snapshot, case, name, build, message):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-upload", args=[job.pk]),
        {"images": [upload(name, data)]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["added"] == 0 and body["total"] == 0
    assert [item["name"] for item in body["failed"]] == [name]
    assert bulk_message(name, message) in body["failed"][0]["reason"]
    before.assert_unchanged()


def test_a_bulk_job_refuses_bad_images_without_javascript_naming_each(owner_client, job, snapshot):
    files = [upload(name, build()) for _, name, build, _ in corpus.BAD_IMAGES if build is not corpus.mb16]
    before = snapshot()
    response = owner_client.post(reverse("bulk-upload", args=[job.pk]), {"images": files}, follow=True)
    text = page_text(response)
    for _, name, build, message in corpus.BAD_IMAGES:
        if build is not corpus.mb16:
            assert_error(text, f"{name}: ", bulk_message(name, message))
    before.assert_unchanged()


# ---------------------------------------------------------------- training and test manifests


@pytest.mark.parametrize("field", ["source", "test_data"])
def test_the_create_page_names_a_tampered_source(owner_client, snapshot, field):
    """A value no radio button offers was a bare 400 with no message (issue 16, bug 4)."""
    before = snapshot()
    response = owner_client.post(reverse("projects-new"), create_form(**{field: "ftp"}))
    assert response.status_code == 400
    title = "Training images" if field == "source" else "Test dataset"
    assert_error(page_text(response), title, "'ftp' is not a source; choose one of")
    json_response = owner_client.post(
        reverse("projects-new"), create_form(**{field: "ftp"}), headers={"accept": "application/json"}
    )
    assert any(e.startswith(title) for e in json_response.json()["errors"]), json_response.json()
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("case", "build", "message"), corpus.BAD_GROUNDTRUTH, ids=[c[0] for c in corpus.BAD_GROUNDTRUTH]
)
def test_the_create_page_refuses_each_bad_manifest_and_creates_nothing(
    owner_client, snapshot, case, build, message
):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("projects-new"),
        create_form(source="manifest", manifest=upload("train.manifest", data)),
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "The manifest train.manifest was refused and nothing was imported" in text
    assert_error(text, "train.manifest", message)
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("case", "build", "message"), corpus.BAD_GROUNDTRUTH, ids=[c[0] for c in corpus.BAD_GROUNDTRUTH]
)
def test_the_add_images_page_refuses_each_bad_test_manifest(
    owner_client, adapter, snapshot, case, build, message
):
    data = build()
    good = corpus.lines(corpus.gt(corpus.good_image_uri("corpus/ok.jpg", seed=9), "Alcohol"))
    before = snapshot()
    response = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {
            "source": "manifest",
            "manifest": upload("ok.manifest", good),
            "test_data": "manifest",
            "test_manifest": upload("test.manifest", data),
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e.startswith("Test manifest file: ") and "test.manifest" in e for e in errors)
    assert any(message in e for e in errors), errors
    before.assert_unchanged()  # not even the good training manifest was kept
    adapter.refresh_from_db()
    assert adapter.test_data == Adapter.TestData.AUTOSPLIT


def test_a_manifest_listing_every_kind_of_bad_line_names_each_line(owner_client, adapter, snapshot):
    data = corpus.lines(
        corpus.gt(corpus.good_image_uri(), "Alcohol"),
        "{not json",
        {"content-moderation-groundtruth": {"ModerationLabels": []}},
        corpus.gt(corpus.good_image_uri("corpus/b.jpg", seed=2), "Kittens"),
        corpus.gt(corpus.good_image_uri("corpus/c.jpg", seed=3), "Alcoholic Beverages"),
    )
    before = snapshot()
    response = owner_client.post(
        reverse("projects-add-images", args=[adapter.project_id, adapter.pk]),
        {"source": "manifest", "manifest": upload("mixed.manifest", data), "test_data": "keep"},
    )
    assert response.status_code == 400
    text = page_text(response)
    for line, message in [
        (2, "is not valid JSON"),
        (3, "has no source-ref"),
        (4, "unknown label 'Kittens'"),
        (
            5,
            "'Alcoholic Beverages' is a level-2 label; training labels are top-level categories (use 'Alcohol')",
        ),
    ]:
        assert_error(text, f"mixed.manifest line {line}: ", message)
    assert "mixed.manifest line 1:" not in text
    before.assert_unchanged()


# ---------------------------------------------------------------- names, descriptions, another project


@pytest.mark.parametrize(("case", "value", "message"), corpus.BAD_NAMES, ids=[c[0] for c in corpus.BAD_NAMES])
@pytest.mark.parametrize(
    ("field", "label"), [("project_name", "Project name"), ("adapter_name", "Adapter name")]
)
def test_the_create_page_refuses_names_that_break_the_rules(
    owner_client, snapshot, case, value, message, field, label
):
    before = snapshot()
    response = owner_client.post(
        reverse("projects-new"),
        create_form(**{field: value}, files=upload("ok.jpg", corpus.make_image_bytes(seed=1))),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e.startswith(f"{label}: ") and message in e for e in errors), errors
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("case", "value", "message"), corpus.BAD_DESCRIPTIONS, ids=[c[0] for c in corpus.BAD_DESCRIPTIONS]
)
def test_the_create_page_refuses_a_bad_description(owner_client, snapshot, case, value, message):
    before = snapshot()
    response = owner_client.post(
        reverse("projects-new"),
        create_form(adapter_description=value),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert any(e.startswith("Adapter description: ") and message in e for e in response.json()["errors"])
    before.assert_unchanged()


def test_the_create_page_refuses_an_adapter_of_another_project_to_copy(
    owner_client, owner, adapter, snapshot
):
    other = services.create_project(user=owner, name="other")
    before = snapshot()
    response = owner_client.post(
        reverse("projects-new"),
        create_form(project_mode="existing", project=other.pk, copy_from=adapter.pk),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "Start from a copy of: choose an adapter of project other" in response.json()["errors"]
    before.assert_unchanged()


def test_an_adapter_addressed_under_another_project_is_not_found(owner_client, owner, adapter, snapshot):
    other = services.create_project(user=owner, name="other")
    before = snapshot()
    for name in ("projects-add-images", "projects-upload", "projects-labels", "projects-label-images"):
        url = reverse(name, args=[other.pk, adapter.pk])
        response = owner_client.post(url, {"files": upload("a.jpg", corpus.make_image_bytes(seed=2))})
        assert response.status_code == 404, name
    before.assert_unchanged()


def test_the_create_page_refuses_a_name_already_taken(owner_client, adapter, snapshot):
    before = snapshot()
    response = owner_client.post(
        reverse("projects-new"), create_form(project_name="policy"), headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert any(
        "Project name: a project named 'policy' already exists" in e for e in response.json()["errors"]
    )
    before.assert_unchanged()


# ---------------------------------------------------------------- bulk analysis


def bulk_form(**fields):
    data = {"name": "job-1", "min_confidence": "50", "source": "computer"}
    data.update(fields)
    return data


@pytest.mark.parametrize(("case", "build", "message"), corpus.BAD_BULK, ids=[c[0] for c in corpus.BAD_BULK])
def test_a_new_bulk_job_refuses_each_bad_input_manifest(owner_client, snapshot, case, build, message):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-new"),
        bulk_form(source="manifest", manifest=upload("input.manifest", data)),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e.startswith("input.manifest") and message in e for e in errors), errors
    before.assert_unchanged()


@pytest.mark.parametrize(("case", "build", "message"), corpus.BAD_BULK, ids=[c[0] for c in corpus.BAD_BULK])
def test_a_created_bulk_job_refuses_each_bad_input_manifest(
    owner_client, job, snapshot, case, build, message
):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-upload", args=[job.pk]),
        {"manifest": upload("more.manifest", data)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e.startswith("more.manifest") and message in e for e in errors), errors
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("case", "value", "message"), corpus.BAD_JOB_NAMES, ids=[c[0] for c in corpus.BAD_JOB_NAMES]
)
def test_a_new_bulk_job_refuses_bad_names(owner_client, snapshot, case, value, message):
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-new"), bulk_form(name=value), headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(message in e for e in errors), errors
    before.assert_unchanged()


@pytest.mark.parametrize(("value", "message"), corpus.BAD_CONFIDENCES + [("abc", "Enter a number")])
def test_a_new_bulk_job_refuses_confidences_outside_0_to_100(owner_client, snapshot, value, message):
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-new"), bulk_form(min_confidence=value), headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(message in e for e in errors), errors
    if value != "abc":
        assert f"Minimum confidence threshold: {message}" in errors
    before.assert_unchanged()


def test_a_new_bulk_job_refuses_an_adapter_that_is_not_trained(owner_client, adapter, snapshot):
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-new"), bulk_form(adapter=adapter.pk), headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert any("Select a valid choice" in e for e in response.json()["errors"])
    before.assert_unchanged()


def test_a_started_job_takes_no_more_images(owner_client, job, snapshot):
    bulk.add_files(job=job, files=[("a.jpg", corpus.make_image_bytes(seed=4))])
    bulk.start_job(user=job.created_by, job=job)
    before = snapshot()
    response = owner_client.post(
        reverse("bulk-upload", args=[job.pk]),
        {"images": [upload("b.jpg", corpus.make_image_bytes(seed=5))]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == ["Job 'nightly' has already started: images can no longer be added."]
    before.assert_unchanged()


# ---------------------------------------------------------------- training page and training from verification


def train_form(**fields):
    data = {"confidence_threshold": "50", "encryption": "default", "kms_key_id": ""}
    data.update(fields)
    return data


TRAINING_CASES = [
    (f"tags-{case}", {"tag_key": list(tags), "tag_value": list(tags.values())}, "Tags", message)
    for case, tags, message in corpus.BAD_TAGS
] + [
    (
        "tag-without-key",
        {"tag_key": [""], "tag_value": ["orphan"]},
        "Tags",
        "the tag with value 'orphan' needs a key",
    ),
    (
        "tag-twice",
        {"tag_key": ["team", "team"], "tag_value": ["a", "b"]},
        "Tags key 'team'",
        "is given twice",
    ),
    (
        "threshold-minus-1",
        {"confidence_threshold": "-1"},
        "Confidence threshold",
        "must be from 0 to 100 (it is -1)",
    ),
    (
        "threshold-101",
        {"confidence_threshold": "101"},
        "Confidence threshold",
        "must be from 0 to 100 (it is 101)",
    ),
    ("threshold-text", {"confidence_threshold": "lots"}, "", "Enter a number"),
    ("kms-bad", {"encryption": "custom", "kms_key_id": "my key!"}, "KMS key", "must be a KMS key ID"),
    ("kms-missing", {"encryption": "custom", "kms_key_id": " "}, "KMS key", "enter the key to use"),
]


@pytest.mark.parametrize(
    ("case", "fields", "field", "message"), TRAINING_CASES, ids=[c[0] for c in TRAINING_CASES]
)
def test_the_training_page_refuses_bad_tags_thresholds_and_keys(
    owner_client, adapter, snapshot, case, fields, field, message
):
    before = snapshot()
    response = owner_client.post(reverse("adapters-train", args=[adapter.pk]), train_form(**fields))
    assert response.status_code == 400
    assert_error(page_text(response), field, message)
    before.assert_unchanged()
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DRAFT and not adapter.training_manifest


@pytest.fixture
def trainable_job(owner):
    return make_trainable(owner)


def verify_form(**fields):
    data = {
        "project_choice": "new",
        "project_name": "from-bulk",
        "adapter_name": "v1",
        "confidence_threshold": "50",
        "test_data": "autosplit",
        "encryption": "default",
        "auto_update": "on",
    }
    data.update(fields)
    return data


VERIFY_CASES = (
    TRAINING_CASES
    + [
        # Django's max_length error is shown under the field, without repeating its name.
        (f"project-name-{case}", {"project_name": value}, "" if len(value) > 255 else "Project name", message)
        for case, value, message in corpus.BAD_NAMES
        if value
    ]
    + [
        (f"adapter-name-{case}", {"adapter_name": value}, "Adapter name", message)
        for case, value, message in corpus.BAD_NAMES
        if value
    ]
)


@pytest.mark.parametrize(
    ("case", "fields", "field", "message"), VERIFY_CASES, ids=[c[0] for c in VERIFY_CASES]
)
def test_training_from_verification_refuses_bad_names_tags_thresholds_and_keys(
    owner_client, trainable_job, snapshot, case, fields, field, message
):
    before = snapshot()
    response = owner_client.post(reverse("verify-train", args=[trainable_job.pk]), verify_form(**fields))
    assert response.status_code == 200  # the form again, with its errors
    assert_error(page_text(response), field, message)
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("case", "build", "message"),
    [
        c
        for c in corpus.BAD_GROUNDTRUTH
        if c[0] in ("bad-json", "unknown-label", "wrong-bucket", "dotdot-key", "stored-bad-image")
    ],
)
def test_training_from_verification_refuses_a_bad_test_manifest(
    owner_client, trainable_job, snapshot, case, build, message
):
    data = build()
    before = snapshot()
    response = owner_client.post(
        reverse("verify-train", args=[trainable_job.pk]),
        verify_form(test_data="manifest", test_manifest=upload("verify-test.manifest", data)),
    )
    assert response.status_code == 200
    assert_error(page_text(response), "verify-test.manifest", message)
    before.assert_unchanged()


def test_training_from_verification_refuses_a_threshold_below_the_jobs_minimum(
    owner_client, trainable_job, snapshot
):
    before = snapshot()
    response = owner_client.post(
        reverse("verify-train", args=[trainable_job.pk]), verify_form(confidence_threshold="20")
    )
    assert_error(page_text(response), "Threshold", "20 is below the job's minimum confidence 50")
    before.assert_unchanged()


def test_training_from_verification_refuses_a_project_name_already_taken(
    owner_client, trainable_job, adapter, snapshot
):
    before = snapshot()
    response = owner_client.post(
        reverse("verify-train", args=[trainable_job.pk]), verify_form(project_name="policy")
    )
    assert_error(page_text(response), "Project name", "a project named 'policy' already exists")
    before.assert_unchanged()


def test_the_corpus_is_at_least_forty_cases():
    total = (
        len(corpus.BAD_IMAGES)
        + len(corpus.BAD_GROUNDTRUTH)
        + len(corpus.BAD_BULK)
        + len(corpus.BAD_NAMES)
        + len(corpus.BAD_JOB_NAMES)
        + len(corpus.BAD_TAGS)
        + len(corpus.BAD_CONFIDENCES)
        + len(corpus.BAD_DESCRIPTIONS)
    )
    assert total >= 40
    assert json.dumps([c[0] for c in corpus.BAD_IMAGES])  # ids are plain strings
