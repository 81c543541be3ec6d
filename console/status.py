class GuardedTransitions:
    """Status changes as a conditional UPDATE, so two workers or two people cannot both win.

    For models with a `status` field: `obj.transition(from_statuses, to_status, **fields)`
    moves the row only if it is still in one of `from_statuses`, returns whether this call
    did, and refreshes the instance with the new values.
    """

    def transition(self, from_statuses, to_status, **fields) -> bool:
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
