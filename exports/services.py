"""Exports: downloads too large to write in a request (a 50,000-image dataset's manifest),
written by the worker with progress on the row, then served from storage.

A view asks start_adapter_manifest(); the row is created QUEUED and the task enqueued on commit;
the task runs run_export(), which moves the row to RUNNING (a guarded transition: a second
delivery of the message does nothing), writes the file and moves it to SUCCEEDED, or FAILED
with the reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from adapters import datasets
from console.lib import storage
from console.models import record
from exports.models import Export

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from adapters.models import Adapter

log = logging.getLogger(__name__)

# Finished exports (and their files) are deleted after this; one still RUNNING after
# STALE_AFTER lost its worker and is failed (exports.tasks.clean_up_exports, every hour).
KEEP_FOR = timedelta(days=7)
STALE_AFTER = timedelta(hours=1)


def inline(*, adapter: Adapter, split: str) -> bool:
    """Whether this manifest is small enough to write in the request (EXPORTS_INLINE_MAX_IMAGES)."""
    return datasets.manifest_size(adapter=adapter, split=split) <= settings.EXPORTS_INLINE_MAX_IMAGES


def start_adapter_manifest(*, user: User, adapter: Adapter, split: str) -> Export:
    export = Export(
        kind=Export.Kind.ADAPTER_MANIFEST,
        adapter=adapter,
        split=split,
        total=datasets.manifest_size(adapter=adapter, split=split),
        filename=f"{adapter.name}-{split}.manifest",
        created_by=user,
    )
    with transaction.atomic():
        export.save()
        record(user, "export.start", export, project=adapter.project, kind=export.kind, split=split)
        transaction.on_commit(partial(_enqueue, export.pk))
    return export


def _enqueue(export_id: int) -> None:
    from exports.tasks import run_export  # tasks call back into this module: the accepted cycle

    run_export.delay(export_id)


def _progress(export: Export, done: int) -> None:
    Export.objects.filter(pk=export.pk, status=Export.Status.RUNNING).update(done=done)


def run_export(*, export_id: int) -> bool:
    """Write one export's file; False if it is not QUEUED (done, failed, or taken by another worker)."""
    export = Export.objects.select_related("adapter").filter(pk=export_id).first()
    if export is None or not export.transition([Export.Status.QUEUED], Export.Status.RUNNING):
        return False
    try:
        if export.adapter is None:
            raise ValueError("its adapter was deleted")
        body = datasets.export_manifest(
            adapter=export.adapter, split=export.split, progress=partial(_progress, export)
        ).encode()
        name = storage.save(f"exports/{export.pk}/{export.filename}", body)
    except SoftTimeLimitExceeded:
        raise  # the task writes its own message (fail())
    except Exception as exc:  # noqa: BLE001 - written on the row for the person waiting
        log.exception("export %s failed", export.pk)
        export.transition(
            [Export.Status.RUNNING], Export.Status.FAILED, error=str(exc)[:1000], finished_at=timezone.now()
        )
        return True
    lines = body.count(b"\n")
    if not export.transition(
        [Export.Status.RUNNING],
        Export.Status.SUCCEEDED,
        file=name,
        size=len(body),
        done=lines,
        total=lines,
        finished_at=timezone.now(),
    ):
        default_storage.delete(name)
    return True


def fail(*, export_id: int, error: str) -> bool:
    """Fail an export not finished yet (its task ran out of time); False if it was finished."""
    export = Export.objects.filter(pk=export_id).first()
    return export is not None and export.transition(
        [Export.Status.QUEUED, Export.Status.RUNNING],
        Export.Status.FAILED,
        error=error,
        finished_at=timezone.now(),
    )


def clean_up(*, now: datetime | None = None) -> dict[str, int]:
    """Delete exports finished more than KEEP_FOR ago with their files; fail those whose worker died."""
    now = now or timezone.now()
    stale = Export.objects.filter(
        status__in=[Export.Status.QUEUED, Export.Status.RUNNING], created_at__lt=now - STALE_AFTER
    ).update(
        status=Export.Status.FAILED,
        error="The worker writing this export stopped; start the download again.",
        finished_at=now,
    )
    old = Export.objects.filter(Q(finished_at__lt=now - KEEP_FOR))
    for name in old.exclude(file="").values_list("file", flat=True):
        default_storage.delete(name)
    deleted, _ = old.delete()
    return {"failed": stale, "deleted": deleted}
