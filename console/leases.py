"""Leases on running work: a bulk unit or a training belongs to one worker process while that
process renews its lease; work whose lease ran out, or whose process on this machine is gone, is
taken over (the apps' periodic check and the check a starting worker runs).

The worker is "<host>:<pid>" of the process that runs the task: on the same host a dead process
is seen at once (os.kill(pid, 0)); on another host its lease runs out after LEASE_SECONDS.
A lease is a row of console.models.Lease, not a column of the work's own row, so that one module
serves every kind of work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from console.models import AuditEntry, Lease

log = logging.getLogger(__name__)


def lease_seconds() -> float:
    return float(settings.WORK_LEASE_SECONDS)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> bool:
    """False only when the worker is a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lost(lease: Lease, now) -> bool:
    return lease.expires_at < now or not _alive(lease.worker)


class Held:
    """A lease this process holds; `lost` is set when another worker took it over.
    `taken_from` is the lease of a lost worker this process took over on acquiring it (a task
    delivered again after its worker died), for the caller to count and audit as the periodic
    check does."""

    def __init__(self, key: str, worker: str, taken_from: Lease | None = None):
        self.key = key
        self.worker = worker
        self.taken_from = taken_from
        self.lost = threading.Event()

    def renew(self) -> bool:
        expires = timezone.now() + timedelta(seconds=lease_seconds())
        if not Lease.objects.filter(key=self.key, worker=self.worker).update(expires_at=expires):
            self.lost.set()
        return not self.lost.is_set()


def acquire(key: str) -> Held | None:
    """The lease on `key` for this process, or None while a living worker holds it."""
    me, now = worker_id(), timezone.now()
    expires = now + timedelta(seconds=lease_seconds())
    try:
        with transaction.atomic():
            lease = Lease.objects.select_for_update().filter(key=key).first()
            if lease is None:
                Lease.objects.create(key=key, worker=me, taken_at=now, expires_at=expires)
            elif lease.worker == me or _lost(lease, now):
                Lease.objects.filter(pk=lease.pk).update(worker=me, taken_at=now, expires_at=expires)
            else:
                return None
    except IntegrityError:  # another process created it first
        return None
    return Held(key, me, taken_from=lease if lease is not None and lease.worker != me else None)


def release(held: Held) -> None:
    Lease.objects.filter(key=held.key, worker=held.worker).delete()


@contextlib.contextmanager
def hold(key: str) -> Iterator[Held | None]:
    """Hold the lease on `key` while the block runs, renewed by a thread every quarter lease;
    None (and nothing held) while a living worker holds it."""
    held = acquire(key)
    if held is None:
        yield None
        return
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(lease_seconds() / 4):
                try:
                    if not held.renew():
                        return
                except DatabaseError as exc:  # SQLite busy past its timeout: try again next quarter
                    log.warning("lease %s not renewed this time: %s", key, exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name=f"lease {key}", daemon=True)
    thread.start()
    try:
        yield held
    finally:
        stop.set()
        thread.join()
        release(held)


def take_over_lost(prefix: str) -> list[Lease]:
    """Remove the leases under `prefix` whose worker is gone (expired, or a dead process of this
    host), and return them: the caller puts their work back on the queue."""
    now = timezone.now()
    taken = []
    for lease in Lease.objects.filter(key__startswith=prefix):
        if _lost(lease, now) and Lease.objects.filter(pk=lease.pk, worker=lease.worker).delete()[0]:
            taken.append(lease)
    return taken


def resume_lost(
    prefix: str, take_over: Callable[[int, Lease], str], enqueue: Callable[[int], object]
) -> dict[str, list[int]]:
    """The work under `prefix` whose worker is gone (take_over_lost), by the id its lease key ends
    with: `take_over(id, lease)` counts the loss and says "resumed" (then `enqueue(id)` puts the
    work back on the queue), "failed" (given up), or "" (over already, or counted by another)."""
    done: dict[str, list[int]] = {"requeued": [], "failed": []}
    for lease in take_over_lost(prefix):
        pk = int(lease.key.removeprefix(prefix))
        outcome = take_over(pk, lease)
        if outcome == "resumed":
            enqueue(pk)
            done["requeued"].append(pk)
        elif outcome == "failed":
            done["failed"].append(pk)
    return done


def recovery_notes(obj, action: str, limit: int = 3) -> list[str]:
    """What the page says about work of `obj` taken over from a lost worker (the audit entries
    `action` that resume_lost's take-over wrote): "Worker lost at 10:42:05, resumed at 10:42:07"."""
    entries = AuditEntry.objects.filter(
        action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).order_by("-created_at")[:limit]
    notes = []
    for entry in entries:
        lost, resumed = (parse_datetime(entry.detail.get(k, "")) for k in ("lost_at", "resumed_at"))
        if lost and resumed:
            lost, resumed = timezone.localtime(lost), timezone.localtime(resumed)
            lines = f" (images {entry.detail['lines']})" if entry.detail.get("lines") else ""
            notes.append(f"Worker lost at {lost:%H:%M:%S}, resumed at {resumed:%H:%M:%S}{lines}.")
    return notes
