"""Multiply-accumulates per image of an ONNX network, counted from its graph: Conv, MatMul, Gemm.

Shapes come from ONNX shape inference with the input's batch set to 1 (and any other free
dimension to the size given). Elementwise work (activations, adds, norms) is not counted: it
is small next to the products and runs at memory speed, not at the multiply units' rate.
"""

from __future__ import annotations

import math


def count(model: bytes, *, sizes: dict[str, list[int]] | None = None) -> int:
    """MACs for one image. sizes: input name -> its full shape, where the graph leaves it free."""
    import onnx
    from onnx import shape_inference

    proto = onnx.load_from_string(model)
    for inp in proto.graph.input:
        dims = inp.type.tensor_type.shape.dim
        wanted = (sizes or {}).get(inp.name)
        for i, dim in enumerate(dims):
            if wanted is not None:
                dim.dim_value = wanted[i]
            elif not dim.dim_value:
                dim.dim_value = 1
    inferred = shape_inference.infer_shapes(proto)
    shapes = {}
    for v in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        # A dimension inference could not fix (0) is the batch, after a dynamic Reshape.
        shapes[v.name] = [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
    for t in inferred.graph.initializer:
        shapes[t.name] = list(t.dims)
    total = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            w, out = shapes[node.input[1]], shapes.get(node.output[0])
            if out:
                # each output element: (C_in / group) * kH * kW products
                total += math.prod(out) * math.prod(w[1:])
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
            out = shapes.get(node.output[0])
            if a and b and out:
                k = a[-1] if not (node.op_type == "Gemm" and _attr(node, "transA")) else a[0]
                total += math.prod(out) * k
    return int(total)


def _attr(node, name: str) -> int:
    return next((a.i for a in node.attribute if a.name == name), 0)
