"""Who may see and who may change: one access helper per object type.

Every logged-in member of the console sees every project (one team, one console);
what they may change depends on their role: viewer (reads), annotator (labels and
verifies), manager (trains, runs jobs, deletes), admin. A view asks for the object
and the role its action needs; a lower role gets 403 (PermissionDenied), a missing
object 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from console.models import Profile

VIEWER = Profile.Role.VIEWER
ANNOTATOR = Profile.Role.ANNOTATOR
MANAGER = Profile.Role.MANAGER
ADMIN = Profile.Role.ADMIN


def role_of(user) -> str:
    if user.is_superuser:
        return ADMIN
    return Profile.for_user(user).role


def has_role(user, role: str) -> bool:
    return user.is_authenticated and Profile.for_user(user).has_role(role)


def require_role(user, role: str) -> None:
    if not has_role(user, role):
        raise PermissionDenied(f"This needs the {role} role.")


def get_project(user, pk, role: str = VIEWER):
    from projects.models import Project

    project = get_object_or_404(Project, pk=pk)
    require_role(user, role)
    return project


def get_adapter(user, pk, role: str = VIEWER):
    from adapters.models import Adapter

    adapter = get_object_or_404(Adapter.objects.select_related("project"), pk=pk)
    require_role(user, role)
    return adapter


def get_job(user, pk, role: str = VIEWER):
    from bulk_analysis.models import BulkAnalysisJob

    job = get_object_or_404(BulkAnalysisJob.objects.select_related("adapter__project"), pk=pk)
    require_role(user, role)
    return job
