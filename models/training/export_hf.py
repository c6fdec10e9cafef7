"""A fast_train output (``model.pt`` under transformers' T5 names + ``config.json``) -> a ``save_pretrained``
directory with the tokenizer, ready for ``codesum model build DIR --out MODEL``.

    python -m training.export_hf RUN_DIR HF_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def export(run_dir: Path, dest: Path) -> Path:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from codesum.tokenization import build_tokenizer

    cfg = json.loads((run_dir / "config.json").read_text())
    model = T5ForConditionalGeneration(T5Config(**cfg))
    state = {k: v.float() for k, v in torch.load(run_dir / "model.pt", map_location="cpu").items()}
    for k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
        state.setdefault(k, state["shared.weight"])
    model.load_state_dict(state, strict=True)
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest, safe_serialization=True)
    build_tokenizer().save(str(dest / "tokenizer.json"))
    for extra in ("run.json", "train.log"):
        if (run_dir / extra).exists():
            shutil.copy2(run_dir / extra, dest / extra)
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("dest", type=Path)
    a = p.parse_args(argv)
    print(export(a.run_dir, a.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
