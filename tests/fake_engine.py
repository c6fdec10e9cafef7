"""Helpers for the tests of lenscribe.engine without a model (test_engine.py, test_workspace.py,
test_engine_failures.py): a fake summarizer, an engine made around it and a fake manifest loader. The fixture
``fake_model_dir`` is conftest.py's."""

from __future__ import annotations

import time

from lenscribe.engine import Engine
from lenscribe.settings import Settings


class FakeSummarizer:
    model_id = "fake@1"

    def __init__(self, delay: float = 0.0):
        self.calls: list[list[str]] = []
        self.runs = 0
        self.delay = delay

    def summarize(self, codes, timeout=None):
        self.calls.append(list(codes))
        self.runs += 1
        time.sleep(self.delay)
        return [f"Summary of {c.splitlines()[0]}\nSecond line." for c in codes]


def make_engine(tmp_path, model_dir, fake, **settings):
    landed: list[set[str]] = []
    s = Settings(model_dir=str(model_dir), cache_dir=str(tmp_path / "cache"), workers=1, **settings)
    engine = Engine(s, on_summaries=landed.append, load_summarizer=lambda files, w: fake)
    return engine, landed


DOC = ("def a(x):\n    return x\n\n\n"
       "class K:\n    def m(self):\n        return 1\n\n    def n(self):\n        return 2\n")


def _fake_manifest(model_dir, check_hashes=True):
    from pathlib import Path

    from lenscribe.modelfiles import ModelError

    if not (Path(model_dir) / "manifest.json").is_file():
        raise ModelError(f"model directory not found: {model_dir}")

    class M:
        model_id = "fake@1"

    return M()
