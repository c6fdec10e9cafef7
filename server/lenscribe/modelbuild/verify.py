"""Step 4, verify: does the shipped int8 model say what the PyTorch checkpoint says?

For every sample snippet the PyTorch reference is plain greedy ``generate``. Against it we measure, for the fp32 and the
int8 ONNX model run by the real run-time engine (``lenscribe.generation.Seq2SeqOnnx``):

- ``exact_match``: fraction of samples whose greedy token sequence equals the reference;
- ``token_agreement``: fraction of positions (eos included) where the greedy tokens are equal. One early divergence
  costs the whole tail, so this is a strict, user-visible measure;
- ``forced_top1_agreement``: under teacher forcing on the reference tokens, fraction of positions whose argmax agrees.
  Free of that cascade, so it isolates the per-step damage of quantization;
- ``max_logit_drift``: max |logit difference| under teacher forcing, with ``max_abs_logit`` to judge it against.

fp32 must match exactly: any difference there is an export or engine bug, not quantization noise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lenscribe.decoding import DEFAULT_MAX_NEW_TOKENS
from lenscribe.modelfiles import Architecture


@dataclass(frozen=True)
class VerifyThresholds:
    """Gates of the build; defaults leave room for int8 noise on real CodeT5 while catching a broken model."""

    min_fp32_exact_match: float = 1.0
    max_fp32_drift: float = 1e-2  # fp32 noise is ~1e-5 on small logits; an export bug is far above
    min_int8_token_agreement: float = 0.80
    min_int8_exact_match: float = 0.50
    min_int8_forced_top1: float = 0.90
    max_int8_drift: float | None = None  # logit scales differ per model: off unless asked for

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def encode_inputs(tokenizer: Any, codes: Sequence[str], max_input_tokens: int, eos_id: int) -> list[list[int]]:
    """Token ids as the Summarizer makes them (lenscribe.model_input: the same preparation and truncation)."""
    from lenscribe.model_input import prepare_code, truncate_ids

    return [truncate_ids(tokenizer.encode(prepare_code(code)).ids, max_input_tokens, eos_id) for code in codes]


def strip_generated(tokens: list[int], eos_id: int) -> list[int]:
    """HF ``generate`` output -> the engine's convention: no decoder start, nothing from eos on."""
    tokens = tokens[1:]
    return tokens[: tokens.index(eos_id)] if eos_id in tokens else tokens


def token_agreement(a: list[int], b: list[int], max_new_tokens: int, eos_id: int) -> tuple[int, int]:
    """(equal positions, positions) of two greedy outputs; a sequence that stopped early gets its eos compared too."""
    a = [*a, eos_id] if len(a) < max_new_tokens else a
    b = [*b, eos_id] if len(b) < max_new_tokens else b
    n = max(len(a), len(b))
    equal = sum(1 for x, y in zip(a, b, strict=False) if x == y)  # the longer tail counts as unequal
    return equal, n


# -- PyTorch reference -------------------------------------------------------------------------------------------------


class TorchReference:
    """Greedy outputs and teacher-forced logits of the checkpoint itself."""

    def __init__(self, source_dir: Path, arch: Architecture) -> None:
        import torch
        from transformers import GenerationConfig, T5ForConditionalGeneration

        self.torch = torch
        self.arch = arch
        self.model = T5ForConditionalGeneration.from_pretrained(str(source_dir)).eval()
        # An explicit config: the checkpoint's generation_config may carry beams, min_length or no_repeat_ngram_size,
        # which the engine's plain greedy would not apply.
        self.config = GenerationConfig(
            decoder_start_token_id=arch.decoder_start_token_id,
            eos_token_id=arch.eos_token_id,
            pad_token_id=arch.pad_token_id,
            num_beams=1,
            do_sample=False,
        )

    def generate(self, ids: list[int], max_new_tokens: int) -> list[int]:
        with self.torch.inference_mode():
            out = self.model.generate(
                input_ids=self.torch.tensor([ids]),
                attention_mask=self.torch.ones(1, len(ids), dtype=self.torch.long),
                generation_config=self.config,
                max_new_tokens=max_new_tokens,
            )
        return strip_generated(out[0].tolist(), self.arch.eos_token_id)

    def forced_logits(self, ids: list[int], decoder_ids: list[int]) -> np.ndarray:
        with self.torch.inference_mode():
            out = self.model(
                input_ids=self.torch.tensor([ids]),
                decoder_input_ids=self.torch.tensor([[self.arch.decoder_start_token_id, *decoder_ids]]),
            )
        return out.logits[0].float().numpy()


# -- comparison -------------------------------------------------------------------------------------------------------


def compare_engine(
    engine: Any,
    inputs: list[list[int]],
    references: list[list[int]],
    reference_logits: list[np.ndarray],
    max_new_tokens: int,
    eos_id: int,
) -> tuple[dict[str, Any], list[list[int]]]:
    """Measure one ONNX engine against the reference; returns (metrics, its greedy outputs)."""
    start = time.perf_counter()
    outputs = [engine.generate([ids], max_new_tokens=max_new_tokens, num_beams=1)[0] for ids in inputs]
    seconds = time.perf_counter() - start
    equal = positions = top1_equal = top1_positions = 0
    drift = 0.0
    for ids, ref, ref_logits, out in zip(inputs, references, reference_logits, outputs, strict=True):
        e, n = token_agreement(out, ref, max_new_tokens, eos_id)
        equal, positions = equal + e, positions + n
        logits = engine.forced_logits(ids, ref)
        drift = max(drift, float(np.abs(logits - ref_logits).max()))
        top1_equal += int((logits.argmax(-1) == ref_logits.argmax(-1)).sum())
        top1_positions += len(ref_logits)
    metrics = {
        "exact_match": sum(o == r for o, r in zip(outputs, references, strict=True)) / len(inputs),
        "token_agreement": equal / positions,
        "forced_top1_agreement": top1_equal / top1_positions,
        "max_logit_drift": drift,
        "greedy_seconds": round(seconds, 3),
    }
    return metrics, outputs


def verify(
    source_dir: Path,
    fp32: tuple[Path, Path],
    int8: tuple[Path, Path],
    tokenizer_path: Path,
    arch: Architecture,
    samples: Sequence[str],
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the samples through PyTorch, fp32 ONNX and int8 ONNX; returns metrics plus per-sample outputs.

    ``fp32`` and ``int8`` are (encoder, decoder step) paths. Pass/fail is decided separately (``evaluate``) so that
    other thresholds can be applied to a stored report without running the models again. ``threads`` is the
    onnxruntime intra-op thread count (torch's is the caller's business, see ``deps.torch_threads``).
    """
    from lenscribe.generation import Seq2SeqOnnx
    from lenscribe.tokenization import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path)
    inputs = encode_inputs(tokenizer, samples, arch.max_input_tokens, arch.eos_token_id)
    reference = TorchReference(source_dir, arch)
    start = time.perf_counter()
    refs = [reference.generate(ids, max_new_tokens) for ids in inputs]
    torch_seconds = time.perf_counter() - start
    ref_logits = [reference.forced_logits(ids, ref) for ids, ref in zip(inputs, refs, strict=True)]
    report: dict[str, Any] = {
        "samples": len(inputs),
        "max_new_tokens": max_new_tokens,
        "max_abs_logit": max(float(np.abs(x).max()) for x in ref_logits),
        "torch_greedy_seconds": round(torch_seconds, 3),
    }
    outputs: dict[str, list[list[int]]] = {}
    for label, (enc, dec) in (("fp32", fp32), ("int8", int8)):
        engine = Seq2SeqOnnx(enc, dec, arch, intra_op_threads=threads)
        report[label], outputs[label] = compare_engine(
            engine, inputs, refs, ref_logits, max_new_tokens, arch.eos_token_id
        )
    report["per_sample"] = [
        {
            "reference": tokenizer.decode(ref, skip_special_tokens=True),
            "int8": tokenizer.decode(q, skip_special_tokens=True),
            "fp32_equal": f == ref,
            "int8_equal": q == ref,
        }
        for ref, f, q in zip(refs, outputs["fp32"], outputs["int8"], strict=True)
    ]
    return report


def evaluate(report: dict[str, Any], thresholds: VerifyThresholds) -> list[str]:
    """The gate: one line per threshold the report misses (empty: passed)."""
    fails: list[str] = []
    fp32, int8 = report["fp32"], report["int8"]

    def below(label: str, value: float, limit: float) -> None:
        if value < limit:
            fails.append(f"{label} {value:.3f} < {limit:.3f}")

    def above(label: str, value: float, limit: float | None) -> None:
        if limit is not None and (value > limit or math.isnan(value)):
            fails.append(f"{label} {value:.3g} > {limit:.3g}")

    below("fp32 exact match", fp32["exact_match"], thresholds.min_fp32_exact_match)
    above("fp32 max logit drift", fp32["max_logit_drift"], thresholds.max_fp32_drift)
    below("int8 token agreement", int8["token_agreement"], thresholds.min_int8_token_agreement)
    below("int8 exact match", int8["exact_match"], thresholds.min_int8_exact_match)
    below("int8 teacher-forced top-1 agreement", int8["forced_top1_agreement"], thresholds.min_int8_forced_top1)
    above("int8 max logit drift", int8["max_logit_drift"], thresholds.max_int8_drift)
    return fails


def summary(report: dict[str, Any]) -> str:
    """One line for the progress output."""
    f, q = report["fp32"], report["int8"]
    return (
        f"{report['samples']} samples; fp32 exact {f['exact_match']:.0%} drift {f['max_logit_drift']:.2g}; "
        f"int8 exact {q['exact_match']:.0%} tokens {q['token_agreement']:.1%} "
        f"top-1 {q['forced_top1_agreement']:.1%} drift {q['max_logit_drift']:.3g} "
        f"(|logit| max {report['max_abs_logit']:.3g})"
    )
