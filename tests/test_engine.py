"""lenscribe.engine without a client or a model (a fake summarizer, tests/fake_engine.py): documents to chunks to
summaries, edits, stale work, the beams setting, asks before and after the model's id, skipped files, visible chunks
first."""

from __future__ import annotations

import threading
import time

import pytest

from fake_engine import DOC, FakeSummarizer, _fake_manifest, make_engine
from lenscribe.engine import Engine
from lenscribe.render import Summary
from lenscribe.scheduling import Priority
from lenscribe.settings import Settings
from lenscribe.sources import language_for


def test_engine_pipeline_and_edits(tmp_path, monkeypatch, fake_model_dir):
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    fake = FakeSummarizer()
    engine, landed = make_engine(tmp_path, fake_model_dir, fake)
    assert engine.load_model() is None and engine.model.summary_id == "fake@1+rp1.2"
    doc = engine.update_document("file:///t.py", "/t.py", DOC, 1)
    assert [c.qualname for c in doc.chunks] == ["a", "K", "K.m", "K.n"]
    assert engine.scheduler.wait_idle(5)
    assert sum(len(c) for c in fake.calls) == 4 and landed and landed[-1] == {"file:///t.py"}
    assert engine.cached_summary(doc.chunks[0]).startswith("Summary of def a(x):")
    # innermost chunk at a position
    assert doc.chunk_at(5, 8).qualname == "K.m" and doc.chunk_at(7, 0).qualname == "K" and doc.chunk_at(2, 0) is None
    # an edit of n's body: K and K.n change, a and K.m keep their hashes
    doc2 = engine.update_document("file:///t.py", "/t.py", DOC.replace("return 2", "return 3"), 2)
    assert doc2.generation == doc.generation + 1
    assert engine.scheduler.wait_idle(5)
    assert sorted(c.splitlines()[0].strip() for c in fake.calls[-1]) == ["class K:", "def n(self):"]
    assert sum(len(c) for c in fake.calls) == 6
    # an older text finishing late does not replace the newer one
    assert engine.update_document("file:///t.py", "/t.py", DOC, 1) is doc2
    engine.close_document("file:///t.py")
    assert engine.documents.get("file:///t.py") is None
    engine.shutdown()


def test_engine_beams_setting_keeps_its_own_summaries(tmp_path, monkeypatch, fake_model_dir):
    """A beam search writes other summaries than greedy decoding: they are cached apart, and switching back and forth
    reloads the model with that width and serves each decoding's own summaries."""
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    fake = FakeSummarizer()
    loads: list[int] = []
    s = Settings(model_dir=str(fake_model_dir), cache_dir=str(tmp_path / "cache"), workers=1)
    engine = Engine(s, load_summarizer=lambda files, w: (loads.append(files.options.num_beams), fake)[1])
    engine.load_model()
    doc = engine.update_document("file:///t.py", "/t.py", DOC, 1)
    assert engine.scheduler.wait_idle(5) and sum(len(c) for c in fake.calls) == 4
    assert engine.apply_settings(s.replace(beams=3))["reload_model"]
    assert engine.load_model() is None and loads == [1, 3] and engine.model.summary_id == "fake@1+beam3+rp1.2"
    assert engine.cached_summary(doc.chunks[0]) is None  # the greedy summary is not served as the beam search's
    engine.schedule_all()
    assert engine.scheduler.wait_idle(5) and sum(len(c) for c in fake.calls) == 8
    assert engine.apply_settings(s)["reload_model"]
    assert engine.load_model() is None and engine.model.summary_id == "fake@1+rp1.2"
    assert engine.cached_summary(doc.chunks[0]).startswith("Summary of def a(x):")
    engine.schedule_all()
    assert engine.scheduler.wait_idle(5) and sum(len(c) for c in fake.calls) == 8  # all cached
    assert not engine.apply_settings(s.replace(debounce_ms=10))["reload_model"]
    engine.shutdown()


def test_engine_stale_work_is_dropped(tmp_path, monkeypatch, fake_model_dir):
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    fake = FakeSummarizer()
    engine, _ = make_engine(tmp_path, fake_model_dir, fake)
    gate = threading.Event()
    engine.load_model()
    engine.scheduler.set_summarize(lambda codes, timeout=None: (gate.wait(5), fake.summarize(codes))[1])
    blocker = engine.scheduler.submit(("fake@1", "blocker"), "def blocker():\n  pass", Priority.OPEN)
    time.sleep(0.05)
    engine.update_document("file:///t.py", "/t.py", DOC, 1)
    queued = engine.scheduler.snapshot()["queued"]
    assert queued == 4
    engine.update_document("file:///t.py", "/t.py", DOC.replace("return 2", "return 3"), 2)
    snap = engine.scheduler.snapshot()
    assert snap["queued"] == 4 and snap["cancelled"] == 2  # old K and K.n dropped, new ones queued
    gate.set()
    blocker.result(5)
    assert engine.scheduler.wait_idle(5)
    assert sum(len(c) for c in fake.calls) == 5  # blocker + 4, never the stale two
    engine.shutdown()


def test_engine_without_a_model(tmp_path):
    engine, _ = make_engine(tmp_path, tmp_path / "missing", FakeSummarizer())
    err = engine.load_model()
    assert "not found" in err and engine.model.state == "error"
    doc = engine.update_document("file:///t.py", "/t.py", DOC, 1)
    assert doc.chunks and engine.request(doc.chunks[0], Priority.HOVER) is None
    assert engine.stats()["model"]["error"] == err
    engine.shutdown()


def test_one_ask_serves_hover_action_and_file_before_and_after_the_model_id(tmp_path, monkeypatch, fake_model_dir):
    """Engine.ask (issue 27): asks made before the model's id is known wait for it in the engine (no server-side
    wait), then get the summary; once cached, every purpose answers at once with no ticket."""
    from lenscribe.summary_requests import ACTION, FILE, HOVER, PREFETCH

    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    fake = FakeSummarizer()
    engine, _ = make_engine(tmp_path, fake_model_dir, fake, grounding_check=False)
    try:
        doc = engine.make_document("file:///t.py", "/t.py", DOC, 1)
        a, m = doc.chunks[0], doc.chunks[2]
        hover = engine.ask(a, HOVER, doc.uri, doc.generation, timeout=5)
        action = engine.ask(m, ACTION, doc.uri, doc.generation)
        file = engine.ask(a, FILE, doc.uri, doc.generation, owner="run")
        assert engine.ask(m, PREFETCH, doc.uri).ticket is None  # nothing to wait for: queued with its document later
        assert hover.loading and action.loading and not hover.ticket.done() and not action.ticket.done()
        loading = threading.Thread(target=engine.load_model)
        loading.start()
        shown = hover.ticket.result(5)
        assert isinstance(shown, Summary) and shown.text.startswith("Summary of def a(x):")
        assert action.ticket.result(5).startswith("Summary of def m(self):")
        assert file.ticket.result(5).startswith("Summary of def a(x):")
        loading.join(5)
        assert sum(len(c) for c in fake.calls) == 2  # a once for the hover and Summarize File, m once
        again = engine.ask(a, HOVER, doc.uri, doc.generation)
        assert again.ticket is None and again.summary == shown
        assert engine.ask(m, ACTION, doc.uri).text == action.ticket.result()
        assert engine.stats()["counters"]["hover_cache_hits"] == 1 and engine.stats()["counters"]["hovers"] == 2
    finally:
        engine.shutdown()


def test_an_ask_without_a_model_says_why(tmp_path):
    from lenscribe.engine import ModelUnavailable
    from lenscribe.summary_requests import ACTION, HOVER

    engine, _ = make_engine(tmp_path, tmp_path / "missing", FakeSummarizer())
    try:
        doc = engine.make_document("file:///t.py", "/t.py", DOC, 1)
        waiting = engine.ask(doc.chunks[0], ACTION, doc.uri)  # before the load: waits for the id
        err = engine.load_model()
        with pytest.raises(ModelUnavailable, match="not found"):
            waiting.ticket.result(5)
        hover = engine.ask(doc.chunks[0], HOVER, doc.uri)
        assert hover.ticket is None and hover.note == f"model unavailable: {err}"
        action = engine.ask(doc.chunks[0], ACTION, doc.uri)
        assert action.ticket is None and isinstance(action.error, ModelUnavailable) and str(action.error) == err
    finally:
        engine.shutdown()


def test_engine_skips(tmp_path, monkeypatch, fake_model_dir):
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    engine, _ = make_engine(tmp_path, fake_model_dir, FakeSummarizer(), languages=("go",), max_file_lines=50)
    engine.load_model()
    assert "lenscribe.languages" in engine.update_document("file:///t.py", "/t.py", DOC, 1).skipped
    assert engine.update_document("file:///t.txt", "/t.txt", "hello", 1).skipped == "unknown language"
    assert "maxFileLines" in engine.update_document("file:///b.go", "/b.go", "\n" * 100, 1).skipped
    assert "binary" in engine.update_document("file:///c.go", "/c.go", "package a\x00", 1).skipped
    assert language_for(None, "typescriptreact", "") == "tsx"
    engine.shutdown()


def test_engine_visible_chunks_go_first(tmp_path, monkeypatch, fake_model_dir):
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    fake = FakeSummarizer()
    engine, _ = make_engine(tmp_path, fake_model_dir, fake, batch_size=1)
    engine.load_model()
    gate = threading.Event()
    engine.scheduler.set_summarize(lambda codes, timeout=None: (gate.wait(5), fake.summarize(codes))[1])
    engine.scheduler.submit(("fake@1", "blocker"), "def blocker():\n  pass", Priority.OPEN)
    time.sleep(0.05)
    engine.set_visible("file:///t.py", [(8, 9)])  # may come before the document is open
    engine.update_document("file:///t.py", "/t.py", DOC, 1)
    assert engine.scheduler.snapshot()["queued_by_priority"]["visible"] == 2  # K (spans line 8) and K.n
    gate.set()
    assert engine.scheduler.wait_idle(5)
    firsts = [c[0].splitlines()[0].strip() for c in fake.calls]
    assert firsts[1:3] == ["class K:", "def n(self):"] and firsts[3:] == ["def a(x):", "def m(self):"]
    engine.shutdown()
