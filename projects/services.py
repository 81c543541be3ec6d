"""Projects: create and delete them (here and on the backend), and the Create project wizard.

The wizard's adapter and images are the adapters app's: adapters.services and adapters.datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from adapters.datasets import ImportReport, add_images, copy_dataset, delete_stored
from adapters.models import Adapter
from adapters.services import create_adapter
from console.backends.base import BackendError, get_backend
from console.models import AuditEntry, record
from moderation import manifests
from projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def create_project(
    *,
    user: User | None,
    name: str,
    description: str = "",
    auto_update: bool = True,
    tags: dict[str, str] | None = None,
) -> Project:
    """Create a project here and on the backend; nothing is kept if either refuses."""
    tags = tags or {}
    if Project.objects.filter(name=name).exists():
        raise ValidationError(f"Project name: a project named {name!r} already exists", code="exists")
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


def delete_project(*, user: User | None, project: Project) -> None:
    """Delete an empty project; refused while it still holds adapters."""
    if project.adapters.exists():
        count = project.adapters.count()
        raise ValidationError(
            f"Project {project.name!r} still has {count} adapter{'s' if count != 1 else ''}: delete "
            "them first, then the project.",
            code="in_use",
        )
    with transaction.atomic():
        if not Project.objects.filter(pk=project.pk, status=Project.Status.CREATED).update(
            status=Project.Status.DELETING
        ):
            raise ValidationError(f"Project {project.name!r} is already being deleted", code="in_use")
        try:
            get_backend().delete_project(project_arn=project.remote_arn)
        except BackendError as exc:
            raise ValidationError(
                f"The moderation backend refused to delete the project: {exc.message}"
            ) from exc
        # project=project keeps its name on the entry; the link is cleared when the row goes.
        record(user, "project.delete", project, project=project, name=project.name, arn=project.arn)
        project.delete()


def create_adapter_with_images(
    *,
    user: User | None,
    project: Project | None = None,
    project_name: str = "",
    auto_update: bool = True,
    adapter_name: str,
    description: str = "",
    copy_from: Adapter | None = None,
    files: Sequence[tuple[str, bytes]] = (),
    manifest: tuple[str, bytes] | None = None,
    s3_uri: str = "",
    test_manifest: tuple[str, bytes] | None = None,
) -> tuple[Adapter, ImportReport]:
    """The Create project form: a new project (or an existing one), an adapter and its images.

    Manifests are read before anything is created. The project and adapter rows are written
    first, then the images are read and stored outside any transaction (adapters.datasets):
    a refused manifest or S3 location removes the project, adapter, image rows and stored files
    again, as if nothing had been created. Individual bad uploaded files are only reported.
    """
    for named in (manifest, test_manifest):
        if named:
            manifests.read_groundtruth(named[1], name=named[0])  # ManifestError lists every bad line
    if copy_from is not None and project is not None and copy_from.project_id != project.pk:
        raise ValidationError("Copy images from: choose an adapter of the same project", code="invalid")
    new_project = project is None
    with transaction.atomic():
        if project is None:
            project = create_project(user=user, name=project_name, auto_update=auto_update)
        adapter = create_adapter(
            user=user, project=project, name=adapter_name, description=description, copy_from=copy_from
        )
    report = ImportReport()
    try:
        if copy_from is not None:
            report.extend(copy_dataset(user=user, source=copy_from, target=adapter))
        report.extend(
            add_images(
                user=user,
                adapter=adapter,
                files=files,
                manifest=manifest,
                s3_uri=s3_uri,
                test_manifest=test_manifest,
            )
        )
    except BaseException:
        delete_stored(report.added)
        undo_create(adapter=adapter, project=project if new_project else None)
        raise
    return adapter, report


def undo_create(*, adapter: Adapter, project: Project | None) -> None:
    """Remove a refused creation: the adapter (its images and counts go with it), the project if
    it was made for it, and their audit entries (what a rolled-back transaction removed before).
    Its stored files are the caller's to delete. Used wherever an import runs after the adapter's
    row is written (Create project, training from verification, CreateProjectVersion)."""
    made = Q(object_type=adapter._meta.label_lower, object_id=str(adapter.pk))
    if project is not None:
        made |= Q(object_type=project._meta.label_lower, object_id=str(project.pk))
    with transaction.atomic():
        AuditEntry.objects.filter(made).delete()
        adapter.delete()
        if project is not None:
            project.delete()
