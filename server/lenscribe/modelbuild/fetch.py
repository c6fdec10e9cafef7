"""Step 1, fetch: bring a T5/CodeT5 checkpoint (local ``save_pretrained`` dir or hub id) into ``DIR/work/source``.

The copy makes later steps independent of where the checkpoint came from, and it is where a missing tokenizer.json is
filled in (export and the shipped model both need one). Architectures other than T5 are rejected here, before minutes
go into an export that the run-time engine could not use anyway.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lenscribe.modelbuild.errors import BuildError
from lenscribe.modelfiles import sha256_file

CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# Files worth carrying from a checkpoint: weights, configs, tokenizer files; never optimizer states or TF/flax weights.
KEEP_PATTERNS = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "pytorch_model*.bin",
    "*.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "spiece.model",
)
SUPPORTED_MODEL_TYPES = ("t5",)  # CodeT5 checkpoints declare model_type "t5"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True)
class Source:
    """Where a checkpoint comes from: a local directory or a hub repository id."""

    kind: str  # "local" | "hub"
    location: str  # absolute path or repo id
    revision: str | None = None


def parse_source(source: str, revision: str | None = None) -> Source:
    """A path that exists is local; otherwise something shaped like ``org/name`` is a hub id."""
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BuildError(f"{source}: expected a checkpoint directory (from save_pretrained), got a file")
        return Source("local", str(path.resolve()))
    if _HUB_ID.match(source):
        return Source("hub", source, revision)
    raise BuildError(
        f"{source}: no such directory, and not a Hugging Face hub id like 'Salesforce/codet5-base-multi-sum'"
    )


def checkpoint_files(directory: Path) -> list[Path]:
    """The files of a checkpoint directory that the build uses (see KEEP_PATTERNS)."""
    found: set[Path] = set()
    for pattern in KEEP_PATTERNS:
        found.update(p for p in directory.glob(pattern) if p.is_file())
    return sorted(found, key=lambda p: p.name)


def read_t5_config(directory: Path) -> dict[str, Any]:
    """Read config.json and refuse what the T5 exporter and run-time engine cannot handle."""
    path = directory / CONFIG
    if not path.is_file():
        raise BuildError(f"{directory}: no {CONFIG}; expected a Hugging Face checkpoint saved with save_pretrained()")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BuildError(f"{path}: unreadable config: {e}") from e
    if not isinstance(cfg, dict):
        raise BuildError(f"{path}: unreadable config: not a JSON object")
    model_type = cfg.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        archs = ", ".join(cfg.get("architectures") or []) or "unknown architecture"
        raise BuildError(
            f"{directory}: model_type {model_type!r} ({archs}) is not supported: lenscribe builds T5 encoder-decoder "
            "models such as CodeT5 (model_type 't5')"
        )
    missing = [k for k in ("num_layers", "num_heads", "d_kv", "d_model", "vocab_size") if k not in cfg]
    if missing:
        raise BuildError(f"{path}: T5 config lacks {', '.join(missing)}")
    return cfg


def check_weights(directory: Path) -> None:
    names = {p.name for p in directory.iterdir()}
    if not names & set(WEIGHT_FILES + WEIGHT_INDEXES):
        raise BuildError(
            f"{directory}: no PyTorch weights ({' or '.join(WEIGHT_FILES)}); TensorFlow/Flax-only checkpoints are "
            "not supported"
        )


# -- hub ---------------------------------------------------------------------------------------------------------------


def _reachable(url: str, timeout: float) -> str | None:
    """None if a TCP connection to the URL's host opens within ``timeout``, else why not.

    Runs in a daemon thread because name resolution ignores socket timeouts: a machine without network must fail in
    seconds, not hang.
    """
    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as e:
            outcome.append(str(e) or type(e).__name__)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def download(source: Source, timeout: float = 10.0) -> tuple[Path, str | None]:
    """Snapshot a hub checkpoint (the local hub cache first); returns its directory and commit hash."""
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError as e:
        raise BuildError("downloading from the hub needs huggingface_hub: pip install 'lenscribe[build]'") from e
    kwargs: dict[str, Any] = {"revision": source.revision, "allow_patterns": list(KEEP_PATTERNS)}
    try:
        path = Path(snapshot_download(source.location, local_files_only=True, **kwargs))
        return path, path.name
    except Exception:  # not cached: go online below
        pass
    hint = "download it elsewhere and pass the save_pretrained directory instead"
    if constants.HF_HUB_OFFLINE:
        raise BuildError(f"{source.location}: not in the local hub cache and HF_HUB_OFFLINE is set; {hint}")
    why = _reachable(constants.ENDPOINT, timeout)
    if why is not None:
        raise BuildError(
            f"{source.location}: cannot reach {constants.ENDPOINT} ({why}): the machine looks offline; {hint}"
        )
    try:
        path = Path(snapshot_download(source.location, etag_timeout=timeout, **kwargs))
    except Exception as e:  # hub errors come in many types; all mean the same to the user
        raise BuildError(f"{source.location}: download from the hub failed: {e}") from e
    return path, path.name


# -- the step ----------------------------------------------------------------------------------------------------------


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link when possible (a multi-GB checkpoint costs nothing), else copy. Nothing writes these files later."""
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_tokenizer(src_dir: Path, dest: Path) -> str:
    """Ensure ``dest/tokenizer.json``; returns where it came from (recorded in the manifest)."""
    from lenscribe.tokenization import build_tokenizer

    if (src_dir / TOKENIZER).is_file():
        return "checkpoint tokenizer.json"
    vocab, merges = src_dir / "vocab.json", src_dir / "merges.txt"
    try:
        if vocab.is_file() and merges.is_file():
            build_tokenizer(vocab, merges).save(str(dest / TOKENIZER))
            return "lenscribe CodeT5 tokenizer from the checkpoint's vocab.json + merges.txt"
    except ValueError as e:
        raise BuildError(f"{src_dir}: vocab.json/merges.txt are not CodeT5's ({e}); add a tokenizer.json") from e
    build_tokenizer().save(str(dest / TOKENIZER))
    return "lenscribe CodeT5 tokenizer (checkpoint has none)"


def check_tokenizer(path: Path, cfg: dict[str, Any]) -> None:
    """The tokenizer must fit the model: no ids past the embedding, and the same eos/pad as the config."""
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises a bare Exception on bad files
        raise BuildError(f"{path}: unreadable tokenizer: {e}") from e
    size = tok.get_vocab_size(with_added_tokens=True)
    if size > int(cfg["vocab_size"]):
        raise BuildError(f"{path}: tokenizer has {size} tokens but the model's vocab_size is {cfg['vocab_size']}")
    for token, key in (("</s>", "eos_token_id"), ("<pad>", "pad_token_id")):
        tid = tok.token_to_id(token)
        if tid is not None and key in cfg and cfg[key] is not None and tid != int(cfg[key]):
            raise BuildError(f"{path}: {token} is id {tid} but config.json says {key}={cfg[key]}")


def fetch(
    source: Source,
    dest: Path,
    *,
    sha256: Callable[[Path], str] = sha256_file,
    hub_timeout: float = 10.0,
) -> dict[str, Any]:
    """Copy the checkpoint into ``dest`` (emptied first) and return what the manifest records about its source."""
    if source.kind == "hub":
        src_dir, revision = download(source, timeout=hub_timeout)
    else:
        src_dir, revision = Path(source.location), None
    cfg = read_t5_config(src_dir)
    check_weights(src_dir)
    files = checkpoint_files(src_dir)
    hashes = {p.name: sha256(p) for p in files}
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for p in files:
        link_or_copy(p, dest / p.name)
    tokenizer_origin = write_tokenizer(src_dir, dest)
    check_tokenizer(dest / TOKENIZER, cfg)
    return {
        "kind": source.kind,
        "location": source.location,
        "revision": revision,
        "files": hashes,
        "tokenizer": tokenizer_origin,
    }


def source_key(source: Source, sha256: Callable[[Path], str] = sha256_file) -> dict[str, Any]:
    """What decides whether a fetch is up to date: for a local dir its files' hashes (so an edit re-fetches)."""
    if source.kind == "hub":
        return {"kind": "hub", "location": source.location, "revision": source.revision}
    directory = Path(source.location)
    return {
        "kind": "local",
        "location": source.location,
        "files": {p.name: sha256(p) for p in checkpoint_files(directory)},
    }
