"""Who may see and who may change: one access helper for every object view.

Every logged-in member of the console sees every project (one team, one console);
what they may change depends on their role: viewer (reads), annotator (labels and
verifies), manager (trains, runs jobs, deletes), admin. A view asks for the object
and the role its action needs; a lower role gets 403 (PermissionDenied), a missing
object 404.
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404

from console.models import Profile

VIEWER = Profile.Role.VIEWER
ANNOTATOR = Profile.Role.ANNOTATOR
MANAGER = Profile.Role.MANAGER
ADMIN = Profile.Role.ADMIN

M = TypeVar("M", bound=Model)


def has_role(user, role: str) -> bool:
    return user.is_authenticated and Profile.for_user(user).has_role(role)


def require_role(user, role: str) -> None:
    if not has_role(user, role):
        raise PermissionDenied(f"This needs the {role} role.")


def get_or_404(user, queryset: QuerySet[M], pk, role: str = VIEWER) -> M:
    """The object of `queryset` with this pk for a user with `role`: 404 if there is none, then
    403 if the user lacks the role. Each app passes its own queryset (console imports no app)."""
    obj = get_object_or_404(queryset, pk=pk)
    require_role(user, role)
    return obj
