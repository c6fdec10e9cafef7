"""Model directories on disk: replaced atomically (a ``.tmp`` sibling swapped in), and moved between machines as an
fp16 tar split into parts of at most 15 MiB (``train.py pack`` / ``unpack``, see train_gpu.sh)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

from lenscribe.tokenization import build_tokenizer

SKIP_IN_PACK = ("model.safetensors.index.json", "tokenizer.json")  # the tokenizer is rebuilt by unpack


def atomic_dir(final: Path) -> Path:
    """An empty ``final.tmp`` to fill, then ``swap_in`` as ``final``."""
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def swap_in(tmp: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def pack(model_dir: Path, dest: Path, part_mib: float = 15.0, dtype: str = "float16",
         extra: Sequence[Path] = ()) -> dict:
    import torch
    from safetensors.torch import load_file, save

    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(model_dir.glob("*.safetensors"))
    tensors: dict = {}
    for f in files:
        tensors |= load_file(str(f))
    tdtype = getattr(torch, dtype)
    for k, v in tensors.items():
        if v.is_floating_point():
            if dtype == "float16" and float(v.abs().max()) > 60000:
                raise ValueError(f"{k} does not fit float16")
            tensors[k] = v.to(tdtype).contiguous()
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w") as tar:
        def add(name: str, data: bytes):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))

        add("model.safetensors", save(tensors, metadata={"format": "pt"}))
        for f in sorted(model_dir.iterdir()):
            if f.suffix != ".safetensors" and f.is_file() and f.name not in SKIP_IN_PACK:
                add(f.name, f.read_bytes())
        for f in extra:
            if Path(f).exists():
                add(Path(f).name, Path(f).read_bytes())
    data = blob.getvalue()
    part = int(part_mib * 2**20)
    names = []
    for i in range(0, len(data), part):
        name = f"model.tar.part{i // part:02d}"
        (dest / name).write_bytes(data[i : i + part])
        names.append(name)
    info = {"parts": names, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "dtype": dtype}
    (dest / "pack.json").write_text(json.dumps(info, indent=1))
    return info


def unpack(src: Path, dest: Path) -> None:
    import torch
    from transformers import T5ForConditionalGeneration

    info = json.loads((src / "pack.json").read_text())
    data = b"".join((src / n).read_bytes() for n in info["parts"])
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError("pack sha256 mismatch")
    tmp = dest.with_name(dest.name + ".unpack")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
    model = T5ForConditionalGeneration.from_pretrained(tmp, dtype=torch.float32)
    final = atomic_dir(dest)
    model.save_pretrained(final, safe_serialization=True)
    build_tokenizer().save(str(final / "tokenizer.json"))
    for f in tmp.iterdir():
        if f.suffix != ".safetensors" and not (final / f.name).exists():
            shutil.copy2(f, final / f.name)
    swap_in(final, dest)
    shutil.rmtree(tmp)
