"""The "Use adapter" tab's code samples (spec 6): AWS CLI and Python calling DetectModerationLabels.

Values are quoted by shlex (CLI) and repr (Python), so any ARN or bucket name gives valid code.
"""

from __future__ import annotations

import json
import shlex


def cli_snippet(*, adapter_arn: str, region: str, bucket: str, key: str, endpoint_url: str = "") -> str:
    image = json.dumps({"S3Object": {"Bucket": bucket, "Name": key}}, separators=(",", ":"))
    lines = [
        "aws rekognition detect-moderation-labels",
        f"  --image {shlex.quote(image)}",
        f"  --project-version {shlex.quote(adapter_arn)}",
        "  --min-confidence 50",
        f"  --region {shlex.quote(region)}",
    ]
    if endpoint_url:
        lines.append(f"  --endpoint-url {shlex.quote(endpoint_url)}")
    return " \\\n".join(lines) + "\n"


def python_snippet(*, adapter_arn: str, region: str, bucket: str, key: str, endpoint_url: str = "") -> str:
    client_args = f'"rekognition", region_name={region!r}'
    if endpoint_url:
        client_args += f",\n    endpoint_url={endpoint_url!r},  # this console's Rekognition-compatible API"
    credentials = (
        "# Credentials: an access key from this console's API keys page, set as\n"
        "# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile).\n"
        if endpoint_url
        else ""
    )
    return (
        "import boto3\n"
        "\n"
        f"{credentials}"
        f"ADAPTER_ARN = {adapter_arn!r}\n"
        "\n"
        f"client = boto3.client(\n    {client_args}\n)\n"
        "\n"
        "\n"
        f"def moderate_image(bucket={bucket!r}, photo={key!r}, min_confidence=50):\n"
        "    response = client.detect_moderation_labels(\n"
        '        Image={"S3Object": {"Bucket": bucket, "Name": photo}},\n'
        "        ProjectVersion=ADAPTER_ARN,\n"
        "        MinConfidence=min_confidence,\n"
        "    )\n"
        '    for label in response["ModerationLabels"]:\n'
        '        print(label["Name"], label["Confidence"], label.get("ParentName"), label.get("TaxonomyLevel"))\n'
        '    print("model", response["ModerationModelVersion"], "adapter used:", response.get("ProjectVersion"))\n'
        "    return response\n"
        "\n"
        "\n"
        'if __name__ == "__main__":\n'
        "    moderate_image()\n"
    )
