"""Checking AWS Signature Version 4 on a request to the compatible API.

The algorithm is botocore.auth.SigV4Auth's, run from the server side: rebuild the
canonical request from what arrived, derive the signing key from the key's secret,
and compare signatures in constant time. Errors carry the codes AWS answers with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote

from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rekognition"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


class AuthError(Exception):
    """A refused signature: `code` is the AWS error code, `status` its HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    timestamp: str  # X-Amz-Date


def parse_authorization(header: str | None, amz_date: str | None) -> Credential:
    """The parts of an Authorization header; refuses a missing or malformed one as AWS does."""
    if not header:
        raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    match = _AUTH_RE.match(header.strip())
    if not match:
        raise AuthError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"with the {ALGORITHM} algorithm.",
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AuthError(
            "IncompleteSignatureException",
            "Credential should be scoped to a valid region and service: "
            "<key>/<YYYYMMDD>/<region>/<service>/aws4_request.",
        )
    key_id, date, region, service, _ = parts
    if service != SERVICE:
        raise AuthError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'.",
        )
    if not amz_date:
        raise AuthError(
            "IncompleteSignatureException", "Authorization header requires existence of an X-Amz-Date header."
        )
    if not amz_date.startswith(date):
        raise AuthError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid date: the scope date {date} does not match "
            f"X-Amz-Date {amz_date}.",
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise AuthError("InvalidSignatureException", "'Host' must be a signed header.")
    return Credential(key_id, date, region, service, signed, match["signature"], amz_date)


def check_date(amz_date: str, *, now: dt.datetime, window_seconds: int) -> None:
    """Refuse a request dated outside `window_seconds` of now (both ways), as AWS does."""
    try:
        when = dt.datetime.strptime(amz_date, TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise AuthError(
            "IncompleteSignatureException",
            f"X-Amz-Date {amz_date!r} is not in the format YYYYMMDD'T'HHMMSS'Z'.",
        ) from None
    window = dt.timedelta(seconds=window_seconds)
    fmt = TIMESTAMP_FORMAT
    if when < now - window:
        raise AuthError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {(now - window).strftime(fmt)} "
            f"({now.strftime(fmt)} - {window_seconds // 60} min.)",
        )
    if when > now + window:
        raise AuthError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {(now + window).strftime(fmt)} "
            f"({now.strftime(fmt)} + {window_seconds // 60} min.)",
        )


def canonical_query(query_string: str) -> str:
    if not query_string:
        return ""
    pairs = [pair.partition("=")[::2] for pair in query_string.split("&")]
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_request(
    *,
    method: str,
    path: str,
    query_string: str,
    headers: dict[str, list[str]],
    signed: list[str],
    body: bytes,
) -> str:
    """`headers` maps lower-case names to the values that arrived."""
    lines = []
    for name in signed:
        values = headers.get(name)
        if values is None:
            raise AuthError(
                "InvalidSignatureException", f"Signed header {name!r} is missing from the request."
            )
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    payload_hash = (headers.get("x-amz-content-sha256") or [hashlib.sha256(body).hexdigest()])[0]
    return "\n".join(
        [
            method.upper(),
            quote(normalize_url_path(path), safe="/~"),
            canonical_query(query_string),
            "\n".join(lines) + "\n",
            ";".join(signed),
            payload_hash,
        ]
    )


def string_to_sign(credential: Credential, canonical: str) -> str:
    scope = f"{credential.date}/{credential.region}/{credential.service}/aws4_request"
    return "\n".join([ALGORITHM, credential.timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signature(secret: str, credential: Credential, to_sign: str) -> str:
    key = _hmac(f"AWS4{secret}".encode(), credential.date)
    for part in (credential.region, credential.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, credential: Credential, canonical: str) -> None:
    expected = signature(secret, credential, string_to_sign(credential, canonical))
    if not hmac.compare_digest(expected, credential.signature):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )


def request_headers(meta: dict) -> dict[str, list[str]]:
    """Lower-case header names and values from a Django request's META."""
    headers: dict[str, list[str]] = {}
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").lower()
        else:
            continue
        headers[name] = [str(value)]
    return headers
