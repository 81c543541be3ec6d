"""TagResource, UntagResource, ListTagsForResource: tags of projects and adapters."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q

from adapters import services
from adapters.models import Adapter
from console.access import MANAGER, VIEWER, require_role
from projects.models import Project
from rekognition_api.operations.common import ApiError, service_error


def _taggable(arn: str) -> Project | Adapter:
    obj = Project.objects.filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if obj is None:
        obj = Adapter.objects.select_related("project").filter(Q(arn=arn) | Q(backend_arn=arn)).first()
    if obj is None:
        raise ApiError(
            "ResourceNotFoundException", f"ResourceArn: no project or adapter {arn} in this console"
        )
    return obj


def tag_resource(user, params: dict) -> dict:
    require_role(user, MANAGER)
    try:
        services.add_tags(user=user, obj=_taggable(params["ResourceArn"]), tags=params["Tags"])
    except ValidationError as exc:  # more than 200 in all is AWS's ServiceQuotaExceededException (spec 1.11)
        raise service_error(exc, limit="ServiceQuotaExceededException") from None
    return {}


def untag_resource(user, params: dict) -> dict:
    require_role(user, MANAGER)
    services.remove_tags(user=user, obj=_taggable(params["ResourceArn"]), keys=params["TagKeys"])
    return {}


def list_tags_for_resource(user, params: dict) -> dict:
    require_role(user, VIEWER)
    return {"Tags": dict(_taggable(params["ResourceArn"]).tags)}
