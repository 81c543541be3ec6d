"""The bad-input corpus through the Rekognition-compatible API, with a real boto3 client against the
live server: each refusal names the field, file or line, and nothing is left half-written."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

from adapters.models import Adapter
from adapters.services import create_adapter
from console.lib import storage
from projects.services import create_project
from rekognition_api.keys import create_api_key
from tests.api.conftest import make_client
from tests.hardening import corpus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def raw(live_server, owner):
    """A client that sends whatever it is given: botocore's own checks are off, so the server's are tested."""
    key, secret = create_api_key(user=owner, name="hardening")
    return make_client(live_server.url, key.access_key_id, secret, parameter_validation=False)


def refused(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def put(name: str, data: bytes) -> dict:
    return {"Bucket": storage.bucket(), "Name": storage.save(name, data)}


@pytest.fixture
def projects(owner):
    """Two projects; "beta" has a trained adapter."""
    alpha = create_project(user=owner, name="alpha")
    beta = create_project(user=owner, name="beta")
    adapter = create_adapter(user=owner, project=beta, name="v1")
    assert adapter.transition([Adapter.Status.DRAFT], Adapter.Status.TRAINING_COMPLETED)
    return alpha, beta, adapter


def other_projects_arn(adapter, project) -> str:
    """The adapter's ARN with another project's name in its project part."""
    return adapter.arn.replace(f":project/{adapter.project.name}/", f":project/{project.name}/")


# ---------------------------------------------------------------- DetectModerationLabels

IMAGE_CASES = [c for c in corpus.BAD_IMAGES if c[0] not in ("zero-bytes", "16mb")]
# Image.Bytes is limited to 5 MB (spec 1.1); 16 MB is refused by that limit.
BYTES_CASES = [
    *IMAGE_CASES,
    ("16mb", "huge.jpg", corpus.mb16, "the limit for image bytes is 5,242,880 bytes"),
]


@pytest.mark.parametrize(("case", "name", "build", "message"), BYTES_CASES, ids=[c[0] for c in BYTES_CASES])
def test_detect_refuses_each_bad_image_in_bytes_naming_the_field(raw, snapshot, case, name, build, message):
    data = build()
    before = snapshot()
    code, text = refused(raw.detect_moderation_labels, Image={"Bytes": data})
    assert code in ("InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException")
    assert text.startswith("Image.Bytes: ") and message in text, text
    before.assert_unchanged()


def test_detect_refuses_empty_bytes(raw, snapshot):
    before = snapshot()
    # botocore would refuse b"" itself; sent raw, the server's own check answers.
    code, text = refused(raw.detect_moderation_labels, Image={"Bytes": b""})
    assert (
        code == "ValidationException"
        and "'Image.Bytes'" in text
        and "length greater than or equal to 1" in text
    )
    before.assert_unchanged()


# A stored image may have 15 MB (spec 1.1): 16 MB are refused before they are read.
S3_CASES = [c for c in corpus.BAD_IMAGES if c[0] != "16mb"] + [
    ("16mb", "huge.jpg", corpus.mb16, "is larger than 15 MB")
]


@pytest.mark.parametrize(("case", "name", "build", "message"), S3_CASES, ids=[c[0] for c in S3_CASES])
def test_detect_refuses_each_bad_stored_image_naming_the_object(raw, snapshot, case, name, build, message):
    obj = put(f"detect/{name}", build())
    before = snapshot()
    code, text = refused(raw.detect_moderation_labels, Image={"S3Object": obj})
    assert code in ("InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException")
    assert text.startswith(f"Image.S3Object s3://{obj['Bucket']}/{obj['Name']}: ") and message in text, text
    before.assert_unchanged()


BAD_OBJECTS = [
    (
        "dotdot",
        lambda: {"Bucket": storage.bucket(), "Name": "../../../../etc/passwd"},
        "not a valid object key",
    ),
    ("absolute", lambda: {"Bucket": storage.bucket(), "Name": "/etc/passwd"}, "not a valid object key"),
    (
        "dotdot-inside",
        lambda: {"Bucket": storage.bucket(), "Name": "a/../../secret_key"},
        "not a valid object key",
    ),
    ("missing", lambda: {"Bucket": storage.bucket(), "Name": "nowhere.jpg"}, "no such object in storage"),
    (
        "other-bucket",
        lambda: {"Bucket": "someone-else", "Name": "a.jpg"},
        "is not this console's storage bucket",
    ),
]


@pytest.mark.parametrize(("case", "obj", "message"), BAD_OBJECTS, ids=[c[0] for c in BAD_OBJECTS])
def test_detect_reads_only_safe_keys_of_its_own_bucket(raw, snapshot, case, obj, message):
    before = snapshot()
    code, text = refused(raw.detect_moderation_labels, Image={"S3Object": obj()})
    assert code == "InvalidS3ObjectException"
    assert text.startswith("Image.S3Object") and message in text, text
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("value", "message"), [(-1, "greater than or equal to 0"), (101, "less than or equal to 100")]
)
def test_detect_refuses_confidences_outside_0_to_100(raw, snapshot, value, message):
    before = snapshot()
    image = corpus.make_image_bytes(120, 100, seed=1)
    code, text = refused(raw.detect_moderation_labels, Image={"Bytes": image}, MinConfidence=value)
    assert code == "ValidationException"
    assert f"Value {value} at 'MinConfidence'" in text and message in text
    before.assert_unchanged()


def test_detect_refuses_a_confidence_of_nan_naming_min_confidence(raw, snapshot):
    """NaN passes every comparison with 0 and 100; it was reported under Image.Bytes (issue 16, bug 5)."""
    before = snapshot()
    image = corpus.make_image_bytes(120, 100, seed=1)
    code, text = refused(raw.detect_moderation_labels, Image={"Bytes": image}, MinConfidence=float("nan"))
    assert code == "ValidationException"
    assert "Value NaN at 'MinConfidence'" in text and "Image.Bytes" not in text, text
    before.assert_unchanged()
    # A body of raw JSON, where NaN is a number, not botocore's string.
    from rekognition_api.validation import InputError, check_input

    with pytest.raises(InputError, match="Value NaN at 'MinConfidence'"):
        check_input("DetectModerationLabels", {"Image": {"Bytes": "eA=="}, "MinConfidence": float("nan")})


def test_detect_refuses_an_adapter_arn_whose_project_is_another(raw, projects, snapshot):
    alpha, _, adapter = projects
    wrong = other_projects_arn(adapter, alpha)
    before = snapshot()
    code, text = refused(
        raw.detect_moderation_labels,
        Image={"Bytes": corpus.make_image_bytes(120, 100, seed=1)},
        ProjectVersion=wrong,
    )
    assert (
        code == "ResourceNotFoundException" and text == f"ProjectVersion: no adapter {wrong} in this console"
    )
    code, text = refused(
        raw.detect_moderation_labels,
        Image={"Bytes": corpus.make_image_bytes(seed=2)},
        ProjectVersion="not-an-arn",
    )
    assert code == "ValidationException" and "at 'ProjectVersion'" in text
    before.assert_unchanged()


# ---------------------------------------------------------------- CreateProject


@pytest.mark.parametrize(("case", "value", "message"), corpus.BAD_NAMES, ids=[c[0] for c in corpus.BAD_NAMES])
def test_create_project_refuses_names_that_break_the_rules(raw, snapshot, case, value, message):
    before = snapshot()
    code, text = refused(raw.create_project, ProjectName=value, Feature="CONTENT_MODERATION")
    assert code == "ValidationException" and "at 'ProjectName'" in text, text
    before.assert_unchanged()


@pytest.mark.parametrize(("case", "tags", "message"), corpus.BAD_TAGS, ids=[c[0] for c in corpus.BAD_TAGS])
def test_create_project_refuses_tags_that_break_the_rules(raw, snapshot, case, tags, message):
    before = snapshot()
    code, text = refused(raw.create_project, ProjectName="tagged", Feature="CONTENT_MODERATION", Tags=tags)
    assert code in ("ValidationException", "InvalidParameterException")
    assert "Tags" in text and (message in text or "failed to satisfy constraint" in text), text
    before.assert_unchanged()


# ---------------------------------------------------------------- CreateProjectVersion


def version_args(project, manifest, **extra):
    return {
        "ProjectArn": project.arn,
        "VersionName": "v2",
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "out/"},
        "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": manifest}}]},
        "TestingData": {"AutoCreate": True},
        **extra,
    }


@pytest.mark.parametrize(
    ("case", "build", "message"), corpus.BAD_GROUNDTRUTH, ids=[c[0] for c in corpus.BAD_GROUNDTRUTH]
)
def test_create_project_version_refuses_each_bad_manifest(raw, projects, snapshot, case, build, message):
    alpha = projects[0]
    manifest = put("manifests/train.manifest", build())
    before = snapshot()
    code, text = refused(raw.create_project_version, **version_args(alpha, manifest))
    assert code == "InvalidParameterException"
    where = "TrainingData.Assets[0].GroundTruthManifest.S3Object: "
    assert text.startswith(where + manifest["Name"]) and message in text, text
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("case", "build", "message"), corpus.BAD_GROUNDTRUTH[:6], ids=[c[0] for c in corpus.BAD_GROUNDTRUTH[:6]]
)
def test_create_project_version_refuses_each_bad_test_manifest(raw, projects, snapshot, case, build, message):
    alpha = projects[0]
    train = put("manifests/ok.manifest", corpus.lines(corpus.gt(corpus.good_image_uri(), "Alcohol")))
    test = put("manifests/test.manifest", build())
    before = snapshot()
    args = version_args(alpha, train, TestingData={"Assets": [{"GroundTruthManifest": {"S3Object": test}}]})
    code, text = refused(raw.create_project_version, **args)
    assert code == "InvalidParameterException"
    assert text.startswith("TestingData.Assets[0].GroundTruthManifest.S3Object: " + test["Name"]), text
    assert message in text
    before.assert_unchanged()  # not even the good training images were kept


VERSION_CASES = (
    [(f"name-{case}", {"VersionName": value}, "'VersionName'") for case, value, _ in corpus.BAD_NAMES]
    + [(f"tags-{case}", {"Tags": tags}, "Tags") for case, tags, _ in corpus.BAD_TAGS]
    + [
        (
            f"threshold-{v}",
            {"FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": v}}},
            "ConfidenceThreshold",
        )
        for v in (-1, 101)
    ]
    + [
        ("kms-key", {"KmsKeyId": "my key!"}, "KmsKeyId"),
        ("description", {"VersionDescription": "<b>x</b>"}, "VersionDescription"),
        (
            "output-bucket",
            {"OutputConfig": {"S3Bucket": "elsewhere", "S3KeyPrefix": "o/"}},
            "OutputConfig.S3Bucket",
        ),
        ("no-test-data", {"TestingData": None}, "TestingData"),
    ]
)


@pytest.mark.parametrize(("case", "extra", "field"), VERSION_CASES, ids=[c[0] for c in VERSION_CASES])
def test_create_project_version_refuses_bad_parameters_naming_the_field(
    raw, projects, snapshot, case, extra, field
):
    alpha = projects[0]
    manifest = put("manifests/ok.manifest", corpus.lines(corpus.gt(corpus.good_image_uri(), "Alcohol")))
    args = {k: v for k, v in {**version_args(alpha, manifest), **extra}.items() if v is not None}
    before = snapshot()
    code, text = refused(raw.create_project_version, **args)
    assert code in ("ValidationException", "InvalidParameterException"), (code, text)
    assert field in text, text
    before.assert_unchanged()


def test_create_project_version_refuses_a_project_arn_that_does_not_exist(raw, projects, snapshot):
    alpha, _, adapter = projects
    manifest = put("manifests/ok.manifest", corpus.lines(corpus.gt(corpus.good_image_uri(), "Alcohol")))
    args = version_args(alpha, manifest, ProjectArn=alpha.arn.replace("/alpha/", "/gamma/"))
    before = snapshot()
    code, text = refused(raw.create_project_version, **args)
    assert code == "ResourceNotFoundException" and text.startswith("ProjectArn: no project")
    before.assert_unchanged()


def test_versions_of_another_project_are_neither_described_nor_deleted(raw, projects, snapshot):
    alpha, beta, adapter = projects
    before = snapshot()
    listed = raw.describe_project_versions(ProjectArn=alpha.arn, VersionNames=[adapter.name])
    assert listed["ProjectVersionDescriptions"] == []
    own = raw.describe_project_versions(ProjectArn=beta.arn, VersionNames=[adapter.name])
    assert [d["ProjectVersionArn"] for d in own["ProjectVersionDescriptions"]] == [adapter.arn]
    wrong = other_projects_arn(adapter, alpha)
    code, text = refused(raw.delete_project_version, ProjectVersionArn=wrong)
    assert code == "ResourceNotFoundException" and wrong in text
    before.assert_unchanged()
    assert Adapter.objects.filter(pk=adapter.pk, status=Adapter.Status.TRAINING_COMPLETED).exists()


# ---------------------------------------------------------------- StartMediaAnalysisJob


def job_args(manifest, **config):
    return {
        "OperationsConfig": {"DetectModerationLabels": {"MinConfidence": 50, **config}},
        "Input": {"S3Object": manifest},
        "OutputConfig": {"S3Bucket": storage.bucket(), "S3KeyPrefix": "results/"},
    }


@pytest.mark.parametrize(("case", "build", "message"), corpus.BAD_BULK, ids=[c[0] for c in corpus.BAD_BULK])
def test_start_media_analysis_job_refuses_each_bad_manifest(raw, snapshot, case, build, message):
    manifest = put("manifests/input.manifest", build())
    before = snapshot()
    code, text = refused(raw.start_media_analysis_job, **job_args(manifest))
    assert code == "InvalidManifestException"
    assert text.startswith("Input.S3Object: " + manifest["Name"]) and message in text, text
    before.assert_unchanged()


@pytest.mark.parametrize(("case", "obj", "message"), BAD_OBJECTS, ids=[c[0] for c in BAD_OBJECTS])
def test_start_media_analysis_job_reads_its_manifest_only_from_safe_keys(raw, snapshot, case, obj, message):
    before = snapshot()
    code, text = refused(raw.start_media_analysis_job, **job_args(obj()))
    assert code == "InvalidS3ObjectException"
    assert text.startswith("Input.S3Object") and message in text, text
    before.assert_unchanged()


@pytest.mark.parametrize("value", [-1, 101])
def test_start_media_analysis_job_refuses_confidences_outside_0_to_100(raw, snapshot, value):
    manifest = put("manifests/in.manifest", corpus.lines({"source-ref": corpus.good_image_uri()}))
    before = snapshot()
    code, text = refused(raw.start_media_analysis_job, **job_args(manifest, MinConfidence=value))
    assert code == "ValidationException"
    assert f"Value {value} at 'OperationsConfig.DetectModerationLabels.MinConfidence'" in text
    before.assert_unchanged()


def test_start_media_analysis_job_refuses_an_adapter_of_another_project(raw, projects, snapshot):
    alpha, _, adapter = projects
    wrong = other_projects_arn(adapter, alpha)
    manifest = put("manifests/in.manifest", corpus.lines({"source-ref": corpus.good_image_uri()}))
    before = snapshot()
    code, text = refused(raw.start_media_analysis_job, **job_args(manifest, ProjectVersion=wrong))
    assert code == "ResourceNotFoundException"
    assert (
        text == f"OperationsConfig.DetectModerationLabels.ProjectVersion: no adapter {wrong} in this console"
    )
    before.assert_unchanged()


def test_start_media_analysis_job_refuses_a_bad_job_name(raw, snapshot):
    manifest = put("manifests/in.manifest", corpus.lines({"source-ref": corpus.good_image_uri()}))
    before = snapshot()
    for name in ("j" * 65, "my job"):
        code, text = refused(raw.start_media_analysis_job, JobName=name, **job_args(manifest))
        assert code == "ValidationException" and "at 'JobName'" in text, text
    before.assert_unchanged()


def test_a_body_that_is_not_json_is_refused(live_server, raw, snapshot):
    """Through botocore's signer, but with a body that is not a JSON object."""
    import botocore.awsrequest
    import requests
    from botocore.auth import SigV4Auth

    creds = raw._request_signer._credentials
    before = snapshot()
    for body in (b"{not json", b"[1, 2]", base64.b64encode(b"\xff" * 10)):
        request = botocore.awsrequest.AWSRequest(
            method="POST",
            url=live_server.url + "/rekognition/",
            data=body,
            headers={
                "X-Amz-Target": "RekognitionService.DetectModerationLabels",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        SigV4Auth(creds, "rekognition", "us-east-1").add_auth(request)
        response = requests.post(request.url, data=body, headers=dict(request.headers), timeout=30)
        assert response.status_code == 400
        assert json.loads(response.content)["__type"] == "SerializationException"
    before.assert_unchanged()
