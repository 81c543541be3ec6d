"""The aws backend: Amazon Rekognition Custom Moderation through boto3 (spec section 1).

Manifests, training outputs and bulk results live in one S3 bucket
(settings.AWS_STORAGE_BUCKET_NAME); the formats are moderation.manifests.

Retries: every AWS call goes through `_call`, which retries the transient errors in
RETRYABLE_CODES (and connection failures) with exponential backoff, then raises
BackendError(retryable=True) so a task can retry later. Other errors are raised at once
as BackendError(retryable=False). botocore's own retries are switched off so there is one
retry policy, this one. LimitExceededException and ServiceQuotaExceededException count as
permanent: a quota or "too many concurrent jobs" does not clear within a task's backoff, and
the message tells the person what to do.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from console.backends.base import (
    BackendError,
    BulkStatus,
    ImageRef,
    ModerationBackend,
    TrainingSpec,
    TrainingStatus,
    VerificationMinimums,
)
from moderation import manifests, taxonomy

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",  # S3 throttling
        "RequestTimeout",
    }
)
MAX_ATTEMPTS = 4  # one call plus three retries: waits of about 0.5 s, 1 s, 2 s
BACKOFF_SECONDS = 0.5

# What a person can do about an error, appended to AWS's own message.
_HINTS = {
    "AccessDeniedException": "Check that the IAM policy of the AWS credentials allows this action.",
    "AccessDenied": "Check that the IAM policy of the AWS credentials allows access to this bucket.",
    "ResourceNotFoundException": "It may have been deleted in AWS; check the ARN and the region.",
    "ResourceInUseException": "It is in use: a project needs its adapters deleted first, "
    "and an adapter cannot be deleted while it trains.",
    "ResourceNotReadyException": "The adapter is not ready yet; wait until training has completed.",
    "InvalidS3ObjectException": "Rekognition could not read the object from S3: check that it exists, "
    "that the bucket is in the same region and that Rekognition may read it.",
    "ImageTooLargeException": "Images may be at most 5 MB when sent as bytes and 15 MB in S3.",
    "InvalidImageFormatException": "Only JPEG and PNG images are supported.",
    "InvalidManifestException": "The manifest is empty, malformed or too large (10,000 lines, 50 MB).",
    "LimitExceededException": "An AWS limit was reached (for example too many concurrent jobs): "
    "wait for running work to finish or ask AWS for a higher quota.",
    "ServiceQuotaExceededException": "An AWS service quota was reached; ask AWS for a higher quota.",
    "NoSuchBucket": "Create the bucket or fix AWS_STORAGE_BUCKET_NAME.",
    "NoSuchKey": "The file is missing from S3.",
}
_TRANSIENT_HINT = "AWS is busy or failed briefly; the work will be retried later."

# How a refused StartMediaAnalysisJob is recognised: bulk image analysis is "no longer available to
# new customers" (spec 0). AWS does not document the error it returns, so treat AccessDeniedException
# as a refusal, and ValidationException / InvalidParameterException when the message speaks of
# availability. The caller then analyses the images one by one with DetectModerationLabels.
_REFUSAL_CODES = frozenset({"AccessDeniedException", "ValidationException", "InvalidParameterException"})
_AVAILABILITY = re.compile(r"availab", re.IGNORECASE)


def _setting(name: str, default: Any = None) -> Any:
    """A Django setting, or the default when it or the settings module does not exist yet."""
    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:  # no settings module configured (pure unit use)
        return default


def _to_backend_error(exc: ClientError, operation: str) -> BackendError:
    error = exc.response.get("Error", {})
    code = error.get("Code") or "Unknown"
    retryable = code in RETRYABLE_CODES
    hint = _TRANSIENT_HINT if retryable else _HINTS.get(code, "")
    message = f"{operation}: {error.get('Message') or code}"
    return BackendError(code, f"{message}. {hint}" if hint else message, retryable=retryable)


def _uri(s3_object: dict[str, Any] | None) -> str:
    return f"s3://{s3_object['Bucket']}/{s3_object['Name']}" if s3_object else ""


def _dig(data: dict[str, Any], *path: Any) -> Any:
    """data[path[0]][path[1]]... or None when any step is missing."""
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _directory(prefix: str) -> str:
    return prefix.rstrip("/") + "/" if prefix.strip("/") else ""


class AwsBackend(ModerationBackend):
    name = "aws"
    where = "on AWS"
    min_training_images = 1
    min_test_images = 20  # AWS's best practice (spec 4)
    # Spec 4: 50 false negatives or 20 false positives for a label, and 20 test images.
    verification_minimums = VerificationMinimums(false_positives=20, false_negatives=50, test_images=20)
    reads_foreign_buckets = True
    reports_adapter_lifecycle = True
    has_bulk_api = True
    # List price of DetectModerationLabels (a "Group 2" image API) for the first 1 million images a
    # month in US East (N. Virginia); bulk analysis bills only the images it processed successfully
    # (spec 4). Source: https://aws.amazon.com/rekognition/pricing/
    price_per_image_usd = 0.001
    default_seconds_per_image = 0.3

    def __init__(
        self,
        *,
        rekognition: Any = None,
        s3: Any = None,
        bucket: str | None = None,
        region: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ):
        self._rekognition = rekognition
        self._s3 = s3
        self._bucket = bucket
        self._region = region
        self._sleep = sleep
        self.max_attempts = max_attempts

    # ------------------------------------------------------------ plumbing

    @property
    def bucket(self) -> str:
        bucket = self._bucket or _setting("AWS_STORAGE_BUCKET_NAME", "")
        if not bucket:
            raise BackendError(
                "InvalidParameterException",
                "No S3 bucket for manifests and results: set AWS_STORAGE_BUCKET_NAME.",
            )
        return bucket

    @property
    def region(self) -> str:
        return self._region or _setting("AWS_REGION", "us-east-1")

    def _client(self, service: str, endpoint_setting: str) -> Any:
        # botocore retries off: `_call` is the one retry policy.
        config = Config(retries={"mode": "standard", "max_attempts": 1})
        endpoint = _setting(endpoint_setting) or None
        return boto3.client(service, region_name=self.region, endpoint_url=endpoint, config=config)

    @property
    def rekognition(self) -> Any:
        if self._rekognition is None:
            self._rekognition = self._client("rekognition", "AWS_REKOGNITION_ENDPOINT_URL")
        return self._rekognition

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._client("s3", "AWS_S3_ENDPOINT_URL")
        return self._s3

    def _call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """client.operation(**params), retrying transient errors with exponential backoff."""
        method = getattr(client, operation)
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = method(**params)
            except ClientError as exc:
                cause, error = exc, _to_backend_error(exc, operation)
            except (BotoConnectionError, HTTPClientError) as exc:
                cause = exc
                error = BackendError(
                    "ServiceUnavailable", f"{operation}: {exc}. {_TRANSIENT_HINT}", retryable=True
                )
            else:
                response.pop("ResponseMetadata", None)
                return response
            if not error.retryable or attempt == self.max_attempts:
                raise error from cause
            self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(1.0, 1.25))
        raise AssertionError("unreachable")

    def _put(self, key: str, text: str) -> dict[str, str]:
        self._call(self.s3, "put_object", Bucket=self.bucket, Key=key, Body=text.encode("utf-8"))
        return {"Bucket": self.bucket, "Name": key}

    def _get(self, s3_object: dict[str, Any]) -> bytes:
        response = self._call(self.s3, "get_object", Bucket=s3_object["Bucket"], Key=s3_object["Name"])
        return response["Body"].read()

    def _read(self, s3_object: dict[str, Any], reader: Callable[..., Any] | None = None) -> Any:
        """An AWS-written file from S3, parsed by `reader(data, name=uri)` (as JSON without a reader);
        BackendError if unreadable."""
        try:
            data = self._get(s3_object)
            return json.loads(data) if reader is None else reader(data, name=_uri(s3_object))
        except ValueError as exc:  # ManifestError is a ValueError
            raise BackendError(
                "InvalidS3ObjectException", f"{_uri(s3_object)} could not be read: {exc}"
            ) from exc

    # ------------------------------------------------------------ projects

    @property
    def base_model_version(self) -> str:
        return taxonomy.VERSION

    def create_project(self, *, name: str, auto_update: bool, tags: dict[str, str]) -> str:
        params: dict[str, Any] = {
            "ProjectName": name,
            "Feature": "CONTENT_MODERATION",
            "AutoUpdate": "ENABLED" if auto_update else "DISABLED",
        }
        if tags:
            params["Tags"] = tags
        return self._call(self.rekognition, "create_project", **params)["ProjectArn"]

    def delete_project(self, *, project_arn: str) -> None:
        self._call(self.rekognition, "delete_project", ProjectArn=project_arn)

    # ------------------------------------------------------------ adapters

    def start_training(self, *, spec: TrainingSpec) -> TrainingStatus:
        directory = _directory(spec.output_prefix)
        training = self._put(f"{directory}train.manifest", manifests.write_groundtruth(spec.training))
        params: dict[str, Any] = {
            "ProjectArn": spec.project_arn,
            "VersionName": spec.version_name,
            "OutputConfig": {"S3Bucket": self.bucket, "S3KeyPrefix": directory},
            "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": training}}]},
            "FeatureConfig": {"ContentModeration": {"ConfidenceThreshold": float(spec.confidence_threshold)}},
        }
        locations = {"training_data": _uri(training), "output": f"s3://{self.bucket}/{directory}"}
        if spec.testing is None:
            params["TestingData"] = {"AutoCreate": True}
        else:
            testing = self._put(f"{directory}test.manifest", manifests.write_groundtruth(spec.testing))
            params["TestingData"] = {"Assets": [{"GroundTruthManifest": {"S3Object": testing}}]}
            locations["testing_data"] = _uri(testing)
        if spec.description:
            params["VersionDescription"] = spec.description
        if spec.tags:
            params["Tags"] = spec.tags
        if spec.kms_key_id:
            params["KmsKeyId"] = spec.kms_key_id
        response = self._call(self.rekognition, "create_project_version", **params)
        return TrainingStatus(
            status="TRAINING_IN_PROGRESS",
            adapter_arn=response["ProjectVersionArn"],
            base_model_version=self.base_model_version,
            locations=locations,
        )

    def training_status(self, *, project_arn: str, adapter_arn: str, version_name: str) -> TrainingStatus:
        response = self._call(
            self.rekognition, "describe_project_versions", ProjectArn=project_arn, VersionNames=[version_name]
        )
        descriptions = response.get("ProjectVersionDescriptions") or []
        if not descriptions:
            raise BackendError(
                "ResourceNotFoundException",
                f"describe_project_versions: no adapter {version_name!r} in {project_arn}; "
                "it may have been deleted in AWS.",
            )
        version = descriptions[0]
        status = version["Status"]
        message = version.get("StatusMessage", "")
        if status == "DEPRECATED" and not message:
            message = (
                "Trained on an older base model; it expires 60-90 days after the new base model's release."
            )
        elif status == "EXPIRED" and not message:
            message = "Expired: Rekognition ignores it and answers with the base model. Train a new adapter."
        result = TrainingStatus(
            status=status,
            message=message,
            adapter_arn=version.get("ProjectVersionArn", adapter_arn),
            base_model_version=version.get("BaseModelVersion", ""),
            f1_score=_dig(version, "EvaluationResult", "F1Score"),
            training_seconds=version.get("BillableTrainingTimeInSeconds"),
        )
        output = version.get("OutputConfig") or {}
        if output.get("S3Bucket"):
            result.locations["output"] = f"s3://{output['S3Bucket']}/{output.get('S3KeyPrefix', '')}"
        asset = ("Assets", 0, "GroundTruthManifest", "S3Object")
        for name, path in {
            "training_data": ("TrainingDataResult", "Input", *asset),
            "training_results": ("TrainingDataResult", "Output", *asset),
            "testing_data": ("TestingDataResult", "Input", *asset),
            "test_results": ("TestingDataResult", "Output", *asset),
            "evaluation": ("EvaluationResult", "Summary", "S3Object"),
            "manifest_summary": ("ManifestSummary", "S3Object"),
        }.items():
            if s3_object := _dig(version, *path):
                result.locations[name] = _uri(s3_object)
        if status in ("TRAINING_COMPLETED", "DEPRECATED", "EXPIRED"):
            if evaluation := _dig(version, "EvaluationResult", "Summary", "S3Object"):
                result.evaluation = self._read(evaluation)
            if test_output := _dig(version, "TestingDataResult", "Output", *asset):
                result.test_results = self._read(test_output, manifests.read_json_lines)
        return result

    def delete_adapter(self, *, adapter_arn: str) -> None:
        self._call(self.rekognition, "delete_project_version", ProjectVersionArn=adapter_arn)

    # ------------------------------------------------------------ inference

    def detect_moderation_labels(
        self,
        *,
        image: bytes | ImageRef,
        min_confidence: float = 50.0,
        adapter_arn: str | None = None,
    ) -> dict[str, Any]:
        if isinstance(image, ImageRef):
            params: dict[str, Any] = {"Image": {"S3Object": {"Bucket": image.bucket, "Name": image.key}}}
        else:
            params = {"Image": {"Bytes": image}}
        params["MinConfidence"] = float(min_confidence)
        if adapter_arn is not None:
            params["ProjectVersion"] = adapter_arn
        return self._call(self.rekognition, "detect_moderation_labels", **params)

    def start_bulk_analysis(
        self,
        *,
        job_name: str,
        images: list[ImageRef],
        min_confidence: float,
        adapter_arn: str | None,
        output_prefix: str,
    ) -> str | None:
        directory = _directory(output_prefix)
        manifest = self._put(f"{directory}input.manifest", manifests.write_bulk_input(i.uri for i in images))
        operation: dict[str, Any] = {"MinConfidence": float(min_confidence)}
        if adapter_arn is not None:
            operation["ProjectVersion"] = adapter_arn
        # Our own idempotency token, the same for every retry of this job (and for a task that runs
        # twice with the same prefix), so a retried call cannot start a second job.
        token = hashlib.sha256(f"{job_name}|{self.bucket}|{directory}".encode()).hexdigest()
        try:
            response = self._call(
                self.rekognition,
                "start_media_analysis_job",
                ClientRequestToken=token,
                JobName=job_name,
                OperationsConfig={"DetectModerationLabels": operation},
                Input={"S3Object": manifest},
                OutputConfig={"S3Bucket": self.bucket, "S3KeyPrefix": directory},
            )
        except BackendError as error:
            if error.code == "AccessDeniedException" or (
                error.code in _REFUSAL_CODES and _AVAILABILITY.search(error.message)
            ):
                return None  # bulk analysis refused for this account: the caller goes image by image
            raise
        return response["JobId"]

    def bulk_analysis_status(self, *, job_id: str) -> BulkStatus:
        job = self._call(self.rekognition, "get_media_analysis_job", JobId=job_id)
        status = job["Status"]
        if status == "FAILED":
            failure = job.get("FailureDetails") or {}
            return BulkStatus(
                status=status, message=f"{failure.get('Code', 'FAILED')}: {failure.get('Message', '')}"
            )
        if status != "SUCCEEDED":
            return BulkStatus(status=status)
        return BulkStatus(status=status, results=self._bulk_results(job))

    def _bulk_results(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """One result per input line, numbered as in the input manifest."""
        inputs = self._read(job["Input"]["S3Object"], manifests.read_bulk_input)
        uri_at = {entry.line: entry.uri for entry in inputs}
        errors: list[manifests.SummaryError] = []
        if summary_object := _dig(job, "ManifestSummary", "S3Object"):
            errors = self._read(summary_object, manifests.read_summary).errors
        results = [
            {
                "line": error.line,
                "source-ref": error.source_ref or uri_at.get(error.line, ""),
                "code": error.code,
                "message": error.message,
            }
            for error in errors
        ]
        # Output lines carry no line number: match them to the input lines that did not fail, in order.
        # Queues per URI keep duplicate images (every line is processed) apart.
        failed = {error.line for error in errors}
        pending: dict[str, deque[int]] = defaultdict(deque)
        for entry in inputs:
            if entry.line not in failed:
                pending[entry.uri].append(entry.line)
        if output_object := _dig(job, "Results", "S3Object"):
            for out in self._read(output_object, manifests.read_bulk_output):
                queue = pending.get(out.source_ref)
                results.append(
                    {
                        "line": queue.popleft() if queue else None,
                        "source-ref": out.source_ref,
                        "detect-moderation-labels": out.detection,
                    }
                )
        return sorted(results, key=lambda r: (r["line"] is None, r["line"] or 0))
