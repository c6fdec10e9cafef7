"""The default model shipped in ``models/lenscribe-small``: present and intact, lean, chosen when nothing else is
configured, and producing real summaries with onnxruntime alone (no network, no torch)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lenscribe.defaults import MODEL_ENV, default_model_dir
from lenscribe.evaluation.metrics import is_degenerate
from lenscribe.modelfiles import load_manifest
from lenscribe.summarizer import Summarizer

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "lenscribe-small"
SHIPPED_FILES = {"manifest.json", "encoder_model.onnx", "decoder_with_past_model.onnx", "tokenizer.json", "config.json"}
MAX_SHIPPED_MB = 40

# Functions the model never saw (written for this test).
CODES = [
    "def read_file(path):\n    with open(path) as f:\n        return f.read()",
    "def is_empty(self):\n    return len(self.items) == 0",
    "def save_json(data, path):\n    with open(path, 'w') as f:\n        json.dump(data, f, indent=2)",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y",
]


# Unseen functions whose names say what they do: a model that reads its input names the thing (the first shipped
# model, a language model of docstrings that ignored the code, said "Return the given name." to all eight).
NAMED = [
    ("read_file", CODES[0]),
    ("save_json", CODES[2]),
    ("is_empty", CODES[1]),
    ("count_words", "def count_words(text):\n    return len(text.split())"),
    ("parse_date", "def parse_date(value):\n    return datetime.strptime(value, '%Y-%m-%d').date()"),
    ("remove_user", "def remove_user(self, user_id):\n    del self.users[user_id]\n    self.save()"),
    ("get_config", "def get_config(name):\n    return CONFIG.get(name)"),
    ("close_connection", "def close_connection(self):\n    if self.conn is not None:\n        self.conn.close()\n"
                         "        self.conn = None"),
]


@pytest.fixture(scope="module")
def shipped() -> Summarizer:
    return Summarizer.load(SHIPPED)


def test_the_default_model_dir_is_the_shipped_model(monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    assert default_model_dir() == SHIPPED
    assert {p.name for p in SHIPPED.iterdir()} == SHIPPED_FILES  # int8 graphs, tokenizer, config, manifest: no work/
    size_mb = sum(p.stat().st_size for p in SHIPPED.iterdir()) / 1e6
    assert size_mb < MAX_SHIPPED_MB


def test_the_manifest_verifies_and_records_an_int8_build():
    manifest = load_manifest(SHIPPED, check_hashes=True)  # raises on a missing, truncated or altered file
    raw = manifest.raw
    assert raw["name"] == "lenscribe-small" and manifest.model_id.startswith("lenscribe-small@")
    assert raw["quantization"]["weight_type"] == "QInt8"
    assert raw["verify"]["passed"] is True and not raw["verify"]["failures"]
    assert raw["verify"]["fp32"]["exact_match"] == 1.0  # the ONNX export reproduces PyTorch's greedy tokens
    assert manifest.architecture.vocab_size == 32100 and manifest.architecture.decoder_start_token_id == 0
    assert set(manifest.files) == {"encoder", "decoder", "tokenizer", "config"}


def test_the_shipped_model_training_record_is_kept_by_its_id():
    """models/lenscribe_training/runs/ keeps the record of the run behind the shipped model (the checkpoints stay in
    .cache/): onnx_weights.py hands it on when training goes on from the shipped model, and the data card is rendered
    from it."""
    manifest = load_manifest(SHIPPED)
    record = json.loads((REPO / "models" / "lenscribe_training" / "runs" / f"{manifest.model_id}.json").read_text())
    config = json.loads((SHIPPED / "config.json").read_text())
    for key in ("d_model", "d_ff", "num_layers", "num_decoder_layers", "num_heads", "vocab_size"):
        assert record["model_config"][key] == config[key], key
    assert record["args"]["max_src"] == manifest.architecture.max_input_tokens
    assert record["steps"] > 0 and record["history"] and record["best_valid_bleu"] > 0


def test_summaries_are_short_clean_sentences(shipped):
    for code, summary in zip(CODES, shipped.summarize(CODES), strict=True):
        assert summary and not is_degenerate(summary), (code, summary)
        assert len(summary.split("\n")) <= 2 and all(len(line) <= 100 for line in summary.split("\n"))
        assert summary[0].isupper() and summary.rstrip().endswith(".")


def test_summaries_are_about_the_code(shipped):
    summaries = shipped.summarize([code for _, code in NAMED])
    mentions = [name for (name, _), summary in zip(NAMED, summaries, strict=True)
                if set(name.split("_")) & set(re.findall(r"[a-z]+", summary.lower()))]
    assert len(mentions) >= 6, list(zip(NAMED, summaries, strict=True))
    assert len(set(summaries)) >= 7, summaries  # different code, different summaries


def test_summaries_are_deterministic(shipped):
    # (and a chunk's summary does not depend on its batch-mates: tests/test_batch_independence.py)
    codes = CODES
    assert shipped.summarize(codes) == shipped.summarize(codes)
    assert shipped.summarize(codes[:1]) == shipped.summarize(codes[:1])


def test_summarize_cli_uses_the_shipped_model_offline():
    env = {k: v for k, v in os.environ.items() if k != MODEL_ENV}
    env |= {"HF_HUB_OFFLINE": "1", "NO_PROXY": "*", "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-m", "lenscribe", "summarize", str(REPO / "examples"), "--json"],
                          capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"].startswith("lenscribe-small@")
    names = {(Path(c["path"]).name, c["name"]) for c in out["chunks"]}
    assert {("inventory.py", "load_items"), ("inventory.py", "Inventory"), ("inventory.py", "Inventory.save")} <= names
    assert any(name == "strings.js" for name, _ in names)
    for c in out["chunks"]:
        assert c["summary"] and not is_degenerate(c["summary"]), c


def test_run_time_needs_no_torch():
    code = ("import sys; from lenscribe.summarizer import Summarizer; s = Summarizer.load(sys.argv[1]); "
            "print(s.summarize(['def add(a, b):\\n    return a + b'])[0]); "
            "heavy = sorted(m for m in ('torch', 'transformers', 'optimum') if m in sys.modules); "
            "sys.exit(f'imported {heavy}' if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code, str(SHIPPED)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
