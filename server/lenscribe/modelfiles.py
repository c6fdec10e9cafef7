"""A model directory and its manifest: what files make a model, and checking them before use.

A model directory holds ``manifest.json`` plus the files it names (role -> file):

- ``encoder``: ONNX encoder, inputs ``input_ids``/``attention_mask`` (int64), outputs ``last_hidden_state`` and each
  decoder layer's cross-attention keys and values ``present.{i}.encoder.{key,value}``.
- ``decoder``: ONNX decoder step (optimum's ``decoder_with_past`` graph: ``input_ids``, ``encoder_attention_mask``,
  ``past_key_values.{i}.{decoder,encoder}.{key,value}`` inputs, ``logits`` and ``present.{i}.decoder.*`` outputs).
- ``tokenizer``: a ``tokenizers`` tokenizer.json.
- ``config``: the Hugging Face ``config.json`` of the checkpoint (kept for reference).

The manifest also carries the architecture numbers the engine needs, so run time never reads torch-side files.
This module knows nothing of LSP and needs only the standard library: ``ModelFiles.open`` tells the id a model's
summaries are cached under before onnxruntime is even imported (then ``verify`` and ``Summarizer.from_files``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenscribe.decoding import GenerationOptions, decoding_id

MANIFEST_NAME = "manifest.json"
FORMAT = "lenscribe-model/1"
REQUIRED_ROLES = ("encoder", "decoder", "tokenizer")


class ModelError(Exception):
    """A model directory that cannot be used: missing, truncated, corrupt or of an unknown format."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_entry(model_dir: Path, path: Path) -> dict[str, Any]:
    """The manifest entry of one file: its path relative to the model directory, size and sha256."""
    path = Path(path)
    return {"path": path.relative_to(model_dir).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)}


@dataclass(frozen=True)
class Architecture:
    num_layers: int
    num_decoder_layers: int
    num_heads: int
    d_kv: int
    d_model: int
    vocab_size: int
    pad_token_id: int = 0
    eos_token_id: int = 2
    decoder_start_token_id: int = 0
    max_input_tokens: int = 512

    @classmethod
    def from_hf_config(cls, cfg: dict[str, Any], max_input_tokens: int = 512) -> Architecture:
        return cls(
            num_layers=int(cfg["num_layers"]),
            num_decoder_layers=int(cfg.get("num_decoder_layers") or cfg["num_layers"]),
            num_heads=int(cfg["num_heads"]),
            d_kv=int(cfg["d_kv"]),
            d_model=int(cfg["d_model"]),
            vocab_size=int(cfg["vocab_size"]),
            pad_token_id=int(cfg.get("pad_token_id", 0)),
            eos_token_id=int(cfg.get("eos_token_id", 2)),
            decoder_start_token_id=int(cfg.get("decoder_start_token_id", 0)),
            max_input_tokens=max_input_tokens,
        )


@dataclass(frozen=True)
class Manifest:
    model_dir: Path
    model_id: str
    architecture: Architecture
    files: dict[str, dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def path(self, role: str) -> Path:
        return self.model_dir / self.files[role]["path"]


def model_id_for(name: str, files: dict[str, dict[str, Any]]) -> str:
    """A stable id for cache keys: the model's name plus a digest of its ONNX files' hashes."""
    h = hashlib.sha256()
    for role in sorted(files):
        h.update(f"{role}:{files[role]['sha256']}\n".encode())
    return f"{name}@{h.hexdigest()[:16]}"


def write_manifest(model_dir: Path, data: dict[str, Any]) -> Path:
    """Write ``manifest.json``; ``data`` must hold name, architecture and files (role -> entry); extra keys are kept."""
    model_dir = Path(model_dir)
    out = {"format": FORMAT, **data}
    out["model_id"] = model_id_for(data["name"], data["files"])
    path = model_dir / MANIFEST_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_manifest(model_dir: Path | str, check_hashes: bool = True) -> Manifest:
    """Read and check a model directory (an already resolved path: ``lenscribe.defaults.resolve_model_dir``): every
    file there at its size, and with ``check_hashes`` at its sha256 too; raise ModelError with a message a user can act
    on."""
    model_dir = Path(model_dir)
    mpath = model_dir / MANIFEST_NAME
    if not model_dir.is_dir():
        raise ModelError(f"model directory not found: {model_dir}")
    if not mpath.is_file():
        raise ModelError(f"no {MANIFEST_NAME} in {model_dir}: build one with `lenscribe model build SOURCE --out DIR`")
    try:
        raw = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"unreadable manifest {mpath}: {e}") from e
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ModelError(f"{mpath}: unknown format {raw.get('format') if isinstance(raw, dict) else None!r}")
    files = raw.get("files") or {}
    for role in REQUIRED_ROLES:
        if role not in files:
            raise ModelError(f"{mpath}: no {role!r} file listed")
    for role, entry in files.items():
        p = model_dir / entry["path"]
        if not p.is_file():
            raise ModelError(f"model file missing: {p} ({role})")
        size = p.stat().st_size
        if size != entry["size"]:
            raise ModelError(f"model file truncated or changed: {p} is {size} bytes, manifest says {entry['size']}")
    try:
        arch = Architecture(**raw["architecture"])
    except (KeyError, TypeError) as e:
        raise ModelError(f"{mpath}: bad architecture block: {e}") from e
    manifest = Manifest(model_dir=model_dir, architecture=arch, files=files, raw=raw,
                        model_id=raw.get("model_id") or model_id_for(raw.get("name", "model"), files))
    if check_hashes:
        verify_hashes(manifest)
    return manifest


def verify_hashes(manifest: Manifest) -> None:
    """Raise ModelError unless every file of the manifest has its sha256 (slow: reads every byte)."""
    for role in manifest.files:
        p = manifest.path(role)
        if sha256_file(p) != manifest.files[role]["sha256"]:
            raise ModelError(f"model file corrupt: sha256 of {p} does not match the manifest")


class ModelFiles:
    """A model directory opened for a decoding, before any session is built: ``open`` reads the manifest (quick: the
    files' sizes, not their hashes) and so knows the id summaries are cached under; ``load`` checks the hashes and
    builds the Summarizer (seconds). Running a model reads its manifest here and nowhere else."""

    def __init__(self, manifest: Manifest, options: GenerationOptions) -> None:
        self.manifest = manifest
        self.options = options

    @classmethod
    def open(cls, model_dir: Path | str, options: GenerationOptions | None = None) -> ModelFiles:
        """Raises ModelError with a message a user can act on."""
        return cls(load_manifest(model_dir, check_hashes=False), options or GenerationOptions())

    @property
    def model_id(self) -> str:
        return self.manifest.model_id

    @property
    def summary_id(self) -> str:
        """The id its summaries are cached under (the model and the decoding)."""
        return decoding_id(self.model_id, self.options)

    @property
    def max_input_tokens(self) -> int:
        """Input tokens per chunk: the decoding's limit, at most the model's."""
        limit = self.manifest.architecture.max_input_tokens
        return min(self.options.max_input_tokens or limit, limit)

    def verify(self) -> None:
        """Raise ModelError unless every file has the sha256 the manifest says (reads every byte)."""
        verify_hashes(self.manifest)
