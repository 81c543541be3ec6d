"""CreateProject, DescribeProjects, DeleteProject."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from console.access import MANAGER, VIEWER, require_role
from projects import services
from projects.models import Project
from rekognition_api.operations.common import (
    FEATURE,
    ApiError,
    page,
    project_by_arn,
    service_error,
)


def create_project(user, params: dict) -> dict:
    require_role(user, MANAGER)
    feature = params.get("Feature", "CUSTOM_LABELS")
    if feature != FEATURE:
        raise ApiError(
            "InvalidParameterException",
            f"Feature: this console serves Custom Moderation only; send Feature={FEATURE} (got {feature})",
        )
    # A taken name ("exists") and bad tags are the service's to refuse; the view maps them.
    project = services.create_project(
        user=user,
        name=params["ProjectName"],
        description="",
        auto_update=params.get("AutoUpdate", "DISABLED") == "ENABLED",
        tags=params.get("Tags", {}),
    )
    return {"ProjectArn": project.arn}


def _description(project: Project) -> dict:
    return {
        "ProjectArn": project.arn,
        "CreationTimestamp": project.created_at,
        "Status": project.status,
        "Feature": FEATURE,
        "AutoUpdate": project.auto_update_value,
    }


def describe_projects(user, params: dict) -> dict:
    require_role(user, VIEWER)
    features = params.get("Features", ["CUSTOM_LABELS"])  # AWS's default filter (spec 1.2)
    names = params.get("ProjectNames")
    projects = Project.objects.order_by("-created_at", "-id")
    if FEATURE not in features:
        projects = projects.none()
    if names:
        projects = projects.filter(name__in=names)
    rows, token = page(
        projects, params, operation="DescribeProjects", filters=[sorted(features), sorted(names or [])]
    )
    response: dict = {"ProjectDescriptions": [_description(p) for p in rows]}
    if token:
        response["NextToken"] = token
    return response


def delete_project(user, params: dict) -> dict:
    require_role(user, MANAGER)
    project = project_by_arn(params["ProjectArn"])
    try:
        services.delete_project(user=user, project=project)
    except ValidationError as exc:  # adapters remain ("in_use"); the backend's refusal is "in use" too
        raise service_error(exc, default="ResourceInUseException") from None
    return {"Status": "DELETING"}
