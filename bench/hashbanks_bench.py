"""Hash banks in `make bench`: PDQ hash time per image, lookup time per image with 10,000 and
1,000,000 hashes in the banks (SQLite rows, the index each process builds from them), and the
share the hash banks add to a bulk job's time per image.

Called by bench/run.py (Django set up, a migrated database); standalone with BENCH_QUICK=1 it
runs on a few images and 20,000 hashes to check itself: .venv/bin/python bench/hashbanks_bench.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

BANK_SIZES = (10_000, 1_000_000)
LOOKUP_TARGET_MS = 5.0  # per lookup at 1,000,000 hashes
SHARE_TARGET = 0.10  # of a bulk job's time per image
INSERT_BATCH = 10_000


def _insert_random(bank, n: int, seed: int) -> None:
    from hashbanks.models import BankHash

    rng = np.random.default_rng(seed)
    for start in range(0, n, INSERT_BATCH):
        block = rng.integers(0, 256, (min(INSERT_BATCH, n - start), 32), dtype=np.uint8)
        BankHash.objects.bulk_create(
            [BankHash(bank=bank, hash=row.tobytes().hex(), quality=100) for row in block], batch_size=2000
        )


def rows(*, quick: bool, say: Callable[[str], None]) -> list[tuple[str, str, str, bool, str]]:
    from bench import data
    from console.backends.base import get_backend
    from console.lib import storage
    from hashbanks import pdq, services
    from hashbanks.models import Bank

    images = [blob for blob, _ in data.photos(20 if quick else 200, seed=11)]
    out: list[tuple[str, str, str, bool, str]] = []

    say(f"hash banks: PDQ hash of {len(images)} bench photos")
    pdq.of_bytes(images[0])
    started = time.perf_counter()
    hashes = [pdq.of_bytes(blob) for blob in images]
    hash_ms = 1000 * (time.perf_counter() - started) / len(images)

    sizes = (2_000, 20_000) if quick else BANK_SIZES
    lookup_ms: dict[int, float] = {}
    bank = services.create_bank(user=None, name="bench-bank", kind="label", label="Hate Symbols")
    # A tenth of the photos are banked (and found again): the rest are looked up and miss.
    for blob in images[::10]:
        services.add_image(user=None, bank=bank, data=blob, source="bench")
    banked = bank.hashes.count()
    inserted = banked
    for size in sizes:
        say(f"hash banks: {size:,} hashes in the bank")
        _insert_random(bank, size - inserted, seed=size)
        services._touch(bank, hashes=size - inserted)  # as every service that changes a bank does
        inserted = size
        started = time.perf_counter()
        services.lookup(hash_hex=hashes[0].hex)  # this process builds its index from the rows
        build_s = time.perf_counter() - started
        times, found = [], 0
        for _ in range(3):
            for h in hashes:
                started = time.perf_counter()
                found += bool(services.lookup(hash_hex=h.hex))
                times.append(1000 * (time.perf_counter() - started))
        lookup_ms[size] = statistics.median(times)
        out.append(
            (
                f"Hash bank lookup per image, {size:,} hashes",
                f"{lookup_ms[size]:.2f} ms (p95 {np.percentile(times, 95):.2f} ms)",
                f"< {LOOKUP_TARGET_MS:g} ms" if size == max(sizes) else "—",
                lookup_ms[size] < LOOKUP_TARGET_MS,
                f"hashbanks.services.lookup: the banks' change check (one query) and the multi-index "
                f"search of the index this process built in {build_s:.1f} s from the rows; median of "
                f"{len(times)} lookups of {len(hashes)} photos, {found // 3} found ({banked} hashes banked "
                "from 20 of them, the rest random)",
            )
        )
        say(out[-1][1])
    Bank.objects.filter(pk=bank.pk).delete()

    say("hash banks: the local engine on the same photos, as a bulk unit runs them")
    backend = get_backend()
    names = [storage.save(f"bench-hashbanks/{i}.jpg", blob) for i, blob in enumerate(images)]
    refs = [storage.ref_for(name) for name in names]
    list(backend.detect_moderation_labels_many(images=refs[:2], min_confidence=50.0))  # loads the networks
    started = time.perf_counter()
    responses = list(backend.detect_moderation_labels_many(images=refs, min_confidence=50.0))
    engine_ms = 1000 * (time.perf_counter() - started) / len(refs)
    # What the runner adds per image (bulk_analysis.runner._screen): read the file again, hash it
    # once (the cache row written), look it up.
    bank = services.create_bank(user=None, name="bench-bank-2", kind="label", label="Hate Symbols")
    _insert_random(bank, 10_000, seed=5)
    services._touch(bank, hashes=10_000)
    services.lookup(hash_hex=hashes[0].hex)
    started = time.perf_counter()
    for ref, response in zip(refs, responses, strict=True):
        assert isinstance(response, dict), response
        services.apply_banks(response=response, data=storage.read_ref(ref))
    screen_ms = 1000 * (time.perf_counter() - started) / len(refs)
    share = screen_ms / engine_ms
    out.insert(
        0,
        (
            "PDQ hash per image (bench photos, 200-320 px)",
            f"{hash_ms:.2f} ms",
            "—",
            True,
            "hashbanks.pdq.of_bytes: decode and Meta's PDQ (pdqhash); images over 512 px are reduced first",
        ),
    )
    out.append(
        (
            "Hash banks' share of a bulk job's time per image",
            f"{100 * share:.1f} % ({screen_ms:.2f} ms of {engine_ms:.1f} ms)",
            f"< {100 * SHARE_TARGET:g} %",
            share < SHARE_TARGET,
            "read again, sha256, PDQ hash stored once, lookup in 10,000 hashes, response adjusted "
            "(hashbanks.services.apply_banks, as bulk_analysis.runner calls it), against the local "
            "engine's detect_moderation_labels_many on the same stored photos, in one process",
        )
    )
    say(out[-1][1])
    return out


if __name__ == "__main__":
    import os
    import sys
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="hashbanks-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(root))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    quick = os.environ.get("BENCH_QUICK") == "1"
    for row in rows(quick=quick, say=lambda m: print(f"[hashbanks bench] {m}", flush=True)):
        print(" | ".join(str(part) for part in row[:4]))
