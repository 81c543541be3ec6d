"""Engine.prepare + Engine.infer: analyze() in two steps, so that a caller can decode the next
image on one thread while the networks run on another."""

import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from moderation.engine import Engine, EngineError, load_image
from moderation.engine.networks import MAX_STORED_BYTES, Prepared

from .imagegen import TRAIN_PHOTOS, photo_bytes, symbol_set


def same(a, b):
    assert (a.sha256, a.width, a.height, a.nsfw) == (b.sha256, b.width, b.height, b.nsfw)
    assert a.labels == b.labels and a.detections == b.detections
    for field in ("embedding", "detector_max", "safety", "imagenet"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


def test_it_gives_what_analyze_gives_in_two_steps(engine):
    for data in [
        photo_bytes("skimage.data", "astronaut.png"),
        *(d for d, _ in symbol_set(TRAIN_PHOTOS, 4, 7)),
    ]:
        prepared = engine.prepare(data)
        assert isinstance(prepared, Prepared)
        assert prepared.sha256 == hashlib.sha256(data).hexdigest()
        assert {name: x.shape for name, x in engine.inputs(prepared).items()} == {
            "detector": (1, 3, 320, 320),
            "nsfw": (1, 224, 224, 3),
            "lite2": (1, 3, 260, 260),
            "safety": (1, 3, 224, 224),
        }
        same(engine.infer(prepared), engine.analyze(data))


def test_it_keeps_the_uploaded_size_of_a_big_jpeg_decoded_at_a_reduced_scale(engine):
    from tests.conftest import make_image_bytes

    data = make_image_bytes(2400, 1600, seed=4)
    prepared = engine.prepare(data, max_bytes=MAX_STORED_BYTES, sha256="given")
    assert (prepared.width, prepared.height) == (2400, 1600)
    assert max(prepared.size) < 2400  # decoded in draft mode
    analysis = engine.infer(prepared)
    assert (analysis.width, analysis.height, analysis.sha256) == (2400, 1600, "given")
    same(engine.analyze_image(load_image(data, max_bytes=MAX_STORED_BYTES), sha256="given"), analysis)


def test_it_prepares_on_one_thread_while_another_runs_the_networks(engine):
    images = [d for d, _ in symbol_set(TRAIN_PHOTOS, 6, 11)]
    expected = [engine.analyze(d) for d in images]
    with ThreadPoolExecutor(max_workers=1) as networks:
        futures = [networks.submit(engine.infer, engine.prepare(d)) for d in images]
        for future, want in zip(futures, expected, strict=True):
            same(future.result(), want)


def test_two_lanes_give_what_one_gives(engine, settings_dir):
    """v2's networks on two lanes, the safety classifier's input made ahead on one of them, answer
    exactly as one thread running them in turn (each session on one thread either way)."""
    one_lane = Engine(threads=1, model_dir=settings_dir)
    assert (engine.lanes, one_lane.lanes) == (2, 1)
    for data in [photo_bytes("skimage.data", "coffee.png"), *(d for d, _ in symbol_set(TRAIN_PHOTOS, 3, 5))]:
        same(engine.analyze(data), one_lane.analyze(data))


def test_a_failing_input_is_raised_not_waited_on(engine):
    broken = dataclasses.replace(engine.prepare(photo_bytes("skimage.data", "coffee.png")), image=None)
    with ThreadPoolExecutor(max_workers=1) as caller:
        for _ in range(5):  # whichever lane makes the safety classifier's input
            with pytest.raises(AttributeError):
                caller.submit(engine.infer, broken).result(timeout=120)


@pytest.mark.parametrize(
    "data,code",
    [
        (b"", "InvalidImageFormatException"),
        (b"GIF89a" + b"\0" * 100, "InvalidImageFormatException"),
        (b"\xff\xd8\xff" + b"\0" * 100, "InvalidImageFormatException"),
    ],
)
def test_it_refuses_what_analyze_refuses_before_any_network_runs(engine, data, code):
    with pytest.raises(EngineError) as exc:
        engine.prepare(data)
    assert exc.value.code == code
