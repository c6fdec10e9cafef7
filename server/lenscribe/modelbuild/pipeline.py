"""The build pipeline: fetch -> export -> quantize -> verify -> publish, with checkpoints, and ``clean``.

Each step's key is a digest of its parameters, the tool versions that shape its output and the hashes of the files the
previous step produced; a step whose key and outputs are unchanged is skipped (see ``state.py``). Layout::

    DIR/encoder_model.onnx, decoder_with_past_model.onnx, tokenizer.json, config.json, manifest.json   (shipped)
    DIR/work/state.json       checkpoints + a log of what each run did
    DIR/work/source/          the checkpoint (hard links or copies) + tokenizer.json
    DIR/work/onnx-fp32/       optimum export
    DIR/work/int8/            the quantized encoder and decoder step
    DIR/work/verify-report.json
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenscribe.decoding import DEFAULT_MAX_NEW_TOKENS
from lenscribe.modelbuild import export as export_step
from lenscribe.modelbuild import fetch as fetch_step
from lenscribe.modelbuild import publish as publish_step
from lenscribe.modelbuild import quantize as quantize_step
from lenscribe.modelbuild import verify as verify_step
from lenscribe.modelbuild.deps import quiet_libraries, require_build_deps, tool_versions, torch_threads
from lenscribe.modelbuild.errors import BuildError, VerifyFailed
from lenscribe.modelbuild.samples import load_samples
from lenscribe.modelbuild.state import STATE_NAME, BuildState, digest
from lenscribe.modelfiles import MANIFEST_NAME, Architecture

WORK = "work"
STEPS = ("fetch", "export", "quantize", "verify", "publish")
VERIFY_REPORT = "verify-report.json"

Progress = Callable[[str], None]
StepOutcome = tuple[dict[str, Any], list[Path], str]  # (JSON-able result, files produced, one-line summary)


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BuildOptions:
    source: str
    out_dir: Path
    force: bool = False
    opset: int = export_step.DEFAULT_OPSET
    max_input_tokens: int = 512
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # verify's generation length: the Summarizer's default
    name: str | None = None
    samples: Path | None = None
    revision: str | None = None
    quantize: quantize_step.QuantizeOptions = field(default_factory=quantize_step.QuantizeOptions)
    thresholds: verify_step.VerifyThresholds = field(default_factory=verify_step.VerifyThresholds)
    verify_gate: bool = True
    threads: int | None = None  # torch and onnxruntime threads for export/verify (None: their defaults)
    quiet: bool = True  # silence exporter chatter


@dataclass
class BuildResult:
    out_dir: Path
    manifest_path: Path
    actions: dict[str, str]  # step -> "ran" | "skipped"
    verify: dict[str, Any]
    passed: bool


def mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


class Runner:
    """Runs or skips steps against the checkpoint state and prints one progress line per step."""

    def __init__(self, state: BuildState, progress: Progress) -> None:
        self.state = state
        self.progress = progress
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"  # unique even for runs in one second
        self.actions: dict[str, str] = {}

    def step(self, name: str, key_data: dict[str, Any], fn: Callable[[], StepOutcome]) -> dict[str, Any]:
        number = f"[{STEPS.index(name) + 1}/{len(STEPS)}] {name:<8}"
        key = digest(key_data)
        if self.state.is_done(name, key):
            result = self.state.result(name)
            self.progress(f"{number} up to date: {result.get('summary', '')}")
            self.state.log_action(self.run_id, name, "skipped")
            self.actions[name] = "skipped"
            return result
        self.state.invalidate(name)
        self.progress(f"{number} ...")
        start = time.perf_counter()
        result, files, summary = fn()
        seconds = time.perf_counter() - start
        result = {**result, "summary": summary}
        self.state.record(name, key, result, files, seconds)
        self.state.log_action(self.run_id, name, "ran", seconds)
        self.actions[name] = "ran"
        self.progress(f"{number} done in {seconds:.1f} s: {summary}")
        return result

    def outputs(self, name: str) -> dict[str, str]:
        """The hashes of what an earlier step produced: part of the next steps' keys."""
        return {Path(p).name: sha for p, sha in self.state.steps[name]["files"].items()}


def check_out_dir(out_dir: Path, source: fetch_step.Source) -> None:
    """Refuse output directories where the build would clobber someone's files."""
    if source.kind == "local" and out_dir.resolve() == Path(source.location).resolve():
        raise BuildError(f"--out {out_dir} is the source checkpoint itself; choose another directory")
    is_build = (out_dir / MANIFEST_NAME).exists() or (out_dir / WORK).is_dir()
    if out_dir.is_dir() and any(out_dir.iterdir()) and not is_build:
        raise BuildError(f"--out {out_dir} is a non-empty directory that is not a lenscribe model build; refusing")


def default_name(source: fetch_step.Source) -> str:
    return Path(source.location).name if source.kind == "local" else source.location.split("/")[-1]


def build(options: BuildOptions, progress: Progress = stderr_progress) -> BuildResult:
    """Build (or bring up to date) the model directory ``options.out_dir``; raises BuildError/VerifyFailed."""
    require_build_deps()
    out_dir = Path(options.out_dir).expanduser()
    created = not out_dir.exists()
    try:
        with torch_threads(options.threads):
            return _build(options, progress)
    except BuildError:
        # A build that failed before any step finished (bad source, offline hub) leaves no empty directories behind.
        if created and not (out_dir / WORK / STATE_NAME).exists():
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _build(options: BuildOptions, progress: Progress) -> BuildResult:
    out_dir = Path(options.out_dir).expanduser().resolve()
    source = fetch_step.parse_source(options.source, options.revision)
    check_out_dir(out_dir, source)
    work = out_dir / WORK
    work.mkdir(parents=True, exist_ok=True)
    state = BuildState.load(work)
    if options.force:
        state.steps.clear()
        state.hashes.clear()
    runner = Runner(state, progress)
    versions = tool_versions()

    src_dir = work / "source"
    fetched = runner.step(
        "fetch",
        {"source": fetch_step.source_key(source, state.file_sha256), "lenscribe": versions["lenscribe"]},
        lambda: _fetch(source, src_dir, state),
    )
    cfg = json.loads((src_dir / fetch_step.CONFIG).read_text(encoding="utf-8"))
    arch = Architecture.from_hf_config(cfg, max_input_tokens=options.max_input_tokens)

    fp32_dir = work / "onnx-fp32"
    runner.step(
        "export",
        {
            "inputs": runner.outputs("fetch"),
            "opset": options.opset,
            "task": export_step.TASK,
            "layout": export_step.LAYOUT,
            "tools": {k: versions[k] for k in ("torch", "transformers", "optimum", "optimum-onnx", "onnx")},
        },
        lambda: _export(src_dir, fp32_dir, options),
    )

    int8_dir = work / "int8"
    quantized = runner.step(
        "quantize",
        {
            "inputs": runner.outputs("export"),
            "options": options.quantize.as_dict(),
            "tools": {k: versions[k] for k in ("onnxruntime", "onnx", "optimum-onnx")},
        },
        lambda: _quantize(fp32_dir, int8_dir, options.quantize),
    )

    samples = load_samples(options.samples)
    report = runner.step(
        "verify",
        {
            "int8": runner.outputs("quantize"),
            "fp32": runner.outputs("export"),
            "source": runner.outputs("fetch"),
            "samples": digest(samples),
            "max_new_tokens": options.max_new_tokens,
            "arch": dataclasses.asdict(arch),
            "tools": versions,
        },
        lambda: _verify(src_dir, fp32_dir, int8_dir, arch, samples, options, work / VERIFY_REPORT),
    )
    failures = verify_step.evaluate(report, options.thresholds)
    if failures and options.verify_gate:
        raise VerifyFailed(
            "verify failed: " + "; ".join(failures) + f" (details: {work / VERIFY_REPORT}; keep the model anyway "
            "with --no-verify-gate, or try --keep-fp32 lm_head / --per-channel)",
            report,
        )
    if failures:
        progress("warning: verify failed, kept because of --no-verify-gate: " + "; ".join(failures))

    manifest = {
        "name": options.name or default_name(source),
        "source": _source_block(fetched),
        "architecture": dataclasses.asdict(arch),
        "opset": options.opset,
        "layout": export_step.LAYOUT,
        "quantization": {
            "method": "encoder: onnxruntime.quantization.quantize_dynamic; decoder step: MatMuls per row "
                      "(lenscribe.modelbuild.rowquant), Gathers by quantize_dynamic",
            "weight_type": "QInt8",
            "activations": "dynamic uint8: encoder per tensor (one chunk per run), decoder per row",
            "decoder_weights": "per output channel",
            **options.quantize.as_dict(),
            "excluded_nodes": quantized["excluded_nodes"],
        },
        "verify": _verify_block(report, options, failures),
        "tools": versions,
    }
    sources = {
        "encoder": int8_dir / export_step.ENCODER,
        "decoder": int8_dir / export_step.DECODER_WITH_PAST,
        "tokenizer": src_dir / fetch_step.TOKENIZER,
        "config": src_dir / fetch_step.CONFIG,
    }
    runner.step(
        "publish",
        {"manifest": manifest, "inputs": {role: state.file_sha256(p) for role, p in sources.items()}},
        lambda: _publish(out_dir, sources, manifest),
    )
    return BuildResult(out_dir, out_dir / MANIFEST_NAME, runner.actions, report, not failures)


# -- the steps, as the runner calls them -------------------------------------------------------------------------------


def _fetch(source: fetch_step.Source, dest: Path, state: BuildState) -> StepOutcome:
    result = fetch_step.fetch(source, dest, sha256=state.file_sha256)
    files = sorted(p for p in dest.iterdir() if p.is_file())
    return result, files, f"{len(result['files'])} files from {source.location} (tokenizer: {result['tokenizer']})"


def _export(src_dir: Path, out: Path, options: BuildOptions) -> StepOutcome:
    paths = export_step.export_onnx(src_dir, out, opset=options.opset, quiet=options.quiet)
    # Models over 2 GB keep their weights in external data files next to the graphs: checkpoint those too.
    files = sorted(p for p in out.iterdir() if p.suffix == ".onnx" or "onnx_data" in p.name or p.suffix == ".data")
    sizes = ", ".join(f"{name.removesuffix('.onnx')} {mb(p)}" for name, p in paths.items())
    return {"files": sorted(paths)}, files, f"opset {options.opset}: {sizes}"


def _quantize(fp32_dir: Path, int8_dir: Path, options: quantize_step.QuantizeOptions) -> StepOutcome:
    out = quantize_step.quantize_model(fp32_dir, int8_dir, options)
    enc, dec = Path(out["encoder"]), Path(out["decoder"])
    kept = ", ".join(out["excluded_nodes"]) or "none"
    summary = (
        f"encoder {mb(fp32_dir / enc.name)} -> {mb(enc)}, decoder {mb(fp32_dir / dec.name)} -> {mb(dec)} "
        f"({'per-channel' if options.per_channel else 'per-tensor'}; fp32 nodes: {kept})"
    )
    return {"excluded_nodes": out["excluded_nodes"]}, [enc, dec], summary


def _verify(
    src_dir: Path,
    fp32_dir: Path,
    int8_dir: Path,
    arch: Architecture,
    samples: list[str],
    options: BuildOptions,
    report_path: Path,
) -> StepOutcome:
    step = export_step.DECODER_WITH_PAST
    with quiet_libraries(options.quiet):
        report = verify_step.verify(
            src_dir,
            fp32=(fp32_dir / export_step.ENCODER, fp32_dir / step),
            int8=(int8_dir / export_step.ENCODER, int8_dir / step),
            tokenizer_path=src_dir / fetch_step.TOKENIZER,
            arch=arch,
            samples=samples,
            max_new_tokens=options.max_new_tokens,
            threads=options.threads,
        )
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report, [report_path], verify_step.summary(report)


def _publish(out_dir: Path, sources: dict[str, Path], manifest: dict[str, Any]) -> StepOutcome:
    manifest = {**manifest, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = publish_step.publish(out_dir, sources, manifest)
    written = json.loads(path.read_text(encoding="utf-8"))
    shipped = publish_step.shipped_paths(out_dir)
    total = sum(p.stat().st_size for p in shipped) / 1e6
    return {"model_id": written["model_id"]}, shipped, f"{written['model_id']} in {out_dir} ({total:.1f} MB)"


def _source_block(fetched: dict[str, Any]) -> dict[str, Any]:
    where = {"path": fetched["location"]} if fetched["kind"] == "local" else {"hub_id": fetched["location"]}
    return {
        "kind": fetched["kind"],
        **where,
        "revision": fetched["revision"],
        "files": fetched["files"],
        "tokenizer": fetched["tokenizer"],
    }


def _verify_block(report: dict[str, Any], options: BuildOptions, failures: list[str]) -> dict[str, Any]:
    keep = ("samples", "max_new_tokens", "max_abs_logit", "fp32", "int8")
    return {
        "passed": not failures,
        "failures": failures,
        **{k: report[k] for k in keep},
        "thresholds": options.thresholds.as_dict(),
        "gate": options.verify_gate,
    }


# -- clean -------------------------------------------------------------------------------------------------------------


def clean(out_dir: Path, all_files: bool = False) -> list[Path]:
    """Remove ``DIR/work`` (and with ``all_files`` the shipped files too); returns what was removed.

    Only a directory that looks like a build (manifest.json or work/state.json) is touched, so a mistyped path cannot
    delete unrelated files; ``all_files`` removes the known file names only, never the whole directory tree.
    """
    out_dir = Path(out_dir).expanduser()
    if not out_dir.is_dir():
        raise BuildError(f"{out_dir}: no such directory")
    work = out_dir / WORK
    if not ((out_dir / MANIFEST_NAME).is_file() or (work / STATE_NAME).is_file()):
        raise BuildError(
            f"{out_dir} is not a lenscribe model build (no {MANIFEST_NAME} or {WORK}/{STATE_NAME}); nothing removed"
        )
    removed: list[Path] = []
    if work.is_dir():
        shutil.rmtree(work)
        removed.append(work)
    if all_files:
        for path in publish_step.shipped_paths(out_dir):
            for p in (path, path.with_name(path.name + ".tmp"), path.with_suffix(".tmp")):
                if p.is_file() and p not in removed:
                    p.unlink()
                    removed.append(p)
        if not any(out_dir.iterdir()):
            out_dir.rmdir()
            removed.append(out_dir)
    return removed
