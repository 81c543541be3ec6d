"""int8 copies of the networks: ONNX Runtime's static quantization, calibrated on given inputs.

QDQ format, per-channel int8 weights, uint8 activations, MinMax ranges: what a CPU with VNNI
(AVX-512 VNNI, AVX-VNNI) runs fastest. Without VNNI, ONNX Runtime's x86 kernels multiply uint8 by
int8 with VPMADDUBSW, whose 16-bit sums saturate: measured on an AVX2-only AMD EPYC, open_nsfw's
embedding fell to a mean cosine of 0.977 against float32 (0.997 with VNNI). There the weights are
quantized to 7 bits (reduce_range), as ONNX Runtime's documentation advises. Graphs older than opset 13 are converted first, since per-channel
DequantizeLinear needs its `axis` attribute. Called once per model and calibration set; the
engine caches the result (modelcache).
"""

from __future__ import annotations

import functools
import platform
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MIN_OPSET = 13


@functools.cache
def saturates() -> bool:
    """True on an x86 CPU without VNNI, where uint8 x int8 products can saturate."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # not Linux: assume the cautious kernels' CPU
    return "avx512_vnni" not in flags and "avx_vnni" not in flags


def quantize(
    model: bytes,
    calibration: Sequence[dict[str, np.ndarray]],
    *,
    exclude_nodes: Sequence[str] = (),
    op_types: Sequence[str] | None = None,
) -> bytes:
    """A float32 ONNX model -> its int8 (QDQ) model, with activation ranges from `calibration`
    (one feed dict per image). exclude_nodes stay float32; op_types limits what is quantized."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(calibration)

        def get_next(self):
            return next(self.feeds, None)

    proto = onnx.load_from_string(model)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), MIN_OPSET)
    if opset < MIN_OPSET:
        proto = version_converter.convert_version(proto, MIN_OPSET)
    with tempfile.TemporaryDirectory(prefix="quantize-") as tmp:
        src, pre, out = Path(tmp) / "model.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, str(src))
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            reduce_range=saturates(),
            nodes_to_exclude=list(exclude_nodes),
            op_types_to_quantize=list(op_types) if op_types else None,
        )
        return out.read_bytes()


def late_nodes(model: bytes, *, max_side: int, pointwise: bool) -> list[str]:
    """The nodes whose output is at most max_side px high (the later stages): only the 1x1
    convolutions among them if `pointwise`."""
    import onnx
    from onnx import shape_inference

    proto = onnx.load_from_string(model)
    for dim in proto.graph.input[0].type.tensor_type.shape.dim:
        if not dim.dim_value:
            dim.dim_value = 1
    inferred = shape_inference.infer_shapes(proto)
    heights = {
        v.name: v.type.tensor_type.shape.dim[2].dim_value
        for v in [*inferred.graph.value_info, *inferred.graph.output]
        if len(v.type.tensor_type.shape.dim) == 4
    }
    kernels = {t.name: list(t.dims[2:]) for t in proto.graph.initializer if len(t.dims) == 4}
    return [
        n.name
        for n in proto.graph.node
        if 0 < heights.get(n.output[0], 0) <= max_side
        and (not pointwise or (n.op_type == "Conv" and kernels.get(n.input[1]) == [1, 1]))
    ]


def node_names(model: bytes) -> list[str]:
    import onnx

    return [n.name for n in onnx.load_from_string(model).graph.node]
