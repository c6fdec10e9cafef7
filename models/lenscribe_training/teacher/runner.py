"""The teacher at work: one llama.cpp model (``llama-cpp-python``, the teacher extra) answering
``lenscribe.prompts`` requests, greedy, on the CPU.

``Teacher.open(path, threads)`` loads a verified GGUF (``lenscribe_training.teacher.fetch``); ``teacher.ask(prompt,
code, language, kind)`` returns an ``Answer``: the raw reply, its cleaned form (``lenscribe.prompts.clean_reply``), the
prompt and reply token counts and the seconds it took. Greedy decoding with a fixed seed: the same code, prompt and
model give the same reply. llama.cpp keeps the previous prompt's KV cache, so the shared system + instruction prefix of
consecutive requests is evaluated once.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenscribe.prompts import Prompt, Reply, clean_reply, messages

N_CTX = 2048  # the instruction (~120 tokens) + code cut at max_code_chars (~1,000 tokens at most) + the reply


@dataclass(frozen=True)
class Answer:
    raw: str
    reply: Reply
    prompt_tokens: int
    gen_tokens: int
    seconds: float


def file_sha256(path: Path) -> str:
    """The verified sha256 of a fetched teacher (its ``.verified.json``), else computed."""
    stamp = path.with_name(path.name + ".verified.json")
    try:
        return str(json.loads(stamp.read_text())["sha256"])
    except (OSError, ValueError, KeyError):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()


class Teacher:
    def __init__(self, llm: Any, path: Path, sha256: str):
        self.llm = llm
        self.path = path
        self.sha256 = sha256

    @classmethod
    def open(cls, path: Path, threads: int = 2, n_ctx: int = N_CTX, n_batch: int = 512) -> Teacher:
        from llama_cpp import Llama  # the teacher extra: never a run-time dependency of the server

        if not path.is_file():
            raise FileNotFoundError(f"no teacher model at {path} (python -m lenscribe_training.teacher.fetch ...)")
        llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=n_batch,
                    seed=0, verbose=False)
        return cls(llm, path, file_sha256(path))

    @property
    def name(self) -> str:
        return self.path.name

    def ask(self, prompt: Prompt, code: str, language: str, kind: str = "function") -> Answer:
        t0 = time.perf_counter()
        out = self.llm.create_chat_completion(messages=messages(prompt, code, language, kind), temperature=0.0,
                                              top_k=1, max_tokens=prompt.max_tokens, seed=0, stop=["\n\n", "```"])
        dt = time.perf_counter() - t0
        raw = out["choices"][0]["message"]["content"] or ""
        usage = out.get("usage") or {}
        return Answer(raw, clean_reply(raw, prompt), int(usage.get("prompt_tokens", 0)),
                      int(usage.get("completion_tokens", 0)), dt)

    def close(self) -> None:
        close = getattr(self.llm, "close", None)
        if close is not None:
            close()
