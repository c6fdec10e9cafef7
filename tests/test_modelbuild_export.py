"""lenscribe.modelbuild.export alone: the exported ONNX files follow the engine's contract, and the encoder's
cross-attention outputs are the first decoder step's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER, EXPORTED

pytestmark = pytest.mark.slow


def test_export_follows_the_engine_contract(fp32_export: Path) -> None:
    import onnx
    import onnxruntime as ort

    enc = ort.InferenceSession(str(fp32_export / ENCODER), providers=["CPUExecutionProvider"])
    assert [i.name for i in enc.get_inputs()] == ["input_ids", "attention_mask"]
    cross = [f"present.{i}.encoder.{kv}" for i in range(2) for kv in ("key", "value")]
    assert [o.name for o in enc.get_outputs()] == ["last_hidden_state", *cross]
    dec = ort.InferenceSession(str(fp32_export / DECODER_WITH_PAST), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in dec.get_inputs()}
    layers = [
        f"past_key_values.{i}.{side}.{kv}"
        for i in range(2)
        for side in ("decoder", "encoder")
        for kv in ("key", "value")
    ]
    assert inputs == {"encoder_attention_mask", "input_ids", *layers}
    outputs = {o.name for o in dec.get_outputs()}
    assert outputs == {"logits", *(n.replace("past_key_values", "present") for n in layers if ".decoder." in n)}
    assert sorted(p.name for p in fp32_export.glob("*.onnx")) == sorted(EXPORTED)  # the other decoders are gone
    assert onnx.load(str(fp32_export / ENCODER), load_external_data=False).opset_import[0].version == 17


def test_the_encoders_cross_attention_outputs_are_the_first_decoder_steps(tiny_checkpoint: Path,
                                                                          fp32_export: Path) -> None:
    """The encoder gives the cross-attention keys/values PyTorch's decoder computes from the encoder's output (the
    same fp32 MatMuls, moved there), and the decoder step with an empty past gives PyTorch's logits."""
    import onnxruntime as ort
    import torch
    from transformers import T5ForConditionalGeneration

    model = T5ForConditionalGeneration.from_pretrained(tiny_checkpoint).eval()
    ids = torch.tensor([[5, 77, 301, 4000, 2]])
    dec_ids = torch.tensor([[0, 812, 33]])
    with torch.no_grad():
        out = model(input_ids=ids, decoder_input_ids=dec_ids, use_cache=True)
    enc = ort.InferenceSession(str(fp32_export / ENCODER), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(fp32_export / DECODER_WITH_PAST), providers=["CPUExecutionProvider"])
    names = [o.name for o in enc.get_outputs()]
    values = dict(zip(names, enc.run(None, {"input_ids": ids.numpy(), "attention_mask": np.ones((1, 5), np.int64)}),
                      strict=True))
    feed = {"input_ids": dec_ids.numpy(), "encoder_attention_mask": np.ones((1, 5), np.int64)}
    for i, layer in enumerate(out.past_key_values.cross_attention_cache.layers):
        for kv, ref in (("key", layer.keys), ("value", layer.values)):
            np.testing.assert_allclose(values[f"present.{i}.encoder.{kv}"], ref.numpy(), atol=1e-5)
            feed[f"past_key_values.{i}.encoder.{kv}"] = values[f"present.{i}.encoder.{kv}"]
            feed[f"past_key_values.{i}.decoder.{kv}"] = np.zeros((1, ref.shape[1], 0, ref.shape[3]), np.float32)
    (logits,) = dec.run(["logits"], feed)
    np.testing.assert_allclose(logits, out.logits.numpy(), atol=1e-4)
