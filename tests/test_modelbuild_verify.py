"""lenscribe.modelbuild.verify: the gate catches a damaged int8 model, each threshold gates, token agreement counts
eos and divergent tails.

Heavy objects (the trained tiny model and the int8 build) come from conftest's session fixtures; tests that rebuild or
damage a model work on a copy so the shared build stays intact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lenscribe.modelbuild import verify as verify_step
from lenscribe.modelbuild.deps import torch_threads
from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER
from lenscribe.modelbuild.pipeline import WORK
from modelbuild_support import onnx_arch

pytestmark = pytest.mark.slow


# -- verify ------------------------------------------------------------------------------------------------------


def test_verify_alone_catches_a_damaged_int8_model(tiny_model_dir: Path, tiny_pairs, tmp_path: Path) -> None:
    """Roll the int8 lm_head's vocabulary axis by one: every argmax moves, and verify must say so."""
    import onnx
    from onnx import numpy_helper

    work = tiny_model_dir / WORK
    model = onnx.load(str(tiny_model_dir / DECODER_WITH_PAST))
    arch = onnx_arch(tiny_model_dir)
    (head,) = [
        i
        for i in model.graph.initializer
        if list(i.dims) == [arch.d_model, arch.vocab_size] and i.data_type == onnx.TensorProto.INT8
    ]
    head.CopyFrom(numpy_helper.from_array(np.roll(numpy_helper.to_array(head), 1, axis=1), head.name))
    damaged = tmp_path / "damaged.onnx"
    onnx.save(model, str(damaged))
    with torch_threads(1):
        report = verify_step.verify(
            work / "source",
            fp32=(work / "onnx-fp32" / ENCODER, work / "onnx-fp32" / DECODER_WITH_PAST),
            int8=(tiny_model_dir / ENCODER, damaged),
            tokenizer_path=tiny_model_dir / "tokenizer.json",
            arch=arch,
            samples=[code for code, _ in tiny_pairs[:3]],
            max_new_tokens=16,
            threads=1,
        )
    assert report["fp32"]["exact_match"] == 1.0
    assert report["int8"]["exact_match"] == 0.0 and report["int8"]["forced_top1_agreement"] < 0.5
    failures = verify_step.evaluate(report, verify_step.VerifyThresholds())
    assert any(f.startswith("int8 exact match") for f in failures)
    assert not any(f.startswith("fp32") for f in failures)


def test_evaluate_gates_each_threshold() -> None:
    good = {"exact_match": 1.0, "token_agreement": 1.0, "forced_top1_agreement": 1.0, "max_logit_drift": 1e-6}
    report = {"fp32": dict(good), "int8": {**good, "max_logit_drift": 0.5}}
    assert verify_step.evaluate(report, verify_step.VerifyThresholds()) == []
    assert verify_step.evaluate(report, verify_step.VerifyThresholds(max_int8_drift=0.1)) == [
        "int8 max logit drift 0.5 > 0.1"
    ]
    report["fp32"]["exact_match"] = 11 / 12
    report["fp32"]["max_logit_drift"] = float("nan")
    failures = verify_step.evaluate(report, verify_step.VerifyThresholds())
    assert [f.split(" ")[:3] for f in failures] == [["fp32", "exact", "match"], ["fp32", "max", "logit"]]


def test_token_agreement_counts_eos_and_divergent_tails() -> None:
    assert verify_step.token_agreement([5, 6], [5, 6], 8, 2) == (3, 3)  # eos compared too
    assert verify_step.token_agreement([5, 6], [5, 6, 7], 8, 2) == (2, 4)
    assert verify_step.token_agreement([5] * 4, [5] * 4, 4, 2) == (4, 4)  # ran to the limit: no eos
    assert verify_step.strip_generated([0, 1, 9, 2, 0, 0], 2) == [1, 9]
