"""A summary a user regenerated (code action) is pinned: queued results of the ordinary decoding do not overwrite it."""

from __future__ import annotations

from lenscribe.engine import Engine
from lenscribe.settings import Settings


def test_pinned_summaries_are_not_overwritten_by_queued_results(tmp_path):
    engine = Engine(Settings(cache_dir=str(tmp_path / "cache")))
    try:
        engine.cache.put("model+rp1.2", "h1", "from the beam search")
        engine.pinned.add(("model+rp1.2", "h1"))
        engine._on_results([(("model+rp1.2", "h1"), "greedy, late"), (("model+rp1.2", "h2"), "another chunk")])
        assert engine.cache.get("model+rp1.2", "h1") == "from the beam search"
        assert engine.cache.get("model+rp1.2", "h2") == "another chunk"
        assert engine.counters["summaries_delivered"] == 1
    finally:
        engine.shutdown()
