"""What the operations share: AWS's error, lookups by ARN, S3Object addressing, request echo and pages."""

from __future__ import annotations

import hashlib
import json

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q

from adapters.models import Adapter
from console.backends.base import BackendError, ImageRef
from console.lib import storage
from moderation.manifests import parse_s3_uri
from projects.models import Project
from rekognition_api.models import ApiRequest

FEATURE = "CONTENT_MODERATION"
PAGINATION_SALT = "rekognition_api.pagination"
PAGINATION_MAX_AGE = 24 * 3600  # a NextToken is good for a day


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# AWS's error for each code the services give a refusal (a ValidationError); an operation that
# answers one otherwise says so where it calls the service.
SERVICE_ERRORS = {
    "exists": "ResourceInUseException",  # CreateProject, CreateProjectVersion: the name is taken
    "in_use": "ResourceInUseException",
    "not_found": "ResourceNotFoundException",
    "invalid": "InvalidParameterException",
    "limit": "LimitExceededException",
    "not_ready": "InvalidParameterException",
}


def service_error(
    exc: ValidationError, *, where: str = "", default: str = "InvalidParameterException", **codes: str
) -> ApiError:
    """The ApiError for a service's refusal, with its message after `where` (the request field it is
    about): AWS's code for its code from `codes`, else SERVICE_ERRORS, else `default`."""
    # Several messages (or a form's errors) have no code of their own: the first coded one decides.
    code = next((error.code for error in getattr(exc, "error_list", []) if error.code), "")
    aws_code = codes.get(code) or SERVICE_ERRORS.get(code, default)
    text = "; ".join(exc.messages)
    return ApiError(aws_code, f"{where}: {text}" if where else text)


# Lookups ------------------------------------------------------------------------------------


def project_by_arn(arn: str) -> Project:
    project = Project.objects.filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if project is None:
        raise ApiError("ResourceNotFoundException", f"ProjectArn: no project {arn} in this console")
    return project


def adapter_by_arn(arn: str, field: str = "ProjectVersionArn") -> Adapter:
    adapter = Adapter.objects.select_related("project").filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if adapter is None:
        raise ApiError("ResourceNotFoundException", f"{field}: no adapter {arn} in this console")
    return adapter


def adapter_to_apply(arn: str, field: str) -> Adapter | None:
    """The adapter a ProjectVersion names, or None when it EXPIRED: AWS then answers with the base
    model (spec 1.5)."""
    adapter = adapter_by_arn(arn, field)
    return None if adapter.status == Adapter.Status.EXPIRED else adapter


# S3Object addressing ------------------------------------------------------------------------


def own_object(obj: dict, field: str) -> ImageRef:
    """An S3Object in this console's storage."""
    if obj["Bucket"] != storage.bucket():
        raise ApiError(
            "InvalidS3ObjectException",
            f"{field}.Bucket: {obj['Bucket']!r} is not this console's storage bucket {storage.bucket()!r}",
        )
    return ImageRef(obj["Bucket"], obj["Name"])


def read_object(obj: dict, field: str) -> bytes:
    ref = own_object(obj, field)
    try:
        return storage.read_ref(ref)
    except BackendError as exc:
        raise ApiError(exc.code, f"{field}: {exc.message}") from None


def own_output_bucket(name: str, field: str) -> None:
    if name != storage.bucket():
        raise ApiError(
            "InvalidParameterException",
            f"{field}: this console writes only to its storage bucket {storage.bucket()!r}, not {name!r}",
        )


def s3_object(uri_or_name: str) -> dict | None:
    """{Bucket, Name} for an s3:// URI or a storage name."""
    if not uri_or_name:
        return None
    if uri_or_name.startswith("s3://"):
        bucket, key = parse_s3_uri(uri_or_name)
        return {"Bucket": bucket, "Name": key}
    return {"Bucket": storage.bucket(), "Name": uri_or_name}


# Requests -----------------------------------------------------------------------------------


def echo(resource_id: str) -> dict:
    """The request fields kept for the resource that request made (Get/Describe echo them)."""
    row = ApiRequest.objects.filter(resource_id=resource_id).order_by("-id").first()
    return row.request if row else {}


def echoes(resource_ids: list[str]) -> dict[str, dict]:
    """echo() of a page of resources in one query: {resource id: its newest request's fields}."""
    rows = ApiRequest.objects.filter(resource_id__in=resource_ids).order_by("id")
    return {resource: request for resource, request in rows.values_list("resource_id", "request")}


def digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


# Pagination ---------------------------------------------------------------------------------


def page(queryset, params: dict, *, operation: str, filters) -> tuple[list, str | None]:
    """One page of a queryset and the NextToken for the rest (bound to the operation and filters)."""
    size = params.get("MaxResults", 100)
    offset = 0
    scope = digest({"op": operation, "filters": filters})
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
