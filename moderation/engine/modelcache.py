"""Model files built once (converted or quantized) and kept in a folder: the data folder's models/.

Each file has a record of its sha256 beside it (`<name>.sha256`). A file whose bytes no longer
match its record (changed, truncated, tampered with) is built again. Several worker processes
may start at once: an exclusive lock on `<name>.lock` lets one build while the others wait, and
the file appears by an atomic rename, so nobody reads a half-written model.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _valid(path: Path, record: Path) -> bytes | None:
    try:
        data = path.read_bytes()
        expected = record.read_text().strip()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == expected else None


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached(folder: Path | None, name: str, build: Callable[[], bytes]) -> bytes:
    """The bytes of folder/name, built by `build` when missing or not matching their record.

    folder None: build every time, keep nothing (an engine without a data folder).
    """
    if folder is None:
        return build()
    folder.mkdir(parents=True, exist_ok=True)
    path, record = folder / name, folder / f"{name}.sha256"
    data = _valid(path, record)
    if data is not None:
        return data
    with open(folder / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = _valid(path, record)  # another process may have built it while this one waited
            if data is None:
                data = build()
                record.unlink(missing_ok=True)
                _write(path, data)
                _write(record, (hashlib.sha256(data).hexdigest() + "\n").encode())
            return data
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
