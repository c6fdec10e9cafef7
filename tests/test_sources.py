"""The one source reader (lenscribe.sources): what it refuses and why, and that the server's and the CLI's paths
through it give the same chunks."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import threading
from pathlib import Path

import pytest

from lenscribe.chunking import chunk_text
from lenscribe.cli import main
from lenscribe.engine import Engine
from lenscribe.settings import Settings
from lenscribe.sources import ReadOptions, read_file, read_text
from lenscribe.summarize_cli import iter_files, read_options

PY = '''class Stack:
    """A stack."""

    def push(self, x):
        self.items.append(x)
        return x


def add(a, b):
    return a + b
'''


def _read_in_thread(path: Path | str, options: ReadOptions):
    """read_file in a thread that the test gives up on after 10 s (a FIFO opened for reading would block)."""
    out = []
    t = threading.Thread(target=lambda: out.append(read_file(path, options)), daemon=True)
    t.start()
    t.join(10)
    assert out, f"read_file({path}) blocked"
    return out[0]


def test_options_are_the_servers_defaults_and_settings():
    s = Settings()
    assert ReadOptions() == dataclasses.replace(ReadOptions.from_settings(s), docs=False, timeout=None)
    assert (ReadOptions().max_bytes, ReadOptions().max_lines) == (s.max_file_bytes, s.max_file_lines)
    custom = Settings(max_file_bytes=10, max_file_lines=3, min_chunk_lines=1, max_chunk_chars=100,
                      languages=("go",), prefer_docstrings=False)
    assert ReadOptions.from_settings(custom) == ReadOptions(10, 3, 1, 100, ("go",), docs=False, timeout=10.0)
    assert ReadOptions.from_settings(Settings(prefer_docstrings=True)).docs


def test_a_python_file(tmp_path):
    (tmp_path / "m.py").write_text(PY)
    src = read_file(tmp_path / "m.py", ReadOptions())
    assert (src.path, src.language, src.skipped, src.text) == (str(tmp_path / "m.py"), "python", None, None)
    assert [(c.qualname, c.depth, c.doc) for c in src.chunks] == [("Stack", 0, None), ("Stack.push", 1, None),
                                                                   ("add", 0, None)]
    documented = read_file(tmp_path / "m.py", ReadOptions(docs=True), keep_text=True)
    assert documented.chunks[0].doc == "A stack." and documented.text == PY


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    src = _read_in_thread(tmp_path / "pipe.py", ReadOptions())
    assert (src.chunks, src.skipped) == ([], "not a regular file")
    assert _read_in_thread("/dev/zero", ReadOptions()).skipped == "not a regular file"


def test_a_symlink_named_is_read_a_symlink_in_a_walk_is_not(tmp_path):
    (tmp_path / "real.py").write_text(PY)
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "link.py").symlink_to(tmp_path / "real.py")
    (tmp_path / "ws" / "gone.py").symlink_to(tmp_path / "missing.py")
    assert list(iter_files([tmp_path / "ws"])) == []  # as the server's workspace walk: no symlinks
    assert read_file(tmp_path / "ws" / "link.py", ReadOptions()).chunks == read_file(tmp_path / "real.py",
                                                                                     ReadOptions()).chunks
    gone = read_file(tmp_path / "ws" / "gone.py", ReadOptions())
    assert gone.skipped == "unreadable: No such file or directory" and gone.language is None


def test_binary_files_and_texts(tmp_path):
    (tmp_path / "blob.py").write_bytes(b"def f():\0\0\0")
    assert read_file(tmp_path / "blob.py", ReadOptions()).skipped == "binary file"
    in_memory = read_text("def f():\n    pass\0\n", ReadOptions(), path="blob.py")
    assert in_memory.chunks == [] and "binary" in (in_memory.skipped or "")


def test_over_size_and_over_lines(tmp_path):
    (tmp_path / "big.py").write_text("x = 1\n" * 100)  # 600 bytes, 101 lines
    assert read_file(tmp_path / "big.py", ReadOptions(max_bytes=599)).skipped == "600 bytes > maxFileBytes 599"
    assert read_file(tmp_path / "big.py", ReadOptions(max_lines=100)).skipped == "101 lines > maxFileLines 100"
    assert read_file(tmp_path / "big.py", ReadOptions(max_bytes=600, max_lines=101)).skipped is None
    text = (tmp_path / "big.py").read_text()
    assert read_text(text, ReadOptions(max_bytes=599), path="big.py").skipped == "600 bytes > maxFileBytes 599"
    assert read_text(text, ReadOptions(max_lines=100), path="big.py").skipped == "101 lines > maxFileLines 100"
    wide = "é" * 300  # 600 bytes in 300 characters: bytes are counted, not characters
    assert read_text(wide, ReadOptions(max_bytes=599), path="w.py").skipped == "600 bytes > maxFileBytes 599"


def test_unknown_and_refused_languages(tmp_path):
    (tmp_path / "notes.txt").write_text("def f():\n    pass\n")
    assert read_file(tmp_path / "notes.txt", ReadOptions()).skipped == "unknown language"
    assert read_text("def f():\n    pass\n", ReadOptions()).skipped == "unknown language"
    only_go = ReadOptions(languages=("go",))
    assert read_text(PY, only_go, path="m.py").skipped == "language python is not in lenscribe.languages"
    # the allow-list speaks before the limits (the server does not warn about languages it was told to ignore)
    assert read_text(PY, dataclasses.replace(only_go, max_lines=1), path="m.py").skipped.startswith("language ")
    # the language from the languageId (an untitled buffer) or a #! line
    assert read_text(PY, ReadOptions(), language_id="python").language == "python"
    (tmp_path / "script").write_text("#!/usr/bin/env python3\n" + PY)
    assert [c.qualname for c in read_file(tmp_path / "script", ReadOptions()).chunks] == ["Stack", "Stack.push", "add"]


def test_crlf_file(tmp_path):
    (tmp_path / "m.py").write_bytes(PY.replace("\n", "\r\n").encode())
    src = read_file(tmp_path / "m.py", ReadOptions())
    lf = read_text(PY, ReadOptions(), path="m.py")
    assert [(c.qualname, c.start, c.end, c.depth) for c in src.chunks] == \
        [(c.qualname, c.start, c.end, c.depth) for c in lf.chunks]
    assert all("\r\n" in c.text and not c.text.endswith("\r") for c in src.chunks)
    assert src.chunks == chunk_text(PY.replace("\n", "\r\n"), "python", max_chars=ReadOptions().max_chars)


def test_a_chunker_failure_is_a_reason_not_an_exception(monkeypatch, caplog):
    import lenscribe.chunking

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lenscribe.chunking, "chunk_text", broken)
    assert read_text(PY, ReadOptions(), path="m.py").skipped == "chunker failed: boom"


@pytest.mark.parametrize("prefer_docstrings", [True, False])
def test_server_and_cli_read_a_file_alike(tmp_path, prefer_docstrings):
    path = tmp_path / "m.py"
    long_body = "\n".join(f"    x{i} = {i}" for i in range(1000))  # over maxChunkChars: cut alike
    path.write_text(PY + "\n\ndef long():\n" + long_body + "\n", encoding="utf-8")
    engine = Engine(Settings(cache_dir=None, prefer_docstrings=prefer_docstrings, workers=1))
    try:
        on_disk = engine.read_document(path.as_uri(), str(path))  # summarizeFile of a file that is not open
        opened = engine.make_document(path.as_uri(), str(path), path.read_text(encoding="utf-8"), 1, "python")
    finally:
        engine.shutdown()
    cli_args = argparse.Namespace(min_lines=2, prefer_docstrings=prefer_docstrings)  # --no-docstrings: False
    (cli,) = [read_file(p, read_options(cli_args)) for p in iter_files([tmp_path])]
    assert cli.path == str(path) and cli.skipped is None and any(c.truncated for c in cli.chunks)
    assert on_disk.chunks == opened.chunks == cli.chunks  # docs too: only when documented chunks show them
    assert on_disk.docs == opened.docs == prefer_docstrings
    assert any(c.doc for c in cli.chunks) is prefer_docstrings


def test_cli_skips_ignored_files_fifos_and_binaries(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    tree = tmp_path / "tree"
    (tree / "build").mkdir(parents=True)
    (tree / ".gitignore").write_text("build/\nsecret_*.py\n")
    (tree / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (tree / "secret_keys.py").write_text("def key():\n    return 42\n")
    (tree / "build" / "gen.py").write_text("def gen():\n    return 1\n")
    (tree / "blob.py").write_bytes(b"def f():\0\0\0")
    os.mkfifo(tree / "pipe.py")
    (tree / "link.py").symlink_to(tree / "mod.py")
    os.mkfifo(tmp_path / "named_pipe.py")  # a FIFO named on the command line: refused with a reason, not opened
    code = main(["summarize", str(tree), str(tmp_path / "named_pipe.py"), "--json", "--model", str(tiny_model_dir),
                 "--threads", "1", "--no-cache"])
    assert code == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [(Path(c["path"]).name, c["name"]) for c in out["chunks"]] == [("mod.py", "add")]
    assert out["chunks"][0]["path"] == str(tree / "mod.py")  # under the name given, not resolved
    assert f"skipped {tree / 'blob.py'}: binary file" in captured.err
    assert f"skipped {tmp_path / 'named_pipe.py'}: not a regular file" in captured.err
    # a walk leaves out what the server's workspace walk leaves out, silently: ignored files, FIFOs, symlinks
    assert "secret_keys" not in captured.err and "gen.py" not in captured.err
    assert str(tree / "pipe.py") not in captured.err and "link.py" not in captured.err
    assert out["stats"]["skipped_files"] == 2


def test_toggling_preferred_docstrings_rechunks_with_or_without_docs(tmp_path):
    engine = Engine(Settings(cache_dir=None, prefer_docstrings=True, workers=1))
    try:
        assert engine.make_document("file:///m.py", "/m.py", PY, 1).chunks[0].doc == "A stack."
        assert engine.apply_settings(engine.settings.replace(prefer_docstrings=False))["rechunk"]
        doc = engine.make_document("file:///m.py", "/m.py", PY, 2)
        assert not doc.docs and doc.chunks[0].doc is None
        assert not engine.apply_settings(engine.settings.replace(hover_timeout_ms=1))["rechunk"]
        assert engine.apply_settings(engine.settings.replace(prefer_docstrings=True))["rechunk"]
    finally:
        engine.shutdown()


def test_the_server_bounds_the_time_to_chunk_one_document():
    """A 20 MB minified file held the server's one chunking thread (and, tree-sitter holding the GIL, every thread)
    for a minute; the server's options bound chunking one document, which is then skipped with the reason."""
    from lenscribe.sources import CHUNK_TIMEOUT_S

    assert ReadOptions.from_settings(Settings()).timeout == CHUNK_TIMEOUT_S
    assert read_options(argparse.Namespace(min_lines=2, prefer_docstrings=True)).timeout is None  # the CLI waits
    text = "function f(a, b) {\n  return a + b;\n}\n" * 20_000  # 680 KB
    src = read_text(text, ReadOptions(max_lines=100_000, timeout=0), path="big.js")
    assert src.chunks == [] and src.skipped and src.skipped.startswith("chunking took over 0s")
    assert len(read_text(text, ReadOptions(max_lines=100_000, timeout=600), path="big.js").chunks) == 20_000
