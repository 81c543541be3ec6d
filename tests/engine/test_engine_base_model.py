import numpy as np
import pytest

from moderation import taxonomy
from moderation.engine import Engine
from moderation.engine.networks import EMBEDDING_DIM, nms
from moderation.engine.taxonomy_map import base_confidences, expand

from .imagegen import BENIGN_PHOTOS, photo_bytes, plain_synthetics


def test_it_loads_no_model_until_first_use():
    engine = Engine(threads=1)
    assert engine._sessions == {}


@pytest.mark.parametrize(
    "package,name", BENIGN_PHOTOS + [("synthetic", name) for name, _ in plain_synthetics()]
)
def test_it_flags_no_bundled_photo_or_plain_picture_at_confidence_50(engine, package, name):
    data = dict(plain_synthetics())[name] if package == "synthetic" else photo_bytes(package, name)
    analysis = engine.analyze(data)
    assert [label for label in analysis.labels if label["Confidence"] >= 50] == []
    assert analysis.embedding.dtype == np.float32 and analysis.embedding.shape == (EMBEDDING_DIM,)
    assert np.isfinite(analysis.embedding).all()


def test_it_reports_every_level_with_its_parent_at_the_max_of_its_children(engine):
    analysis = engine.analyze(photo_bytes("skimage.data", "color.png"))
    by_name = {label["Name"]: label for label in analysis.labels}
    assert by_name, "the colour wheel gives a weak detector hit at least"
    for label in analysis.labels:
        assert set(label) == {"Name", "ParentName", "TaxonomyLevel", "Confidence"}
        known = taxonomy.get(label["Name"])
        assert (label["ParentName"], label["TaxonomyLevel"]) == (known.parent, known.level)
        if label["ParentName"]:
            assert by_name[label["ParentName"]]["Confidence"] >= label["Confidence"]


def test_one_detector_box_alone_does_not_make_an_explicit_label():
    # The colour-wheel pitfall: NudeNet said BUTTOCKS_EXPOSED 0.84, open_nsfw 0.01.
    detector = np.zeros(18, np.float32)
    detector[2] = 0.84
    assert base_confidences(detector, 0.01)["Exposed Buttocks or Anus"] < 10
    # With open_nsfw agreeing, the same box is a confident Explicit label.
    labels = {d["Name"]: d for d in expand(base_confidences(detector, 0.95))}
    assert labels["Exposed Buttocks or Anus"]["Confidence"] > 85
    assert labels["Explicit Nudity"]["ParentName"] == "Explicit"
    assert labels["Explicit"]["Confidence"] >= labels["Explicit Nudity"]["Confidence"]


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert sorted(nms(boxes, np.array([0.9, 0.8, 0.7])).tolist()) == [0, 2]
