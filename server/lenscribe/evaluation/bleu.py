"""Smoothed sentence BLEU-4 as defined by CodeXGLUE's code-to-text evaluator (``smooth_bleu``).

Re-implemented from its definition so scores are comparable with published code-summarization numbers:

1. Both texts are lower-cased, stripped and split into word runs and single punctuation characters
   (``[\\w]+|[^\\s\\w]``), joined by spaces ("computeMaps").
2. Each is then normalised as in NIST mteval-v11a: "<skipped>" removed, "-\\n" joined, newlines to spaces, XML entities
   (&amp; &lt; &gt; &quot;) unescaped, lower-cased, punctuation in ``{|}~ [\\]^_` space!"#$%& ()*+ :;<=>?@ /`` padded
   with spaces, "." and "," split off unless between digits, "-" split after a digit; then split on white space.
3. For n = 1..4: guess_n = max(len(hyp) - n + 1, 0) and correct_n = clipped n-gram matches (counts clipped by the
   maximum count in any reference). Smoothing adds 1 to correct_n and guess_n for n > 1 (not for unigrams):
   log BLEU = 1/4 * sum_n [log(correct_n + s_n + tiny) - log(guess_n + s_n + tiny)], tiny = sys.float_info.min.
4. Brevity penalty (in log space) = min(0, 1 - (ref_len + 1) / (hyp_len + 1)), ref_len the shortest reference.
5. Sentence BLEU = exp(log BLEU + penalty); the corpus score is the mean sentence BLEU over all pairs, times 100.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["corpus_bleu", "normalize", "sentence_bleu", "split_puncts"]

MAX_N = 4
_TINY = sys.float_info.min

_SPLIT = re.compile(r"[\w]+|[^\s\w]")
_NORM1 = ((re.compile(r"<skipped>"), ""), (re.compile(r"-\n"), ""), (re.compile(r"\n"), " "))
_NORM2 = (
    # the characters { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /  get spaces around them
    (re.compile(r"([{|}~\[\\\]^_` !\"#$%&()*+:;<=>?@/])"), r" \1 "),
    (re.compile(r"([^0-9])([.,])"), r"\1 \2 "),  # period and comma unless preceded by a digit
    (re.compile(r"([.,])([^0-9])"), r" \1 \2"),  # period and comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash after a digit
)
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&"))


def split_puncts(text: str) -> str:
    """CodeXGLUE's first step: lower-case, strip, then word runs and single punctuation marks joined by spaces."""
    return " ".join(_SPLIT.findall(text.strip().lower()))


def _unescape(s: str) -> str:
    # xml.sax.saxutils.unescape with {"&quot;": '"'}: &lt; and &gt; first, then the extra entity, &amp; last
    for ent, ch in _ENTITIES:
        s = s.replace(ent, ch)
    return s


def normalize(text: str) -> list[str]:
    """NIST mteval-v11a tokenisation as used by smooth_bleu (Western-language rules, case folded)."""
    s = text
    for pattern, repl in _NORM1:
        s = pattern.sub(repl, s)
    s = _unescape(s)
    s = f" {s} ".lower()
    for pattern, repl in _NORM2:
        s = pattern.sub(repl, s)
    return s.split()


def _ngrams(words: Sequence[str], n: int = MAX_N) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts


def sentence_bleu(references: str | Iterable[str], hypothesis: str) -> float:
    """Smoothed BLEU-4 of one hypothesis against one or more references, in [0, 1]."""
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("at least one reference is needed")
    ref_tokens = [normalize(split_puncts(r)) for r in refs]
    hyp = normalize(split_puncts(hypothesis))
    max_counts: Counter[tuple[str, ...]] = Counter()
    for toks in ref_tokens:
        for gram, c in _ngrams(toks).items():
            if c > max_counts[gram]:
                max_counts[gram] = c
    ref_len = min(len(t) for t in ref_tokens)
    correct = [0] * MAX_N
    for gram, c in _ngrams(hyp).items():
        correct[len(gram) - 1] += min(max_counts.get(gram, 0), c)
    log_bleu = 0.0
    for k in range(MAX_N):
        guess = max(len(hyp) - k, 0)
        add = 1 if k > 0 else 0
        log_bleu += math.log(correct[k] + add + _TINY) - math.log(guess + add + _TINY)
    log_bleu /= MAX_N
    penalty = min(0.0, 1.0 - (ref_len + 1) / (len(hyp) + 1))
    return math.exp(log_bleu + penalty)


def corpus_bleu(references: Sequence[str | Iterable[str]], hypotheses: Sequence[str]) -> float:
    """Mean smoothed sentence BLEU-4 times 100 (CodeXGLUE's reported number); 0.0 for no pairs."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not hypotheses:
        return 0.0
    return 100.0 * sum(sentence_bleu(r, h) for r, h in zip(references, hypotheses, strict=True)) / len(hypotheses)
