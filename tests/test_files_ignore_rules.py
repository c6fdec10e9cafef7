"""An ignore file is input (issue 24): a rule git accepts but that cannot be compiled (``[z-a]``, a bad range) is
skipped with one warning, the other rules still apply, and neither the walk nor ``lenscribe summarize`` fails."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lenscribe.cli import main
from lenscribe.files import GitIgnore, list_source_files

BAD_RULES = ("[z-a]", "x[9-0].py", "\\", "!", "[b-a]/**")


@pytest.mark.parametrize("bad", BAD_RULES)
def test_a_rule_that_cannot_be_compiled_is_skipped_with_one_warning(bad, caplog):
    with caplog.at_level(logging.WARNING, logger="lenscribe.files"):
        gi = GitIgnore.parse(f"*.log\n{bad}\n!keep.log\nbuild/\n", "tree/.gitignore")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "tree/.gitignore:2" in warnings[0] and repr(bad) in warnings[0], warnings
    assert gi.match("a.log", False) is True and gi.match("keep.log", False) is False
    assert gi.match("build", True) is True and gi.match("src/a.py", False) is None


def test_crlf_ignore_file():
    gi = GitIgnore.parse("*.log\r\nbuild/\r\n\r\n# comment\r\n")
    assert gi.match("a.log", False) is True and gi.match("build", True) is True and gi.match("a.py", False) is None


def _tree(root: Path, rules: str) -> None:
    (root / "build").mkdir(parents=True)
    (root / ".gitignore").write_text(rules)
    (root / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "build" / "gen.py").write_text("def gen():\n    return 1\n")


def test_the_walk_goes_on(tmp_path, caplog):
    _tree(tmp_path, "[z-a]\nbuild/\n")
    with caplog.at_level(logging.WARNING, logger="lenscribe.files"):
        files = list_source_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [".gitignore", "mod.py"]
    assert sum("[z-a]" in r.getMessage() for r in caplog.records) == 1


def test_summarize_cli_goes_on(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    """Was: exit 1 with a re.error traceback."""
    tree = tmp_path / "tree"
    _tree(tree, "[z-a]\nbuild/\n")
    code = main(["summarize", str(tree), "--json", "--model", str(tiny_model_dir), "--threads", "1", "--no-cache"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [(Path(c["path"]).name, c["name"]) for c in json.loads(captured.out)["chunks"]] == [("mod.py", "add")]
    assert "Traceback" not in captured.err
