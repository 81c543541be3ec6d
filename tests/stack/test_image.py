"""The Dockerfile and .dockerignore: what the image needs is sent to the build (no engine here)."""

import fnmatch
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
        for pattern in patterns
        for prefix in prefixes
    )


def test_it_sends_the_application_to_the_build_and_leaves_local_state_out():
    for path in (
        "manage.py",
        "pyproject.toml",
        "console/settings.py",
        "templates/base.html",
        "static/css/console.css",
        "docker/entrypoint",
        "projects/models.py",
    ):
        assert (ROOT / path).exists(), path
        assert not ignored(path), path
    for path in (".venv/bin/python", "data/console.sqlite3", ".git/HEAD", "console/__pycache__/x.pyc"):
        assert ignored(path), path


def test_it_runs_the_entrypoint_with_a_role():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["/app/docker/entrypoint"\]$', dockerfile, re.M)
    assert re.search(r'^CMD \["web"\]$', dockerfile, re.M)
    assert re.search(r"^ENV .*DATA_DIR=/data", dockerfile, re.M | re.S)
    assert re.search(r"^USER console$", dockerfile, re.M)
    assert os.access(ROOT / "docker" / "entrypoint", os.X_OK)
