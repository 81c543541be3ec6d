"""The guarded status transition: a conditional UPDATE, so two workers or two people cannot both win."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class GuardedTransitions:
    """For models with a `status` field: `obj.transition(from_statuses, to_status, **fields)`
    moves the row only if it is still in one of `from_statuses`, returns whether this call
    did, and refreshes the instance with the new values.
    """

    def transition(self, from_statuses: Iterable[str], to_status: str, **fields: Any) -> bool:
        updated = (
            type(self)
            ._default_manager.filter(pk=self.pk, status__in=list(from_statuses))
            .update(status=to_status, **fields)
        )
        if updated:
            self.status = to_status
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(updated)
