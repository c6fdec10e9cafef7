"""lenscribe.modelbuild.fetch: the source of a build (a folder or a hub id), checked before anything is built: T5
only, a tokenizer that fits the config, a hub id that fails fast offline.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from lenscribe.modelbuild import fetch as fetch_step
from lenscribe.modelbuild.errors import BuildError
from lenscribe.modelfiles import sha256_file
from modelbuild_support import build, make_source

pytestmark = pytest.mark.slow


T5_KEYS = {"model_type": "t5", "num_layers": 2, "num_heads": 4, "d_kv": 16, "d_model": 64, "vocab_size": 32100}


# -- fetch ----------------------------------------------------------------------------------------------------------


def test_parse_source(tmp_path: Path) -> None:
    assert fetch_step.parse_source(str(tmp_path)) == fetch_step.Source("local", str(tmp_path.resolve()))
    hub = fetch_step.parse_source("Salesforce/codet5-base-multi-sum", revision="main")
    assert (hub.kind, hub.location, hub.revision) == ("hub", "Salesforce/codet5-base-multi-sum", "main")
    with pytest.raises(BuildError, match="no such directory"):
        fetch_step.parse_source("./no/such/dir")
    (tmp_path / "f.json").write_text("{}")
    with pytest.raises(BuildError, match="got a file"):
        fetch_step.parse_source(str(tmp_path / "f.json"))


def test_fetch_copies_checkpoint_and_writes_missing_tokenizer(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from lenscribe.tokenization import build_tokenizer, load_tokenizer

    src = tmp_path / "no-tokenizer"
    src.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy2(tiny_checkpoint / name, src / name)
    dest = tmp_path / "work" / "source"
    record = fetch_step.fetch(fetch_step.parse_source(str(src)), dest)
    assert record["kind"] == "local" and record["location"] == str(src.resolve())
    assert record["files"] == {p.name: sha256_file(p) for p in src.iterdir()}
    assert "has none" in record["tokenizer"]
    code = "def add(a, b):\n    return a + b"
    assert load_tokenizer(dest / "tokenizer.json").encode(code).ids == build_tokenizer().encode(code).ids
    assert sha256_file(dest / "model.safetensors") == sha256_file(src / "model.safetensors")


@pytest.mark.parametrize(
    ("config", "weights", "message"),
    [
        ({**T5_KEYS, "model_type": "bert", "architectures": ["BertModel"]}, True, "'bert' .*not supported.*T5"),
        (None, True, "no config.json"),
        ("{not json", True, "unreadable config"),
        ({"model_type": "t5", "d_model": 64}, True, "lacks num_layers"),
        (T5_KEYS, False, "no PyTorch weights"),
    ],
    ids=["non-t5", "no-config", "bad-json", "incomplete", "no-weights"],
)
def test_fetch_rejects_bad_sources(tmp_path: Path, config, weights: bool, message: str) -> None:
    src = make_source(tmp_path, config, weights)
    with pytest.raises(BuildError, match=message):
        fetch_step.fetch(fetch_step.parse_source(str(src)), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()  # rejected before anything is copied


def test_cli_reports_non_t5_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optimum")
    src = make_source(tmp_path, {**T5_KEYS, "model_type": "gpt2"})
    assert build(src, "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "error:" in err and "'gpt2'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing left behind by a build that never started


def test_tokenizer_must_fit_config(tiny_checkpoint: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(tiny_checkpoint, src)
    cfg = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**cfg, "vocab_size": 32000}))
    with pytest.raises(BuildError, match="32100 tokens but the model's vocab_size is 32000"):
        fetch_step.fetch(fetch_step.parse_source(str(src)), tmp_path / "dest")


def test_hub_id_fails_fast_when_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))  # nothing cached
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(BuildError, match="not in the local hub cache and HF_HUB_OFFLINE"):
        fetch_step.fetch(fetch_step.parse_source("Salesforce/codet5-base-multi-sum"), tmp_path / "dest")
    assert time.monotonic() - start < 10


def test_reachability_probe_answers_quickly() -> None:
    start = time.monotonic()
    why = fetch_step._reachable("https://127.0.0.1:9", timeout=2)  # discard port: refused at once
    assert why is not None and time.monotonic() - start < 5
