"""TagResource, UntagResource, ListTagsForResource: tags of projects and adapters."""

from __future__ import annotations

from django.db.models import Q

from adapters.models import Adapter
from console.access import MANAGER, VIEWER, require_role
from console.models import record
from projects.models import Project
from rekognition_api.operations.common import ApiError, check_tags


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
    check_tags(params["Tags"])
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
