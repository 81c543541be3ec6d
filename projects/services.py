"""Project work that spans the database, the backend and the audit trail."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from adapters.models import Adapter
from console.backends.base import BackendError, get_backend
from console.models import record
from projects.models import Project


def create_project(*, user, name: str, description: str = "", auto_update: bool = True, tags=None) -> Project:
    """Create a project here and on the backend; nothing is kept if either refuses."""
    tags = tags or {}
    if Project.objects.filter(name=name).exists():
        raise ValidationError(f"Project name: a project named {name!r} already exists")
    project = Project(
        name=name,
        description=description,
        auto_update=auto_update,
        tags=tags,
        arn=Project.build_arn(name),
        created_by=user,
    )
    project.full_clean()
    with transaction.atomic():
        project.save()
        try:
            remote = get_backend().create_project(name=name, auto_update=auto_update, tags=tags)
        except BackendError as exc:
            raise ValidationError(f"The moderation backend refused the project: {exc.message}") from exc
        if remote and remote != project.arn:
            project.backend_arn = remote
            project.save(update_fields=["backend_arn"])
        record(user, "project.create", project, project=project, name=name)
    return project


def create_adapter(*, user, project: Project, name: str, description: str = "", copy_from=None) -> Adapter:
    """A new draft adapter (a dataset to label) in a project."""
    if project.adapters.filter(name=name).exists():
        raise ValidationError(f"Adapter name: project {project.name!r} already has an adapter named {name!r}")
    adapter = Adapter(
        project=project,
        name=name,
        description=description,
        arn=Adapter.build_arn(project.name, name),
        copied_from=copy_from,
        created_by=user,
    )
    adapter.full_clean()
    with transaction.atomic():
        adapter.save()
        record(user, "adapter.create", adapter, project=project, name=name)
    return adapter


def delete_project(*, user, project: Project) -> None:
    """Delete an empty project; refused while it still holds adapters."""
    if project.adapters.exists():
        count = project.adapters.count()
        raise ValidationError(
            f"Project {project.name!r} still has {count} adapter{'s' if count != 1 else ''}: delete "
            "them first, then the project."
        )
    with transaction.atomic():
        if not Project.objects.filter(pk=project.pk, status=Project.Status.CREATED).update(
            status=Project.Status.DELETING
        ):
            raise ValidationError(f"Project {project.name!r} is already being deleted")
        try:
            get_backend().delete_project(project_arn=project.remote_arn)
        except BackendError as exc:
            raise ValidationError(
                f"The moderation backend refused to delete the project: {exc.message}"
            ) from exc
        record(user, "project.delete", project, project=None, name=project.name, arn=project.arn)
        project.delete()
