"""A fast_train output (``model.pt`` under transformers' T5 names + ``config.json``) -> a ``save_pretrained``
directory with the tokenizer, ready for ``lenscribe model build DIR --out MODEL``.

    python -m lenscribe_training.export.export_hf RUN_DIR HF_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def export(run_dir: Path, dest: Path) -> Path:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from lenscribe.tokenization import build_tokenizer

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


def training_record(run_dir: Path, warm_start: Path | None = None) -> dict:
    """A fast_train run as a training record (``models/lenscribe_training/runs/<model id>.json``, the shape train.py
    writes): the model's config, the run's arguments, steps and per-evaluation history, hardware, and the record of the
    run it warm-started from."""
    run = json.loads((run_dir / "run.json").read_text())
    cfg = json.loads((run_dir / "config.json").read_text())
    history = []
    for phase in run["phases"]:
        for h in phase["history"]:
            if "eval" in h:
                e = h["eval"]
                history.append({"phase": phase["name"], "step": e["step"], "elapsed_s": e["t"], "bleu": e["mean_bleu"],
                                "bleu_by_language": e["bleu"]})
    best = run.get("best_valid") or {}
    return {
        "format": "lenscribe-training-run/1", "trainer": "lenscribe_training.trainers.fast_train", "model_config": cfg,
        "parameters": run["model"]["parameters"],
        "args": run["config"] | {k: run["data"][k] for k in ("max_src", "max_tgt")},
        "steps": sum(p["steps"] for p in run["phases"]), "train_time_s": run["wall_s"],
        "phases": [{k: v for k, v in p.items() if k != "history"} for p in run["phases"]],
        "languages": run["languages"], "hardware": run["hardware"], "history": history,
        "best_valid_bleu": best.get("mean_bleu"), "best_valid_bleu_by_language": best.get("bleu"),
        "best_step": best.get("step"),
        "bleu_definition": "CodeXGLUE smooth_bleu, greedy with no-repeat-3-gram and repetition penalty 1.2 and the "
                           "run-time clean-up; the mean over languages with >= 100 of the fixed 400-per-language "
                           "valid examples",
        "warm_start": json.loads(warm_start.read_text()) if warm_start else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--record", type=Path, default=None, help="also write the training record here")
    p.add_argument("--warm-start-record", type=Path, default=None,
                   help="the record of the model the run started from (models/lenscribe_training/runs/<id>.json)")
    a = p.parse_args(argv)
    print(export(a.run_dir, a.dest))
    if a.record:
        a.record.write_text(json.dumps(training_record(a.run_dir, a.warm_start_record), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
