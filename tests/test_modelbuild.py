"""The model build pipeline: each step alone, checkpoints, the manifest, the verify gate and ``model clean``.

Heavy objects (the trained tiny model and the int8 build) come from conftest's session fixtures; tests that rebuild or
damage a model work on a copy so the shared build stays intact.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lenscribe.cli import main
from lenscribe.modelbuild import fetch as fetch_step
from lenscribe.modelbuild import quantize as quantize_step
from lenscribe.modelbuild import verify as verify_step
from lenscribe.modelbuild.deps import torch_threads
from lenscribe.modelbuild.errors import BuildError
from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER, EXPORTED
from lenscribe.modelbuild.pipeline import WORK, clean
from lenscribe.modelbuild.state import BuildState
from lenscribe.modelfiles import Architecture, ModelError, load_manifest, sha256_file

pytestmark = pytest.mark.slow

MIN_INT8_TOKEN_AGREEMENT = 0.95  # stated threshold for the tiny model (its logits are peaked: int8 should not flip)
SHIPPED = {"encoder_model.onnx", "decoder_with_past_model.onnx", "tokenizer.json", "config.json", "manifest.json"}


def build(*args: str | Path) -> int:
    """``lenscribe model build ARGS --threads 1`` in process (torch is imported once per session)."""
    return main(["model", "build", *map(str, args), "--threads", "1"])


def samples_file(tmp_path: Path, codes: list[str]) -> Path:
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"code": c}) + "\n" for c in codes))
    return path


def copy_build(model_dir: Path, dest: Path) -> Path:
    """A moved copy of a build (mtimes kept): must be as valid as the original."""
    return Path(shutil.copytree(model_dir, dest / model_dir.name))


def run_actions(model_dir: Path) -> dict[str, str]:
    """step -> ran/skipped for the most recent run, from the state log."""
    log = json.loads((model_dir / WORK / "state.json").read_text())["log"]
    last = log[-1]["run"]
    return {e["step"]: e["action"] for e in log if e["run"] == last}


def onnx_arch(model_dir: Path) -> Architecture:
    return load_manifest(model_dir).architecture


def make_source(tmp_path: Path, config: dict | str | None, weights: bool = True) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    if config is not None:
        (src / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if weights:
        (src / "model.safetensors").write_bytes(b"\0" * 16)
    return src


T5_KEYS = {"model_type": "t5", "num_layers": 2, "num_heads": 4, "d_kv": 16, "d_model": 64, "vocab_size": 32100}


# -- fetch ----------------------------------------------------------------------------------------------------------


def test_parse_source(tmp_path: Path) -> None:
    assert fetch_step.parse_source(str(tmp_path)) == fetch_step.Source("local", str(tmp_path.resolve()))
    hub = fetch_step.parse_source("Salesforce/codet5-base-multi-sum", revision="main")
    assert (hub.kind, hub.location, hub.revision) == ("hub", "Salesforce/codet5-base-multi-sum", "main")
    with pytest.raises(BuildError, match="no such directory"):
        fetch_step.parse_source("./no/such/dir")
    (tmp_path / "f.json").write_text("{}")
    with pytest.raises(BuildError, match="got a file"):
        fetch_step.parse_source(str(tmp_path / "f.json"))


def test_fetch_copies_checkpoint_and_writes_missing_tokenizer(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from lenscribe.tokenization import build_tokenizer, load_tokenizer

    src = tmp_path / "no-tokenizer"
    src.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy2(tiny_checkpoint / name, src / name)
    dest = tmp_path / "work" / "source"
    record = fetch_step.fetch(fetch_step.parse_source(str(src)), dest)
    assert record["kind"] == "local" and record["location"] == str(src.resolve())
    assert record["files"] == {p.name: sha256_file(p) for p in src.iterdir()}
    assert "has none" in record["tokenizer"]
    code = "def add(a, b):\n    return a + b"
    assert load_tokenizer(dest / "tokenizer.json").encode(code).ids == build_tokenizer().encode(code).ids
    assert sha256_file(dest / "model.safetensors") == sha256_file(src / "model.safetensors")


@pytest.mark.parametrize(
    ("config", "weights", "message"),
    [
        ({**T5_KEYS, "model_type": "bert", "architectures": ["BertModel"]}, True, "'bert' .*not supported.*T5"),
        (None, True, "no config.json"),
        ("{not json", True, "unreadable config"),
        ({"model_type": "t5", "d_model": 64}, True, "lacks num_layers"),
        (T5_KEYS, False, "no PyTorch weights"),
    ],
    ids=["non-t5", "no-config", "bad-json", "incomplete", "no-weights"],
)
def test_fetch_rejects_bad_sources(tmp_path: Path, config, weights: bool, message: str) -> None:
    src = make_source(tmp_path, config, weights)
    with pytest.raises(BuildError, match=message):
        fetch_step.fetch(fetch_step.parse_source(str(src)), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()  # rejected before anything is copied


def test_cli_reports_non_t5_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optimum")
    src = make_source(tmp_path, {**T5_KEYS, "model_type": "gpt2"})
    assert build(src, "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "error:" in err and "'gpt2'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing left behind by a build that never started


def test_tokenizer_must_fit_config(tiny_checkpoint: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(tiny_checkpoint, src)
    cfg = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**cfg, "vocab_size": 32000}))
    with pytest.raises(BuildError, match="32100 tokens but the model's vocab_size is 32000"):
        fetch_step.fetch(fetch_step.parse_source(str(src)), tmp_path / "dest")


def test_hub_id_fails_fast_when_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))  # nothing cached
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(BuildError, match="not in the local hub cache and HF_HUB_OFFLINE"):
        fetch_step.fetch(fetch_step.parse_source("Salesforce/codet5-base-multi-sum"), tmp_path / "dest")
    assert time.monotonic() - start < 10


def test_reachability_probe_answers_quickly() -> None:
    start = time.monotonic()
    why = fetch_step._reachable("https://127.0.0.1:9", timeout=2)  # discard port: refused at once
    assert why is not None and time.monotonic() - start < 5


def test_missing_build_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from lenscribe.modelbuild.deps import require_build_deps

    monkeypatch.setitem(sys.modules, "optimum.exporters.onnx", None)  # import now raises ImportError
    with pytest.raises(BuildError, match=r"\[build\] extra \(missing: optimum\)"):
        require_build_deps()


def test_cli_module_imports_no_build_dependency() -> None:
    code = (
        "import sys, lenscribe.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'optimum', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- export and quantize, alone -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fp32_export(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lenscribe.modelbuild.export import export_onnx

    out = tmp_path_factory.mktemp("export") / "onnx-fp32"
    with torch_threads(1):
        paths = export_onnx(tiny_checkpoint, out, opset=17)
    assert set(paths) == set(EXPORTED)
    return out


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


# -- publish -----------------------------------------------------------------------------------------------------


def test_publish_alone_writes_files_and_a_loadable_manifest(tiny_model_dir: Path, tmp_path: Path) -> None:
    from lenscribe.modelbuild.publish import publish

    work = tiny_model_dir / WORK
    sources = {
        "encoder": work / "int8" / ENCODER,
        "decoder": work / "int8" / DECODER_WITH_PAST,
        "tokenizer": work / "source" / "tokenizer.json",
        "config": work / "source" / "config.json",
    }
    arch = dataclasses.asdict(onnx_arch(tiny_model_dir))
    out = tmp_path / "published"
    publish(out, sources, {"name": "alone", "architecture": arch, "opset": 17})
    assert {p.name for p in out.iterdir()} == SHIPPED  # no temporary files left behind
    manifest = load_manifest(out)
    assert manifest.model_id.startswith("alone@") and manifest.raw["opset"] == 17
    assert list(manifest.raw)[:5] == ["format", "name", "architecture", "files", "opset"]
    for role, src in sources.items():
        assert manifest.raw["files"][role]["sha256"] == sha256_file(src)
    # Same files, same id: the id is the cache key of summaries and must not depend on the build run.
    assert manifest.model_id.split("@")[1] == load_manifest(tiny_model_dir).model_id.split("@")[1]


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


# -- load_manifest on damaged model directories --------------------------------------------------------------------


@pytest.fixture
def shipped_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    out.mkdir()
    for name in SHIPPED:
        shutil.copy2(tiny_model_dir / name, out / name)
    load_manifest(out)  # intact copy loads
    return out


def test_load_manifest_missing_file(shipped_copy: Path) -> None:
    (shipped_copy / DECODER_WITH_PAST).unlink()
    with pytest.raises(ModelError, match=r"model file missing: .*decoder_with_past_model.onnx \(decoder\)"):
        load_manifest(shipped_copy)


def test_load_manifest_truncated_file(shipped_copy: Path) -> None:
    path = shipped_copy / ENCODER
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=f"truncated or changed: .*encoder_model.onnx is {len(data) // 2} bytes"):
        load_manifest(shipped_copy)


def test_load_manifest_flipped_byte(shipped_copy: Path) -> None:
    path = shipped_copy / DECODER_WITH_PAST
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model file corrupt: sha256 of .*decoder_with_past_model\.onnx"):
        load_manifest(shipped_copy)
    load_manifest(shipped_copy, check_hashes=False)  # the size check alone cannot see it


def test_load_manifest_without_manifest_says_how_to_build(shipped_copy: Path) -> None:
    (shipped_copy / "manifest.json").unlink()
    with pytest.raises(ModelError, match="lenscribe model build"):
        load_manifest(shipped_copy)


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


# -- checkpoint state ------------------------------------------------------------------------------------------------


def test_state_rejects_a_checkpoint_whose_output_changed(tmp_path: Path) -> None:
    work = tmp_path / WORK
    out = work / "out.bin"
    work.mkdir()
    out.write_bytes(b"one")
    state = BuildState.load(work)
    state.record("export", "k1", {"x": 1}, [out], 0.1)
    again = BuildState.load(work)
    assert again.is_done("export", "k1") and not again.is_done("export", "k2")
    assert again.steps["export"]["files"] == {"work/out.bin": sha256_file(out)}  # relative: a moved build stays valid
    out.write_bytes(b"three")
    assert not again.is_done("export", "k1")
    out.unlink()
    assert not again.is_done("export", "k1")
