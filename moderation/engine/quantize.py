"""int8 copies of the networks: ONNX Runtime's static quantization, calibrated on given inputs.

QDQ format, per-channel int8 weights, uint8 activations, MinMax ranges: what this CPU's
AVX-512 VNNI runs fastest. Graphs older than opset 13 are converted first, since per-channel
DequantizeLinear needs its `axis` attribute. Called once per model and calibration set; the
engine caches the result (modelcache).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MIN_OPSET = 13


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
            nodes_to_exclude=list(exclude_nodes),
            op_types_to_quantize=list(op_types) if op_types else None,
        )
        return out.read_bytes()


def pointwise_convs(model: bytes, *, max_side: int) -> list[str]:
    """The 1x1 convolutions whose output is at most max_side px high (the later stages)."""
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
        if n.op_type == "Conv"
        and kernels.get(n.input[1]) == [1, 1]
        and 0 < heights.get(n.output[0], 0) <= max_side
    ]


def node_names(model: bytes) -> list[str]:
    import onnx

    return [n.name for n in onnx.load_from_string(model).graph.node]
