"""The aws backend against botocore's Stubber (Rekognition) and moto (S3): spec section 7."""

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from console.backends.aws import AwsBackend
from console.backends.base import BackendError, ImageRef, ManifestEntry, TrainingSpec
from moderation import manifests

REGION = "us-east-1"
BUCKET = "console-files"
PROJECT_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/shop/1700000000000"
ADAPTER_ARN = "arn:aws:rekognition:us-east-1:123456789012:project/shop/version/v1/1700000000001"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def stub():
    with Stubber(boto3.client("rekognition", region_name=REGION)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def backend(stub, s3, sleeps):
    return AwsBackend(rekognition=stub.client, s3=s3, bucket=BUCKET, region=REGION, sleep=sleeps.append)


def s3_text(s3, key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def put(s3, key, text):
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    return {"Bucket": BUCKET, "Name": key}


# ---------------------------------------------------------------- projects and adapters


def test_it_creates_a_content_moderation_project(backend, stub):
    stub.add_response(
        "create_project",
        {"ProjectArn": PROJECT_ARN},
        {
            "ProjectName": "shop",
            "Feature": "CONTENT_MODERATION",
            "AutoUpdate": "ENABLED",
            "Tags": {"team": "ts"},
        },
    )
    stub.add_response(
        "create_project",
        {"ProjectArn": PROJECT_ARN},
        {"ProjectName": "shop", "Feature": "CONTENT_MODERATION", "AutoUpdate": "DISABLED"},
    )

    assert backend.create_project(name="shop", auto_update=True, tags={"team": "ts"}) == PROJECT_ARN
    assert backend.create_project(name="shop", auto_update=False, tags={}) == PROJECT_ARN


def test_it_deletes_projects_and_adapters(backend, stub):
    stub.add_response("delete_project", {"Status": "DELETING"}, {"ProjectArn": PROJECT_ARN})
    stub.add_response("delete_project_version", {"Status": "DELETING"}, {"ProjectVersionArn": ADAPTER_ARN})

    backend.delete_project(project_arn=PROJECT_ARN)
    backend.delete_adapter(adapter_arn=ADAPTER_ARN)


def test_it_explains_a_project_that_still_has_adapters(backend, stub, sleeps):
    stub.add_client_error("delete_project", "ResourceInUseException", "Project has versions", 400)

    with pytest.raises(BackendError) as info:
        backend.delete_project(project_arn=PROJECT_ARN)

    assert info.value.code == "ResourceInUseException"
    assert not info.value.retryable
    assert "delete_project: Project has versions. It is in use" in info.value.message
    assert sleeps == []


def make_spec(**overrides):
    spec = TrainingSpec(
        project_arn=PROJECT_ARN,
        adapter_arn="console-arn",
        version_name="v1",
        training=[
            ManifestEntry(ImageRef("images", "a.jpg"), ["Alcohol"]),
            ManifestEntry(ImageRef("images", "b.png"), []),
        ],
        testing=[ManifestEntry(ImageRef("images", "c.jpg"), ["Violence", "Gambling"])],
        confidence_threshold=70,
        description="first try",
        tags={"team": "ts"},
        kms_key_id="alias/console",
        output_prefix="adapters/7",
    )
    for name, value in overrides.items():
        setattr(spec, name, value)
    return spec


def manifest_asset(key):
    return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": key}}}]}


def test_it_writes_manifests_and_starts_training(backend, stub, s3):
    stub.add_response(
        "create_project_version",
        {"ProjectVersionArn": ADAPTER_ARN},
        {
            "ProjectArn": PROJECT_ARN,
            "VersionName": "v1",
            "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": "adapters/7/"},
            "TrainingData": manifest_asset("adapters/7/train.manifest"),
            "TestingData": manifest_asset("adapters/7/test.manifest"),
            "FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": 70.0}},
            "VersionDescription": "first try",
            "Tags": {"team": "ts"},
            "KmsKeyId": "alias/console",
        },
    )

    status = backend.start_training(spec=make_spec())

    assert status.status == "TRAINING_IN_PROGRESS"
    assert status.adapter_arn == ADAPTER_ARN
    assert [json.loads(line) for line in s3_text(s3, "adapters/7/train.manifest").splitlines()] == [
        {
            "source-ref": "s3://images/a.jpg",
            "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Alcohol"}]},
        },
        {"source-ref": "s3://images/b.png", "content-moderation-groundtruth": {"ModerationLabels": []}},
    ]
    assert [json.loads(line) for line in s3_text(s3, "adapters/7/test.manifest").splitlines()] == [
        {
            "source-ref": "s3://images/c.jpg",
            "content-moderation-groundtruth": {
                "ModerationLabels": [{"Name": "Violence"}, {"Name": "Gambling"}]
            },
        }
    ]
    assert status.locations["training_data"] == f"s3://{BUCKET}/adapters/7/train.manifest"


def test_it_asks_aws_to_split_the_test_set_when_there_is_none(backend, stub, s3):
    stub.add_response(
        "create_project_version",
        {"ProjectVersionArn": ADAPTER_ARN},
        {
            "ProjectArn": PROJECT_ARN,
            "VersionName": "v1",
            "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": "adapters/7/"},
            "TrainingData": manifest_asset("adapters/7/train.manifest"),
            "TestingData": {"AutoCreate": True},
            "FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": 50.0}},
        },
    )

    spec = make_spec(testing=None, description="", tags={}, kms_key_id="", confidence_threshold=50.0)
    backend.start_training(spec=spec)

    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


EVALUATION = {
    "AggregatedEvaluationResults": {"F1Score": 0.8},
    "EvaluationDetails": {"Labels": ["Alcohol"], "NumberOfTestingImages": 1, "NumberOfTrainingImages": 2},
}
TEST_OUTPUT_LINE = {
    "source-ref": "s3://images/c.jpg",
    "content-moderation-groundtruth": {"ModerationLabels": [{"Name": "Alcohol"}]},
    "detect-moderation-labels": {
        "ModerationLabels": [{"Confidence": 88.1, "Name": "Alcohol", "ParentName": ""}]
    },
    "detect-moderation-labels-base-model": {"ModerationLabels": []},
}


def describe(stub, **version):
    stub.add_response(
        "describe_project_versions",
        {
            "ProjectVersionDescriptions": [
                {"ProjectVersionArn": ADAPTER_ARN, "CreationTimestamp": NOW, **version}
            ]
        },
        {"ProjectArn": PROJECT_ARN, "VersionNames": ["v1"]},
    )


def status_of(backend):
    return backend.training_status(project_arn=PROJECT_ARN, adapter_arn="console-arn", version_name="v1")


def test_it_reads_a_completed_training_with_its_evaluation_and_test_results(backend, stub, s3):
    evaluation = put(s3, "adapters/7/out/evaluation.json", json.dumps(EVALUATION))
    test_output = put(s3, "adapters/7/out/test-output.manifest", json.dumps(TEST_OUTPUT_LINE) + "\n")
    describe(
        stub,
        Status="TRAINING_COMPLETED",
        StatusMessage="Training completed.",
        BillableTrainingTimeInSeconds=1234,
        OutputConfig={"S3Bucket": BUCKET, "S3KeyPrefix": "adapters/7/"},
        TrainingDataResult={"Input": manifest_asset("adapters/7/train.manifest")},
        TestingDataResult={
            "Input": manifest_asset("adapters/7/test.manifest"),
            "Output": {"Assets": [{"GroundTruthManifest": {"S3Object": test_output}}]},
        },
        EvaluationResult={"F1Score": 0.8, "Summary": {"S3Object": evaluation}},
        BaseModelVersion="7.0",
    )

    status = status_of(backend)

    assert status.status == "TRAINING_COMPLETED"
    assert status.message == "Training completed."
    assert status.adapter_arn == ADAPTER_ARN
    assert status.base_model_version == "7.0"
    assert status.f1_score == 0.8
    assert status.training_seconds == 1234
    assert status.evaluation == EVALUATION
    assert status.test_results == [TEST_OUTPUT_LINE]
    assert status.locations == {
        "output": f"s3://{BUCKET}/adapters/7/",
        "training_data": f"s3://{BUCKET}/adapters/7/train.manifest",
        "testing_data": f"s3://{BUCKET}/adapters/7/test.manifest",
        "test_results": f"s3://{BUCKET}/adapters/7/out/test-output.manifest",
        "evaluation": f"s3://{BUCKET}/adapters/7/out/evaluation.json",
    }


def test_it_reports_training_in_progress_and_failed(backend, stub):
    describe(stub, Status="TRAINING_IN_PROGRESS")
    describe(stub, Status="TRAINING_FAILED", StatusMessage="The manifest file has errors.")

    assert status_of(backend).status == "TRAINING_IN_PROGRESS"
    failed = status_of(backend)
    assert (failed.status, failed.message, failed.evaluation) == (
        "TRAINING_FAILED",
        "The manifest file has errors.",
        None,
    )


def test_it_reports_deprecated_and_expired_adapters(backend, stub):
    describe(stub, Status="DEPRECATED")
    describe(stub, Status="EXPIRED")

    deprecated, expired = status_of(backend), status_of(backend)

    assert deprecated.status == "DEPRECATED" and "expires 60-90 days" in deprecated.message
    assert expired.status == "EXPIRED" and "base model" in expired.message


def test_it_reports_an_adapter_missing_in_aws(backend, stub):
    stub.add_response(
        "describe_project_versions",
        {"ProjectVersionDescriptions": []},
        {"ProjectArn": PROJECT_ARN, "VersionNames": ["v1"]},
    )

    with pytest.raises(BackendError) as info:
        status_of(backend)

    assert info.value.code == "ResourceNotFoundException"


# ---------------------------------------------------------------- inference

DETECTION = {
    "ModerationLabels": [{"Confidence": 91.2, "Name": "Alcohol", "ParentName": "", "TaxonomyLevel": 1}],
    "ModerationModelVersion": "7.0",
}


def test_it_detects_labels_in_bytes_with_an_adapter(backend, stub):
    stub.add_response(
        "detect_moderation_labels",
        {**DETECTION, "ProjectVersion": ADAPTER_ARN},
        {"Image": {"Bytes": b"jpeg"}, "MinConfidence": 60.0, "ProjectVersion": ADAPTER_ARN},
    )

    result = backend.detect_moderation_labels(image=b"jpeg", min_confidence=60, adapter_arn=ADAPTER_ARN)

    assert result == {**DETECTION, "ProjectVersion": ADAPTER_ARN}


def test_it_detects_labels_in_an_s3_image_with_the_base_model(backend, stub):
    stub.add_response(
        "detect_moderation_labels",
        DETECTION,
        {"Image": {"S3Object": {"Bucket": "images", "Name": "a.jpg"}}, "MinConfidence": 50.0},
    )

    assert backend.detect_moderation_labels(image=ImageRef("images", "a.jpg")) == DETECTION


def test_it_retries_throttling_with_backoff_then_succeeds(backend, stub, sleeps):
    stub.add_client_error("detect_moderation_labels", "ThrottlingException", "Rate exceeded", 400)
    stub.add_client_error(
        "detect_moderation_labels", "ProvisionedThroughputExceededException", "Slow down", 400
    )
    stub.add_response("detect_moderation_labels", DETECTION)

    assert backend.detect_moderation_labels(image=b"jpeg") == DETECTION
    assert len(sleeps) == 2 and sleeps[0] < sleeps[1]


def test_it_gives_up_on_throttling_with_a_retryable_error(backend, stub, sleeps):
    for _ in range(4):
        stub.add_client_error("detect_moderation_labels", "ThrottlingException", "Rate exceeded", 400)

    with pytest.raises(BackendError) as info:
        backend.detect_moderation_labels(image=b"jpeg")

    assert (info.value.code, info.value.retryable) == ("ThrottlingException", True)
    assert len(sleeps) == 3


def test_it_does_not_retry_a_permanent_error(backend, stub, sleeps):
    stub.add_client_error("detect_moderation_labels", "InvalidImageFormatException", "Bad image", 400)

    with pytest.raises(BackendError) as info:
        backend.detect_moderation_labels(image=b"gif")

    assert (info.value.code, info.value.retryable) == ("InvalidImageFormatException", False)
    assert "Only JPEG and PNG" in info.value.message
    assert sleeps == []


# ---------------------------------------------------------------- bulk analysis

IMAGES = [ImageRef("images", "1.jpg"), ImageRef("images", "2.png"), ImageRef("images", "1.jpg")]


def start_params(**operation):
    return {
        "ClientRequestToken": ANY,
        "JobName": "job-1",
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 40.0, **operation}},
        "Input": {"S3Object": {"Bucket": BUCKET, "Name": "bulk/1/input.manifest"}},
        "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": "bulk/1/"},
    }


def start(backend, adapter_arn=None):
    return backend.start_bulk_analysis(
        job_name="job-1", images=IMAGES, min_confidence=40, adapter_arn=adapter_arn, output_prefix="bulk/1"
    )


def test_it_writes_the_input_manifest_and_starts_a_bulk_job(backend, stub, s3):
    stub.add_response(
        "start_media_analysis_job", {"JobId": "job-id-1"}, start_params(ProjectVersion=ADAPTER_ARN)
    )

    assert start(backend, ADAPTER_ARN) == "job-id-1"
    assert s3_text(s3, "bulk/1/input.manifest").splitlines() == [
        '{"source-ref":"s3://images/1.jpg"}',
        '{"source-ref":"s3://images/2.png"}',
        '{"source-ref":"s3://images/1.jpg"}',
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "User is not authorized"),
        ("ValidationException", "Bulk Image Analysis is no longer available to new customers"),
        ("InvalidParameterException", "This feature is not available for your account"),
    ],
)
def test_it_returns_none_when_the_account_is_refused_bulk_analysis(backend, stub, sleeps, code, message):
    stub.add_client_error("start_media_analysis_job", code, message, 400, expected_params=start_params())

    assert start(backend) is None
    assert sleeps == []


def test_it_raises_other_bulk_job_errors(backend, stub):
    stub.add_client_error(
        "start_media_analysis_job", "InvalidParameterException", "MinConfidence is bad", 400
    )

    with pytest.raises(BackendError) as info:
        start(backend)

    assert info.value.code == "InvalidParameterException"


def get_job(stub, status, **fields):
    stub.add_response(
        "get_media_analysis_job",
        {
            "JobId": "job-id-1",
            "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 40.0}},
            "Status": status,
            "CreationTimestamp": NOW,
            "Input": {"S3Object": {"Bucket": BUCKET, "Name": "bulk/1/input.manifest"}},
            "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": "bulk/1/"},
            **fields,
        },
        {"JobId": "job-id-1"},
    )


def test_it_reads_a_succeeded_bulk_job_into_one_result_per_input_line(backend, stub, s3):
    put(s3, "bulk/1/input.manifest", manifests.write_bulk_input([i.uri for i in IMAGES]))
    other = {**DETECTION, "ModerationLabels": []}
    output = put(
        s3,
        "bulk/1/out/results.jsonl",
        manifests.write_bulk_output([("s3://images/1.jpg", DETECTION), ("s3://images/1.jpg", other)]),
    )
    summary = put(
        s3,
        "bulk/1/out/summary.json",
        manifests.write_summary(3, [{"line": 2, "code": "INVALID_IMAGE", "message": "Corrupt image"}]),
    )
    get_job(
        stub,
        "SUCCEEDED",
        Results={"S3Object": output, "ModelVersions": {"Moderation": "7.0"}},
        ManifestSummary={"S3Object": summary},
    )

    status = backend.bulk_analysis_status(job_id="job-id-1")

    assert status.status == "SUCCEEDED"
    assert status.results == [
        {"line": 1, "source-ref": "s3://images/1.jpg", "detect-moderation-labels": DETECTION},
        {"line": 2, "source-ref": "s3://images/2.png", "code": "INVALID_IMAGE", "message": "Corrupt image"},
        {"line": 3, "source-ref": "s3://images/1.jpg", "detect-moderation-labels": other},
    ]


def test_it_reports_running_and_failed_bulk_jobs(backend, stub):
    get_job(stub, "IN_PROGRESS")
    get_job(stub, "FAILED", FailureDetails={"Code": "INVALID_MANIFEST", "Message": "Manifest is empty"})

    assert backend.bulk_analysis_status(job_id="job-id-1").status == "IN_PROGRESS"
    failed = backend.bulk_analysis_status(job_id="job-id-1")
    assert (failed.status, failed.message, failed.results) == (
        "FAILED",
        "INVALID_MANIFEST: Manifest is empty",
        [],
    )


def test_it_creates_its_clients_lazily_in_the_configured_region():
    backend = AwsBackend(bucket=BUCKET, region="eu-west-1")

    assert backend.rekognition.meta.region_name == "eu-west-1"
    assert backend.s3.meta.region_name == "eu-west-1"
    assert backend.bucket == BUCKET


def test_it_sends_the_same_idempotency_token_when_it_retries_a_bulk_job(backend, stub, sleeps):
    tokens = []
    stub.client.meta.events.register(
        "before-parameter-build.rekognition.StartMediaAnalysisJob",
        lambda params, **kwargs: tokens.append(params["ClientRequestToken"]),
    )
    stub.add_client_error("start_media_analysis_job", "InternalServerError", "Oops", 500)
    stub.add_response("start_media_analysis_job", {"JobId": "job-id-1"}, start_params())

    assert start(backend) == "job-id-1"
    assert len(sleeps) == 1
    assert len(tokens) == 2 and tokens[0] == tokens[1] and len(tokens[0]) <= 64


def test_it_refuses_to_write_manifests_without_a_bucket(stub, s3, settings):
    settings.AWS_STORAGE_BUCKET_NAME = ""
    backend = AwsBackend(rekognition=stub.client, s3=s3)

    with pytest.raises(BackendError, match="AWS_STORAGE_BUCKET_NAME"):
        start(backend)
