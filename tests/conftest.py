"""Session fixtures shared by the test files: a tiny trained CodeT5-shaped model and the int8 model built from it.

``tiny_checkpoint`` is a 2+2-layer T5 (d_model 64) with the real CodeT5 vocabulary, trained for a few seconds on CPU
until it has memorised ``TINY_PAIRS``: its logits are peaked and its greedy output is real text, so tests downstream
(model build, summarizer, CLI, language server) can assert that the summary of a known function is its sentence.
``tiny_model_dir`` runs the real ``lenscribe model build`` on it.

Both are built once per test session under pytest's tmp dir; nothing is cached across runs. Building needs the
``[build]`` extra: without torch the tests that use them are skipped.

The whole session runs with a temporary ``HOME`` and XDG directories, and fails when the real home changed
(``home_guard``: its hooks are this file's).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from home_guard import pytest_configure, pytest_sessionfinish, pytest_unconfigure  # noqa: F401 - pytest's hooks

# (code -> one-sentence summary). Varied languages; every code string is exactly what a chunker would hand over.
TINY_PAIRS: tuple[tuple[str, str], ...] = (
    ("def add(a, b):\n    return a + b", "Add two numbers and return the sum."),
    ("function greet(name) {\n  return `Hello, ${name}!`;\n}", "Build a greeting message for a person."),
    (
        "func Max(xs []int) int {\n\tm := xs[0]\n\tfor _, x := range xs {\n\t\tif x > m {\n\t\t\tm = x\n\t\t}\n\t}\n"
        "\treturn m\n}",
        "Return the largest value in a slice.",
    ),
    (
        "public static boolean isEmpty(String s) {\n    return s == null || s.length() == 0;\n}",
        "Check whether a string is null or empty.",
    ),
    ("fn factorial(n: u64) -> u64 {\n    (1..=n).product()\n}", "Compute the factorial of a number."),
    (
        "def read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()",
        "Read a file and return its lines.",
    ),
    (
        "int count_zeros(const int *a, size_t n) {\n    int c = 0;\n"
        "    for (size_t i = 0; i < n; i++) if (a[i] == 0) c++;\n    return c;\n}",
        "Count the zero entries in an array.",
    ),
    (
        "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
        "    def push(self, x):\n        self.items.append(x)",
        "A simple stack of items.",
    ),
)

TINY_CONFIG = dict(
    vocab_size=32100,
    d_model=64,
    d_ff=128,
    num_layers=2,
    num_decoder_layers=2,
    num_heads=4,
    d_kv=16,
    pad_token_id=0,
    eos_token_id=2,
    bos_token_id=1,
    decoder_start_token_id=0,
    feed_forward_proj="relu",
    dropout_rate=0.0,  # memorising, not generalising: dropout would only slow it down
)
TINY_RECIPE = {"config": TINY_CONFIG, "pairs": TINY_PAIRS, "steps": 120, "lr": 1e-2, "seed": 0}


def _recipe_hash() -> str:
    return hashlib.sha256(json.dumps(TINY_RECIPE, sort_keys=True).encode()).hexdigest()[:12]


def train_tiny_t5(out_dir: Path) -> None:
    """Train the tiny T5 on TINY_PAIRS (full batch, AdamW) and save it with the CodeT5 tokenizer.

    One thread and deterministic kernels: the same weights on every machine and run, whatever the load. ~10 s on one
    idle core. Inputs go through ``prepare_code`` and the tokenizer exactly as at run time; targets are tokenized like
    CodeT5's (``<s> sentence </s>``) so that generation starts with ``<s>`` as the hub checkpoints' does.
    """
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from lenscribe.model_input import prepare_code
    from lenscribe.tokenization import build_tokenizer

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(TINY_RECIPE["seed"])
        model = T5ForConditionalGeneration(T5Config(**TINY_CONFIG))
        tok = build_tokenizer()
        inputs = [tok.encode(prepare_code(code)).ids for code, _ in TINY_PAIRS]
        targets = [tok.encode(summary).ids for _, summary in TINY_PAIRS]
        ids = _pad(inputs, 0)
        labels = _pad(targets, -100)  # -100: ignored by the loss
        mask = (ids != 0).long()
        opt = torch.optim.AdamW(model.parameters(), lr=TINY_RECIPE["lr"], weight_decay=0.0)
        model.train()
        for _ in range(TINY_RECIPE["steps"]):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        if loss.item() > 0.05:
            raise AssertionError(f"tiny model did not converge: loss {loss.item():.3f}")
        model.save_pretrained(out_dir)
        tok.save(str(out_dir / "tokenizer.json"))
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _pad(seqs: list[list[int]], value: int):
    import torch

    width = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (width - len(s)) for s in seqs])


@pytest.fixture(scope="session", autouse=True)
def _summary_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """`lenscribe summarize` reads and writes the summary cache: tests (and their subprocesses) use a temporary one,
    never the user's (unless LENSCRIBE_CACHE_DIR already names one)."""
    import os

    if os.environ.get("LENSCRIBE_CACHE_DIR"):
        yield
        return
    os.environ["LENSCRIBE_CACHE_DIR"] = str(tmp_path_factory.mktemp("summary-cache"))
    try:
        yield
    finally:
        os.environ.pop("LENSCRIBE_CACHE_DIR", None)


@pytest.fixture(scope="session")
def tiny_pairs() -> list[tuple[str, str]]:
    """The (code, summary) pairs the tiny model has memorised."""
    return list(TINY_PAIRS)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A save_pretrained directory (config.json, model.safetensors, tokenizer.json) of the trained tiny T5."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    out = tmp_path_factory.getbasetemp() / f"tiny-t5-{_recipe_hash()}"
    if not (out / "model.safetensors").is_file():
        out.mkdir(exist_ok=True)
        train_tiny_t5(out)
    return out


@pytest.fixture(scope="session")
def tiny_samples_file(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``--samples`` JSONL with the memorised codes: verify then compares real sentences, not noise."""
    path = tmp_path_factory.mktemp("tiny-samples") / "samples.jsonl"
    path.write_text("".join(json.dumps({"code": code}) + "\n" for code, _ in TINY_PAIRS), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_checkpoint: Path, tiny_samples_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The int8 model directory built by the real ``lenscribe model build`` from ``tiny_checkpoint``.

    Treat it as read-only: tests that rebuild or damage a model work on a copy. One thread: the tiny model gains
    nothing from more, and on a busy machine torch's extra threads make it several times slower.
    """
    pytest.importorskip("optimum")
    from lenscribe.cli import main

    out = tmp_path_factory.mktemp("tiny-model") / "tiny-codet5"
    argv = [
        "model",
        "build",
        str(tiny_checkpoint),
        "--out",
        str(out),
        "--name",
        "tiny-codet5",
        "--samples",
        str(tiny_samples_file),
        "--threads",
        "1",
    ]
    if main(argv) != 0:
        raise AssertionError(f"lenscribe {' '.join(argv)} failed; see the captured stderr")
    return out


@pytest.fixture()
def deny_access(monkeypatch):
    """``deny_access(directory)``: what a directory of mode 000 does to a user who is not root (the tests run as root,
    whom it does not stop): nothing under it can be opened (SQLite) or even looked at (``os.stat``)."""
    import errno
    import sqlite3

    real_connect, real_stat = sqlite3.connect, os.stat

    def deny(directory) -> None:
        inside = str(directory) + os.sep

        def connect(database, *a, **k):
            if str(database).startswith(inside):
                raise sqlite3.OperationalError("unable to open database file")
            return real_connect(database, *a, **k)

        def stat(path, *a, **k):
            if str(path).startswith(inside):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_stat(path, *a, **k)

        monkeypatch.setattr(sqlite3, "connect", connect)
        monkeypatch.setattr(os, "stat", stat)

    return deny


@pytest.fixture
def fake_model_dir(tmp_path):
    """A directory whose manifest says model id fake@1 (the fake loader ignores the rest)."""
    d = tmp_path / "model"
    d.mkdir()
    (d / "manifest.json").write_text('{"format": "lenscribe-model/1", "model_id": "fake@1", "files": {}}')
    return d


@pytest.fixture(scope="session")
def fp32_export(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint exported to fp32 ONNX, once (test_modelbuild_export.py and test_modelbuild_quantize.py)."""
    from lenscribe.modelbuild.deps import torch_threads
    from lenscribe.modelbuild.export import EXPORTED, export_onnx

    out = tmp_path_factory.mktemp("export") / "onnx-fp32"
    with torch_threads(1):
        paths = export_onnx(tiny_checkpoint, out, opset=17)
    assert set(paths) == set(EXPORTED)
    return out
