"""A bulk job on the aws backend: StartMediaAnalysisJob + GetMediaAnalysisJob, and the per-image
fallback when the account is refused bulk analysis (Stubber for Rekognition, moto for S3)."""

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.urls import reverse
from moto import mock_aws

from bulk_analysis import runner, services
from console.backends import base
from console.backends.aws import AwsBackend
from console.lib import storage
from moderation import manifests
from tests.bulk_analysis.conftest import images

pytestmark = pytest.mark.django_db
REGION = "us-east-1"
BUCKET = "console-files"
LABELS = {
    "ModerationLabels": [
        {"Name": "Alcoholic Beverages", "ParentName": "Alcohol", "TaxonomyLevel": 2, "Confidence": 91.2},
        {"Name": "Alcohol", "ParentName": "", "TaxonomyLevel": 1, "Confidence": 91.2},
    ],
    "ModerationModelVersion": "7.0",
}


@pytest.fixture
def aws(settings, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    settings.MODERATION_BACKEND = "aws"
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        with Stubber(boto3.client("rekognition", region_name=REGION)) as stub:
            backend = AwsBackend(
                rekognition=stub.client, s3=s3, bucket=BUCKET, region=REGION, sleep=lambda s: None
            )
            monkeypatch.setitem(base._instances, "aws", backend)
            yield stub, s3
            stub.assert_no_pending_responses()


def queued_job(owner, n=3):
    job = services.create_job(user=owner, name="aws-job", min_confidence=40)
    services.add_files(job=job, files=images(n))
    return services.start_job(user=owner, job=job)


def test_it_runs_a_media_analysis_job_and_writes_one_result_per_line(aws, owner, owner_client):
    stub, s3 = aws
    job = queued_job(owner)
    refs = list(job.predictions.order_by("line").values_list("source_ref", flat=True))
    stub.add_response(
        "start_media_analysis_job",
        {"JobId": "aws-job-1"},
        {
            "ClientRequestToken": ANY,
            "JobName": "aws-job",
            "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 40.0}},
            "Input": {"S3Object": {"Bucket": BUCKET, "Name": f"{job.output_prefix}/input.manifest"}},
            "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": f"{job.output_prefix}/"},
        },
    )
    described = {
        "JobId": "aws-job-1",
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 40.0}},
        "CreationTimestamp": "2026-01-01T00:00:00Z",
        "Input": {"S3Object": {"Bucket": BUCKET, "Name": f"{job.output_prefix}/input.manifest"}},
        "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": f"{job.output_prefix}/"},
    }
    stub.add_response(
        "get_media_analysis_job", {**described, "Status": "IN_PROGRESS"}, {"JobId": "aws-job-1"}
    )

    assert runner.begin(job_id=job.pk) == "poll"
    assert runner.poll(job_id=job.pk) is False  # still running at AWS

    out = manifests.write_bulk_output([(refs[0], LABELS), (refs[2], {**LABELS, "ModerationLabels": []})])
    s3.put_object(Bucket=BUCKET, Key="out/results.jsonl", Body=out.encode())
    summary = manifests.write_summary(
        3, [{"line": 2, "source-ref": refs[1], "code": "INVALID_IMAGE", "message": "Corrupt"}]
    )
    s3.put_object(Bucket=BUCKET, Key="out/summary.json", Body=summary.encode())
    stub.add_response(
        "get_media_analysis_job",
        {
            **described,
            "Status": "SUCCEEDED",
            "Results": {"S3Object": {"Bucket": BUCKET, "Name": "out/results.jsonl"}},
            "ManifestSummary": {"S3Object": {"Bucket": BUCKET, "Name": "out/summary.json"}},
        },
        {"JobId": "aws-job-1"},
    )

    assert runner.poll(job_id=job.pk) is True

    job.refresh_from_db()
    assert job.status == "SUCCEEDED" and job.backend_job_id == "aws-job-1" and not job.per_image_fallback
    rows = list(job.predictions.order_by("line").values_list("line", "state", "top_labels", "error_code"))
    assert rows == [
        (1, "done", {"Alcohol": 91.2}, ""),
        (2, "failed", {}, "INVALID_IMAGE"),
        (3, "done", {}, ""),
    ]
    written = manifests.read_summary(storage.read_ref(storage.ref_for(job.summary)))
    assert [(e.line, e.source_ref, e.code, e.message) for e in written.errors] == [
        (2, refs[1], "INVALID_IMAGE", "Corrupt")
    ]
    assert "Content moderation" in owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()


def test_it_fails_the_job_when_aws_fails_it(aws, owner):
    stub, _ = aws
    job = queued_job(owner, 2)
    stub.add_response("start_media_analysis_job", {"JobId": "aws-job-2"})
    stub.add_response(
        "get_media_analysis_job",
        {
            "JobId": "aws-job-2",
            "OperationsConfig": {"DetectModerationLabels": {}},
            "Status": "FAILED",
            "FailureDetails": {"Code": "INVALID_MANIFEST", "Message": "The manifest is empty"},
            "CreationTimestamp": "2026-01-01T00:00:00Z",
            "Input": {"S3Object": {"Bucket": BUCKET, "Name": "x"}},
            "OutputConfig": {"S3Bucket": BUCKET},
        },
    )

    runner.begin(job_id=job.pk)
    runner.poll(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.failure_code, job.status_message) == (
        "FAILED",
        "INVALID_MANIFEST",
        "The manifest is empty",
    )
    assert set(job.predictions.values_list("state", flat=True)) == {"failed"}


def test_it_falls_back_to_one_call_per_image_when_the_account_is_refused(aws, owner, owner_client):
    stub, _ = aws
    job = queued_job(owner, 3)
    stub.add_client_error(
        "start_media_analysis_job", "ValidationException", "Bulk Image Analysis is no longer available", 400
    )
    files = list(job.predictions.order_by("line").values_list("file", flat=True))
    stub.add_response(
        "detect_moderation_labels",
        LABELS,
        {"Image": {"S3Object": {"Bucket": storage.bucket(), "Name": files[0]}}, "MinConfidence": 40.0},
    )
    stub.add_client_error("detect_moderation_labels", "InvalidImageFormatException", "Unsupported image", 400)
    stub.add_response("detect_moderation_labels", {"ModerationLabels": [], "ModerationModelVersion": "7.0"})

    assert runner.begin(job_id=job.pk) == "units"
    for first, last in runner.pending_units(job=job):
        runner.run_unit(job_id=job.pk, first_line=first, last_line=last)

    job.refresh_from_db()
    assert job.per_image_fallback and job.status == "SUCCEEDED"
    rows = list(job.predictions.order_by("line").values_list("state", "error_code"))
    assert rows == [("done", ""), ("failed", "InvalidImageFormatException"), ("done", "")]
    page = owner_client.get(reverse("bulk-detail", args=[job.pk])).content.decode()
    assert "refused bulk analysis" in page and "one by one with DetectModerationLabels" in page
