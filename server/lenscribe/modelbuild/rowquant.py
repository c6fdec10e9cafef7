"""Per-row int8 quantization of a graph's MatMuls: what makes a decoder's batched rows independent of each other.

onnxruntime's dynamic quantization (``DynamicQuantizeLinear``) computes one scale and zero point over a whole activation
tensor: every row of a batch, so a row's result depends on its batch-mates. Here each MatMul with a constant weight
``Y = A @ W`` becomes, with ``s`` the absolute maximum of each row of ``A`` over 127 (CTranslate2's scheme)::

    q  = QuantizeLinear(A / s, 1, 128)             uint8, symmetric around 128, one scale per row
    Y  = Cast(MatMulInteger(q, Wq, 128, 0)) * (s * w_scale)   Wq: int8, one scale per output column

The integer product is exact and everything else is elementwise on the row, so a row gives the same bits alone or in
any batch. MatMuls that read the same activation share one quantization. The MatMulInteger nodes keep the names
``.../MatMul_quant`` and their weights ``X_quantized``, ``X_scale``, ``X_zero_point`` (as onnxruntime's quantizer names
them), so ``lenscribe_training.export.onnx_weights`` reads both kinds of graph back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-30  # an all-zero row (padding): a scale of EPS quantizes it to 0 instead of dividing by zero


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[K, N] float -> (int8 [K, N], per-column scale [N]): symmetric, ``w ~= q * scale``."""
    amax = np.abs(w).max(axis=0)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_rows(model: Any, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Rewrite ``model`` (an onnx ModelProto, top graph only) in place; returns the names of the MatMuls rewritten."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consts: dict[str, np.ndarray] = {
        "rowq_inv127": np.array(1.0 / 127.0, dtype=np.float32),
        "rowq_eps": np.array(EPS, dtype=np.float32),
        "rowq_one": np.array(1.0, dtype=np.float32),
        "rowq_zero_point": np.array(128, dtype=np.uint8),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    quantized: dict[str, tuple[str, str]] = {}  # activation -> (its uint8 rows, its row scales)
    nodes: list[Any] = []
    done: list[str] = []
    for node in graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight is None or len(weight.dims) != 2 or node.name in exclude:
            nodes.append(node)
            continue
        a = node.input[0]
        if a not in quantized:
            p = f"{a}_rowq"
            nodes += [
                helper.make_node("Abs", [a], [p + "_abs"], name=p + "/Abs"),
                helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], name=p + "/ReduceMax", axes=[-1],
                                 keepdims=1),
                helper.make_node("Max", [p + "_max", "rowq_eps"], [p + "_maxeps"], name=p + "/Max"),
                helper.make_node("Mul", [p + "_maxeps", "rowq_inv127"], [p + "_scale"], name=p + "/Scale"),
                helper.make_node("Div", [a, p + "_scale"], [p + "_scaled"], name=p + "/Div"),
                helper.make_node("QuantizeLinear", [p + "_scaled", "rowq_one", "rowq_zero_point"], [p + "_q"],
                                 name=p + "/QuantizeLinear"),
            ]
            quantized[a] = (p + "_q", p + "_scale")
        q, row_scale = quantized[a]
        w = numpy_helper.to_array(weight).astype(np.float32)
        wq, w_scale = quantize_weight(w)
        base = weight.name
        graph.initializer.extend([
            numpy_helper.from_array(wq, base + "_quantized"),
            numpy_helper.from_array(w_scale, base + "_scale"),
            numpy_helper.from_array(np.array(0, dtype=np.int8), base + "_zero_point"),
        ])
        stem = node.name.removesuffix("/MatMul") if node.name.endswith("/MatMul") else node.name
        out = node.output[0]
        nodes += [
            helper.make_node("MatMulInteger", [q, base + "_quantized", "rowq_zero_point", base + "_zero_point"],
                             [out + "_int32"], name=stem + "/MatMul_quant"),
            helper.make_node("Cast", [out + "_int32"], [out + "_float"], name=stem + "/MatMul_quant_cast",
                             to=TensorProto.FLOAT),
            helper.make_node("Mul", [row_scale, base + "_scale"], [out + "_scales"],
                             name=stem + "/MatMul_quant_scales"),
            helper.make_node("Mul", [out + "_float", out + "_scales"], [out], name=stem + "/MatMul_quant_output"),
        ]
        done.append(node.name)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    for t in list(graph.initializer):
        if t.name not in used:
            graph.initializer.remove(t)
    return done
