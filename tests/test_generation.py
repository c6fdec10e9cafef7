"""Generation on the real tiny int8/fp32 model (lenscribe.generation, through lenscribe.summarizer): beam search,
batching, truncation, limits, timeout, the fp32 reference build.

``test_modelbuild_pipeline.py`` checks greedy decoding against transformers; these tests cover what the editor relies on
beyond it. ``lenscribe summarize`` on the same model: test_summarize_cli.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lenscribe.decoding import DEFAULT_REPETITION_PENALTY, GenerationOptions
from lenscribe.generation import GenerationTimeout, Seq2SeqOnnx
from lenscribe.modelbuild.deps import torch_threads
from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER
from lenscribe.modelbuild.pipeline import WORK
from lenscribe.modelbuild.samples import DEFAULT_SAMPLES
from lenscribe.modelfiles import load_manifest
from lenscribe.summarizer import Summarizer, prepare_code
from lenscribe.tokenization import load_tokenizer


@pytest.fixture(scope="module")
def summarizer(tiny_model_dir: Path) -> Summarizer:
    return Summarizer.load(tiny_model_dir, threads=1)


@pytest.mark.parametrize(("beams", "repetition_penalty"), [(2, 1.0), (4, 1.0), (1, 3.0), (3, 3.0)])
def test_beam_search_equals_transformers_generate(tiny_model_dir: Path, tiny_pairs, beams: int,
                                                  repetition_penalty: float) -> None:
    import torch
    from transformers import T5ForConditionalGeneration

    arch = load_manifest(tiny_model_dir).architecture
    tok = load_tokenizer(tiny_model_dir / "tokenizer.json")
    work = tiny_model_dir / WORK
    model = T5ForConditionalGeneration.from_pretrained(work / "source").eval()
    engine = Seq2SeqOnnx(work / "onnx-fp32" / ENCODER, work / "onnx-fp32" / DECODER_WITH_PAST, arch, intra_op_threads=1)
    codes = [c for c, _ in tiny_pairs[:4]] + list(DEFAULT_SAMPLES[:4])
    changed = 0
    for code in codes:
        ids = tok.encode(prepare_code(code)).ids
        with torch.inference_mode(), torch_threads(1):
            ref = model.generate(
                torch.tensor([ids]), num_beams=beams, do_sample=False, max_new_tokens=16, length_penalty=1.0,
                repetition_penalty=repetition_penalty,
            )[0].tolist()
        ref = [t for t in ref[1:] if t not in (arch.eos_token_id, arch.pad_token_id)]
        out = engine.generate([ids], max_new_tokens=16, num_beams=beams, repetition_penalty=repetition_penalty)
        assert out[0] == ref, code
        changed += out != engine.generate([ids], max_new_tokens=16, num_beams=beams)
    if repetition_penalty == 1.0:
        assert not changed
    elif beams == 1:  # greedy works on logits, where the penalty bites; a beam search on log-probabilities, where
        assert changed  # a confident token (log-prob ~0) keeps its lead: the tiny model's beams do not change


def test_batched_generation_equals_one_at_a_time(tiny_model_dir: Path, tiny_pairs) -> None:
    arch = load_manifest(tiny_model_dir).architecture
    tok = load_tokenizer(tiny_model_dir / "tokenizer.json")
    engine = Seq2SeqOnnx(tiny_model_dir / "encoder_model.onnx", tiny_model_dir / "decoder_with_past_model.onnx", arch,
                         intra_op_threads=1)
    batch = [tok.encode(prepare_code(c)).ids for c, _ in tiny_pairs]  # different lengths: padding is exercised
    assert len({len(x) for x in batch}) > 1
    for beams in (1, 3):
        together = engine.generate(batch, max_new_tokens=20, num_beams=beams)
        alone = [engine.generate([ids], max_new_tokens=20, num_beams=beams)[0] for ids in batch]
        assert together == alone


def test_summaries_come_back_in_input_order_whatever_the_batch_size(tiny_model_dir: Path, tiny_pairs) -> None:
    codes = [c for c, _ in reversed(tiny_pairs)]
    expected = [s for _, s in reversed(tiny_pairs)]
    for size in (1, 3, 16):
        s = Summarizer.load(tiny_model_dir, threads=1, options=GenerationOptions(batch_size=size))
        assert s.summarize(codes) == expected
        assert s.runs == -(-len(codes) // size)


def test_a_beam_search_is_cached_under_its_own_id(tiny_model_dir: Path, tiny_pairs) -> None:
    greedy = Summarizer.load(tiny_model_dir, threads=1)
    beam = Summarizer.load(tiny_model_dir, threads=1, options=GenerationOptions(num_beams=3))
    assert greedy.model_id == beam.model_id
    assert greedy.summary_id == f"{greedy.model_id}+rp{DEFAULT_REPETITION_PENALTY:g}"
    assert beam.summary_id == f"{beam.model_id}+beam3+rp{DEFAULT_REPETITION_PENALTY:g}"
    plain = Summarizer.load(tiny_model_dir, threads=1, options=GenerationOptions(repetition_penalty=1.0))
    assert plain.summary_id == plain.model_id  # decoding as transformers' generate() does by default
    assert beam.summarize([c for c, _ in tiny_pairs]) == [s for _, s in tiny_pairs]  # the memorised pairs either way


def test_lone_surrogates_reach_the_tokenizer_as_replacement_characters(summarizer: Summarizer, tiny_pairs) -> None:
    from lenscribe.model_input import tokenizable

    assert tokenizable("a\udcffb") == "a\ufffdb"
    assert tokenizable("x = '\ud83d\ude00'") == "x = '\U0001f600'"  # a pair split in two code points is joined
    assert tokenizable("plain") == "plain"
    code, summary = tiny_pairs[0]
    out = summarizer.summarize([code + "  # \udcff", code])  # an editor can send this (JSON "\udcff")
    assert len(out) == 2 and out[1] == summary and isinstance(out[0], str)


def test_long_input_is_truncated_not_rejected(summarizer: Summarizer, tiny_pairs) -> None:
    code, summary = tiny_pairs[0]
    limit = summarizer.max_input_tokens
    long_code = code + "\n" + "\n".join(f"    x{i} = compute({i}) + other_value_{i}" for i in range(2000))
    ids, truncated = summarizer.encode(long_code)
    assert truncated and len(ids) == limit and ids[-1] == summarizer.manifest.architecture.eos_token_id
    assert summarizer.encode(code) == (summarizer.tokenizer.encode(prepare_code(code)).ids, False)
    [out] = summarizer.summarize([long_code])
    assert isinstance(out, str)  # it ran on the head of the chunk; the tiny model's words there are not pinned


def test_output_limit_is_respected(tiny_model_dir: Path, tiny_pairs) -> None:
    full = Summarizer.load(tiny_model_dir, threads=1).summarize([tiny_pairs[0][0]])[0]
    short = Summarizer.load(tiny_model_dir, threads=1, options=GenerationOptions(max_new_tokens=2)).summarize(
        [tiny_pairs[0][0]]
    )[0]
    assert 0 < len(short.split()) <= 2 < len(full.split())
    assert full.startswith(short.rstrip("."))


def test_timeout_raises_and_the_engine_keeps_working(summarizer: Summarizer, tiny_pairs) -> None:
    codes = [c for c, _ in tiny_pairs] * 8
    started = time.monotonic()
    with pytest.raises(GenerationTimeout):
        summarizer.summarize(codes, timeout=1e-4)
    assert time.monotonic() - started < 5
    assert summarizer.summarize([tiny_pairs[1][0]], timeout=60) == [tiny_pairs[1][1]]


def test_one_session_serves_several_threads(summarizer: Summarizer, tiny_pairs) -> None:
    from concurrent.futures import ThreadPoolExecutor

    codes = [c for c, _ in tiny_pairs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: summarizer.summarize([c])[0], codes * 3))
    assert results == [s for _, s in tiny_pairs] * 3


def test_empty_input_list(summarizer: Summarizer) -> None:
    assert summarizer.summarize([]) == []


def test_fp32_reference_is_a_separate_model_that_says_the_same(
    tiny_model_dir: Path, tiny_pairs, tmp_path: Path
) -> None:
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "server"), str(repo / "models")])}  # this checkout's
    run = subprocess.run([sys.executable, "-m", "lenscribe_training.export.fp32_reference", str(tiny_model_dir),
                          str(tmp_path / "fp32")], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    fp32 = load_manifest(tmp_path / "fp32")
    assert fp32.model_id == run.stdout.strip() != load_manifest(tiny_model_dir).model_id
    assert fp32.raw["quantization"]["weight_type"] == "none"
    assert (tmp_path / "fp32" / "decoder_with_past_model.onnx").stat().st_size > \
        2 * (tiny_model_dir / "decoder_with_past_model.onnx").stat().st_size
    summaries = Summarizer.load(tmp_path / "fp32", threads=1).summarize([c for c, _ in tiny_pairs])
    assert summaries == [s for _, s in tiny_pairs]
