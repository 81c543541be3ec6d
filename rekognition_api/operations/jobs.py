"""StartMediaAnalysisJob, GetMediaAnalysisJob, ListMediaAnalysisJobs: bulk analysis."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from bulk_analysis import services
from bulk_analysis.models import BulkAnalysisJob
from console.access import MANAGER, VIEWER, require_role
from console.backends.base import get_backend
from console.lib import storage
from rekognition_api.models import ApiRequest
from rekognition_api.operations.common import (
    ApiError,
    adapter_to_apply,
    digest,
    echo,
    echoes,
    own_output_bucket,
    page,
    read_object,
    s3_object,
    service_error,
)


def start_media_analysis_job(user, params: dict) -> dict:
    require_role(user, MANAGER)
    token = params.get("ClientRequestToken", "")
    params_sha256 = digest({k: v for k, v in params.items() if k != "ClientRequestToken"})
    if token:
        existing = ApiRequest.objects.filter(
            user=user, operation="StartMediaAnalysisJob", client_token=token
        ).first()
        if existing is not None:
            return _same_request(existing, params_sha256)
    try:
        return {"JobId": _start_job(user, params, token, params_sha256)}
    except IntegrityError:  # the same token, sent twice at once: the other request made the job
        existing = ApiRequest.objects.get(user=user, operation="StartMediaAnalysisJob", client_token=token)
        return _same_request(existing, params_sha256)


def _same_request(existing: ApiRequest, params_sha256: str) -> dict:
    if existing.params_sha256 != params_sha256:
        raise ApiError(
            "IdempotentParameterMismatchException",
            "ClientRequestToken: this token was already used with different parameters",
        )
    return {"JobId": existing.resource_id}


def _start_job(user, params: dict, token: str, params_sha256: str) -> str:
    config = params["OperationsConfig"].get("DetectModerationLabels")
    if config is None:
        raise ApiError(
            "InvalidParameterException",
            "OperationsConfig.DetectModerationLabels: required for a moderation job",
        )
    own_output_bucket(params["OutputConfig"]["S3Bucket"], "OutputConfig.S3Bucket")
    adapter = None
    if config.get("ProjectVersion"):
        adapter = adapter_to_apply(
            config["ProjectVersion"], "OperationsConfig.DetectModerationLabels.ProjectVersion"
        )
    name = params.get("JobName") or f"api-job-{uuid.uuid4().hex[:8]}"
    manifest = params["Input"]["S3Object"]
    # Read before the write transaction: on SQLite it locks the database for its whole length.
    data = read_object(manifest, "Input.S3Object")
    with transaction.atomic():
        try:
            job = services.create_job(
                user=user, name=name, adapter=adapter, min_confidence=config.get("MinConfidence", 50.0)
            )
        except ValidationError as exc:  # an adapter that is not trained, or no longer (spec 1.7)
            raise service_error(exc, not_ready="ResourceNotReadyException") from None
        try:
            services.add_manifest(job=job, data=data, name=manifest["Name"])
        except ValidationError as exc:  # bad lines and too many images alike (spec 1.7)
            raise service_error(
                exc,
                where="Input.S3Object",
                default="InvalidManifestException",
                invalid="InvalidManifestException",
                limit="InvalidManifestException",
            ) from None
        job = services.start_job(user=user, job=job)
        ApiRequest.objects.create(
            user=user,
            operation="StartMediaAnalysisJob",
            client_token=token,
            params_sha256=params_sha256,
            resource_id=job.job_id,
            request={
                key: params[key]
                for key in ("Input", "OutputConfig", "KmsKeyId", "OperationsConfig")
                if key in params
            },
        )
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


def _description(job: BulkAnalysisJob, request: dict | None = None) -> dict:
    request = echo(str(job.job_id)) if request is None else request
    config: dict = {"MinConfidence": job.min_confidence}
    requested = request.get("OperationsConfig", {}).get("DetectModerationLabels", {})
    if job.adapter_arn or requested.get("ProjectVersion"):
        config["ProjectVersion"] = requested.get("ProjectVersion") or job.adapter_arn
    out: dict = {
        "JobId": str(job.job_id),
        "JobName": job.name,
        "OperationsConfig": {"DetectModerationLabels": config},
        "Status": job.status,
        "CreationTimestamp": job.created_at,
        # A job made in the console and not started yet gets its input manifest when it starts.
        "Input": request.get("Input")
        or {"S3Object": s3_object(job.input_manifest or f"bulk-analysis/{job.pk}/input.manifest")},
        "OutputConfig": request.get("OutputConfig")
        or {"S3Bucket": storage.bucket(), "S3KeyPrefix": job.output_prefix or f"bulk-analysis/{job.job_id}/"},
    }
    if request.get("KmsKeyId"):
        out["KmsKeyId"] = request["KmsKeyId"]
    if job.completed_at:
        out["CompletionTimestamp"] = job.completed_at
    if job.status == BulkAnalysisJob.Status.FAILED:
        out["FailureDetails"] = {"Code": _failure_code(job.failure_code), "Message": job.status_message}
    if job.output_manifest:
        out["Results"] = {
            "S3Object": s3_object(job.output_manifest),
            "ModelVersions": {"Moderation": job.base_model_version or get_backend().base_model_version},
        }
    if job.summary:
        out["ManifestSummary"] = {"S3Object": s3_object(job.summary)}
    return out


def get_media_analysis_job(user, params: dict) -> dict:
    require_role(user, VIEWER)
    job = BulkAnalysisJob.objects.filter(job_id=params["JobId"]).first()
    if job is None:
        raise ApiError("ResourceNotFoundException", f"JobId: no media analysis job {params['JobId']}")
    return _description(job)


def list_media_analysis_jobs(user, params: dict) -> dict:
    require_role(user, VIEWER)
    jobs = BulkAnalysisJob.objects.defer("histograms").order_by("-created_at", "-id")
    rows, token = page(jobs, params, operation="ListMediaAnalysisJobs", filters=[])
    requests = echoes([str(job.job_id) for job in rows])  # one query for the page, not one a job
    response: dict = {
        "MediaAnalysisJobs": [_description(job, requests.get(str(job.job_id), {})) for job in rows]
    }
    if token:
        response["NextToken"] = token
    return response
