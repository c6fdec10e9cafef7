"""lenscribe.modelbuild.pipeline: the full build (the manifest, fp32 and int8 against transformers), its
checkpoints (skipped, moved, forced, redone downstream), the verify gate, ``model clean`` and a directory that is not
a build.

Heavy objects (the trained tiny model and the int8 build) come from conftest's session fixtures; tests that rebuild or
damage a model work on a copy so the shared build stays intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lenscribe.cli import main
from lenscribe.modelbuild import verify as verify_step
from lenscribe.modelbuild.deps import torch_threads
from lenscribe.modelbuild.errors import BuildError
from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER
from lenscribe.modelbuild.pipeline import WORK, clean
from lenscribe.modelfiles import Architecture, load_manifest, sha256_file
from modelbuild_support import SHIPPED, build, copy_build, onnx_arch, run_actions, samples_file

pytestmark = pytest.mark.slow


MIN_INT8_TOKEN_AGREEMENT = 0.95  # stated threshold for the tiny model (its logits are peaked: int8 should not flip)


# -- the full build ------------------------------------------------------------------------------------------------


def test_manifest_describes_the_built_files(tiny_model_dir: Path, tiny_checkpoint: Path) -> None:
    assert {p.name for p in tiny_model_dir.iterdir()} == SHIPPED | {WORK}
    manifest = load_manifest(tiny_model_dir)
    raw = manifest.raw
    assert raw["name"] == "tiny-codet5" and manifest.model_id.startswith("tiny-codet5@")
    for role, name in (
        ("encoder", ENCODER),
        ("decoder", DECODER_WITH_PAST),
        ("tokenizer", "tokenizer.json"),
        ("config", "config.json"),
    ):
        path = tiny_model_dir / name
        assert raw["files"][role] == {"path": name, "size": path.stat().st_size, "sha256": sha256_file(path)}
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    assert manifest.architecture == Architecture.from_hf_config(cfg, max_input_tokens=512)
    assert raw["source"]["kind"] == "local" and raw["source"]["path"] == str(tiny_checkpoint.resolve())
    assert raw["source"]["files"]["model.safetensors"] == sha256_file(tiny_checkpoint / "model.safetensors")
    assert raw["opset"] == 17
    q = raw["quantization"]
    assert (q["weight_type"], q["per_channel"], q["keep_fp32"], q["excluded_nodes"]) == ("QInt8", False, [], [])
    v = raw["verify"]
    assert v["passed"] and v["failures"] == [] and v["samples"] == 8
    assert v["fp32"]["exact_match"] == 1.0 and v["fp32"]["max_logit_drift"] < 1e-3
    assert set(raw["tools"]) >= {"torch", "transformers", "optimum", "onnxruntime", "onnx", "python"}


def test_fp32_onnx_greedy_equals_transformers_generate(tiny_model_dir: Path, tiny_pairs) -> None:
    """Independent of verify's numbers: the engine on the fp32 export reproduces ``model.generate`` token for token."""
    import torch
    from transformers import T5ForConditionalGeneration

    from lenscribe.generation import Seq2SeqOnnx
    from lenscribe.model_input import prepare_code
    from lenscribe.modelbuild.samples import DEFAULT_SAMPLES
    from lenscribe.tokenization import load_tokenizer

    work = tiny_model_dir / WORK
    arch = onnx_arch(tiny_model_dir)
    tok = load_tokenizer(tiny_model_dir / "tokenizer.json")
    model = T5ForConditionalGeneration.from_pretrained(work / "source").eval()
    engine = Seq2SeqOnnx(work / "onnx-fp32" / ENCODER, work / "onnx-fp32" / DECODER_WITH_PAST, arch, intra_op_threads=1)
    codes = [c for c, _ in tiny_pairs] + list(DEFAULT_SAMPLES[:4])
    for code in codes:
        ids = tok.encode(prepare_code(code)).ids
        with torch.inference_mode(), torch_threads(1):
            ref = model.generate(torch.tensor([ids]), num_beams=1, do_sample=False, max_new_tokens=20)[0].tolist()
        ours = engine.generate([ids], max_new_tokens=20)[0]
        assert ours == verify_step.strip_generated(ref, arch.eos_token_id), code


def test_int8_model_agrees_and_says_the_memorised_sentences(tiny_model_dir: Path, tiny_pairs) -> None:
    from lenscribe.summarizer import Summarizer

    int8 = load_manifest(tiny_model_dir).raw["verify"]["int8"]
    assert int8["token_agreement"] >= MIN_INT8_TOKEN_AGREEMENT
    assert int8["forced_top1_agreement"] >= MIN_INT8_TOKEN_AGREEMENT
    summarizer = Summarizer.load(tiny_model_dir, threads=1)
    assert summarizer.summarize([c for c, _ in tiny_pairs]) == [s for _, s in tiny_pairs]


def test_second_build_skips_every_step(
    tiny_model_dir: Path, tiny_checkpoint: Path, tiny_samples_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    watched = [*(tiny_model_dir / WORK / "onnx-fp32").glob("*.onnx"), *(tiny_model_dir / n for n in SHIPPED)]
    before = {p: p.stat().st_mtime_ns for p in watched}
    assert build(tiny_checkpoint, "--out", tiny_model_dir, "--name", "tiny-codet5", "--samples", tiny_samples_file) == 0
    assert run_actions(tiny_model_dir) == dict.fromkeys(("fetch", "export", "quantize", "verify", "publish"), "skipped")
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    assert capsys.readouterr().err.count("up to date") == 5


def test_moved_build_stays_valid_and_force_redoes_everything(
    tiny_model_dir: Path, tiny_checkpoint: Path, tiny_samples_file: Path, tiny_pairs, tmp_path: Path
) -> None:
    copy = copy_build(tiny_model_dir, tmp_path)
    args = (tiny_checkpoint, "--out", copy, "--name", "tiny-codet5", "--samples", tiny_samples_file)
    assert build(*args) == 0
    assert set(run_actions(copy).values()) == {"skipped"}
    exported = copy / WORK / "onnx-fp32" / ENCODER
    before = exported.stat().st_mtime_ns
    # Fewer samples keep the forced run short; they change only verify's key, so export re-runs because of --force.
    one = samples_file(tmp_path, [tiny_pairs[0][0]])
    assert build(tiny_checkpoint, "--out", copy, "--name", "tiny-codet5", "--samples", one, "--force") == 0
    assert run_actions(copy) == dict.fromkeys(("fetch", "export", "quantize", "verify", "publish"), "ran")
    assert exported.stat().st_mtime_ns > before
    assert load_manifest(copy).raw["verify"]["passed"]


def test_changed_quantization_redoes_only_downstream_steps(
    tiny_model_dir: Path, tiny_checkpoint: Path, tiny_pairs, tmp_path: Path
) -> None:
    copy = copy_build(tiny_model_dir, tmp_path)
    two = samples_file(tmp_path, [c for c, _ in tiny_pairs[:2]])
    assert (
        build(tiny_checkpoint, "--out", copy, "--name", "tiny-codet5", "--samples", two, "--keep-fp32", "lm_head") == 0
    )
    assert run_actions(copy) == {
        "fetch": "skipped",
        "export": "skipped",
        "quantize": "ran",
        "verify": "ran",
        "publish": "ran",
    }
    raw = load_manifest(copy).raw
    assert raw["quantization"]["excluded_nodes"] == ["/lm_head/MatMul"]
    assert raw["files"]["decoder"]["size"] > load_manifest(tiny_model_dir).raw["files"]["decoder"]["size"]
    assert raw["model_id"] != load_manifest(tiny_model_dir).model_id


def test_verify_gate_blocks_publishing_unless_disabled(
    tiny_model_dir: Path,
    tiny_checkpoint: Path,
    tiny_samples_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = copy_build(tiny_model_dir, tmp_path)
    manifest_before = (copy / "manifest.json").read_bytes()
    args = (
        tiny_checkpoint,
        "--out",
        copy,
        "--name",
        "tiny-codet5",
        "--samples",
        tiny_samples_file,
        "--max-int8-drift",
        "1e-9",
    )
    assert build(*args) == 3
    err = capsys.readouterr().err
    assert "verify failed: int8 max logit drift" in err and "--no-verify-gate" in err
    assert (copy / "manifest.json").read_bytes() == manifest_before  # nothing published
    assert run_actions(copy)["verify"] == "skipped"  # the gate re-judged the stored report
    assert build(*args, "--no-verify-gate") == 0
    v = load_manifest(copy).raw["verify"]
    assert v["passed"] is False and v["failures"][0].startswith("int8 max logit drift")


# -- clean ---------------------------------------------------------------------------------------------------------


def test_clean_removes_work_then_everything(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = copy_build(tiny_model_dir, tmp_path)
    assert main(["model", "clean", str(copy)]) == 0
    assert {p.name for p in copy.iterdir()} == SHIPPED
    load_manifest(copy)  # the model itself is untouched
    assert main(["model", "clean", str(copy), "--all"]) == 0
    assert not copy.exists()


def test_clean_refuses_a_directory_that_is_not_a_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["model", "clean", str(tmp_path), "--all"]) == 1
    assert "not a lenscribe model build" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me" and (tmp_path / "work").is_dir()
    with pytest.raises(BuildError, match="no such directory"):
        clean(tmp_path / "missing")


def test_build_refuses_to_clobber_unrelated_directory(tiny_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert build(tiny_checkpoint, "--out", tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
