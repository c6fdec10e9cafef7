"""lenscribe.engine: a chunk whose summary fails is remembered as failed (its lens stops being pending), alone: its
batch-mates get their summaries, and it is not re-queued on every edit."""

from __future__ import annotations

from fake_engine import _fake_manifest, make_engine

DOC = "def a(x):\n    return x\n\n\ndef boom(y):\n    return y\n\n\ndef c(z):\n    return z\n"


class ExplodingSummarizer:
    model_id = "fake@1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.runs = 0

    def summarize(self, codes, timeout=None):
        self.calls.append(list(codes))
        self.runs += 1
        if any("boom" in c for c in codes):
            raise RuntimeError("TextInputSequence must be str")
        return [f"Summary of {c.splitlines()[0]}" for c in codes]


def test_a_failed_chunk_fails_alone_and_is_not_left_pending(tmp_path, monkeypatch, fake_model_dir):
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    fake = ExplodingSummarizer()
    engine, landed = make_engine(tmp_path, fake_model_dir, fake, batch_size=8)
    assert engine.load_model() is None
    doc = engine.update_document("file:///t.py", "/t.py", DOC, 1)
    assert [c.qualname for c in doc.chunks] == ["a", "boom", "c"]
    assert engine.scheduler.wait_idle(5)
    a, boom, c = doc.chunks
    assert engine.cached_summary(a) == "Summary of def a(x):" and engine.cached_summary(c) == "Summary of def c(z):"
    assert engine.cached_summary(boom) is None
    assert "TextInputSequence" in engine.failure(boom) and engine.failure(a) is None
    assert landed and all(u == {"file:///t.py"} for u in landed)  # the lenses were told, failure included
    runs = fake.runs
    engine.update_document("file:///t.py", "/t.py", DOC + "\n", 2)  # an edit elsewhere: boom is not retried
    assert engine.scheduler.wait_idle(5) and fake.runs == runs
    engine.shutdown()
