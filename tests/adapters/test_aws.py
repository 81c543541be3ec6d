"""Training on the aws backend: Rekognition through botocore's Stubber, S3 through moto."""

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from adapters import services
from adapters.models import Adapter
from adapters.tasks import poll_adapter_training, train_adapter
from console.backends import base
from console.backends.aws import AwsBackend
from console.models import Notification
from tests.adapters.conftest import add_dataset, finished_evaluation, finished_test_results

pytestmark = pytest.mark.django_db

REGION = "us-east-1"
BUCKET = "console-aws"
AWS_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/shop/version/v1/1700000000001"


@pytest.fixture
def aws(monkeypatch, settings):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        with Stubber(boto3.client("rekognition", region_name=REGION)) as stub:
            backend = AwsBackend(rekognition=stub.client, s3=s3, bucket=BUCKET, region=REGION, max_attempts=1)
            monkeypatch.setitem(base._instances, "aws", backend)
            settings.MODERATION_BACKEND = "aws"
            yield stub, s3
            stub.assert_no_pending_responses()


def describe(status, **extra):
    return {"ProjectVersionDescriptions": [{"ProjectVersionArn": AWS_ARN, "Status": status, **extra}]}


def test_it_trains_on_aws_and_polls_until_completed(aws, owner, adapter, django_capture_on_commit_callbacks):
    stub, s3 = aws
    add_dataset(adapter, 8, 8)
    add_dataset(adapter, 10, 10, split="test", offset=50)  # AWS asks for 20 test images
    with django_capture_on_commit_callbacks():
        services.start_training(
            user=owner, adapter=adapter, confidence_threshold=70.0, tags={"team": "ts"}, kms_key_id="alias/k"
        )
    adapter.refresh_from_db()
    # A throttled CreateProjectVersion is retried by the task, then succeeds.
    stub.add_client_error("create_project_version", "ThrottlingException", "slow down")
    stub.add_response(
        "create_project_version",
        {"ProjectVersionArn": AWS_ARN},
        {
            "ProjectArn": adapter.project.arn,
            "VersionName": "v1",
            "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": f"adapters/{adapter.pk}/output/"},
            "TrainingData": ANY,
            "TestingData": {
                "Assets": [
                    {
                        "GroundTruthManifest": {
                            "S3Object": {
                                "Bucket": BUCKET,
                                "Name": f"adapters/{adapter.pk}/output/test.manifest",
                            }
                        }
                    }
                ]
            },
            "FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": 70.0}},
            "Tags": {"team": "ts"},
            "KmsKeyId": "alias/k",
        },
    )
    train_adapter.apply(args=[adapter.pk])
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS and adapter.backend_arn == AWS_ARN
    uploaded = s3.get_object(Bucket=BUCKET, Key=f"adapters/{adapter.pk}/output/train.manifest")["Body"].read()
    assert len(uploaded.decode().splitlines()) == 16  # the frozen training manifest

    stub.add_response(
        "describe_project_versions",
        describe("TRAINING_IN_PROGRESS"),
        {"ProjectArn": ANY, "VersionNames": ["v1"]},
    )
    poll_adapter_training(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_IN_PROGRESS

    doc = finished_evaluation(AWS_ARN, threshold=70.0)
    s3.put_object(Bucket=BUCKET, Key="out/evaluation.json", Body=json.dumps(doc).encode())
    lines = "".join(json.dumps(line) + "\n" for line in finished_test_results(AWS_ARN))
    s3.put_object(Bucket=BUCKET, Key="out/test_output.manifest", Body=lines.encode())
    stub.add_response(
        "describe_project_versions",
        describe(
            "TRAINING_COMPLETED",
            BaseModelVersion="7.0",
            BillableTrainingTimeInSeconds=3600,
            EvaluationResult={
                "F1Score": 0.8,
                "Summary": {"S3Object": {"Bucket": BUCKET, "Name": "out/evaluation.json"}},
            },
            TestingDataResult={
                "Output": {
                    "Assets": [
                        {
                            "GroundTruthManifest": {
                                "S3Object": {"Bucket": BUCKET, "Name": "out/test_output.manifest"}
                            }
                        }
                    ]
                }
            },
        ),
        {"ProjectArn": ANY, "VersionNames": ["v1"]},
    )
    poll_adapter_training(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED
    assert adapter.evaluation == doc and adapter.f1_score == 0.8 and adapter.training_seconds == 3600
    assert len(adapter.test_results) == 10
    assert adapter.locations["evaluation"] == f"s3://{BUCKET}/out/evaluation.json"
    assert Notification.objects.filter(user=owner, message__contains="finished training").exists()

    # AWS deprecates it when a new base model is released.
    stub.add_response(
        "describe_project_versions",
        describe("DEPRECATED", StatusMessage="new base model"),
        {"ProjectArn": ANY, "VersionNames": ["v1"]},
    )
    assert services.check_base_model_versions()["deprecated"] == [adapter.pk]
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.DEPRECATED and adapter.expires_at is not None


def test_it_fails_with_aws_reason(aws, owner, adapter, django_capture_on_commit_callbacks):
    stub, _ = aws
    add_dataset(adapter, 8, 8)
    add_dataset(adapter, 10, 10, split="test", offset=50)
    with django_capture_on_commit_callbacks():
        services.start_training(user=owner, adapter=adapter)
    stub.add_response("create_project_version", {"ProjectVersionArn": AWS_ARN}, None)
    train_adapter(adapter.pk)
    stub.add_response(
        "describe_project_versions",
        describe("TRAINING_FAILED", StatusMessage="The manifest file contains too few labeled images."),
        {"ProjectArn": ANY, "VersionNames": ["v1"]},
    )
    poll_adapter_training(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_FAILED
    assert adapter.status_message == "The manifest file contains too few labeled images."
    assert Notification.objects.get(user=owner).level == "error"


def test_it_deletes_the_version_on_aws(aws, owner_client, trained):
    stub, _ = aws
    Adapter.objects.filter(pk=trained.pk).update(backend_arn=AWS_ARN)
    stub.add_client_error("delete_project_version", "AccessDeniedException", "no")
    from django.urls import reverse

    owner_client.post(reverse("adapters-delete", args=[trained.pk]))
    trained.refresh_from_db()
    assert trained.status == Adapter.Status.TRAINING_COMPLETED  # refused: back as it was
    stub.add_response("delete_project_version", {"Status": "DELETING"}, {"ProjectVersionArn": AWS_ARN})
    owner_client.post(reverse("adapters-delete", args=[trained.pk]))
    assert not Adapter.objects.filter(pk=trained.pk).exists()
