"""Build the tests' tiny real model (tests/conftest.py's recipe + the real `lenscribe model build`) into OUT.

    PYTHONPATH=tests python client-vscode/test/e2e/build_tiny_model.py OUT

(tests/ on PYTHONPATH: the recipe is tests/conftest.py's; ci.sh, run.sh and client-nvim's screenshot.sh set it.)

Used by the editor end-to-end tests when LENSCRIBE_E2E_MODEL_DIR is not given. The model has memorised
tests/conftest.py's TINY_PAIRS, e.g. `def add(a, b): return a + b` -> "Add two numbers and return the sum.", so a hover
over `add` must show exactly that sentence. Skips the work when OUT already holds a model built from the same recipe
in the same layout.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from conftest import TINY_PAIRS, _recipe_hash, train_tiny_t5
from lenscribe.cli import main as lenscribe_main


def _stamp() -> str:
    """The recipe and the model layout the build writes: a model built by an earlier layout (a merged decoder) is
    rebuilt, not reused (the run-time refuses it)."""
    from lenscribe.modelbuild.export import LAYOUT

    return f"{_recipe_hash()} {LAYOUT}"


def build(out: Path) -> Path:
    stamp = out / ".recipe"
    if (out / "manifest.json").is_file() and stamp.is_file() and stamp.read_text().strip() == _stamp():
        print(f"tiny model up to date in {out}", file=sys.stderr)
        return out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lenscribe-tiny-") as tmp:
        ckpt = Path(tmp) / "checkpoint"
        ckpt.mkdir()
        train_tiny_t5(ckpt)
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps({"code": code}) + "\n" for code, _ in TINY_PAIRS), encoding="utf-8")
        argv = ["model", "build", str(ckpt), "--out", str(out), "--name", "tiny-codet5", "--samples", str(samples),
                "--threads", "1", "--force"]
        if lenscribe_main(argv) != 0:
            raise SystemExit(f"lenscribe {' '.join(argv)} failed")
    lenscribe_main(["model", "clean", str(out)])
    stamp.write_text(_stamp() + "\n")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(build(Path(sys.argv[1]).resolve()))
