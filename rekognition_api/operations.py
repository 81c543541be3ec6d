"""The Rekognition operations of the compatible API, over the console's own services.

Each handler takes the key's owner and the checked request parameters and returns
the response dict (timestamps as datetimes; the view writes them as epoch seconds).
Handlers raise ApiError for AWS's modeled errors; ValidationError from a service is
answered as InvalidParameterException and BackendError by its own code.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q

from adapters.models import Adapter
from bulk_analysis.models import BulkAnalysisJob
from console.access import MANAGER, VIEWER, require_role
from console.backends.base import BackendError, ImageRef, get_backend
from console.lib import storage
from console.models import record
from console.validators import validate_tags
from moderation.manifests import ManifestError, parse_s3_uri
from projects.models import Project
from rekognition_api.models import ApiRequest

FEATURE = "CONTENT_MODERATION"
PAGINATION_SALT = "rekognition_api.pagination"
PAGINATION_MAX_AGE = 24 * 3600  # a NextToken is good for a day
NOT_READY = {
    Adapter.Status.DRAFT: "has not been trained yet",
    Adapter.Status.TRAINING_IN_PROGRESS: "is still training",
    Adapter.Status.TRAINING_FAILED: "failed to train",
    Adapter.Status.DELETING: "is being deleted",
}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _messages(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


# Lookups ------------------------------------------------------------------------------------


def _project(arn: str) -> Project:
    project = Project.objects.filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if project is None:
        raise ApiError("ResourceNotFoundException", f"ProjectArn: no project {arn} in this console")
    return project


def _adapter(arn: str, field: str = "ProjectVersionArn") -> Adapter:
    adapter = Adapter.objects.select_related("project").filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if adapter is None:
        raise ApiError("ResourceNotFoundException", f"{field}: no adapter {arn} in this console")
    return adapter


def _usable_adapter(arn: str, field: str) -> Adapter | None:
    """The adapter to apply, None when it EXPIRED (the base model answers), or an error."""
    adapter = _adapter(arn, field)
    if adapter.status == Adapter.Status.EXPIRED:
        return None
    if adapter.status in NOT_READY:
        raise ApiError(
            "ResourceNotReadyException",
            f"{field}: adapter {arn} {NOT_READY[adapter.status]} ({adapter.status})",
        )
    return adapter


def _own_object(obj: dict, field: str) -> ImageRef:
    """An S3Object in this console's storage."""
    if obj["Bucket"] != storage.bucket():
        raise ApiError(
            "InvalidS3ObjectException",
            f"{field}.Bucket: {obj['Bucket']!r} is not this console's storage bucket {storage.bucket()!r}",
        )
    return ImageRef(obj["Bucket"], obj["Name"])


def _read_object(obj: dict, field: str) -> bytes:
    ref = _own_object(obj, field)
    try:
        return storage.read_ref(ref)
    except BackendError as exc:
        raise ApiError(exc.code, f"{field}: {exc.message}") from None


def _own_output_bucket(name: str, field: str) -> None:
    if name != storage.bucket():
        raise ApiError(
            "InvalidParameterException",
            f"{field}: this console writes only to its storage bucket {storage.bucket()!r}, not {name!r}",
        )


def _s3_object(uri_or_name: str) -> dict | None:
    """{Bucket, Name} for an s3:// URI or a storage name."""
    if not uri_or_name:
        return None
    if uri_or_name.startswith("s3://"):
        bucket, key = parse_s3_uri(uri_or_name)
        return {"Bucket": bucket, "Name": key}
    return {"Bucket": storage.bucket(), "Name": uri_or_name}


def _echo(resource_id: str) -> dict:
    row = ApiRequest.objects.filter(resource_id=resource_id).order_by("-id").first()
    return row.request if row else {}


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


# Pagination ---------------------------------------------------------------------------------


def _page(queryset, params: dict, *, operation: str, filters) -> tuple[list, str | None]:
    """One page of a queryset and the NextToken for the rest (bound to the operation and filters)."""
    size = params.get("MaxResults", 100)
    offset = 0
    scope = _digest({"op": operation, "filters": filters})
    if params.get("NextToken"):
        try:
            data = signing.loads(params["NextToken"], salt=PAGINATION_SALT, max_age=PAGINATION_MAX_AGE)
            if data["s"] != scope:
                raise ValueError
            offset = int(data["o"])
        except (signing.BadSignature, ValueError, KeyError, TypeError):
            raise ApiError(
                "InvalidPaginationTokenException", "NextToken: invalid or expired pagination token"
            ) from None
    rows = list(queryset[offset : offset + size + 1])
    token = None
    if len(rows) > size:
        rows = rows[:size]
        token = signing.dumps({"o": offset + size, "s": scope}, salt=PAGINATION_SALT)
    return rows, token


# DetectModerationLabels ---------------------------------------------------------------------

IMAGE_ERRORS = {
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidS3ObjectException",
    "InvalidParameterException",
}


def detect_moderation_labels(user, params: dict) -> dict:
    require_role(user, VIEWER)
    image = params["Image"]
    if ("Bytes" in image) == ("S3Object" in image):
        raise ApiError("InvalidParameterException", "Image: give exactly one of Bytes or S3Object")
    if "HumanLoopConfig" in params:
        raise ApiError(
            "InvalidParameterException",
            "HumanLoopConfig: human review (Amazon A2I) is not available in this console",
        )
    adapter = None
    if params.get("ProjectVersion"):
        adapter = _usable_adapter(params["ProjectVersion"], "ProjectVersion")
    source = image["Bytes"] if "Bytes" in image else _own_object(image["S3Object"], "Image.S3Object")
    try:
        response = get_backend().detect_moderation_labels(
            image=source,
            min_confidence=params.get("MinConfidence", 50.0),
            adapter_arn=adapter.remote_arn if adapter else None,
        )
    except BackendError as exc:
        if exc.code not in IMAGE_ERRORS:
            raise
        # Name the field (and the object) the refused image came from.
        where = "Image.Bytes" if "Bytes" in image else f"Image.S3Object {source.uri}"
        message = exc.message.removeprefix(source.uri).lstrip(": ") if "S3Object" in image else exc.message
        raise ApiError(exc.code, f"{where}: {message}") from None
    response = dict(response)
    response.pop("ProjectVersion", None)
    if adapter is not None:
        response["ProjectVersion"] = adapter.arn
    return response


# Projects -----------------------------------------------------------------------------------


def create_project(user, params: dict) -> dict:
    from projects import services

    require_role(user, MANAGER)
    feature = params.get("Feature", "CUSTOM_LABELS")
    if feature != FEATURE:
        raise ApiError(
            "InvalidParameterException",
            f"Feature: this console serves Custom Moderation only; send Feature={FEATURE} (got {feature})",
        )
    name = params["ProjectName"]
    if Project.objects.filter(name=name).exists():
        raise ApiError("ResourceInUseException", f"ProjectName: a project named {name!r} already exists")
    _tags(params.get("Tags", {}))
    try:
        project = services.create_project(
            user=user,
            name=name,
            description="",
            auto_update=params.get("AutoUpdate", "DISABLED") == "ENABLED",
            tags=params.get("Tags", {}),
        )
    except ValidationError as exc:
        raise ApiError("InvalidParameterException", _messages(exc)) from None
    return {"ProjectArn": project.arn}


def _project_description(project: Project) -> dict:
    return {
        "ProjectArn": project.arn,
        "CreationTimestamp": project.created_at,
        "Status": project.status,
        "Feature": FEATURE,
        "AutoUpdate": project.auto_update_value,
    }


def describe_projects(user, params: dict) -> dict:
    require_role(user, VIEWER)
    features = params.get("Features", ["CUSTOM_LABELS"])  # AWS's default filter (spec 1.2)
    names = params.get("ProjectNames")
    projects = Project.objects.order_by("-created_at", "-id")
    if FEATURE not in features:
        projects = projects.none()
    if names:
        projects = projects.filter(name__in=names)
    rows, token = _page(
        projects, params, operation="DescribeProjects", filters=[sorted(features), sorted(names or [])]
    )
    response: dict = {"ProjectDescriptions": [_project_description(p) for p in rows]}
    if token:
        response["NextToken"] = token
    return response


def delete_project(user, params: dict) -> dict:
    from projects import services

    require_role(user, MANAGER)
    project = _project(params["ProjectArn"])
    count = project.adapters.count()
    if count:
        raise ApiError(
            "ResourceInUseException",
            f"ProjectArn: project {project.name!r} still has {count} adapter{'s' if count != 1 else ''}; "
            "delete them first",
        )
    try:
        services.delete_project(user=user, project=project)
    except ValidationError as exc:
        raise ApiError("ResourceInUseException", _messages(exc)) from None
    return {"Status": "DELETING"}


# Project versions (adapters) ----------------------------------------------------------------


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


def _import(*, user, adapter: Adapter, manifests: list[dict], field: str, split: str, added: list) -> None:
    """Import each manifest through projects.services.add_images; its refusals name the file and line."""
    from projects import services

    for i, obj in enumerate(manifests):
        where = f"{field}.Assets[{i}].GroundTruthManifest.S3Object"
        named = (obj["Name"], _read_object(obj, where))
        try:
            if split == "test":
                report = services.add_images(user=user, adapter=adapter, test_manifest=named)
            else:
                report = services.add_images(user=user, adapter=adapter, manifest=named)
        except ManifestError as exc:
            raise ApiError("InvalidParameterException", f"{where}: {exc}") from None
        except ValidationError as exc:
            raise ApiError("InvalidParameterException", f"{where}: {_messages(exc)}") from None
        added.extend(report.added)
        if report.failed:
            problems = "; ".join(f"{name}: {reason}" for name, reason in report.failed[:20])
            raise ApiError("InvalidParameterException", f"{where}: images that cannot be used: {problems}")


def _delete_files(images) -> None:
    for image in images:
        for name in (image.file, image.thumbnail):
            if name and default_storage.exists(name):
                default_storage.delete(name)


def create_project_version(user, params: dict) -> dict:
    from adapters import services as adapter_services
    from projects import services as project_services

    require_role(user, MANAGER)
    project = _project(params["ProjectArn"])
    name = params["VersionName"]
    if project.adapters.filter(name=name).exists():
        raise ApiError(
            "ResourceInUseException",
            f"VersionName: project {project.name!r} already has a version named {name!r}",
        )
    _own_output_bucket(params["OutputConfig"].get("S3Bucket", ""), "OutputConfig.S3Bucket")
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
    _tags(tags)
    added: list = []
    try:
        with transaction.atomic():
            adapter = project_services.create_adapter(
                user=user, project=project, name=name, description=params.get("VersionDescription", "")
            )
            _import(
                user=user,
                adapter=adapter,
                manifests=training,
                field="TrainingData",
                split="train",
                added=added,
            )
            _import(
                user=user, adapter=adapter, manifests=testing, field="TestingData", split="test", added=added
            )
            blockers = adapter_services.training_blockers(adapter)
            if blockers:
                raise ApiError("InvalidParameterException", "TrainingData: " + "; ".join(blockers))
            adapter = adapter_services.start_training(
                user=user,
                adapter=adapter,
                confidence_threshold=threshold,
                tags=tags,
                kms_key_id=params.get("KmsKeyId", ""),
                description=params.get("VersionDescription"),
            )
            ApiRequest.objects.create(
                user=user,
                operation="CreateProjectVersion",
                params_sha256=_digest(params),
                resource_id=adapter.arn,
                request={
                    key: params[key]
                    for key in ("OutputConfig", "TrainingData", "TestingData", "KmsKeyId")
                    if key in params
                },
            )
    except ValidationError as exc:
        _delete_files(added)
        raise ApiError("InvalidParameterException", _messages(exc)) from None
    except BaseException:
        _delete_files(added)
        raise
    return {"ProjectVersionArn": adapter.arn}


def _version_description(adapter: Adapter) -> dict:
    echo = _echo(adapter.arn)
    locations = adapter.locations or {}
    bucket = storage.bucket()
    out: dict = {
        "ProjectVersionArn": adapter.arn,
        "CreationTimestamp": adapter.training_started_at or adapter.created_at,
        "Status": adapter.status,
        "OutputConfig": echo.get("OutputConfig")
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
            summary = _s3_object(locations.get("evaluation", ""))
            if summary:
                evaluation["Summary"] = {"S3Object": summary}
            out["EvaluationResult"] = evaluation

    def assets(obj):
        return {"Assets": [{"GroundTruthManifest": {"S3Object": obj}}]} if obj else None

    train_in = echo.get("TrainingData") or assets(_s3_object(adapter.training_manifest))
    train = {"Input": train_in} if train_in else {}
    if assets(_s3_object(locations.get("train_output", ""))):
        train["Output"] = assets(_s3_object(locations["train_output"]))
    if train:
        out["TrainingDataResult"] = train
    if echo.get("TestingData"):
        test_in = echo["TestingData"]
    elif adapter.test_data == Adapter.TestData.AUTOSPLIT:
        test_in = {"AutoCreate": True}
    else:
        test_in = assets(_s3_object(adapter.testing_manifest))
    test = {"Input": test_in} if test_in else {}
    if assets(_s3_object(locations.get("test_output", ""))):
        test["Output"] = assets(_s3_object(locations["test_output"]))
    if test:
        out["TestingDataResult"] = test
    return out


def describe_project_versions(user, params: dict) -> dict:
    require_role(user, VIEWER)
    project = _project(params["ProjectArn"])
    names = params.get("VersionNames")
    versions = project.adapters.exclude(status=Adapter.Status.DRAFT).order_by("-created_at", "-id")
    if names:
        versions = versions.filter(name__in=names)
    rows, token = _page(
        versions, params, operation="DescribeProjectVersions", filters=[project.pk, sorted(names or [])]
    )
    response: dict = {"ProjectVersionDescriptions": [_version_description(a) for a in rows]}
    if token:
        response["NextToken"] = token
    return response


def delete_project_version(user, params: dict) -> dict:
    from adapters import services

    require_role(user, MANAGER)
    adapter = _adapter(params["ProjectVersionArn"])
    if adapter.status == Adapter.Status.TRAINING_IN_PROGRESS:
        raise ApiError(
            "ResourceInUseException",
            f"ProjectVersionArn: adapter {adapter.arn} is training; delete it when training has finished",
        )
    try:
        services.delete_adapter(user=user, adapter=adapter)
    except ValidationError as exc:
        raise ApiError("ResourceInUseException", _messages(exc)) from None
    return {"Status": "DELETING"}


# Media analysis jobs (bulk analysis) --------------------------------------------------------


def start_media_analysis_job(user, params: dict) -> dict:
    require_role(user, MANAGER)
    token = params.get("ClientRequestToken", "")
    digest = _digest({k: v for k, v in params.items() if k != "ClientRequestToken"})
    if token:
        existing = ApiRequest.objects.filter(
            user=user, operation="StartMediaAnalysisJob", client_token=token
        ).first()
        if existing is not None:
            return _same_request(existing, digest)
    try:
        return {"JobId": _start_job(user, params, token, digest)}
    except IntegrityError:  # the same token, sent twice at once: the other request made the job
        existing = ApiRequest.objects.get(user=user, operation="StartMediaAnalysisJob", client_token=token)
        return _same_request(existing, digest)


def _same_request(existing: ApiRequest, digest: str) -> dict:
    if existing.params_sha256 != digest:
        raise ApiError(
            "IdempotentParameterMismatchException",
            "ClientRequestToken: this token was already used with different parameters",
        )
    return {"JobId": existing.resource_id}


def _start_job(user, params: dict, token: str, digest: str) -> str:
    from bulk_analysis import services

    config = params["OperationsConfig"].get("DetectModerationLabels")
    if config is None:
        raise ApiError(
            "InvalidParameterException",
            "OperationsConfig.DetectModerationLabels: required for a moderation job",
        )
    _own_output_bucket(params["OutputConfig"]["S3Bucket"], "OutputConfig.S3Bucket")
    adapter = None
    if config.get("ProjectVersion"):
        adapter = _usable_adapter(
            config["ProjectVersion"], "OperationsConfig.DetectModerationLabels.ProjectVersion"
        )
    data = _read_object(params["Input"]["S3Object"], "Input.S3Object")
    name = params.get("JobName") or f"api-job-{uuid.uuid4().hex[:8]}"
    manifest_name = params["Input"]["S3Object"]["Name"]
    try:
        with transaction.atomic():
            job = services.create_job(
                user=user, name=name, adapter=adapter, min_confidence=config.get("MinConfidence", 50.0)
            )
            try:
                services.add_manifest(job=job, data=data, name=manifest_name)
            except (ManifestError, ValidationError) as exc:
                text = str(exc) if isinstance(exc, ManifestError) else _messages(exc)
                raise ApiError("InvalidManifestException", f"Input.S3Object: {text}") from None
            job = services.start_job(user=user, job=job)
            ApiRequest.objects.create(
                user=user,
                operation="StartMediaAnalysisJob",
                client_token=token,
                params_sha256=digest,
                resource_id=job.job_id,
                request={
                    key: params[key]
                    for key in ("Input", "OutputConfig", "KmsKeyId", "OperationsConfig")
                    if key in params
                },
            )
    except ValidationError as exc:
        raise ApiError("InvalidParameterException", _messages(exc)) from None
    return str(job.job_id)


FAILURE_CODES = {
    "INTERNAL_ERROR",
    "INVALID_S3_OBJECT",
    "INVALID_MANIFEST",
    "INVALID_OUTPUT_CONFIG",
    "INVALID_KMS_KEY",
    "ACCESS_DENIED",
    "RESOURCE_NOT_FOUND",
    "RESOURCE_NOT_READY",
    "THROTTLED",
}
_FAILURE_HINTS = [
    ("S3Object", "INVALID_S3_OBJECT"),
    ("Image", "INVALID_S3_OBJECT"),
    ("Manifest", "INVALID_MANIFEST"),
    ("NotFound", "RESOURCE_NOT_FOUND"),
    ("NotReady", "RESOURCE_NOT_READY"),
    ("Throttl", "THROTTLED"),
    ("AccessDenied", "ACCESS_DENIED"),
    ("Kms", "INVALID_KMS_KEY"),
]


def _failure_code(code: str) -> str:
    """FailureDetails.Code is an enum; the console keeps the error code of the cause."""
    if code in FAILURE_CODES:
        return code
    return next((value for hint, value in _FAILURE_HINTS if hint.lower() in code.lower()), "INTERNAL_ERROR")


def _job_description(job: BulkAnalysisJob) -> dict:
    echo = _echo(str(job.job_id))
    config: dict = {"MinConfidence": job.min_confidence}
    requested = echo.get("OperationsConfig", {}).get("DetectModerationLabels", {})
    if job.adapter_arn or requested.get("ProjectVersion"):
        config["ProjectVersion"] = requested.get("ProjectVersion") or job.adapter_arn
    out: dict = {
        "JobId": str(job.job_id),
        "JobName": job.name,
        "OperationsConfig": {"DetectModerationLabels": config},
        "Status": job.status,
        "CreationTimestamp": job.created_at,
        # A job made in the console and not started yet gets its input manifest when it starts.
        "Input": echo.get("Input")
        or {"S3Object": _s3_object(job.input_manifest or f"bulk-analysis/{job.pk}/input.manifest")},
        "OutputConfig": echo.get("OutputConfig")
        or {"S3Bucket": storage.bucket(), "S3KeyPrefix": job.output_prefix or f"bulk-analysis/{job.job_id}/"},
    }
    if echo.get("KmsKeyId"):
        out["KmsKeyId"] = echo["KmsKeyId"]
    if job.completed_at:
        out["CompletionTimestamp"] = job.completed_at
    if job.status == BulkAnalysisJob.Status.FAILED:
        out["FailureDetails"] = {"Code": _failure_code(job.failure_code), "Message": job.status_message}
    if job.output_manifest:
        out["Results"] = {
            "S3Object": _s3_object(job.output_manifest),
            "ModelVersions": {"Moderation": job.base_model_version or get_backend().base_model_version},
        }
    if job.summary:
        out["ManifestSummary"] = {"S3Object": _s3_object(job.summary)}
    return out


def get_media_analysis_job(user, params: dict) -> dict:
    require_role(user, VIEWER)
    job = BulkAnalysisJob.objects.filter(job_id=params["JobId"]).first()
    if job is None:
        raise ApiError("ResourceNotFoundException", f"JobId: no media analysis job {params['JobId']}")
    return _job_description(job)


def list_media_analysis_jobs(user, params: dict) -> dict:
    require_role(user, VIEWER)
    jobs = BulkAnalysisJob.objects.order_by("-created_at", "-id")
    rows, token = _page(jobs, params, operation="ListMediaAnalysisJobs", filters=[])
    response: dict = {"MediaAnalysisJobs": [_job_description(job) for job in rows]}
    if token:
        response["NextToken"] = token
    return response


# Tags ---------------------------------------------------------------------------------------


def _tags(tags: dict, field: str = "Tags") -> None:
    try:
        validate_tags(tags, field)
    except ValidationError as exc:
        raise ApiError("InvalidParameterException", _messages(exc)) from None


def _taggable(arn: str):
    obj = Project.objects.filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if obj is None:
        obj = Adapter.objects.select_related("project").filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if obj is None:
        raise ApiError(
            "ResourceNotFoundException", f"ResourceArn: no project or adapter {arn} in this console"
        )
    return obj


def _save_tags(user, obj, tags: dict, action: str, **detail) -> None:
    obj.tags = tags
    obj.save(update_fields=["tags"])
    record(user, action, obj, project=obj if isinstance(obj, Project) else obj.project, **detail)


def tag_resource(user, params: dict) -> dict:
    require_role(user, MANAGER)
    obj = _taggable(params["ResourceArn"])
    _tags(params["Tags"])
    merged = {**obj.tags, **params["Tags"]}
    if len(merged) > 200:
        raise ApiError(
            "ServiceQuotaExceededException",
            f"Tags: a resource can have at most 200 tags (this would make {len(merged)})",
        )
    _save_tags(user, obj, merged, "tags.add", keys=sorted(params["Tags"]))
    return {}


def untag_resource(user, params: dict) -> dict:
    require_role(user, MANAGER)
    obj = _taggable(params["ResourceArn"])
    remaining = {k: v for k, v in obj.tags.items() if k not in set(params["TagKeys"])}
    _save_tags(user, obj, remaining, "tags.remove", keys=sorted(params["TagKeys"]))
    return {}


def list_tags_for_resource(user, params: dict) -> dict:
    require_role(user, VIEWER)
    return {"Tags": dict(_taggable(params["ResourceArn"]).tags)}


OPERATIONS = {
    "DetectModerationLabels": detect_moderation_labels,
    "CreateProject": create_project,
    "DescribeProjects": describe_projects,
    "DeleteProject": delete_project,
    "CreateProjectVersion": create_project_version,
    "DescribeProjectVersions": describe_project_versions,
    "DeleteProjectVersion": delete_project_version,
    "StartMediaAnalysisJob": start_media_analysis_job,
    "GetMediaAnalysisJob": get_media_analysis_job,
    "ListMediaAnalysisJobs": list_media_analysis_jobs,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}

# Where AWS documents InvalidParameterException rather than ValidationException for a bad value.
INVALID_PARAMETER_FIELDS = {("ListMediaAnalysisJobs", "MaxResults")}
