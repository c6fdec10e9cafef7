"""Step 5, publish: copy the shipped files into the model directory and write its manifest.

Everything before this step lives in ``DIR/work``, so a build that fails verify leaves no half-made model where the
language server would look for one. Files are copied (not linked): a later rebuild rewrites the work files in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lenscribe.modelbuild.export import DECODER_MERGED, DECODER_WITH_PAST, ENCODER
from lenscribe.modelfiles import MANIFEST_NAME, file_entry, write_manifest

# role -> file name in the model directory (the roles of modelfiles / ARCHITECTURE.md)
SHIPPED = {"encoder": ENCODER, "decoder": DECODER_WITH_PAST, "tokenizer": "tokenizer.json", "config": "config.json"}
REPLACED = (DECODER_MERGED,)  # what a model built by an earlier lenscribe shipped instead: removed on publish


def shipped_paths(out_dir: Path) -> list[Path]:
    return [out_dir / name for name in (*SHIPPED.values(), MANIFEST_NAME)]


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy under a temporary name, then rename: a reader never sees a half-written model file."""
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def publish(out_dir: Path, sources: dict[str, Path], manifest: dict[str, Any]) -> Path:
    """Copy role -> file (``sources``, all four roles) into ``out_dir`` and write manifest.json from ``manifest``.

    ``manifest`` holds everything but ``files``, which is computed here from the copied files.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, name in SHIPPED.items():
        copy_atomic(sources[role], out_dir / name)
        files[role] = file_entry(out_dir, out_dir / name)
    for name in REPLACED:
        (out_dir / name).unlink(missing_ok=True)
    data = dict(manifest)
    ordered: dict[str, Any] = {k: data.pop(k) for k in ("name", "source", "architecture") if k in data}
    return write_manifest(out_dir, {**ordered, "files": files, **data})
