"""The whole route through the API with boto3, a real Celery worker and the local engine:
project, adapter trained from a manifest, detection, a bulk job, tags, deletion; and the
Use adapter tab's Python snippet, run as a separate program against the test server."""

import html
import json
import os
import re
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from django.test import override_settings

from adapters.models import Adapter
from console.lib import storage
from projects.models import Project
from tests.api.conftest import drawn_image, put, put_training_manifest
from tests.conftest import wait_for


def read(obj: dict) -> bytes:
    assert obj["Bucket"] == storage.bucket()
    with default_storage.open(obj["Name"], "rb") as fh:
        return fh.read()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_full_flow_with_boto3(
    rek, owner_key, owner_client, live_server, celery_worker_process, tmp_path
):
    bucket = storage.bucket()
    project_arn = rek.create_project(ProjectName="flow", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")[
        "ProjectArn"
    ]
    manifest = put_training_manifest("flow")

    version_arn = rek.create_project_version(
        ProjectArn=project_arn,
        VersionName="v1",
        VersionDescription="first try",
        OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": "flow/out/"},
        TrainingData={"Assets": [{"GroundTruthManifest": {"S3Object": manifest}}]},
        TestingData={"AutoCreate": True},
        FeatureConfig={"ContentModeration": {"ConfidenceThreshold": 60.0}},
        Tags={"team": "trust-safety"},
    )["ProjectVersionArn"]
    adapter = Adapter.objects.get(arn=version_arn)
    assert adapter.project.arn == project_arn and adapter.images.count() == 16
    assert adapter.images.filter(labels__name="Alcohol").count() == 8

    # The console lists it, and the API's waiter sees it finish.
    assert b"v1" in owner_client.get(f"/projects/{adapter.project.pk}/").content
    rek.get_waiter("project_version_training_completed").wait(
        ProjectArn=project_arn, VersionNames=["v1"], WaiterConfig={"Delay": 1, "MaxAttempts": 240}
    )
    (version,) = rek.describe_project_versions(ProjectArn=project_arn, VersionNames=["v1"])[
        "ProjectVersionDescriptions"
    ]
    assert version["ProjectVersionArn"] == version_arn
    assert version["Status"] == "TRAINING_COMPLETED"
    assert version["Feature"] == "CONTENT_MODERATION"
    assert version["VersionDescription"] == "first try"
    assert version["FeatureConfig"] == {"ContentModeration": {"ConfidenceThreshold": 60.0}}
    assert version["OutputConfig"] == {"S3Bucket": bucket, "S3KeyPrefix": "flow/out/"}
    assert version["BaseModelVersion"] == "8.0"
    assert version["BillableTrainingTimeInSeconds"] >= 0
    assert version["TrainingEndTimestamp"] >= version["CreationTimestamp"]
    assert version["TrainingDataResult"]["Input"]["Assets"][0]["GroundTruthManifest"]["S3Object"] == manifest
    assert version["TestingDataResult"]["Input"] == {"AutoCreate": True}
    evaluation = json.loads(read(version["EvaluationResult"]["Summary"]["S3Object"]))
    assert evaluation["AggregatedEvaluationResults"]["F1Score"] == pytest.approx(
        version["EvaluationResult"]["F1Score"]
    )
    assert evaluation["EvaluationDetails"]["ProjectVersionArn"] == version_arn
    test_output = version["TestingDataResult"]["Output"]["Assets"][0]["GroundTruthManifest"]["S3Object"]
    assert b"detect-moderation-labels-base-model" in read(test_output)
    assert rek.list_tags_for_resource(ResourceArn=version_arn)["Tags"] == {"team": "trust-safety"}

    # Detect with the adapter, by bytes and by S3Object.
    bottle = drawn_image(99, bottle=True)
    by_bytes = rek.detect_moderation_labels(
        Image={"Bytes": bottle}, ProjectVersion=version_arn, MinConfidence=0
    )
    assert by_bytes["ProjectVersion"] == version_arn
    assert by_bytes["ModerationModelVersion"] == "8.0"
    for label in by_bytes["ModerationLabels"]:
        assert set(label) >= {"Name", "Confidence", "ParentName", "TaxonomyLevel"}
    obj = put("flow/probe.jpg", bottle)
    by_ref = rek.detect_moderation_labels(
        Image={"S3Object": obj}, ProjectVersion=version_arn, MinConfidence=0
    )
    assert by_ref["ModerationLabels"] == by_bytes["ModerationLabels"]
    base = rek.detect_moderation_labels(Image={"Bytes": bottle}, MinConfidence=0)
    assert "ProjectVersion" not in base

    # A bulk job with the adapter; the same token gives the same job.
    refs = [put(f"flow/bulk{i}.jpg", drawn_image(200 + i, bottle=i % 2 == 0)) for i in range(4)]
    input_manifest = put(
        "flow/bulk.manifest",
        "".join(json.dumps({"source-ref": f"s3://{r['Bucket']}/{r['Name']}"}) + "\n" for r in refs).encode(),
    )
    job_args = dict(
        JobName="flow-bulk",
        OperationsConfig={"DetectModerationLabels": {"MinConfidence": 40.0, "ProjectVersion": version_arn}},
        Input={"S3Object": input_manifest},
        OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": "flow/bulk-out"},
        ClientRequestToken="flow-token-1",
    )
    job_id = rek.start_media_analysis_job(**job_args)["JobId"]
    assert rek.start_media_analysis_job(**job_args)["JobId"] == job_id
    with pytest.raises(ClientError) as excinfo:
        rek.start_media_analysis_job(**{**job_args, "JobName": "other"})
    assert excinfo.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    job = wait_for(
        lambda: (j := rek.get_media_analysis_job(JobId=job_id))["Status"] in ("SUCCEEDED", "FAILED") and j,
        timeout=180,
        interval=0.5,
        message="the bulk job to finish",
    )
    assert job["Status"] == "SUCCEEDED", job.get("FailureDetails")
    assert job["JobName"] == "flow-bulk"
    assert job["OperationsConfig"] == job_args["OperationsConfig"]
    assert job["Input"] == job_args["Input"]
    assert job["OutputConfig"] == job_args["OutputConfig"]
    assert job["Results"]["ModelVersions"] == {"Moderation": "8.0"}
    assert job["CompletionTimestamp"] >= job["CreationTimestamp"]
    results = [json.loads(line) for line in read(job["Results"]["S3Object"]).decode().splitlines()]
    assert [r["source-ref"] for r in results] == [f"s3://{r['Bucket']}/{r['Name']}" for r in refs]
    summary = json.loads(read(job["ManifestSummary"]["S3Object"]))
    assert summary["statistics"]["total-json-lines"] == 4
    listed = rek.list_media_analysis_jobs()["MediaAnalysisJobs"]
    assert [j["JobId"] for j in listed] == [job_id]

    # The Use adapter tab's Python snippet, from the rendered page, runs against this server.
    with override_settings(CONSOLE_API_URL=live_server.url + "/rekognition/"):
        page = owner_client.get(f"/adapters/{adapter.pk}/?tab=use").content.decode()
    snippet = html.unescape(re.search(r'<pre class="code" id="python-snippet">(.*?)</pre>', page, re.S)[1])
    assert version_arn in snippet and live_server.url in snippet
    (tmp_path / "snippet.py").write_text(snippet)
    key, secret = owner_key
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_CONFIG_FILE=os.devnull)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy; ns = runpy.run_path('snippet.py'); "
            f"r = ns['moderate_image'](photo={obj['Name']!r}); assert r['ProjectVersion']",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"adapter used: {version_arn}" in run.stdout

    # An adapter trained in the console (its train page) is usable by its ARN from boto3.
    from adapters.datasets import add_images
    from adapters.services import create_adapter

    console_adapter = create_adapter(user=adapter.created_by, project=adapter.project, name="from-console")
    add_images(user=adapter.created_by, adapter=console_adapter, manifest=(manifest["Name"], read(manifest)))
    response = owner_client.post(
        f"/adapters/{console_adapter.pk}/train/", {"confidence_threshold": "50", "encryption": "default"}
    )
    assert response.status_code == 302, response.content
    rek.get_waiter("project_version_training_completed").wait(
        ProjectArn=project_arn, VersionNames=["from-console"], WaiterConfig={"Delay": 1, "MaxAttempts": 240}
    )
    used = rek.detect_moderation_labels(Image={"Bytes": bottle}, ProjectVersion=console_adapter.arn)
    assert used["ProjectVersion"] == console_adapter.arn
    rek.delete_project_version(ProjectVersionArn=console_adapter.arn)

    # Delete: the project is refused while its adapter remains.
    with pytest.raises(ClientError) as excinfo:
        rek.delete_project(ProjectArn=project_arn)
    assert excinfo.value.response["Error"]["Code"] == "ResourceInUseException"
    assert rek.delete_project_version(ProjectVersionArn=version_arn)["Status"] == "DELETING"
    assert rek.describe_project_versions(ProjectArn=project_arn)["ProjectVersionDescriptions"] == []
    with pytest.raises(ClientError) as excinfo:
        rek.detect_moderation_labels(Image={"Bytes": bottle}, ProjectVersion=version_arn)
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert rek.delete_project(ProjectArn=project_arn)["Status"] == "DELETING"
    assert not Project.objects.exists()
