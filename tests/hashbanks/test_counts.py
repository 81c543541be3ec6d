"""A bank's hash count is kept with its hashes (Bank.hash_count, moved in the transaction that
adds or removes them) and the pages read it: no page counts a bank's hashes."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from hashbanks import services
from hashbanks.models import Bank, BankHash, ImageHash

pytestmark = pytest.mark.django_db


def hashes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(256):064x}" for _ in range(n)]


def counted(bank: Bank) -> tuple[int, int]:
    """(the stored count, the rows) of a bank."""
    return Bank.objects.get(pk=bank.pk).hash_count, bank.hashes.count()


def test_it_counts_a_banks_hashes_as_they_are_imported_added_and_removed(owner, label_bank):
    first, more = hashes(3, seed=1), hashes(2, seed=2)
    services.import_hash_list(user=owner, bank=label_bank, data="\n".join(first).encode(), name="a.txt")
    assert counted(label_bank) == (3, 3)

    report = services.import_hash_list(
        user=owner, bank=label_bank, data="\n".join(first[:2] + more).encode(), name="b.txt"
    )
    assert (report.added, report.existing) == (2, 2)
    assert counted(label_bank) == (5, 5)

    ImageHash.objects.create(sha256="a" * 64, hash=hashes(1, seed=3)[0], quality=100)
    services.add_known_hash(user=owner, bank=label_bank, sha256="a" * 64, source="bulk job 1 line 1")
    services.add_known_hash(user=owner, bank=label_bank, sha256="a" * 64, source="bulk job 1 line 1")
    assert counted(label_bank) == (6, 6)

    row = label_bank.hashes.get(hash=first[0])
    services.remove_hash(user=owner, bank_hash=row)
    services.remove_hash(user=owner, bank_hash=row)  # removed already: counted once
    assert counted(label_bank) == (5, 5)

    other = services.create_bank(user=owner, name="other", kind="allow")
    services.import_hash_list(user=owner, bank=other, data=first[0].encode(), name="c.txt")
    assert counted(other) == (1, 1) and counted(label_bank) == (5, 5)


def test_the_bank_pages_read_the_stored_count_and_count_no_hash(owner_client, owner, label_bank):
    services.import_hash_list(
        user=owner, bank=label_bank, data="\n".join(hashes(150, seed=4)).encode(), name="l"
    )
    pages = [
        reverse("hashbanks-list"),
        reverse("hashbanks-detail", args=[label_bank.pk]),
        reverse("hashbanks-detail", args=[label_bank.pk]) + "?page=2",
        reverse("hashbanks-delete", args=[label_bank.pk]),
    ]
    for url in pages:
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(url)
        assert response.status_code == 200, url
        assert "150" in response.content.decode(), url
        counting = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
        assert not [sql for sql in counting if BankHash._meta.db_table in sql], (url, counting)
    second = owner_client.get(reverse("hashbanks-detail", args=[label_bank.pk]), {"page": 2})
    assert len(second.context["page"]) == 50  # the last page, from the stored count


def test_the_migration_fills_the_counts_of_existing_banks(owner, label_bank, allow_bank):
    import importlib

    from django.apps import apps

    services.import_hash_list(
        user=owner, bank=label_bank, data="\n".join(hashes(4, seed=5)).encode(), name="l"
    )
    Bank.objects.update(hash_count=0)
    importlib.import_module("hashbanks.migrations.0002_bank_hash_count").backfill(apps, None)
    assert counted(label_bank) == (4, 4) and counted(allow_bank) == (0, 0)
