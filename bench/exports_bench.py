"""Exports: the time to export a 50,000-image dataset's manifest in the worker's code path
(exports.services.run_export: the query, the manifest, the stored file), and the request that
still writes a manifest of EXPORTS_INLINE_MAX_IMAGES images itself."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.test import Client
from django.urls import reverse

EXPORT_IMAGES = 50_000


def rows(*, user, quick: bool, say: Callable[[str], None]) -> list[tuple[str, str, str, bool, str]]:
    from adapters import datasets
    from bench import data
    from exports import services
    from exports.models import Export

    size = 500 if quick else EXPORT_IMAGES
    say(f"storing a dataset of {size * 3 // 2:,} image rows ({size:,} labeled or safe)")
    adapter = data.labeling_dataset(user, size * 3 // 2)  # a third unlabeled: not in the manifest
    assert datasets.manifest_size(adapter=adapter, split="train") == size
    export = services.start_adapter_manifest(user=user, adapter=adapter, split="train")
    started = time.perf_counter()
    services.run_export(export_id=export.pk)
    seconds = time.perf_counter() - started
    export.refresh_from_db()
    assert export.status == Export.Status.SUCCEEDED and export.done == size, (export.status, export.error)
    found = [
        (
            f"Export of a {size:,}-image dataset manifest (worker)",
            f"{seconds:.1f} s",
            "< 60 s",
            seconds < 60,
            f"exports.services.run_export: the labeled images and their labels read in chunks, "
            f"the manifest written ({export.size / 1e6:.1f} MB) and stored, progress on the row",
        )
    ]
    say(found[-1][1])

    inline = min(size, settings.EXPORTS_INLINE_MAX_IMAGES)
    small = data.labeling_dataset(user, inline * 3 // 2)
    client = Client()
    client.force_login(user)
    url = reverse("projects-manifest", args=[small.project_id, small.pk])
    client.get(url)  # warm-up
    started = time.perf_counter()
    response = client.get(url)
    request_seconds = time.perf_counter() - started
    assert response.status_code == 200 and response.content.count(b"\n") == inline
    found.append(
        (
            f"Manifest download written in the request ({inline:,} images, EXPORTS_INLINE_MAX_IMAGES)",
            f"{request_seconds:.2f} s",
            "< 2 s",
            request_seconds < 2,
            "the largest dataset whose manifest the request still writes; larger ones go to the worker",
        )
    )
    say(found[-1][1])
    return found
