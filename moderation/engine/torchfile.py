"""Read a state dict saved by PyTorch's legacy serialisation (before torch 1.6), without torch.

The file is five parts: three small pickles (a magic number, a protocol number, sys info),
the pickled state dict whose tensors point at storages through persistent ids, a pickled
list of storage keys, then each storage's raw bytes (an 8-byte little-endian element count,
then the data). A pickle may name any callable, so the unpickler here resolves only the
globals such a state dict needs and refuses every other one before anything runs: never
torch.load, never a plain pickle.load.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class RefusedFile(pickle.UnpicklingError):
    """The file is not a plain legacy state dict (it names another global, or is malformed)."""


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass
class _Storage:
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise RefusedFile("a tensor points at a storage the file does not hold")
        need = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True)) + 1
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, dtype=data.dtype)
        if self.offset < 0 or need > data.size or any(s < 0 for s in self.stride):
            raise RefusedFile("a tensor reaches outside its storage")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=[s * data.itemsize for s in self.stride]
        )
        return np.array(view)  # a copy: the storage's buffer is not kept alive


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, *_):
    if not isinstance(storage, _Storage):
        raise RefusedFile("_rebuild_tensor_v2 was given something other than a storage")
    return _Tensor(storage, int(offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise RefusedFile(f"refused: the file names the global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise RefusedFile(f"refused: unknown persistent id {pid!r:.80}")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, _StorageType) or view is not None:
            raise RefusedFile("refused: a storage of an unknown type, or a storage view")
        storage = self.storages.setdefault(str(key), _Storage(np.dtype(kind.dtype), int(numel)))
        if storage.dtype != np.dtype(kind.dtype):
            raise RefusedFile(f"storage {key} is read with two types")
        return storage


def _arrays(obj):
    """The state dict with its tensors as numpy arrays; anything but dicts and tensors is refused."""
    if isinstance(obj, dict):
        return OrderedDict((str(k), _arrays(v)) for k, v in obj.items())
    if isinstance(obj, _Tensor):
        return obj.array()
    raise RefusedFile(f"refused: the state dict holds a {type(obj).__name__}")


def load_state_dict(data: bytes) -> OrderedDict[str, np.ndarray]:
    """A legacy-format .pth file's bytes -> parameter name -> array. Raises RefusedFile."""
    f = io.BytesIO(data)
    storages: dict[str, _Storage] = {}

    def load():
        try:
            return _Unpickler(f, storages).load()
        except RefusedFile:
            raise
        except Exception as exc:  # noqa: BLE001 - any malformed pickle
            raise RefusedFile(f"not a legacy torch file: {exc}") from None

    if load() != MAGIC:
        raise RefusedFile("not a legacy torch file: wrong magic number (a zip-format file?)")
    if load() != PROTOCOL:
        raise RefusedFile("unknown legacy torch protocol version")
    info = load()
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise RefusedFile("only little-endian legacy torch files are read")
    state = load()
    keys = load()
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise RefusedFile("the storage list does not match the state dict")
    for key in map(str, keys):
        storage = storages[key]
        count = int.from_bytes(f.read(8), "little")
        raw = f.read(count * storage.dtype.itemsize)
        if count != storage.numel or len(raw) != count * storage.dtype.itemsize:
            raise RefusedFile(f"storage {key} is truncated or has the wrong size")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return _arrays(state)
