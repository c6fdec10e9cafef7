"""Summary-quality metrics besides BLEU: exact match, empty / degenerate outputs, timing; per-language reports."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from .bleu import corpus_bleu, split_puncts

__all__ = ["LanguageReport", "exact_match", "is_degenerate", "report", "summary_tokens"]

_TOKEN = re.compile(r"[\w]+|[^\s\w]")
_WORD = re.compile(r"\w")


def summary_tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation marks (the tokens BLEU sees)."""
    return _TOKEN.findall(text.lower())


def exact_match(reference: str, prediction: str) -> bool:
    """Equal after lower-casing and tokenising (spacing and line breaks ignored)."""
    return split_puncts(reference) == split_puncts(prediction.replace("\n", " "))


def is_degenerate(text: str, *, run: int = 3, max_repeated: float = 0.5) -> bool:
    """Empty, or a token / bigram repeated ``run`` times in a row, or more than ``max_repeated`` repeated tokens.

    Only word tokens count for repetition (punctuation such as "." or "," repeats naturally). "Repeated tokens" are
    occurrences of a word beyond its first.
    """
    words = [t for t in summary_tokens(text) if _WORD.match(t)]
    if not words:
        return True
    # the same token `run` times in a row: a a a
    for i in range(len(words) - run + 1):
        if all(words[i + j] == words[i] for j in range(1, run)):
            return True
    # the same bigram `run` times in a row: a b a b a b
    for i in range(len(words) - 2 * run + 1):
        pair = (words[i], words[i + 1])
        if all((words[i + 2 * j], words[i + 2 * j + 1]) == pair for j in range(1, run)):
            return True
    repeated = len(words) - len(set(words))
    return repeated / len(words) > max_repeated


@dataclass
class LanguageReport:
    language: str
    n: int
    bleu: float  # smoothed BLEU-4 x 100 (CodeXGLUE)
    exact_match: float  # fraction
    degenerate: float  # fraction: empty or degenerate outputs
    empty: float  # fraction: empty outputs
    ms_per_summary: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d


def report(language: str, references: Sequence[str], predictions: Sequence[str], seconds: float) -> LanguageReport:
    """Metrics of one group of (reference, prediction) pairs; ``seconds`` is the summarizer time spent on them."""
    n = len(predictions)
    if len(references) != n:
        raise ValueError(f"{len(references)} references but {n} predictions")
    preds = [p.replace("\n", " ").strip() for p in predictions]
    if n == 0:
        return LanguageReport(language, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
    counts = Counter(
        ("em" if exact_match(r, p) else "") for r, p in zip(references, preds, strict=True)
    )
    return LanguageReport(
        language=language,
        n=n,
        bleu=corpus_bleu(list(references), preds),
        exact_match=counts["em"] / n,
        degenerate=sum(1 for p in preds if is_degenerate(p)) / n,
        empty=sum(1 for p in preds if not p) / n,
        ms_per_summary=1000.0 * seconds / n,
    )
