"""``lenscribe eval`` (lenscribe.evaluation.cli) with a stub model and with the tiny real one: JSON and text output,
limits, saving, decoding options, errors, the name-only baseline and the grounding check in the report."""

from __future__ import annotations

import json

import pytest

from lenscribe.evaluation.bleu import corpus_bleu, sentence_bleu

# ------------------------------------------------------------------------------------------------ CLI


class StubSummarizer:
    """Echoes a fixed answer per code: exact for code containing 'sum', empty for 'empty', else a degenerate one."""

    model_id = "stub-0"
    calls: list[list[str]] = []

    @classmethod
    def load(cls, model_dir, **kwargs):
        cls.loaded_from = model_dir
        cls.options = kwargs.get("options")
        cls.calls = []
        return cls()

    def summarize(self, codes, timeout=None):
        assert timeout is None
        type(self).calls.append(list(codes))
        out = []
        for c in codes:
            if "sum" in c:
                out.append("Return the sum of a and b.")
            elif "empty" in c:
                out.append("")
            else:
                out.append("value value value")
        return out


@pytest.fixture
def data_file(tmp_path):
    recs = [
        {"id": "python-1", "language": "python", "name": "add", "code": "def add(a, b):\n    return sum([a, b])",
         "doc": "Return the sum of a and b."},
        {"id": "python-2", "language": "python", "name": "nothing", "code": "def f():\n    empty()",
         "doc": "Do nothing at all."},
        {"id": "go-1", "language": "go", "name": "Get", "code": "func Get() int {\n\treturn v\n}",
         "doc": "Returns the value."},
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.fixture
def stub(monkeypatch):
    import lenscribe.summarizer

    monkeypatch.setattr(lenscribe.summarizer, "Summarizer", StubSummarizer)
    return StubSummarizer


def test_cli_json(data_file, stub, capsys, tmp_path):
    from lenscribe.cli import main

    assert main(["eval", str(data_file), "--model", str(tmp_path), "--json", "--samples", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert stub.loaded_from == tmp_path
    langs = {r["language"]: r for r in out["languages"]}
    assert set(langs) == {"python", "go", "all"}
    assert langs["python"]["n"] == 2 and langs["go"]["n"] == 1 and langs["all"]["n"] == 3
    assert langs["python"]["exact_match"] == 0.5
    assert langs["python"]["degenerate"] == 0.5
    assert langs["go"]["degenerate"] == 1.0
    assert langs["python"]["bleu"] == pytest.approx(
        100 * (1.0 + sentence_bleu("Do nothing at all.", "")) / 2)
    assert langs["all"]["bleu"] == pytest.approx(corpus_bleu(
        ["Return the sum of a and b.", "Do nothing at all.", "Returns the value."],
        ["Return the sum of a and b.", "", "value value value"]))
    assert out["model_id"] == "stub-0"
    assert len(out["samples"]) == 2
    assert {"reference", "prediction", "language"} <= set(out["samples"][0])


def test_cli_language_limit_and_text_output(data_file, stub, capsys, tmp_path):
    from lenscribe.cli import main

    assert main(["eval", str(data_file), "--model", str(tmp_path), "--language", "python", "--limit", "1",
                 "--samples", "1"]) == 0
    text = capsys.readouterr().out
    assert "BLEU-4" in text and "python" in text and "go " not in text
    assert "reference:  Return the sum of a and b." in text
    assert "prediction: Return the sum of a and b." in text
    assert sum(len(c) for c in stub.calls) == 1


def test_cli_save_writes_the_json_and_prints_the_table(data_file, stub, capsys, tmp_path):
    from lenscribe.cli import main

    saved = tmp_path / "out" / "eval.json"
    assert main(["eval", str(data_file), "--model", str(tmp_path), "--save", str(saved), "--samples", "1"]) == 0
    text = capsys.readouterr().out
    assert "BLEU-4" in text and "reference:" in text
    out = json.loads(saved.read_text())
    langs = {r["language"]: r for r in out["languages"]}
    assert langs["go"]["degenerate"] == 1.0 and langs["all"]["n"] == 3
    assert out["model_id"] == "stub-0" and len(out["samples"]) == 1


def test_cli_beams_reach_the_summarizer_and_the_record(data_file, stub, capsys, tmp_path):
    from lenscribe.cli import main

    assert main(["eval", str(data_file), "--model", str(tmp_path), "--json", "--beams", "4"]) == 0
    assert stub.options.num_beams == 4 and json.loads(capsys.readouterr().out)["beams"] == 4
    assert main(["eval", str(data_file), "--model", str(tmp_path)]) == 0
    assert stub.options.num_beams == 1 and "greedy" in capsys.readouterr().out


def test_cli_repetition_penalty_defaults_to_the_editors_and_is_recorded(data_file, stub, capsys, tmp_path):
    from lenscribe.cli import main
    from lenscribe.decoding import DEFAULT_REPETITION_PENALTY

    assert main(["eval", str(data_file), "--model", str(tmp_path), "--json"]) == 0
    assert stub.options.repetition_penalty == DEFAULT_REPETITION_PENALTY != 1.0
    assert json.loads(capsys.readouterr().out)["repetition_penalty"] == DEFAULT_REPETITION_PENALTY
    assert main(["eval", str(data_file), "--model", str(tmp_path), "--repetition-penalty", "1"]) == 0
    assert stub.options.repetition_penalty == 1.0 and "repetition penalty" not in capsys.readouterr().out
    assert main(["eval", str(data_file), "--model", str(tmp_path), "--repetition-penalty", "0"]) == 2
    assert "must be > 0" in capsys.readouterr().err


def test_cli_default_model_dir(data_file, stub, capsys, monkeypatch, tmp_path):
    from lenscribe.cli import main

    monkeypatch.setenv("LENSCRIBE_MODEL_DIR", str(tmp_path / "m"))
    assert main(["eval", str(data_file), "--json"]) == 0
    from pathlib import Path

    assert Path(stub.loaded_from) == tmp_path / "m"


def test_cli_errors(tmp_path, stub, capsys):
    from lenscribe.cli import main

    assert main(["eval", str(tmp_path / "missing.jsonl"), "--model", str(tmp_path)]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"code": "x"}\n')
    assert main(["eval", str(bad), "--model", str(tmp_path)]) == 2
    assert "'doc'" in capsys.readouterr().err
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"code": "x", "doc": "y", "language": "go"}\n')
    assert main(["eval", str(ok), "--model", str(tmp_path), "--language", "rust"]) == 2


def test_cli_model_error(data_file, monkeypatch, capsys, tmp_path):
    import lenscribe.summarizer
    from lenscribe.cli import main
    from lenscribe.modelfiles import ModelError

    class Broken:
        @classmethod
        def load(cls, model_dir, **kwargs):
            raise ModelError(f"no model in {model_dir}")

    monkeypatch.setattr(lenscribe.summarizer, "Summarizer", Broken)
    assert main(["eval", str(data_file), "--model", str(tmp_path)]) == 2
    assert "no model in" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ real model


def test_cli_with_tiny_real_model(tiny_model_dir, tiny_pairs, tmp_path, capsys):
    """End to end: the session's tiny memorising model through the real Summarizer scores near-perfect BLEU."""
    from lenscribe.cli import main

    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({"id": f"t{i}", "language": "mixed", "code": c, "doc": d}) + "\n"
                            for i, (c, d) in enumerate(tiny_pairs)))
    assert main(["eval", str(data), "--model", str(tiny_model_dir), "--json", "--samples", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    (rep,) = out["languages"]
    assert rep["n"] == len(tiny_pairs)
    assert rep["bleu"] > 50
    assert rep["degenerate"] < 0.5
    assert rep["ms_per_summary"] > 0
    assert len(out["samples"]) == 3


def test_eval_reports_the_name_only_baseline_and_the_margin(tmp_path, stub, capsys):
    from lenscribe.cli import main
    from lenscribe.name_rule import name_summary

    recs = [{"language": "python", "name": "load_user_config", "code": "def load_user_config(): pass",
             "doc": "Load the user config."},
            {"language": "python", "name": "f", "code": "def f(): pass", "doc": "Return the sum of a and b."}]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["eval", str(data), "--model", str(tmp_path), "--json"]) == 0
    (rep,) = json.loads(capsys.readouterr().out)["languages"]
    base = corpus_bleu([r["doc"] for r in recs], [name_summary(r["name"], r["code"]) for r in recs])
    assert rep["name_baseline_bleu"] == pytest.approx(base) and base > 40  # the first name says it all
    assert rep["margin"] == pytest.approx(rep["bleu"] - base)
    assert main(["eval", str(data), "--model", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "name-only" in text and "margin" in text and f"{base:.2f}" in text


def test_eval_reports_what_the_grounding_check_shows(tmp_path, stub, capsys):
    """`checked_bleu`: a prediction naming what the code never mentions is scored as the name rule's sentence."""
    from lenscribe.cli import main

    recs = [  # the stub answers "Return the sum of a and b." to code containing "sum"
        {"language": "python", "name": "add", "code": "def add(a, b):\n    return sum((a, b))", "doc": "Add a and b."},
        {"language": "python", "name": "load_config", "code": "def load_config():\n    return consume()",
         "doc": "Load the config."},  # "sum" only inside "consume": not a word of this code
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["eval", str(data), "--model", str(tmp_path), "--json"]) == 0
    (rep,) = json.loads(capsys.readouterr().out)["languages"]
    assert rep["withheld"] == 0.5
    refs = [r["doc"] for r in recs]
    assert rep["bleu"] == pytest.approx(corpus_bleu(refs, ["Return the sum of a and b."] * 2))
    assert rep["checked_bleu"] == pytest.approx(corpus_bleu(refs, ["Return the sum of a and b.", "Load the config."]))
    assert rep["checked_bleu"] > rep["bleu"]
    assert main(["eval", str(data), "--model", str(tmp_path)]) == 0
    assert "withheld %" in capsys.readouterr().out
