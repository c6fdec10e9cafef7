"""Helpers of the model build tests (test_modelbuild_*.py, test_modelfiles.py): run ``lenscribe model build``, copy a
build, read its checkpoint actions and architecture, write a samples file or a checkpoint source."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lenscribe.cli import main
from lenscribe.modelbuild.pipeline import WORK
from lenscribe.modelfiles import Architecture, load_manifest

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
