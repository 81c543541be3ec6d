"""Hardening tests: a storage folder per test, and a snapshot of every table and stored file."""

import html
import os
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings


@pytest.fixture(autouse=True)
def own_storage(request, settings, tmp_path, monkeypatch):
    """Each test stores files in its own folder, so it can list everything that was written,
    with no S3 configured (the suite's second run otherwise has moto's server): a test that
    needs S3 configures it itself.

    Tests with a worker process (marker "worker") keep the shared data folder.
    """
    if request.node.get_closest_marker("worker"):
        return Path(django_settings.MEDIA_ROOT)
    root = tmp_path / "files"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    settings.STORAGE_BACKEND = "local"
    settings.AWS_S3_ENDPOINT_URL = None
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return root


def stored_files(root) -> set[str]:
    return {
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    }


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


class Snapshot:
    """Every model's row count and every file under the storage root, to compare after a refusal."""

    def __init__(self, root):
        self.root = root
        self.rows = row_counts()
        self.files = stored_files(root)

    def assert_unchanged(self, allow_rows=(), allow_files=()):
        """Nothing was written: no row in any table (but those in allow_rows), no stored file
        (but those in allow_files)."""
        rows = row_counts()
        changed = {
            label: (self.rows.get(label), n)
            for label, n in rows.items()
            if n != self.rows.get(label) and label not in allow_rows
        }
        assert not changed, f"rows were written or deleted: {changed}"
        added = stored_files(self.root) - self.files - set(allow_files)
        assert not added, f"files were left in storage: {sorted(added)}"
        removed = self.files - stored_files(self.root)
        assert not removed, f"files were deleted from storage: {sorted(removed)}"


@pytest.fixture
def snapshot(own_storage):
    """snapshot() takes a Snapshot now; call it after the setup and before the bad input."""
    return lambda: Snapshot(own_storage)


def page_text(response) -> str:
    return html.unescape(response.content.decode())
