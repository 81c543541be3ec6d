"""The Rekognition-compatible endpoint: AWS JSON 1.1 over one URL.

A request is `POST` with `X-Amz-Target: RekognitionService.<Operation>`, a SigV4
signature for service `rekognition` made with a console API key, and a JSON body.
The key acts with its owner's role. Answers and errors are shaped as AWS's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from console.backends.base import BackendError
from rekognition_api import operations, sigv4
from rekognition_api.models import ApiKey
from rekognition_api.operations.common import ApiError, service_error
from rekognition_api.validation import InputError, check_input

log = logging.getLogger(__name__)

TARGET_PREFIX = "RekognitionService."
CONTENT_TYPE = "application/x-amz-json-1.1"
INVALID_KEY = "The security token included in the request is invalid."


def _json_default(value):
    if isinstance(value, dt.datetime):
        return value.timestamp()  # AWS JSON writes timestamps as epoch seconds
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _answer(body: dict, status: int = 200, error_code: str = "") -> HttpResponse:
    response = HttpResponse(json.dumps(body, default=_json_default), status=status, content_type=CONTENT_TYPE)
    response["x-amzn-RequestId"] = str(uuid.uuid4())
    if error_code:
        response["x-amzn-ErrorType"] = error_code
    return response


def _error(code: str, message: str, status: int = 400) -> HttpResponse:
    return _answer({"__type": code, "Message": message}, status, code)


def authenticate(request) -> ApiKey:
    """The API key whose SigV4 signature the request carries, or AuthError."""
    credential = sigv4.parse_authorization(
        request.headers.get("Authorization"), request.headers.get("X-Amz-Date")
    )
    key = ApiKey.objects.select_related("user").filter(access_key_id=credential.access_key_id).first()
    if key is None or key.revoked_at is not None or not key.user.is_active:
        raise sigv4.AuthError("UnrecognizedClientException", INVALID_KEY)
    canonical = sigv4.canonical_request(
        method=request.method,
        path=request.path,
        query_string=request.META.get("QUERY_STRING", ""),
        headers=sigv4.request_headers(request.META),
        signed=credential.signed_headers,
        body=request.body,
    )
    sigv4.verify(key.secret, credential, canonical)
    sigv4.check_date(
        credential.timestamp,
        now=dt.datetime.now(dt.UTC),
        window_seconds=settings.API_SIGNATURE_WINDOW_SECONDS,
    )
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def throttle(key: ApiKey) -> None:
    """At most API_RATE_LIMIT_PER_MINUTE requests per key in each minute (a fixed window in the cache)."""
    window = int(time.time() // 60)
    counter = f"console-api-rate:{key.access_key_id}:{window}"
    cache.add(counter, 0, timeout=120)
    try:
        count = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=120)
        count = 1
    if count > settings.API_RATE_LIMIT_PER_MINUTE:
        raise ApiError("ThrottlingException", "Rate exceeded")


@csrf_exempt
@login_not_required
def rekognition(request):
    try:
        key = authenticate(request)
        throttle(key)
        target = request.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        handler = operations.OPERATIONS.get(operation)
        if request.method != "POST" or handler is None:
            return _error("UnknownOperationException", f"Unknown operation {target or '(no X-Amz-Target)'}")
        try:
            params = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error("SerializationException", "The request body is not valid JSON")
        if not isinstance(params, dict):
            return _error("SerializationException", "The request body must be a JSON object")
        try:
            params = check_input(operation, params)
        except InputError as exc:
            code = exc.code
            if any(
                f"'{field}'" in exc.message
                for op, field in operations.INVALID_PARAMETER_FIELDS
                if op == operation
            ):
                code = "InvalidParameterException"
            return _error(code, exc.message)
        return _answer(handler(key.user, params))
    except sigv4.AuthError as exc:
        return _error(exc.code, exc.message, exc.status)
    except ApiError as exc:
        return _error(exc.code, exc.message, exc.status)
    except PermissionDenied as exc:
        return _error("AccessDeniedException", f"Your API key's user may not do this: {exc}")
    except ValidationError as exc:  # a service's refusal the operation left to the common mapping
        error = service_error(exc)
        return _error(error.code, error.message, error.status)
    except BackendError as exc:
        if exc.retryable:
            return _error(
                "ThrottlingException" if "Throttl" in exc.code else "InternalServerError",
                exc.message,
                400 if "Throttl" in exc.code else 500,
            )
        return _error(exc.code, exc.message)
    except Exception:
        log.exception("compatible API: %s failed", request.headers.get("X-Amz-Target"))
        return _error("InternalServerError", "Internal server error", 500)
