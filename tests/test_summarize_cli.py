"""``lenscribe summarize`` (lenscribe.summarize_cli) on the real tiny int8 model: JSON and text output, docstrings
shown as the editor shows them, errors, missing paths and an unreadable cache directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lenscribe.cli import main
from lenscribe.modelfiles import load_manifest

# -- lenscribe summarize ---------------------------------------------------------------------------------------------


@pytest.fixture()
def source_tree(tmp_path: Path, tiny_pairs) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(
        "import os\n\n\n" + tiny_pairs[0][0] + "\n\n\n" + tiny_pairs[5][0] + "\n", encoding="utf-8"
    )
    (tmp_path / "pkg" / "hello.js").write_text(tiny_pairs[1][0] + "\n", encoding="utf-8")
    (tmp_path / "pkg" / "blob.bin").write_bytes(b"\0\1\2" * 100)
    (tmp_path / "pkg" / "notes.unknownext").write_text("def f():\n    pass\n", encoding="utf-8")
    return tmp_path / "pkg"


def test_summarize_cli_json(tiny_model_dir: Path, source_tree: Path, tiny_pairs, capsys) -> None:
    assert main(["summarize", str(source_tree), "--json", "--model", str(tiny_model_dir), "--threads", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == load_manifest(tiny_model_dir).model_id
    got = {(Path(c["path"]).name, c["name"], c["start_line"], c["end_line"], c["kind"]): c["summary"]
           for c in out["chunks"]}
    # the grounding check (on by default, as in the editor): "Add two numbers and return the sum." names two and sum,
    # which add's code never mentions, so the name stands in; every word of read_lines' summary is in its code
    assert got == {
        ("hello.js", "greet", 1, 3, "function"): "The greet.",
        ("mod.py", "add", 4, 5, "function"): "Add.",
        ("mod.py", "read_lines", 8, 10, "function"): tiny_pairs[5][1],
    }
    add = next(c for c in out["chunks"] if c["name"] == "add")
    assert add["source"] == "name" and add["withheld"] == ["two", "sum"] and add["generated"] == tiny_pairs[0][1]
    assert main(["summarize", str(source_tree), "--json", "--model", str(tiny_model_dir), "--threads", "1",
                 "--no-grounding-check"]) == 0
    raw = {c["name"]: (c["summary"], c["source"]) for c in json.loads(capsys.readouterr().out)["chunks"]}
    assert raw == {"greet": (tiny_pairs[1][1], "generated"), "add": (tiny_pairs[0][1], "generated"),
                   "read_lines": (tiny_pairs[5][1], "generated")}



def test_summarize_with_an_unreadable_cache_dir_still_summarizes(tiny_model_dir: Path, source_tree: Path, tmp_path,
                                                                 deny_access, capsys) -> None:
    """A cache directory of mode 000 (simulated: the tests run as root): the summaries are printed all the same."""
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    deny_access(cache_dir)
    assert main(["summarize", str(source_tree), "--json", "--model", str(tiny_model_dir), "--threads", "1",
                 "--cache-dir", str(cache_dir)]) == 0
    assert {c["name"] for c in json.loads(capsys.readouterr().out)["chunks"]} == {"greet", "add", "read_lines"}

def test_summarize_cli_text_and_errors(tiny_model_dir: Path, source_tree: Path, tiny_pairs, tmp_path: Path) -> None:
    binary = source_tree / "blob.py"
    binary.write_bytes(b"def f():\0\0\0")
    run = subprocess.run(
        [sys.executable, "-m", "lenscribe", "summarize", str(source_tree / "mod.py"), str(binary),
         "--model", str(tiny_model_dir), "--threads", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("mod.py")
    assert lines[1].split() == ["4-5", "function", "add"]
    assert lines[2].strip() == "Add. · from the name"  # tagged as the lens is (render.marked)
    assert lines[3].strip() == "(from the name: the generated summary named two, sum, which the code never mentions)"
    assert "blob.py: binary file" in run.stderr

    missing = subprocess.run(
        [sys.executable, "-m", "lenscribe", "summarize", str(source_tree), "--model", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 2 and "lenscribe:" in missing.stderr and missing.stdout == ""


def test_summarize_cli_shows_docstrings_as_the_editor_does(tiny_model_dir: Path, tiny_pairs, tmp_path: Path,
                                                           capsys) -> None:
    """A documented function shows its docstring's first sentence, marked as in the editor, without a model run;
    --no-docstrings (lenscribe.preferDocstrings: false) sends it to the model too."""
    path = tmp_path / "mod.py"
    path.write_text('def total(a, b):\n    """Sum two \x1b\x07prices. Rounds to cents."""\n    return round(a + b, 2)\n'
                    '\n\n' + tiny_pairs[5][0] + "\n", encoding="utf-8")  # control characters are not printed
    argv = ["summarize", str(path), "--model", str(tiny_model_dir), "--threads", "1", "--no-cache"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {c["name"]: (c["summary"], c["source"]) for c in out["chunks"]}
    assert rows == {"total": ("Sum two prices.", "docstring"), "read_lines": (tiny_pairs[5][1], "generated")}
    assert out["stats"]["docstrings"] == 1 and out["stats"]["summarized"] == 1  # the documented one skips the model

    assert main(argv) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines()]
    assert lines[1:] == ["1-3  function total", "Sum two prices. · docstring",
                         "6-8  function read_lines", f"{tiny_pairs[5][1]} · generated"]

    assert main([*argv, "--json", "--no-docstrings"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {c["source"] for c in out["chunks"]} <= {"generated", "name"} and out["stats"]["summarized"] == 2


def test_summarize_cli_missing_path_and_no_sources(tiny_model_dir: Path, source_tree: Path, tmp_path: Path,
                                                   capsys) -> None:
    model = ["--model", str(tiny_model_dir), "--threads", "1", "--no-cache"]
    gone = tmp_path / "gone.py"
    assert main(["summarize", str(source_tree), str(gone), *model]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"lenscribe: no such file or directory: {gone}\n"
    dangling = tmp_path / "link.py"
    dangling.symlink_to(gone)  # a path that is there, but cannot be read: skipped with the reason, as before
    assert main(["summarize", str(dangling), str(source_tree / "mod.py"), *model]) == 0
    assert f"skipped {dangling}: unreadable: No such file or directory" in capsys.readouterr().err

    empty = tmp_path / "docs"
    empty.mkdir()
    (empty / "notes.txt").write_text("no source here\n")
    assert main(["summarize", str(empty), *model]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"lenscribe: no source files in {empty}\n"
    # with sources elsewhere the run goes on, and says which directory had none
    assert main(["summarize", str(empty), str(source_tree / "mod.py"), *model]) == 0
    captured = capsys.readouterr()
    assert f"lenscribe: no source files in {empty}\n" in captured.err and "function add" in captured.out


def test_summarize_cli_stops_quietly_when_its_reader_goes_away(tiny_model_dir: Path, source_tree: Path) -> None:
    # `lenscribe summarize src/ | head`: the reader closes the pipe; the command ends as Unix tools do (SIGPIPE's
    # status), with no traceback
    proc = subprocess.Popen(
        [sys.executable, "-m", "lenscribe", "summarize", str(source_tree / "mod.py"), "--model", str(tiny_model_dir),
         "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before it writes anything: its first write fails
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
