"""CreateProjectVersion, DescribeProjectVersions, DeleteProjectVersion: adapters."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from adapters import datasets, services
from adapters.models import Adapter
from console.access import MANAGER, VIEWER, require_role
from console.lib import storage
from console.validators import validate_tags
from moderation.manifests import ManifestError
from projects.services import undo_create
from rekognition_api.models import ApiRequest
from rekognition_api.operations.common import (
    FEATURE,
    ApiError,
    adapter_by_arn,
    digest,
    echo,
    echoes,
    own_output_bucket,
    page,
    project_by_arn,
    read_object,
    s3_object,
    service_error,
)


def _manifest_assets(data: dict | None, field: str) -> list[dict]:
    assets = (data or {}).get("Assets") or []
    objects = []
    for i, asset in enumerate(assets):
        manifest = (asset.get("GroundTruthManifest") or {}).get("S3Object")
        if manifest is None:
            raise ApiError(
                "InvalidParameterException",
                f"{field}.Assets[{i}]: a GroundTruthManifest.S3Object is required",
            )
        objects.append(manifest)
    return objects


def _stage(
    *, adapter: Adapter, manifests: list[dict], field: str, split: str, stages: list, existing: dict
) -> None:
    """Read each manifest and stage its images (adapters.datasets.stage_manifest), outside any
    transaction; its refusals name the file and line."""
    for i, obj in enumerate(manifests):
        where = f"{field}.Assets[{i}].GroundTruthManifest.S3Object"
        name, data = obj["Name"], read_object(obj, where)
        try:
            stage = datasets.stage_manifest(
                adapter=adapter, data=data, name=name, split=split, existing=existing
            )
        except ManifestError as exc:
            raise ApiError("InvalidParameterException", f"{where}: {exc}") from None
        except ValidationError as exc:
            raise service_error(exc, where=where) from None
        stages.append(stage)
        if stage.report.failed:
            problems = "; ".join(f"{name}: {reason}" for name, reason in stage.report.failed[:20])
            raise ApiError("InvalidParameterException", f"{where}: images that cannot be used: {problems}")


def create_project_version(user, params: dict) -> dict:
    require_role(user, MANAGER)
    project = project_by_arn(params["ProjectArn"])
    own_output_bucket(params["OutputConfig"].get("S3Bucket", ""), "OutputConfig.S3Bucket")
    training = _manifest_assets(params.get("TrainingData"), "TrainingData")
    if not training:
        raise ApiError(
            "InvalidParameterException",
            "TrainingData: an adapter trains from a ground-truth manifest; give TrainingData.Assets",
        )
    testing_data = params.get("TestingData")
    if testing_data is None:
        raise ApiError(
            "InvalidParameterException",
            'TestingData: required with TrainingData; send {"AutoCreate": true} or a test manifest in Assets',
        )
    testing = _manifest_assets(testing_data, "TestingData")
    if bool(testing) == bool(testing_data.get("AutoCreate")):
        raise ApiError(
            "InvalidParameterException",
            "TestingData: give either AutoCreate=true or Assets with a test manifest",
        )
    threshold = params.get("FeatureConfig", {}).get("ContentModeration", {}).get("ConfidenceThreshold", 50.0)
    tags = params.get("Tags", {})
    validate_tags(tags)  # the request's TagMap, refused before any manifest is read and imported
    # A taken name is the service's "exists": the view answers ResourceInUseException.
    adapter = services.create_adapter(
        user=user,
        project=project,
        name=params["VersionName"],
        description=params.get("VersionDescription", ""),
    )
    # The manifests and their images are read and stored outside any transaction (on SQLite a
    # write transaction locks the whole database); a refusal removes the adapter again.
    stages: list[datasets.StagedImport] = []
    try:
        existing: dict = {}
        _stage(
            adapter=adapter,
            manifests=training,
            field="TrainingData",
            split="train",
            stages=stages,
            existing=existing,
        )
        _stage(
            adapter=adapter,
            manifests=testing,
            field="TestingData",
            split="test",
            stages=stages,
            existing=existing,
        )
        with transaction.atomic():
            try:
                datasets.write_staged(user=user, adapter=adapter, stages=stages, test_manifest=bool(testing))
            except ValidationError as exc:  # added meanwhile, or the adapter is training already
                raise service_error(exc, where="TrainingData") from None
            try:
                adapter = services.start_training(
                    user=user,
                    adapter=adapter,
                    confidence_threshold=threshold,
                    tags=tags,
                    kms_key_id=params.get("KmsKeyId", ""),
                    description=params.get("VersionDescription"),
                )
            except ValidationError as exc:  # the imported dataset cannot train ("not_ready")
                raise service_error(exc, where="TrainingData") from None
            ApiRequest.objects.create(
                user=user,
                operation="CreateProjectVersion",
                params_sha256=digest(params),
                resource_id=adapter.arn,
                request={
                    key: params[key]
                    for key in ("OutputConfig", "TrainingData", "TestingData", "KmsKeyId")
                    if key in params
                },
            )
    except BaseException:  # the service's refusals go on to the common mapping
        datasets.discard_staged(stages)
        undo_create(adapter=adapter, project=None)
        raise
    return {"ProjectVersionArn": adapter.arn}


def _description(adapter: Adapter, request: dict | None = None) -> dict:
    request = echo(adapter.arn) if request is None else request
    locations = adapter.locations or {}
    bucket = storage.bucket()
    out: dict = {
        "ProjectVersionArn": adapter.arn,
        "CreationTimestamp": adapter.training_started_at or adapter.created_at,
        "Status": adapter.status,
        "OutputConfig": request.get("OutputConfig")
        or {"S3Bucket": bucket, "S3KeyPrefix": f"adapters/{adapter.pk}/"},
        "Feature": FEATURE,
        "FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": adapter.confidence_threshold}},
    }
    if adapter.status_message:
        out["StatusMessage"] = adapter.status_message
    if adapter.description:
        out["VersionDescription"] = adapter.description
    if adapter.kms_key_id:
        out["KmsKeyId"] = adapter.kms_key_id
    if adapter.base_model_version:
        out["BaseModelVersion"] = adapter.base_model_version
    if adapter.training_ended_at:
        out["TrainingEndTimestamp"] = adapter.training_ended_at
    if adapter.status in (
        Adapter.Status.TRAINING_COMPLETED,
        Adapter.Status.DEPRECATED,
        Adapter.Status.EXPIRED,
    ):
        if adapter.training_seconds is not None:
            out["BillableTrainingTimeInSeconds"] = int(round(adapter.training_seconds))
        if adapter.f1_score is not None:
            evaluation = {"F1Score": adapter.f1_score}
            summary = s3_object(locations.get("evaluation", ""))
            if summary:
                evaluation["Summary"] = {"S3Object": summary}
            out["EvaluationResult"] = evaluation

    def assets(obj):
        return {"Assets": [{"GroundTruthManifest": {"S3Object": obj}}]} if obj else None

    train_in = request.get("TrainingData") or assets(s3_object(adapter.training_manifest))
    train = {"Input": train_in} if train_in else {}
    if assets(s3_object(locations.get("train_output", ""))):
        train["Output"] = assets(s3_object(locations["train_output"]))
    if train:
        out["TrainingDataResult"] = train
    if request.get("TestingData"):
        test_in = request["TestingData"]
    elif adapter.test_data == Adapter.TestData.AUTOSPLIT:
        test_in = {"AutoCreate": True}
    else:
        test_in = assets(s3_object(adapter.testing_manifest))
    test = {"Input": test_in} if test_in else {}
    if assets(s3_object(locations.get("test_output", ""))):
        test["Output"] = assets(s3_object(locations["test_output"]))
    if test:
        out["TestingDataResult"] = test
    return out


def describe_project_versions(user, params: dict) -> dict:
    require_role(user, VIEWER)
    project = project_by_arn(params["ProjectArn"])
    names = params.get("VersionNames")
    versions = project.adapters.exclude(status=Adapter.Status.DRAFT).order_by("-created_at", "-id")
    if names:
        versions = versions.filter(name__in=names)
    rows, token = page(
        versions, params, operation="DescribeProjectVersions", filters=[project.pk, sorted(names or [])]
    )
    requests = echoes([a.arn for a in rows])  # one query for the page, not one a version
    response: dict = {"ProjectVersionDescriptions": [_description(a, requests.get(a.arn, {})) for a in rows]}
    if token:
        response["NextToken"] = token
    return response


def delete_project_version(user, params: dict) -> dict:
    require_role(user, MANAGER)
    adapter = adapter_by_arn(params["ProjectVersionArn"])
    try:
        services.delete_adapter(user=user, adapter=adapter)
    except ValidationError as exc:  # training or deleting ("in_use"); the backend's refusal is "in use" too
        raise service_error(exc, default="ResourceInUseException") from None
    return {"Status": "DELETING"}
