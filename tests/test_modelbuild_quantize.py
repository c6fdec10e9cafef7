"""lenscribe.modelbuild.quantize alone (with lenscribe.modelbuild.rowquant): every weight MatMul quantized, and the
decoder step quantizes each row alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lenscribe.modelbuild import quantize as quantize_step
from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER

pytestmark = pytest.mark.slow


def _float_weight_matmuls(model_path: Path) -> tuple[int, int, list[str]]:
    """(MatMulInteger count, float MatMuls fed by an initializer, their names) over a graph and its If branches."""
    import onnx

    model = onnx.load(str(model_path))
    inits = {i.name for i in model.graph.initializer}
    integer, floats = 0, []

    def walk(graph) -> None:
        nonlocal integer
        local = inits | {i.name for i in graph.initializer}
        for node in graph.node:
            if node.op_type == "MatMulInteger":
                integer += 1
            if node.op_type == "MatMul" and any(x in local for x in node.input):
                floats.append(node.name)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)

    walk(model.graph)
    return integer, len(floats), floats


def test_quantize_alone_quantizes_every_weight_matmul(fp32_export: Path, tmp_path: Path) -> None:
    out = quantize_step.quantize_model(fp32_export, tmp_path / "int8", quantize_step.QuantizeOptions())
    assert out["excluded_nodes"] == []
    integer, n_float, names = _float_weight_matmuls(out["decoder"])
    # 2 layers x (4 self + 2 cross (q, o; k and v are the encoder's) + 2 ffn) + lm_head = 17 weight MatMuls
    assert integer == 17 and n_float == 0, names
    integer, n_float, names = _float_weight_matmuls(out["encoder"])
    assert integer == 2 * 6 + 2 * 2 and n_float == 0, names  # 2 layers x 6, and the decoder's 2 x (k, v)
    assert out["decoder"].stat().st_size < 0.35 * (fp32_export / DECODER_WITH_PAST).stat().st_size
    assert out["encoder"].stat().st_size < 0.35 * (fp32_export / ENCODER).stat().st_size


def test_the_decoder_step_quantizes_each_row_alone(fp32_export: Path, tmp_path: Path) -> None:
    """A row's logits are the same bits alone and beside other rows (dynamic per-tensor quantization would share one
    activation scale across the batch); the encoder's keys/values of one chunk padded with zeros change nothing."""
    import onnxruntime as ort

    out = quantize_step.quantize_model(fp32_export, tmp_path / "int8", quantize_step.QuantizeOptions())
    dec = ort.InferenceSession(str(out["decoder"]), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    rows, width, past = 5, 9, 3
    feed = {"input_ids": rng.integers(3, 32000, (rows, 1)), "encoder_attention_mask": np.ones((rows, width), np.int64)}
    for i in dec.get_inputs():
        if i.name.startswith("past_key_values."):
            length = width if ".encoder." in i.name else past
            # rows of very different magnitudes: one scale for all of them would crush the small ones
            scale = np.array([0.01, 1.0, 30.0, 0.3, 5.0], np.float32).reshape(-1, 1, 1, 1)
            heads, d_kv = i.shape[1], i.shape[3]
            feed[i.name] = (rng.standard_normal((rows, heads, length, d_kv)) * scale).astype(np.float32)
    feed["encoder_attention_mask"][0, 6:] = 0
    for name in feed:
        if ".encoder." in name:
            feed[name][0, :, 6:] = 0.0  # row 0 is a 6-token chunk padded to 9
    together = dec.run(None, feed)
    for r in range(rows):
        alone_feed = {k: v[r : r + 1] for k, v in feed.items()}
        if r == 0:  # alone, the short chunk is not padded
            alone_feed = {k: (v[:, :, :6] if ".encoder." in k else v[:, :6] if k == "encoder_attention_mask" else v)
                          for k, v in alone_feed.items()}
        alone = dec.run(None, alone_feed)
        for a, b in zip(alone, together, strict=True):
            assert np.array_equal(a[0], b[r]), r
    base = quantize_step.quantize_model(fp32_export, tmp_path / "x", quantize_step.QuantizeOptions())
    assert base["decoder"].read_bytes() == out["decoder"].read_bytes()  # deterministic build
