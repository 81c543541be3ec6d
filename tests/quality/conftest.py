"""The adapters' fixtures (files in a folder per test, a project, a draft adapter) for these tests."""

from tests.adapters.conftest import adapter, files, project  # noqa: F401
