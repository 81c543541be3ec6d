"""Adding images: the upload endpoint, manifests and S3 prefixes, and what each refuses."""

import json

import boto3
import pytest
from django.conf import settings
from django.urls import reverse
from moto import mock_aws

from adapters.models import Image, ImageLabel
from console.models import AuditEntry
from tests.projects.conftest import (
    add_images,
    all_dataset_files,
    gif,
    gt,
    jpeg,
    manifest,
    page_text,
    png,
    put,
    stored_dataset_files,
)

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3

pytestmark = pytest.mark.django_db


def upload_url(adapter):
    return reverse("projects-upload", args=[adapter.project_id, adapter.pk])


def add_url(adapter):
    return reverse("projects-add-images", args=[adapter.project_id, adapter.pk])


def files(*pairs):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return [SimpleUploadedFile(name, data) for name, data in pairs]


def test_it_keeps_good_files_and_refuses_each_bad_one_with_a_reason(owner_client, adapter):
    good = jpeg(1)
    batch = files(
        ("good.jpg", good),
        ("good.png", png(2)),
        ("anim.gif", gif()),
        ("truncated.jpg", jpeg(3, 400, 300)[:-400]),
        ("narrow.jpg", jpeg(4, 79, 200)),
        ("fake.png", b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10),
        ("empty.jpg", b""),
        ("again.jpg", good),
    )
    response = owner_client.post(
        upload_url(adapter), {"files": batch}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    body = response.json()
    assert [f["name"] for f in body["added"]] == ["good.jpg", "good.png"]
    failed = {f["name"]: f["reason"] for f in body["failed"]}
    assert set(failed) == {"anim.gif", "truncated.jpg", "narrow.jpg", "fake.png", "empty.jpg"}
    assert "not a JPEG or PNG" in failed["anim.gif"]
    assert "truncated" in failed["truncated.jpg"]
    assert "79x200" in failed["narrow.jpg"] and "80 to 10,000" in failed["narrow.jpg"]
    assert "cannot be read" in failed["fake.png"]
    assert "empty" in failed["empty.jpg"]
    assert body["skipped"] == [{"name": "again.jpg", "reason": "duplicate of good.jpg in this import"}]
    # Only the two good images were written: two rows, two files and two thumbnails.
    images = list(Image.objects.filter(adapter=adapter))
    assert len(images) == 2
    assert sorted(stored_dataset_files(adapter.pk)) == sorted(
        [i.file for i in images] + [i.thumbnail for i in images]
    )
    jpg = next(i for i in images if i.original_name == "good.jpg")
    assert (jpg.format, jpg.width, jpg.height, jpg.size, jpg.source) == (
        "JPEG",
        120,
        100,
        len(good),
        "upload",
    )
    assert jpg.file == f"datasets/{adapter.pk}/{jpg.sha256}.jpg"
    assert jpg.label_state == "unlabeled" and jpg.split == "train"
    assert AuditEntry.objects.filter(
        action="adapter.import_images", detail__added=2, detail__failed=5
    ).exists()


def test_it_skips_an_image_already_in_the_dataset(owner_client, owner, adapter):
    add_images(owner, adapter, 1)
    response = owner_client.post(upload_url(adapter), {"files": files(("copy.jpg", jpeg(0)))})
    assert response.json()["skipped"] == [
        {"name": "copy.jpg", "reason": "duplicate: already in the dataset as img0.jpg"}
    ]
    assert Image.objects.count() == 1


def test_it_refuses_more_than_30_files_per_upload_request(owner_client, adapter):
    batch = files(*[(f"{i}.jpg", jpeg(i)) for i in range(31)])
    response = owner_client.post(upload_url(adapter), {"files": batch})
    assert response.status_code == 400 and "at most 30" in response.json()["error"]
    assert Image.objects.count() == 0


def test_it_refuses_an_upload_without_files(owner_client, adapter):
    response = owner_client.post(upload_url(adapter))
    assert response.status_code == 400 and "no files" in response.json()["error"]


def test_it_refuses_images_larger_than_15_mb(owner, adapter):
    from adapters import datasets

    report = datasets.import_files(
        user=owner, adapter=adapter, files=[("huge.jpg", b"\xff\xd8\xff" + b"0" * (15 * 1024 * 1024))]
    )
    assert report.failed[0][0] == "huge.jpg" and "15 MB" in report.failed[0][1]


def test_it_refuses_decompression_bombs(owner, adapter):
    import io

    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.new("1", (10_000, 10_001)).save(buf, "PNG")  # tiny file, 100 million pixels
    from adapters import datasets

    report = datasets.import_files(user=owner, adapter=adapter, files=[("bomb.png", buf.getvalue())])
    assert report.failed and "10000x10001" in report.failed[0][1] or "bomb" in report.failed[0][1]
    assert Image.objects.count() == 0


def test_only_managers_may_add_images(client, annotator, viewer, adapter):
    for user in (annotator, viewer):
        client.force_login(user)
        assert client.post(upload_url(adapter), {"files": files(("a.jpg", jpeg(1)))}).status_code == 403
        assert client.get(add_url(adapter)).status_code == 403
    assert Image.objects.count() == 0


def test_it_404s_an_adapter_of_another_project(owner_client, owner, adapter):
    from projects import services

    other = services.create_project(user=owner, name="other")
    url = reverse("projects-upload", args=[other.pk, adapter.pk])
    assert owner_client.post(url, {"files": files(("a.jpg", jpeg(1)))}).status_code == 404


def test_it_refuses_images_for_a_trained_adapter(owner_client, adapter):
    adapter.transition([adapter.Status.DRAFT], adapter.Status.TRAINING_IN_PROGRESS)
    response = owner_client.post(upload_url(adapter), {"files": files(("a.jpg", jpeg(1)))})
    assert response.status_code == 400 and "frozen" in response.json()["error"]
    assert all_dataset_files() == []


def test_add_images_without_javascript_posts_all_files_and_reports_each(owner_client, adapter):
    response = owner_client.post(
        add_url(adapter),
        {"source": "upload", "test_data": "keep", "files": files(("a.jpg", jpeg(1)), ("b.gif", gif()))},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    text = page_text(response)
    assert "1 image added." in text and "1 refused: b.gif (the image is not a JPEG or PNG file" in text
    assert Image.objects.count() == 1


# ---------------------------------------------------------------- manifests


def test_a_manifest_applies_its_labels(owner_client, adapter):
    a, b, c = put("in/a.jpg", jpeg(1)), put("in/b.png", png(2)), put("in/c.jpg", jpeg(3))
    data = manifest(gt(a, "Alcohol", "Violence"), gt(b), gt(c, "Explicit Nudity"), gt(a, "Alcohol"))
    response = owner_client.post(
        add_url(adapter),
        {"source": "manifest", "test_data": "keep", "manifest": files(("train.manifest", data))[0]},
    )
    assert response.status_code == 302
    images = {i.original_name: i for i in Image.objects.filter(adapter=adapter)}
    assert set(images) == {a, b, c}
    assert images[a].label_state == "labeled" and sorted(images[a].label_names) == ["Alcohol", "Violence"]
    assert images[b].label_state == "safe" and images[b].label_names == []
    assert images[c].label_names == ["Explicit"]  # the v6 name, translated
    assert all(i.source == "manifest" for i in images.values())


def test_a_bad_manifest_is_refused_whole_listing_every_bad_line(owner_client, owner, adapter):
    good = put("in/good.jpg", jpeg(1))
    small = put("in/small.jpg", jpeg(2, 60, 60))
    data = manifest(
        gt(good, "Alcohol"),
        "{not json",
        '["a list"]',
        {"content-moderation-groundtruth": {"ModerationLabels": []}},
        gt(f"s3://{BUCKET}/in/doc.pdf"),
        gt(good, "Sleeping"),
        gt(good, "Weapons"),
        {"source-ref": good},
        gt(f"s3://{BUCKET}/in/missing.jpg"),
        gt(small),
    )
    response = owner_client.post(
        add_url(adapter),
        {"source": "manifest", "test_data": "keep", "manifest": files(("bad.manifest", data))[0]},
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "refused and nothing was imported" in text
    for line, words in [
        (2, "is not valid JSON"),
        (3, "is not a JSON object"),
        (4, "has no source-ref"),
        (5, "is not a .jpg, .jpeg or .png image"),
        (6, "unknown label"),
        (7, "level-2 label"),
        (8, "has no content-moderation-groundtruth"),
    ]:
        assert f"bad.manifest line {line}: " in text and words in text, (line, words)
    assert "line 1:" not in text
    assert Image.objects.count() == 0 and ImageLabel.objects.count() == 0
    assert all_dataset_files() == []


def test_a_manifest_whose_images_cannot_be_read_is_refused_whole(owner_client, adapter):
    good = put("in/good.jpg", jpeg(1))
    small = put("in/small.jpg", jpeg(2, 60, 60))
    data = manifest(
        gt(good, "Alcohol"),
        gt(f"s3://{BUCKET}/in/missing.jpg"),
        gt(small),
        gt(f"s3://{BUCKET}/../x.jpg"),
    )
    response = owner_client.post(
        add_url(adapter),
        {"source": "manifest", "test_data": "keep", "manifest": files(("m.manifest", data))[0]},
    )
    text = page_text(response)
    assert response.status_code == 400, text
    assert f"m.manifest line 2: s3://{BUCKET}/in/missing.jpg: no such object in storage" in text
    assert f"m.manifest line 3: s3://{BUCKET}/in/small.jpg: image is 60x60 px" in text
    assert f"m.manifest line 4: s3://{BUCKET}/../x.jpg: not a valid object key" in text
    # Line 1 was good and its image had been stored; the refusal removed it again.
    assert Image.objects.count() == 0 and all_dataset_files() == []


def test_a_manifest_in_another_bucket_needs_s3(owner, adapter, settings, monkeypatch):
    from adapters import datasets
    from moderation.manifests import ManifestError

    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # the second test run stores files on S3, which counts as configured
    with pytest.raises(ManifestError) as exc:
        datasets.import_manifest(
            user=owner, adapter=adapter, data=manifest(gt("s3://their-bucket/a.jpg")), name="m"
        )
    assert f"m line 1: s3://their-bucket/a.jpg is not in this console's bucket '{BUCKET}'" in str(exc.value)
    assert "S3 is not configured" in str(exc.value)


def test_a_test_manifest_fills_the_test_split(owner_client, owner, adapter):
    add_images(owner, adapter, 2)
    t = put("test/t.jpg", jpeg(40))
    response = owner_client.post(
        add_url(adapter),
        {
            "source": "upload",
            "test_data": "manifest",
            "test_manifest": files(("test.manifest", manifest(gt(t, "Violence"))))[0],
        },
    )
    assert response.status_code == 302
    adapter.refresh_from_db()
    assert adapter.test_data == "manifest"
    image = Image.objects.get(split="test")
    assert image.label_names == ["Violence"] and image.original_name == t


# ---------------------------------------------------------------- S3 prefixes


@pytest.fixture
def s3(monkeypatch, settings):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # the second test run stores files on S3, which counts as configured
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="photos")
        yield client


def test_it_imports_an_s3_prefix_object_by_object(owner_client, adapter, s3):
    s3.put_object(Bucket="photos", Key="batch/a.jpg", Body=jpeg(1))
    s3.put_object(Bucket="photos", Key="batch/sub/b.png", Body=png(2))
    s3.put_object(Bucket="photos", Key="batch/c.jpg", Body=jpeg(3, 50, 50))
    s3.put_object(Bucket="photos", Key="batch/notes.txt", Body=b"hello")
    s3.put_object(Bucket="photos", Key="other/d.jpg", Body=jpeg(4))
    response = owner_client.post(
        add_url(adapter), {"source": "s3", "test_data": "keep", "s3_uri": "s3://photos/batch/"}, follow=True
    )
    text = page_text(response)
    assert "2 images added." in text
    assert "s3://photos/batch/c.jpg (image is 50x50 px" in text
    assert "s3://photos/batch/notes.txt (not a .jpg, .jpeg or .png object)" in text
    assert sorted(Image.objects.values_list("original_name", flat=True)) == [
        "s3://photos/batch/a.jpg",
        "s3://photos/batch/sub/b.png",
    ]
    assert set(Image.objects.values_list("source", flat=True)) == {"s3"}


def test_it_names_the_s3_error_when_a_bucket_cannot_be_listed(owner_client, adapter, s3):
    response = owner_client.post(
        add_url(adapter), {"source": "s3", "test_data": "keep", "s3_uri": "s3://nope-bucket/x/"}
    )
    assert response.status_code == 400
    assert "cannot list s3://nope-bucket/x/: NoSuchBucket" in page_text(response)


def test_it_says_clearly_when_s3_is_not_configured(owner_client, adapter, settings, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # the second test run stores files on S3, which counts as configured
    response = owner_client.post(
        add_url(adapter), {"source": "s3", "test_data": "keep", "s3_uri": "s3://photos/batch/"}
    )
    assert response.status_code == 400
    assert "S3 is not configured on this console" in page_text(response)
    assert Image.objects.count() == 0


def test_it_imports_a_prefix_of_this_consoles_own_bucket_without_s3(
    owner_client, adapter, settings, monkeypatch
):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # the second test run stores files on S3, which counts as configured
    put("incoming/x/a.jpg", jpeg(1))
    put("incoming/x/b.jpg", jpeg(2))
    put("incoming/y/c.jpg", jpeg(3))
    response = owner_client.post(
        add_url(adapter),
        {"source": "s3", "test_data": "keep", "s3_uri": f"s3://{BUCKET}/incoming/x"},
        follow=True,
    )
    assert "2 images added." in page_text(response)


def test_it_refuses_a_malformed_s3_location(owner_client, adapter):
    for uri in ("http://photos/x", "s3://ph/x", "s3://photos/../etc/"):
        response = owner_client.post(add_url(adapter), {"source": "s3", "test_data": "keep", "s3_uri": uri})
        assert response.status_code == 400 and "S3 location:" in page_text(response), uri


def test_the_add_images_form_names_missing_inputs(owner_client, adapter):
    response = owner_client.post(add_url(adapter), {"source": "manifest", "test_data": "manifest"})
    text = page_text(response)
    assert (
        "Manifest file: choose a manifest file" in text
        and "Test manifest file: choose a test manifest" in text
    )
    response = owner_client.post(
        add_url(adapter), {"source": "s3", "test_data": "keep"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 400 and "S3 location: enter an s3://bucket/folder/ location" in json.dumps(
        response.json()
    )
