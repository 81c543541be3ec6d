"""DetectModerationLabels."""

from __future__ import annotations

from adapters.models import Adapter
from console.access import VIEWER, require_role
from console.backends.base import BackendError, get_backend
from console.lib import storage
from hashbanks import services as hashbanks
from moderation.engine import MAX_STORED_BYTES
from rekognition_api.operations.common import ApiError, adapter_to_apply, own_object

# Adapters that cannot answer yet: DetectModerationLabels calls the backend with no service between
# that would refuse them.
NOT_READY = {
    Adapter.Status.DRAFT: "has not been trained yet",
    Adapter.Status.TRAINING_IN_PROGRESS: "is still training",
    Adapter.Status.TRAINING_FAILED: "failed to train",
    Adapter.Status.DELETING: "is being deleted",
}

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
        adapter = adapter_to_apply(params["ProjectVersion"], "ProjectVersion")
    if adapter is not None and adapter.status in NOT_READY:
        raise ApiError(
            "ResourceNotReadyException",
            f"ProjectVersion: adapter {params['ProjectVersion']} {NOT_READY[adapter.status]} ({adapter.status})",
        )
    source = image["Bytes"] if "Bytes" in image else own_object(image["S3Object"], "Image.S3Object")
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
    # The hash banks' verdicts on this image (the model could read it, so it is in storage or given).
    data = image["Bytes"] if "Bytes" in image else storage.read_ref(source, max_bytes=MAX_STORED_BYTES)
    response = hashbanks.apply_banks(response=response, data=data).response
    response.pop("ProjectVersion", None)
    if adapter is not None:
        response["ProjectVersion"] = adapter.arn
    return response
