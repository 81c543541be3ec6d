"""EfficientNet-Lite2 from its torch weights: the restricted reader, the ONNX converter, the cache."""

import os
import pickle

import numpy as np
import pytest

from moderation.engine import lite2, modelcache
from moderation.engine.networks import lite2_input
from moderation.engine.torchfile import RefusedFile, load_state_dict

from .imagegen import photo

ESPRESSO = 967
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def legacy_file(state_pickle: bytes) -> bytes:
    """A legacy-format file around a given state-dict pickle, with no storages."""
    head = b"".join(
        pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    )
    return head + state_pickle + pickle.dumps([], protocol=2)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/should-never-exist",))


def test_it_reads_the_wheel_s_state_dict_without_torch():
    state = load_state_dict(lite2.weights_path().read_bytes())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert sum(k.endswith("_depthwise_conv.weight") for k in state) == 21


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(Boom(), protocol=2),
        pickle.dumps({"w": Boom()}, protocol=2),
        b"\x80\x02cbuiltins\neval\nq\x00X\x04\x00\x00\x001+1q\x01\x85q\x02Rq\x03.",
        b"\x80\x02ctorch\nload\nq\x00.",  # a torch global other than the storages
    ],
)
def test_it_refuses_a_pickle_that_names_any_other_global(payload):
    with pytest.raises(RefusedFile, match="refused"):
        load_state_dict(legacy_file(payload))
    assert not os.path.exists("/tmp/should-never-exist")


def test_it_refuses_what_is_not_a_legacy_state_dict():
    with pytest.raises(RefusedFile):
        load_state_dict(b"PK\x03\x04 a zip-format torch file")
    with pytest.raises(RefusedFile, match="holds a list"):
        load_state_dict(legacy_file(pickle.dumps([1, 2], protocol=2)))
    data = lite2.weights_path().read_bytes()
    with pytest.raises(RefusedFile, match="truncated"):
        load_state_dict(data[: len(data) - 1000])


def test_the_converted_network_knows_the_bundled_photos():
    import onnxruntime as ort

    session = ort.InferenceSession(lite2.build(), providers=["CPUExecutionProvider"])
    coffee = session.run([lite2.PROBABILITIES], {"image": lite2_input(photo("skimage.data", "coffee.png"))})[
        0
    ][0]
    cat = session.run([lite2.PROBABILITIES], {"image": lite2_input(photo("skimage.data", "chelsea.png"))})[0][
        0
    ]
    # Measured: espresso 0.89; Egyptian cat 0.61, tiger cat and tabby next.
    assert coffee.argmax() == ESPRESSO and coffee[ESPRESSO] > 0.7
    assert cat.argmax() in CATS and cat[list(CATS)].sum() > 0.7


def test_a_changed_or_tampered_cache_is_rebuilt(tmp_path):
    built = []

    def build():
        built.append(1)
        return b"model bytes"

    assert modelcache.cached(tmp_path, "m.onnx", build) == b"model bytes"
    assert modelcache.cached(tmp_path, "m.onnx", build) == b"model bytes" and len(built) == 1
    (tmp_path / "m.onnx").write_bytes(b"model bytez")  # tampered
    assert modelcache.cached(tmp_path, "m.onnx", build) == b"model bytes" and len(built) == 2
    (tmp_path / "m.onnx.sha256").unlink()  # no record: not trusted
    assert modelcache.cached(tmp_path, "m.onnx", build) == b"model bytes" and len(built) == 3
    assert (tmp_path / "m.onnx").read_bytes() == b"model bytes"


def test_the_engine_caches_lite2_under_the_source_sha256(engine):
    engine.load()
    name = f"efficientnet-lite2-{lite2.source_sha256()[:16]}.onnx"
    assert (engine.model_dir / name).exists() and (engine.model_dir / f"{name}.sha256").exists()
