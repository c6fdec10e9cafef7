"""The language server's parts without a client or a model: settings, columns, file walking, the engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from lenscribe.engine import Engine
from lenscribe.files import GitIgnore, list_source_files, read_source
from lenscribe.lsp.positions import ColumnConverter
from lenscribe.render import Summary, hover_markdown, hover_plain, lens_title, outline_markdown
from lenscribe.scheduling import Priority
from lenscribe.settings import Settings, parse_settings
from lenscribe.sources import language_for

# ---------------------------------------------------------------------------------------------------- settings


def test_settings_defaults_and_values():
    s, warnings = parse_settings({"lenscribe": {"workers": 2, "debounceMs": 50, "languages": ["Python", "go"],
                                              "lenses": False, "cacheDir": "~/x", "modelDir": None}})
    assert warnings == []
    assert (s.workers, s.debounce_ms, s.languages, s.lenses) == (2, 50, ("python", "go"), False)
    assert s.cache_dir.endswith("/x") and "~" not in s.cache_dir and s.model_dir is None
    flat, _ = parse_settings({"hoverTimeoutMs": 10})  # the section itself
    assert flat.hover_timeout_ms == 10
    same, warnings = parse_settings(None, s)
    assert same is s and warnings == []
    back, warnings = parse_settings({"lenscribe": {"debounceMs": None, "languages": None}}, s)  # null: the default
    assert back.debounce_ms == Settings().debounce_ms and back.languages is None and warnings == []


def test_bad_settings_fall_back_to_defaults_with_one_warning_each():
    base = Settings(debounce_ms=10)
    s, warnings = parse_settings({"lenscribe": {"workers": 0, "debounceMs": "fast", "languages": ["klingon"],
                                              "maxFileBytes": True, "lenses": 1, "nope": 3}}, base)
    d = Settings()
    assert (s.workers, s.debounce_ms, s.languages, s.max_file_bytes, s.lenses) == (
        d.workers, d.debounce_ms, None, d.max_file_bytes, d.lenses)
    assert len(warnings) == 6
    assert any("klingon" in w for w in warnings) and any("lenscribe.nope" in w for w in warnings)
    _, warnings = parse_settings(["not", "an", "object"])
    assert warnings


# ---------------------------------------------------------------------------------------------------- columns


def test_column_conversion():
    lines = ['x = "é😀"; def f():']
    u8 = ColumnConverter("utf-8", lines)
    u32 = ColumnConverter("utf-32", lines)
    u16 = ColumnConverter("utf-16", lines)
    col16 = len('x = "é😀"; '.encode("utf-16-le")) // 2  # 11
    assert u16.from_utf16(0, col16) == col16 and u16.identity
    assert u8.from_utf16(0, col16) == len('x = "é😀"; '.encode())
    assert u32.from_utf16(0, col16) == len('x = "é😀"; ')
    for conv in (u8, u32):
        assert conv.to_utf16(0, conv.from_utf16(0, col16)) == col16
    assert u8.from_utf16(5, 3) == 3  # beyond the text: unchanged


# ---------------------------------------------------------------------------------------------------- files


def test_gitignore_rules():
    gi = GitIgnore.parse("# comment\n*.log\n!keep.log\nbuild/\n/top.py\ndocs/**/gen\n**/tmp\nsp\\ ace \n")
    assert gi.match("a.log", False) is True and gi.match("x/keep.log", False) is False
    assert gi.match("build", True) is True and gi.match("build", False) is None
    assert gi.match("top.py", False) is True and gi.match("sub/top.py", False) is None
    assert gi.match("docs/gen", True) and gi.match("docs/a/b/gen", False)
    assert gi.match("a/b/tmp", True) and gi.match("tmp", False)
    assert gi.match("src/main.py", False) is None
    assert gi.match("sp ace", False) is True


def _tree(root):
    for rel, text in {
        "a.py": "x", "sub/b.py": "x", "sub/skip.log": "x", "sub/.gitignore": "*.log\n!keep.log\n",
        "sub/keep.log": "x", "out/c.py": "x", ".gitignore": "out/\n", "node_modules/d.js": "x",
        ".venv/lib/e.py": "x",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_walk_respects_gitignore(tmp_path):
    _tree(tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in list_source_files(tmp_path)]
    assert rel == [".gitignore", "a.py", "sub/.gitignore", "sub/b.py", "sub/keep.log"]


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_git_repository(tmp_path):
    _tree(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    rel = [p.relative_to(tmp_path).as_posix() for p in list_source_files(tmp_path, lambda p: p.suffix == ".py")]
    assert rel == ["a.py", "sub/b.py"]


def test_repository_excludes_above_the_workspace(tmp_path, monkeypatch):
    """A workspace inside a repository: its .git/info/exclude, the .gitignore files above the workspace and the
    user's global ignore file apply, as ``git ls-files --exclude-standard`` would apply them."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config" / "git").mkdir(parents=True)
    (tmp_path / "config" / "git" / "ignore").write_text("*.global.py\n")
    (tmp_path / "repo" / ".git" / "info").mkdir(parents=True)
    (tmp_path / "repo" / ".git" / "info" / "exclude").write_text("secret.py\n")
    (tmp_path / "repo" / ".gitignore").write_text("gen/\n")
    (tmp_path / "repo" / "pkg").mkdir()
    (tmp_path / "repo" / "pkg" / ".gitignore").write_text("*.tmp.py\n!keep.tmp.py\n")
    ws = tmp_path / "repo" / "pkg" / "ws"
    for rel in ["a.py", "secret.py", "gen/g.py", "x.tmp.py", "keep.tmp.py", "y.global.py", "sub/secret.py"]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x")
    assert [p.relative_to(ws).as_posix() for p in list_source_files(ws)] == ["a.py", "keep.tmp.py"]


def _hostile_repo(root, marker):
    """A git work tree whose config names commands: git would run them as the user (fsmonitor on any index read)."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "a.py").write_text("def f(x):\n    return x\n")
    subprocess.run(["git", "-C", str(root), "add", "a.py"], check=True)
    hook = f"echo pwned >> '{marker}'; false"
    for key, value in [("core.fsmonitor", hook), ("core.hooksPath", str(root)), ("diff.external", hook),
                       ("core.untrackedCache", "true")]:
        subprocess.run(["git", "-C", str(root), "config", key, value], check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_listing_runs_no_workspace_command(tmp_path):
    root = tmp_path / "ws"
    marker = tmp_path / "marker"
    _hostile_repo(root, marker)
    assert [p.name for p in list_source_files(root)] == ["a.py"]
    assert not marker.exists(), "listing the workspace ran the command in its .git/config"


def _unblock(fifo):
    """Lets a reader stuck in open() on ``fifo`` go: open the write end and close it (EOF)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def test_fifos_devices_and_symlinks_are_never_listed_or_opened(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("def f(x):\n    return x\n")
    os.mkfifo(ws / "pipe.py")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def secret():\n    return 1\n")
    (ws / "link.py").symlink_to(outside / "secret.py")
    (ws / "linkdir").symlink_to(outside)
    assert [p.name for p in list_source_files(ws)] == ["a.py"]

    results = {}

    def read(name, path):
        results[name] = read_source(path, 10_000, 10_000)

    readers = [threading.Thread(target=read, args=(name, path), daemon=True)
               for name, path in [("fifo", ws / "pipe.py"), ("device", "/dev/zero")]]
    for t in readers:
        t.start()
    for t in readers:
        t.join(5)
    _unblock(ws / "pipe.py")
    assert results.get("fifo") == (None, "not a regular file"), "read_source blocked in open() on a FIFO"
    assert results.get("device") == (None, "not a regular file")


def test_read_source(tmp_path):
    (tmp_path / "bin.py").write_bytes(b"abc\0def")
    (tmp_path / "big.py").write_text("x\n" * 1000)
    (tmp_path / "ok.py").write_bytes("def f():\n    return 'é'\n".encode())
    assert read_source(tmp_path / "bin.py", 10_000, 10_000) == (None, "binary file")
    assert "maxFileBytes" in read_source(tmp_path / "big.py", 100, 10_000)[1]
    assert "maxFileLines" in read_source(tmp_path / "big.py", 10_000, 10)[1]
    assert read_source(tmp_path / "ok.py", 10_000, 10_000)[0].endswith("'é'\n")
    assert read_source(tmp_path / "missing.py", 10, 10)[0] is None


# ---------------------------------------------------------------------------------------------------- engine


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


@pytest.fixture
def fake_model_dir(tmp_path):
    """A directory whose manifest says model id fake@1 (the fake loader ignores the rest)."""
    d = tmp_path / "model"
    d.mkdir()
    (d / "manifest.json").write_text('{"format": "lenscribe-model/1", "model_id": "fake@1", "files": {}}')
    return d


def make_engine(tmp_path, model_dir, fake, **settings):
    landed: list[set[str]] = []
    s = Settings(model_dir=str(model_dir), cache_dir=str(tmp_path / "cache"), workers=1, **settings)
    engine = Engine(s, on_summaries=landed.append, load_summarizer=lambda files, w: fake)
    return engine, landed


DOC = ("def a(x):\n    return x\n\n\n"
       "class K:\n    def m(self):\n        return 1\n\n    def n(self):\n        return 2\n")


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
    assert engine.document("file:///t.py") is None
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


def _fake_manifest(model_dir, check_hashes=True):
    from pathlib import Path

    from lenscribe.modelfiles import ModelError

    if not (Path(model_dir) / "manifest.json").is_file():
        raise ModelError(f"model directory not found: {model_dir}")

    class M:
        model_id = "fake@1"

    return M()


# ---------------------------------------------------------------------------------------------------- rendering


class _Chunk:
    kind, qualname = "method", "Parser.parse"


def test_hover_lens_and_outline_text_say_where_the_text_comes_from():
    gen = Summary("Parse the input.\nReturn the tree.", "generated")
    md = hover_markdown("method", "Parser.parse", gen, None, "m@1")
    assert md == "**method `Parser.parse`**\n\nParse the input.  \nReturn the tree.\n\n*generated by m@1; may be wrong*"
    doc = Summary("Parse a file.", "docstring")
    assert hover_markdown("method", "Parser.parse", doc, None).endswith("Parse a file.\n\n*from the docstring*")
    assert hover_markdown("method", "Parser.parse", None, "summarizing…").endswith("*summarizing…*")
    assert hover_plain("method", "Parser.parse", Summary("", "generated"), None) == \
        "method Parser.parse\n\n(no summary)\n\n(generated; may be wrong)"
    assert lens_title(gen) == "Parse the input. · generated" and lens_title(doc) == "Parse a file. · docstring"
    out = outline_markdown("/x/mod.py", [{"kind": "class", "qualname": "K", "line": 0, "depth": 0, "summary": "A K.",
                                          "source": "docstring"},
                                         {"kind": "method", "qualname": "K.m", "line": 1, "depth": 1,
                                          "summary": None, "source": None}])
    assert out == ("# mod.py\n\n- **class `K`** (line 1): A K. *(docstring)*\n"
                   "  - **method `K.m`** (line 2): (no summary)\n")


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


def test_summaries_are_text_in_markdown_never_markup():
    evil = Summary("See ![x](https://evil.example/t.png) [run](command:workbench.action.terminal.new) <img src=x>\n"
                   "# heading *bold* `code`", "generated", ("run",))
    md = hover_markdown("function", "f", evil, None, "m_1")
    assert md == ("**function `f`**\n\n"
                  "See !\\[x\\](https://evil.example/t.png) \\[run\\](command:workbench.action.terminal.new) "
                  "\\<img src=x\\>  \n\\# heading \\*bold\\* \\`code\\`\n\n*generated by m\\_1; may be wrong*")
    out = outline_markdown("/x/mod.py", [{"kind": "function", "qualname": "f", "line": 0, "depth": 0,
                                          "summary": "A [run](command:x) <b>.", "source": "generated"}])
    assert out == "# mod.py\n\n- **function `f`** (line 1): A \\[run\\](command:x) \\<b\\>. *(generated)*\n"


# ---------------------------------------------------------------------------------------------------- workspace limits


def _ws_tree(root, n):
    root.mkdir()
    for i in range(n):
        (root / f"m{i:02d}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    return sorted(root.iterdir())


@pytest.mark.parametrize("limit", ["files", "bytes", "seconds"])
def test_a_workspace_run_stops_at_its_limits(tmp_path, monkeypatch, fake_model_dir, limit):
    """A workspace run over a disk root set out to summarize 59,381 files: files, bytes and time are bounded, and the
    report says which limit ended the run."""
    from lenscribe.workspace import summarize_paths

    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    paths = _ws_tree(tmp_path / "ws", 30)
    size = paths[0].stat().st_size
    fake = FakeSummarizer(delay=0.2 if limit == "seconds" else 0.0)
    settings = {"files": {"workspace_max_files": 10}, "bytes": {"workspace_max_bytes": 5 * size},
                "seconds": {"workspace_max_seconds": 1}}[limit]
    engine, _ = make_engine(tmp_path, fake_model_dir, fake, batch_size=1, **settings)
    try:
        assert engine.load_model() is None
        report = summarize_paths(engine, paths)
    finally:
        engine.shutdown()
    assert report.listed == 30 and report.stopped and report.stopped.startswith(f"workspaceMax{limit.title()}")
    if limit == "files":
        assert (report.files, report.chunks, report.summarized) == (10, 10, 10)
    elif limit == "bytes":
        assert report.chunks == 5 and report.bytes_read == 5 * size
    else:  # 30 files at 0.2 s each: stopped long before the end
        assert report.chunks < 30 and report.summarized < 30
    assert report.as_dict()["stopped"] == report.stopped
    # within the limits, no stop
    engine, _ = make_engine(tmp_path / "again", fake_model_dir, FakeSummarizer())
    try:
        assert engine.load_model() is None
        assert summarize_paths(engine, paths[:3]).stopped is None
    finally:
        engine.shutdown()


def test_broad_roots_are_disk_roots_and_home(tmp_path, monkeypatch):
    from lenscribe.workspace import broad_roots

    home = tmp_path / "home" / "me"
    (home / "proj").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    roots = ["/", str(home), str(tmp_path / "home"), str(home / "proj"), str(tmp_path / "other")]
    assert broad_roots(roots) == roots[:3]


def test_workspace_on_open_never_walks_a_disk_root_or_home(tmp_path, monkeypatch):
    """`file:///` as the workspace folder with workspaceOnOpen listed 59,381 files; now the start-up run leaves such
    roots out (and says so); the command still runs over every folder when the user asks."""
    from types import SimpleNamespace

    from lenscribe.lsp import workspace_run

    monkeypatch.setenv("HOME", str(tmp_path))
    started, logged = [], []
    monkeypatch.setattr(workspace_run, "start_workspace", lambda ls, roots=None: started.append(roots))

    def server(roots):
        run = SimpleNamespace(started=False)
        return SimpleNamespace(
            state=lambda cls: run, initialized=True, engine=SimpleNamespace(model=SimpleNamespace(state="ready")),
            settings=Settings(workspace_on_open=True), workspace_roots=lambda: roots,
            log_to_client=lambda message, kind=None: logged.append(message))

    ls = server(["/", str(tmp_path)])
    workspace_run.maybe_start_workspace(ls)
    assert started == [] and ls.state(workspace_run.WorkspaceRun).started
    assert "not summarizing /, " in logged[0] and "Summarize Workspace" in logged[0]
    project = tmp_path / "proj"
    workspace_run.maybe_start_workspace(server(["/", str(project)]))
    assert started == [[str(project)]]


def test_the_workspace_walk_ends_at_its_limit_or_when_told(tmp_path):
    """The walk itself is bounded: a disk root was listed whole (59,381 files) before a run began."""
    from lenscribe.workspace import workspace_files

    root = tmp_path / "ws"
    root.mkdir()
    for d in ("a", "b", "c"):
        _ws_tree(root / d, 10)
    assert len(workspace_files([root])) == 30
    first = workspace_files([root], limit=12)
    assert len(first) == 12 and first == sorted(first)
    assert len(workspace_files([root / "a", root / "b"], limit=15)) == 15  # the limit spans the roots
    assert len(list_source_files(root, limit=4)) == 4
    assert list_source_files(root, stop=lambda: True) == []
    assert workspace_files([root], deadline=time.monotonic() - 1) == []
    cancel = threading.Event()
    cancel.set()
    assert workspace_files([root], cancel=cancel) == []


# ---------------------------------------------------------------------------------------------------- the server


def test_each_feature_owns_its_state_and_stopping_is_a_loop_over_them():
    """Issue 27: the engine is made with the server; the features keep their own state (debounce timers, the lens
    refresh, the workspace run, the model load) and the server stops them all."""
    import asyncio

    from lenscribe.lsp.cli import create_server
    from lenscribe.lsp.code_lens import LensRefresh
    from lenscribe.lsp.configuration import Configuration
    from lenscribe.lsp.documents import DocumentSync
    from lenscribe.lsp.workspace_run import WorkspaceRun

    async def main():
        ls = create_server()
        assert isinstance(ls.engine, Engine) and ls.settings is ls.engine.settings
        assert {type(s) for s in ls.states.values()} >= {Configuration, DocumentSync, LensRefresh, WorkspaceRun}
        loop = asyncio.get_running_loop()
        debounce = ls.state(DocumentSync).debounce["file:///a.py"] = loop.call_later(60, lambda: None)
        refresh = ls.state(LensRefresh).handle = loop.call_later(60, lambda: None)
        run = ls.state(WorkspaceRun)
        run.cancel = threading.Event()
        run.task = asyncio.ensure_future(asyncio.sleep(60))
        ls.shutdown_engine()
        assert debounce.cancelled() and refresh.cancelled() and run.cancel.is_set()
        assert not ls.state(DocumentSync).debounce
        await asyncio.sleep(0)
        assert run.task.cancelled() and ls.closed

    asyncio.run(main())


def test_new_settings_reach_the_one_settings_object_and_the_features_that_subscribed(tmp_path):
    """Issue 27: configuration changes the engine's settings (the server's are the same object) and publishes the
    change; the documents feature re-chunks on it, the workspace run starts on it."""
    import asyncio

    from lenscribe.lsp import configuration, workspace_run
    from lenscribe.lsp.cli import create_server
    from lenscribe.lsp.server import SETTINGS_CHANGED

    async def main():
        ls = create_server()
        ls.loop = asyncio.get_running_loop()
        heard = []
        ls.subscribe(SETTINGS_CHANGED, lambda old, new, todo: heard.append((old.debounce_ms, new.debounce_ms,
                                                                           todo["rechunk"])))
        started = []
        workspace_run.maybe_start_workspace = lambda server: started.append(server)  # restored below
        try:
            first = {"workspaceOnOpen": False, "cacheDir": str(tmp_path / "cache")}
            await configuration.apply_configuration(ls, {"lenscribe": first})
            await configuration.apply_configuration(ls, {"lenscribe": {**first, "debounceMs": 50, "maxFileLines": 10,
                                                                       "workspaceOnOpen": True}})
        finally:
            workspace_run.maybe_start_workspace = original
        assert ls.settings is ls.engine.settings and ls.settings.debounce_ms == 50
        assert heard == [(Settings().debounce_ms, Settings().debounce_ms, False), (Settings().debounce_ms, 50, True)]
        assert started == [ls]  # workspaceOnOpen turned on
        ls.shutdown_engine(wait=True)

    original = workspace_run.maybe_start_workspace
    asyncio.run(main())
