"""ARNs in the AWS format, with the region and account id from settings."""

import re
import time

from django.conf import settings

PROJECT_ARN_RE = re.compile(
    r"^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project/([a-zA-Z0-9_.\-]{1,255})/(\d+)$"
)
VERSION_ARN_RE = re.compile(
    r"^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project/([a-zA-Z0-9_.\-]{1,255})"
    r"/version/([a-zA-Z0-9_.\-]{1,255})/(\d+)$"
)


def now_ms() -> int:
    return int(time.time() * 1000)


def _prefix() -> str:
    return f"arn:aws:rekognition:{settings.AWS_REGION}:{settings.AWS_ACCOUNT_ID}"


def project_arn(name: str, created_ms: int) -> str:
    return f"{_prefix()}:project/{name}/{created_ms}"


def adapter_arn(project_name: str, version_name: str, created_ms: int) -> str:
    return f"{_prefix()}:project/{project_name}/version/{version_name}/{created_ms}"
