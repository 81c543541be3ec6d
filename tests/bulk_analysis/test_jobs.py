"""The bulk analysis pages through the HTTP client: create, add images, start, results, refusals."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from adapters.models import Adapter
from bulk_analysis import runner, services
from bulk_analysis.models import BulkAnalysisJob, Prediction
from console.lib import storage
from console.models import AuditEntry
from moderation import manifests
from projects.models import Project
from tests.bulk_analysis.conftest import finished_job, images
from tests.conftest import make_image_bytes

pytestmark = pytest.mark.django_db


def upload(name, data, kind="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=kind)


def test_it_lists_jobs_with_model_images_and_flagged_count(owner_client, owner):
    finished_job(owner, [{"Alcohol": 90.0}, {}, {"Violence": 60.0}], name="shop-photos")

    page = owner_client.get(reverse("bulk-list")).content.decode()

    assert "shop-photos" in page and "Base model" in page
    row = page[page.index("shop-photos") :]
    assert "<td>3</td>" in row and "<td>2</td>" in row  # images, flagged


def test_it_creates_a_job_from_files_sent_with_the_form(owner_client):
    response = owner_client.post(
        reverse("bulk-new"),
        {
            "name": "from-computer",
            "min_confidence": "40",
            "source": "computer",
            "images": [upload(n, d) for n, d in images(3)] + [upload("notes.txt", b"hello", "text/plain")],
        },
    )

    job = BulkAnalysisJob.objects.get(name="from-computer")
    assert response.status_code == 302 and response["Location"] == reverse("bulk-detail", args=[job.pk])
    assert job.status == "CREATED" and job.min_confidence == 40
    assert list(job.predictions.values_list("line", flat=True)) == [1, 2, 3]
    assert all(p.thumbnail and p.source_ref == storage.uri_for(p.file) for p in job.predictions.all())
    assert AuditEntry.objects.filter(action="bulk.create", object_id=str(job.pk)).exists()
    page = owner_client.get(response["Location"]).content.decode()
    assert "notes.txt: is not a .jpg, .jpeg or .png file" in page


def test_it_answers_the_scripts_json_and_takes_batches_of_at_most_50(owner_client):
    response = owner_client.post(
        reverse("bulk-new"),
        {"name": "batched", "min_confidence": "50", "source": "computer"},
        HTTP_ACCEPT="application/json",
    )
    body = response.json()
    assert body["batch"] == 50 and body["upload_url"].endswith("/upload/")

    first = owner_client.post(
        body["upload_url"],
        {"images": [upload(n, d) for n, d in images(2)] + [upload("bad.png", b"not a png", "image/png")]},
        HTTP_ACCEPT="application/json",
    ).json()
    too_many = owner_client.post(
        body["upload_url"],
        {"images": [upload(f"x{i}.jpg", make_image_bytes(seed=i)) for i in range(51)]},
        HTTP_ACCEPT="application/json",
    )

    assert first["added"] == 2 and first["total"] == 2
    assert first["failed"] == [{"name": "bad.png", "reason": "is not a readable JPEG or PNG image"}]
    assert too_many.status_code == 400 and "at most 50" in too_many.json()["errors"][0]
    assert Prediction.objects.filter(job_id=body["job"]).count() == 2


def test_it_refuses_images_past_a_jobs_limit_counting_earlier_batches(owner, monkeypatch):
    monkeypatch.setattr(services, "MAX_IMAGES", 3)
    job = services.create_job(user=owner, name="limited")
    files = [(f"x{i}.jpg", make_image_bytes(seed=i + 1)) for i in range(2)]
    services.add_files(job=job, files=files)

    with pytest.raises(
        services.ValidationError, match="would have 4 images; a bulk analysis job takes at most 3"
    ):
        services.add_files(job=job, files=files)
    assert Prediction.objects.filter(job=job).count() == 2
    assert BulkAnalysisJob.objects.get(pk=job.pk).total_images == 2


def test_it_refuses_a_bad_job_name_and_minimum_confidence(owner_client):
    response = owner_client.post(
        reverse("bulk-new"), {"name": "bad name!", "min_confidence": "150", "source": "computer"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Job name: may contain only letters" in page
    assert "Minimum confidence threshold: must be from 0 to 100" in page
    assert not BulkAnalysisJob.objects.exists()


def test_it_adds_a_bulk_input_manifest_of_our_own_storage(owner_client):
    key = storage.save("uploads/a.jpg", make_image_bytes(seed=5))
    # One bucket per manifest, as AWS reads them; a key not in storage is found when analysed.
    text = manifests.write_bulk_input([storage.uri_for(key), storage.uri_for("uploads/missing.png")])
    response = owner_client.post(
        reverse("bulk-new"),
        {
            "name": "from-manifest",
            "min_confidence": "50",
            "source": "manifest",
            "manifest": upload("in.manifest", text.encode()),
        },
    )

    job = BulkAnalysisJob.objects.get(name="from-manifest")
    assert response.status_code == 302
    rows = list(job.predictions.values_list("line", "source_ref", "file"))
    assert rows == [
        (1, storage.uri_for(key), key),
        (2, storage.uri_for("uploads/missing.png"), "uploads/missing.png"),
    ]


def test_it_refuses_a_bad_manifest_naming_the_line_and_keeps_nothing(owner_client):
    text = '{"source-ref": "s3://bucket/a.jpg"}\n{"source-ref": "s3://bucket/b.gif"}\n'
    response = owner_client.post(
        reverse("bulk-new"),
        {
            "name": "bad-manifest",
            "min_confidence": "50",
            "source": "manifest",
            "manifest": upload("in.manifest", text.encode()),
        },
    )

    assert "in.manifest line 2: source-ref" in response.content.decode()
    assert not BulkAnalysisJob.objects.exists() and not Prediction.objects.exists()


def test_it_adds_the_images_under_an_s3_prefix_of_our_storage(owner_client):
    for i in range(3):
        storage.save(f"shots/day1/{i}.jpg", make_image_bytes(seed=i))
    storage.save("shots/day1/readme.txt", b"x")
    storage.save("shots/day2/9.jpg", make_image_bytes(seed=9))
    uri = f"s3://{storage.bucket()}/shots/day1/"

    owner_client.post(
        reverse("bulk-new"), {"name": "prefix", "min_confidence": "50", "source": "s3", "s3_uri": uri}
    )
    missing = owner_client.post(
        reverse("bulk-new"),
        {"name": "none", "min_confidence": "50", "source": "s3", "s3_uri": uri + "nothing/"},
    )

    job = BulkAnalysisJob.objects.get(name="prefix")
    assert sorted(job.predictions.values_list("file", flat=True)) == [f"shots/day1/{i}.jpg" for i in range(3)]
    assert "there are no .jpg, .jpeg or .png images under" in missing.content.decode()


def test_it_refuses_an_s3_prefix_of_another_bucket_when_s3_is_not_configured(
    owner_client, monkeypatch, settings
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    settings.AWS_S3_ENDPOINT_URL = None
    settings.STORAGE_BACKEND = "local"  # as the embedded default (the stack run keeps its files on S3)

    response = owner_client.post(
        reverse("bulk-new"),
        {"name": "theirs", "min_confidence": "50", "source": "s3", "s3_uri": "s3://someone-else/photos/"},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 400
    assert [e for e in response.json()["errors"] if e.startswith("S3 prefix: s3://someone-else/photos/")]
    assert "S3 is not configured on this console" in response.json()["errors"][0]
    assert not BulkAnalysisJob.objects.exists()


def test_it_refuses_an_adapter_that_is_not_trained(owner, owner_client):
    project = Project.objects.create(name="p", arn="arn:p")
    draft = Adapter.objects.create(project=project, name="a", arn="arn:a")

    response = owner_client.post(
        reverse("bulk-new"), {"name": "j", "min_confidence": "50", "source": "computer", "adapter": draft.pk}
    )

    assert "Select a valid choice" in response.content.decode()
    assert not BulkAnalysisJob.objects.exists()


def test_it_shows_an_estimate_and_on_aws_the_list_price_before_starting(owner, owner_client, settings):
    job = services.create_job(user=owner, name="est")
    services.add_files(job=job, files=images(4))
    local = owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()
    settings.MODERATION_BACKEND = "aws"
    aws = owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()

    assert "Estimated time" in local and "0.050 s per image" in local and "Estimated cost" not in local
    assert "Estimated cost: <strong>$0.00</strong>" in aws and "$0.001 per image" in aws
    assert services.estimate(images=10_000).cost_usd == 10.0


def test_it_starts_a_job_once_and_refuses_an_empty_one(owner, owner_client):
    empty = services.create_job(user=owner, name="empty")
    job = services.create_job(user=owner, name="ready")
    services.add_files(job=job, files=images(2))

    refused = owner_client.post(reverse("bulk-start", args=[empty.pk]), follow=True).content.decode()
    owner_client.post(reverse("bulk-start", args=[job.pk]))
    again = owner_client.post(reverse("bulk-start", args=[job.pk]), follow=True).content.decode()
    late = owner_client.post(
        reverse("bulk-upload", args=[job.pk]),
        {"images": [upload("late.jpg", make_image_bytes())]},
        follow=True,
    ).content.decode()

    job.refresh_from_db()
    assert "Add at least one image" in refused
    assert job.status == "QUEUED" and job.total_images == 2
    assert "has already been started" in again
    assert "has already started: images can no longer be added" in late
    assert manifests.read_bulk_input(storage.read_ref(storage.ref_for(job.input_manifest)))[1].key.endswith(
        ".jpg"
    )
    page = owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page


def test_a_refused_restart_leaves_no_manifest_behind(owner, owner_client):
    """Each refused re-start saved an input_XXXXXXX.manifest that nothing deleted (issue 16, bug 2)."""
    from django.core.files.storage import default_storage

    job = services.create_job(user=owner, name="twice")
    services.add_files(job=job, files=images(1))
    owner_client.post(reverse("bulk-start", args=[job.pk]))
    started = set(default_storage.listdir(job.folder)[1])  # storage outlives a test: compare, not count
    for _ in range(3):
        again = owner_client.post(reverse("bulk-start", args=[job.pk]), follow=True).content.decode()
        assert "has already been started" in again

    job.refresh_from_db()
    assert set(default_storage.listdir(job.folder)[1]) == started
    assert job.input_manifest.rsplit("/", 1)[1] in started


@pytest.mark.parametrize("who", ["viewer", "annotator"])
def test_it_refuses_running_jobs_to_members_below_manager(client, owner, who, request):
    client.force_login(request.getfixturevalue(who))
    job = services.create_job(user=owner, name="theirs")

    assert client.get(reverse("bulk-new")).status_code == 403
    assert client.post(reverse("bulk-start", args=[job.pk])).status_code == 403
    assert client.post(reverse("bulk-upload", args=[job.pk])).status_code == 403
    assert client.get(reverse("bulk-detail", args=[job.pk])).status_code == 200


def test_it_shows_results_with_threshold_data_categories_and_downloads(owner, client, viewer):
    job = finished_job(owner, [{"Alcohol": 91.5}, {"Violence": 55.0, "Alcohol": 70.0}, {}], min_confidence=50)
    job.transition(["SUCCEEDED"], "IN_PROGRESS")
    assert runner.finish_if_done(job=job)
    client.force_login(viewer)

    page = client.get(reverse("bulk-detail", args=[job.pk]), {"threshold": "20"}).content.decode()
    data = json.loads(
        page.split('<script id="threshold-data" type="application/json">')[1].split("</script>")[0]
    )
    filtered = client.get(reverse("bulk-detail", args=[job.pk]), {"label": "Violence"}).content.decode()

    # Binned at 0.1: images per floor(10 * confidence); the safe image has no highest confidence.
    nonzero = lambda bins: {b: n for b, n in enumerate(bins) if n}  # noqa: E731
    assert data["min"] == 50 and data["done"] == 3 and nonzero(data["max"]) == {700: 1, 915: 1}
    assert nonzero(data["conf"][data["labels"].index("Alcohol")]) == {700: 1, 915: 1}
    assert nonzero(data["conf"][data["labels"].index("Violence")]) == {550: 1}
    assert data["conf"][data["labels"].index("Gambling")] is None
    assert job.histograms["total"] == 3  # stored by the finalizer
    assert 'value="50.0"' in page  # the slider never starts below the job's minimum
    assert 'data-metric="flagged">2<' in page and 'data-metric="unflagged">1<' in page
    assert filtered.count('class="card"') == 1
    results = b"".join(client.get(reverse("bulk-results", args=[job.pk])).streaming_content).decode()
    summary = json.loads(b"".join(client.get(reverse("bulk-summary", args=[job.pk])).streaming_content))
    assert [line.source_ref for line in manifests.read_bulk_output(results)] == list(
        job.predictions.values_list("source_ref", flat=True)
    )
    assert summary["statistics"] == {"total-json-lines": 3, "valid-json-lines": 3, "invalid-json-lines": 0}
    thumb = client.get(reverse("bulk-thumbnail", args=[job.pk, 1]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert client.get(reverse("bulk-thumbnail", args=[job.pk, 99])).status_code == 404
