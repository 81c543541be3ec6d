"""CreateProjectVersion, DescribeProjectVersions, detection and media analysis jobs: their errors and pages."""

import json

import pytest
from botocore.exceptions import ClientError
from django.core.files.storage import default_storage

from adapters.models import Adapter, Image
from adapters.services import create_adapter
from bulk_analysis.models import BulkAnalysisJob
from console.lib import storage
from projects.models import Project
from projects.services import create_project
from tests.api.conftest import drawn_image, put, put_training_manifest

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


@pytest.fixture
def project(owner):
    return create_project(user=owner, name="errs")


def stored_files(folder="") -> set[str]:
    dirs, files = default_storage.listdir(folder)
    found = {f"{folder}/{f}" for f in files}
    for d in dirs:
        found |= stored_files(f"{folder}/{d}" if folder else d)
    return found


def version_args(project, manifest, **extra):
    return {
        "ProjectArn": project.arn,
        "VersionName": "v1",
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "out/"},
        "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": manifest}}]},
        "TestingData": {"AutoCreate": True},
        **extra,
    }


def adapter_in(project, owner, status, name="a"):
    adapter = create_adapter(user=owner, project=project, name=name)
    if status != Adapter.Status.DRAFT:
        assert adapter.transition([Adapter.Status.DRAFT], status)
    return adapter


def test_it_refuses_a_manifest_with_a_bad_line_and_leaves_nothing(rek, project):
    good = put("bad/ok.jpg", drawn_image(1, bottle=True))
    lines = [
        {
            "source-ref": f"s3://{good['Bucket']}/{good['Name']}",
            "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Alcohol"}]},
        },
        {
            "source-ref": f"s3://{good['Bucket']}/missing.jpg",
            "content-moderation-groundtruth": {"ModerationLabels": []},
        },
    ]
    manifest = put("bad/train.manifest", "".join(json.dumps(line) + "\n" for line in lines).encode())
    files_before = stored_files()
    with pytest.raises(ClientError) as excinfo:
        rek.create_project_version(**version_args(project, manifest))
    code, message = error_of(excinfo)
    assert code == "InvalidParameterException"
    assert "TrainingData.Assets[0]" in message and "line 2" in message
    assert not Adapter.objects.exists() and not Image.objects.exists()
    assert stored_files() == files_before  # no image of the refused import is left in storage


def test_it_refuses_bad_version_requests(rek, project, owner):
    manifest = put_training_manifest("vr", count=4)
    cases = [
        (
            {
                "TrainingData": {
                    "Assets": [
                        {
                            "GroundTruthManifest": {
                                "S3Object": {"Bucket": storage.bucket(), "Name": "nope.manifest"}
                            }
                        }
                    ]
                }
            },
            "InvalidS3ObjectException",
            "nope.manifest",
        ),
        (
            {
                "TrainingData": {
                    "Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": "other-bucket", "Name": "x"}}}]
                }
            },
            "InvalidS3ObjectException",
            "other-bucket",
        ),
        ({"TestingData": None}, "InvalidParameterException", "TestingData"),
        ({"TestingData": {"AutoCreate": False}}, "InvalidParameterException", "TestingData"),
        (
            {"OutputConfig": {"S3Bucket": "elsewhere", "S3KeyPrefix": "x"}},
            "InvalidParameterException",
            "OutputConfig.S3Bucket",
        ),
        ({"VersionName": "bad name"}, "ValidationException", "VersionName"),
        ({"VersionDescription": "no <html>"}, "ValidationException", "VersionDescription"),
        (
            {"FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": 101}}},
            "ValidationException",
            "ConfidenceThreshold",
        ),
        ({"KmsKeyId": "!bad"}, "ValidationException", "KmsKeyId"),
        ({"ProjectArn": project.arn.rsplit("/", 1)[0] + "/1"}, "ResourceNotFoundException", "ProjectArn"),
        ({}, "InvalidParameterException", "TrainingData"),  # 4 images are too few to train
    ]
    for extra, code, word in cases:
        args = {k: v for k, v in {**version_args(project, manifest), **extra}.items() if v is not None}
        with pytest.raises(ClientError) as excinfo:
            rek.create_project_version(**args)
        assert error_of(excinfo)[0] == code, (extra, error_of(excinfo))
        assert word in error_of(excinfo)[1], (extra, error_of(excinfo))
    assert not Adapter.objects.exists()
    adapter_in(project, owner, Adapter.Status.DRAFT, name="v1")
    with pytest.raises(ClientError) as excinfo:
        rek.create_project_version(**version_args(project, manifest))
    assert error_of(excinfo)[0] == "ResourceInUseException"


def test_it_describes_and_pages_versions(rek, project, owner):
    adapter_in(project, owner, Adapter.Status.DRAFT, name="draft")  # not a project version yet
    for i in range(3):
        adapter_in(project, owner, Adapter.Status.TRAINING_FAILED, name=f"v{i}")
    pages = list(
        rek.get_paginator("describe_project_versions").paginate(
            ProjectArn=project.arn, PaginationConfig={"PageSize": 2}
        )
    )
    names = [d["ProjectVersionArn"].split("/")[-2] for p in pages for d in p["ProjectVersionDescriptions"]]
    assert names == ["v2", "v1", "v0"] and len(pages) == 2
    (one,) = rek.describe_project_versions(ProjectArn=project.arn, VersionNames=["v1"])[
        "ProjectVersionDescriptions"
    ]
    assert one["Status"] == "TRAINING_FAILED" and "EvaluationResult" not in one
    with pytest.raises(ClientError) as excinfo:
        rek.describe_project_versions(ProjectArn=project.arn, NextToken="garbage")
    assert error_of(excinfo)[0] == "InvalidPaginationTokenException"
    with pytest.raises(ClientError) as excinfo:
        rek.describe_project_versions(ProjectArn=project.arn, VersionNames=[f"n{i}" for i in range(11)])
    assert error_of(excinfo)[0] == "ValidationException"


def test_it_refuses_to_delete_a_training_version(rek, project, owner):
    adapter = adapter_in(project, owner, Adapter.Status.TRAINING_IN_PROGRESS)
    with pytest.raises(ClientError) as excinfo:
        rek.delete_project_version(ProjectVersionArn=adapter.arn)
    assert error_of(excinfo)[0] == "ResourceInUseException"
    with pytest.raises(ClientError) as excinfo:
        rek.delete_project_version(ProjectVersionArn=adapter.arn + "9")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_it_detects_with_the_base_model_and_refuses_unusable_adapters(rek, project, owner):
    image = drawn_image(3, bottle=True)
    response = rek.detect_moderation_labels(Image={"Bytes": image})
    assert response["ModerationModelVersion"] == "8.0" and "ProjectVersion" not in response
    assert all(label["Confidence"] >= 50 for label in response["ModerationLabels"])
    training = adapter_in(project, owner, Adapter.Status.TRAINING_IN_PROGRESS, name="t")
    with pytest.raises(ClientError) as excinfo:
        rek.detect_moderation_labels(Image={"Bytes": image}, ProjectVersion=training.arn)
    assert error_of(excinfo)[0] == "ResourceNotReadyException"
    expired = adapter_in(project, owner, Adapter.Status.EXPIRED, name="e")
    response = rek.detect_moderation_labels(Image={"Bytes": image}, ProjectVersion=expired.arn)
    assert "ProjectVersion" not in response  # an expired adapter is ignored: the base model answers
    with pytest.raises(ClientError) as excinfo:
        rek.detect_moderation_labels(
            Image={"Bytes": image}, ProjectVersion=expired.arn.replace("/e/", "/zz/")
        )
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    cases = [
        ({"Image": {"Bytes": b"not an image"}}, "InvalidImageFormatException"),
        ({"Image": {"Bytes": b"x" * 5_242_881}}, "ImageTooLargeException"),
        (
            {"Image": {"Bytes": image, "S3Object": {"Bucket": storage.bucket(), "Name": "a.jpg"}}},
            "InvalidParameterException",
        ),
        ({"Image": {"S3Object": {"Bucket": "someone-else", "Name": "a.jpg"}}}, "InvalidS3ObjectException"),
        (
            {"Image": {"S3Object": {"Bucket": storage.bucket(), "Name": "absent.jpg"}}},
            "InvalidS3ObjectException",
        ),
        ({"Image": {"Bytes": image}, "MinConfidence": 101}, "ValidationException"),
    ]
    for args, code in cases:
        with pytest.raises(ClientError) as excinfo:
            rek.detect_moderation_labels(**args)
        assert error_of(excinfo)[0] == code, (code, error_of(excinfo))


def test_it_refuses_bad_media_analysis_jobs(rek, project, owner):
    image = put("jobs/a.jpg", drawn_image(5, bottle=False))
    manifest = put(
        "jobs/in.manifest", json.dumps({"source-ref": f"s3://{image['Bucket']}/{image['Name']}"}).encode()
    )
    args = {
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 50}},
        "Input": {"S3Object": manifest},
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "jobs/out"},
    }
    training = adapter_in(project, owner, Adapter.Status.TRAINING_IN_PROGRESS, name="t")
    empty = put("jobs/empty.manifest", b"")
    bad = put("jobs/bad.manifest", b'{"source-ref": "s3://b/x.jpg"}\n{"nope": 1}\n')
    cases = [
        (
            {"OperationsConfig": {"DetectModerationLabels": {"ProjectVersion": training.arn}}},
            "ResourceNotReadyException",
        ),
        (
            {"OperationsConfig": {"DetectModerationLabels": {"ProjectVersion": training.arn + "1"}}},
            "ResourceNotFoundException",
        ),
        ({"Input": {"S3Object": empty}}, "InvalidManifestException"),
        ({"Input": {"S3Object": bad}}, "InvalidManifestException"),
        (
            {"Input": {"S3Object": {"Bucket": storage.bucket(), "Name": "jobs/none"}}},
            "InvalidS3ObjectException",
        ),
        ({"JobName": "bad name"}, "ValidationException"),
        ({"ClientRequestToken": "bad token!"}, "ValidationException"),
    ]
    for extra, code in cases:
        with pytest.raises(ClientError) as excinfo:
            rek.start_media_analysis_job(**{**args, **extra})
        assert error_of(excinfo)[0] == code, (extra, error_of(excinfo))
    assert not BulkAnalysisJob.objects.exists()
    with pytest.raises(ClientError) as excinfo:
        rek.get_media_analysis_job(JobId="no-such-job")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_it_lists_jobs_newest_first_in_pages(rek, owner):
    from bulk_analysis.services import create_job

    made = [create_job(user=owner, name=f"job{i}") for i in range(5)]
    first = rek.list_media_analysis_jobs(MaxResults=2)
    assert [j["JobName"] for j in first["MediaAnalysisJobs"]] == ["job4", "job3"]
    assert first["MediaAnalysisJobs"][0]["Status"] == "CREATED"
    assert first["MediaAnalysisJobs"][0]["JobId"] == str(made[4].job_id)
    second = rek.list_media_analysis_jobs(MaxResults=2, NextToken=first["NextToken"])
    third = rek.list_media_analysis_jobs(MaxResults=2, NextToken=second["NextToken"])
    assert [j["JobName"] for j in second["MediaAnalysisJobs"] + third["MediaAnalysisJobs"]] == [
        "job2",
        "job1",
        "job0",
    ]
    assert "NextToken" not in third
    with pytest.raises(ClientError) as excinfo:
        rek.list_media_analysis_jobs(MaxResults=101)
    code, message = error_of(excinfo)
    assert code == "InvalidParameterException" and "MaxResults" in message
    with pytest.raises(ClientError) as excinfo:
        rek.list_media_analysis_jobs(NextToken="forged")
    assert error_of(excinfo)[0] == "InvalidPaginationTokenException"


def test_a_viewer_key_cannot_start_jobs_or_train(viewer_rek, project):
    with pytest.raises(ClientError) as excinfo:
        viewer_rek.start_media_analysis_job(
            OperationsConfig={"DetectModerationLabels": {}},
            Input={"S3Object": {"Bucket": storage.bucket(), "Name": "x"}},
            OutputConfig={"S3Bucket": storage.bucket()},
        )
    assert error_of(excinfo)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as excinfo:
        viewer_rek.delete_project(ProjectArn=project.arn)
    assert error_of(excinfo)[0] == "AccessDeniedException"
    assert Project.objects.filter(pk=project.pk).exists()
