"""CodeT5's identifier-aware denoising objectives, on token ids (numpy; runs in data-loader workers).

* ``span_corrupt`` (masked span prediction, T5/CodeT5 "MSP"): about 15% of the tokens, in spans of mean length 3,
  are replaced by sentinels ``<extra_id_k>``; the target is each sentinel followed by the tokens it hides.
* ``mask_identifiers`` (masked identifier prediction, CodeT5 "MIP"): some identifiers are chosen and *every*
  occurrence of one is replaced by the same sentinel; the target is each sentinel followed by its identifier, so the
  model must infer a name from how it is used (what a summary needs: what a thing *is*).

Both take a source row ``<s> code </s>`` and return (source, target) id lists in the fine-tuning format
(``<s> ... </s>``), so pretraining and fine-tuning batches are built the same way.
"""

from __future__ import annotations

import re

import numpy as np

from lenscribe.tokenization import BOS_ID as BOS
from lenscribe.tokenization import EOS_ID as EOS
from lenscribe.tokenization import VOCAB_SIZE
from lenscribe.tokenization import extra_id as sentinel  # <extra_id_k>: the last ids of the vocabulary, counting down


def _partition(rng: np.random.Generator, total: int, parts: int) -> np.ndarray:
    """``total`` split into ``parts`` positive integers, uniformly at random."""
    if parts <= 1:
        return np.array([total])
    cuts = np.sort(rng.choice(np.arange(1, total), size=parts - 1, replace=False))
    return np.diff(np.concatenate([[0], cuts, [total]]))


def span_corrupt(ids: np.ndarray, rng: np.random.Generator, noise: float = 0.15, mean_span: float = 3.0,
                 max_tgt: int = 64) -> tuple[list[int], list[int]]:
    body = [int(t) for t in ids if t not in (0, BOS, EOS)]
    n = len(body)
    if n < 4:
        return [BOS, *body, EOS], [BOS, EOS]
    n_noise = min(max(1, round(n * noise)), n - 1)
    n_spans = max(1, min(round(n_noise / mean_span), n_noise, n - n_noise, 99))
    noise_lens = _partition(rng, n_noise, n_spans)
    keep_lens = _partition(rng, n - n_noise, n_spans)
    src, tgt, pos = [BOS], [BOS], 0
    for k in range(n_spans):
        src += body[pos : pos + keep_lens[k]]
        pos += keep_lens[k]
        src.append(sentinel(k))
        tgt.append(sentinel(k))
        tgt += body[pos : pos + noise_lens[k]]
        pos += noise_lens[k]
    src.append(EOS)
    tgt = tgt[: max_tgt - 1] + [EOS]
    return src, tgt


_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^[A-Za-z0-9_]+$")
KEYWORDS = frozenset((
    "def class return if else elif for while in not and or is None True False import from as with try except "
    "finally raise pass break continue lambda yield self async await func package var const let function new this "
    "public private protected static void int long float double bool boolean string String char byte struct type "
    "interface extends implements super null nil undefined true false switch case default go defer chan map range "
    "select fn pub mut impl use mod match where trait enum final abstract throws throw catch export typeof "
    "instanceof delete do of get set args kwargs cls err ok error").split())


class IdentifierTable:
    """Which token ids are word pieces, and which start a new word (byte-level BPE marks a leading space with Ġ)."""

    def __init__(self, vocab: dict[str, int]):
        self.word = np.zeros(VOCAB_SIZE, dtype=bool)
        self.starts = np.zeros(VOCAB_SIZE, dtype=bool)
        self.text: dict[int, str] = {}
        for piece, i in vocab.items():
            if i >= VOCAB_SIZE:
                continue
            bare = piece.removeprefix("\u0120")
            if bare and _WORD.match(bare):
                self.word[i] = True
                self.starts[i] = piece.startswith("\u0120")
                self.text[i] = bare

    def identifiers(self, body: list[int]) -> list[tuple[int, int]]:
        """(start, end) token spans of identifier-like words: a run of word pieces, a new run at a piece marked
        as following a space or after any non-word token; keywords and numbers left out."""
        spans, i, n = [], 0, len(body)
        while i < n:
            if not self.word[body[i]]:
                i += 1
                continue
            j = i + 1
            while j < n and self.word[body[j]] and not self.starts[body[j]]:
                j += 1
            text = "".join(self.text[t] for t in body[i:j])
            if text not in KEYWORDS and not text[0].isdigit() and len(text) > 1:
                spans.append((i, j))
            i = j
        return spans


def mask_identifiers(ids: np.ndarray, rng: np.random.Generator, table: IdentifierTable, frac: float = 0.35,
                     max_ids: int = 8, max_tgt: int = 64) -> tuple[list[int], list[int]]:
    body = [int(t) for t in ids if t not in (0, BOS, EOS)]
    spans = table.identifiers(body)
    names: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for a, b in spans:
        names.setdefault(tuple(body[a:b]), []).append((a, b))
    if not names:
        return span_corrupt(ids, rng, max_tgt=max_tgt)
    keys = list(names)
    n_pick = max(1, min(max_ids, round(len(keys) * frac)))
    picked = [keys[i] for i in sorted(rng.choice(len(keys), size=n_pick, replace=False))]
    sent_of = {}
    for k, name in enumerate(picked):
        for a, _ in names[name]:
            sent_of[a] = k
    src, tgt, i = [BOS], [BOS], 0
    ends = {a: b for name in picked for a, b in names[name]}
    while i < len(body):
        if i in sent_of:
            src.append(sentinel(sent_of[i]))
            i = ends[i]
        else:
            src.append(body[i])
            i += 1
    src.append(EOS)
    for k, name in enumerate(picked):
        tgt += [sentinel(k), *name]
    tgt = tgt[: max_tgt - 1] + [EOS]
    return src, tgt
