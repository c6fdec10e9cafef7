"""The grounding check: a generated summary that names things the code does not mention is withheld.

A blind reading of the model's summaries of code outside its training sources (``benchmarks/blind_rating.py``, the
data card) found most of the wrong ones fluent and confidently off-topic: "Add a user to the guild." over an
inventory's ``add``. Their tell is a content word (``user``, ``guild``) that appears nowhere in the code: not in an
identifier's words, a string or a comment. The check, fixed before it was measured on a held-out sheet:

1. the summary's words, lower-cased; stop words, words under three letters and the 100 words most frequent in the
   training summaries (``GENERIC``: "return", "given", "value", "list", ...; also their -s/-es/-ed/-d/-ing forms) are
   not content words;
2. a content word is grounded when the code has a word (identifiers split at ``_`` and camel-case humps) equal to it
   or, for words of four letters or more, sharing its first four letters (``items``/``item``, ``calculate``/``calc``);
3. one ungrounded content word withholds the summary: the summarizer shows the name rule's sentence instead
   (``lenscribe.name_rule``), which is vague but not false.

Pure standard library: the summarizer, the evaluation and the benchmarks share it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lenscribe.name_rule import name_summary

__all__ = ["GENERIC", "Checked", "check", "grounded", "ungrounded_words"]

# The 100 words found in the most summaries of the training split (document frequency over its first 150,002 records,
# `re.findall("[a-z]+", doc.lower())`), the list the check was validated with.
GENERIC = frozenset("""
a all an and any are array as at attribute base based be by call can check checks class code component constructs
context create creates current data default each element file first for format from function get gets given has if
image implementation in index input instance interface into is it its key list message method model module name new
node not number object of on one or output path represents return returns s set sets single size specified state
stream string text that the this time to true type use used using value values when whether which with x
""".split())
STOP = frozenset("a an the of to in for and or is are be by with from on at as this that it its if into not no any "
                 "all their".split())
_WORD = re.compile(r"[A-Za-z]+")
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
_SUFFIXES = ("ing", "es", "ed", "s", "d")
PREFIX = 4


def _forms(word: str) -> list[str]:
    """``word`` and its stems without an -ing/-es/-ed/-s/-d ending (with and without a final e)."""
    out = [word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            out += [stem, stem + "e"]
    return out


def code_words(code: str) -> set[str]:
    """Every word of the code, lower-case: identifiers split into their parts, strings and comments included."""
    return {w.lower() for w in _SUBWORD.findall(code)}


def ungrounded_words(summary: str, code: str) -> list[str]:
    """The summary's content words that the code does not mention (rule 1 and 2 of the module's doc)."""
    content = [w for w in (m.lower() for m in _WORD.findall(summary))
               if len(w) >= 3 and w not in STOP and not any(f in GENERIC for f in _forms(w))]
    if not content:
        return []  # the code need not be read
    vocab = code_words(code)
    heads = {v[:PREFIX] for v in vocab if len(v) >= PREFIX}  # a word of PREFIX letters or more matches by its head
    return [w for w in content if w not in vocab and (len(w) < PREFIX or w[:PREFIX] not in heads)]


def grounded(summary: str, code: str) -> bool:
    """True when every content word of ``summary`` is found in ``code``."""
    return not ungrounded_words(summary, code)


class Checked(NamedTuple):
    text: str  # what to show: the summary, or the name rule's sentence when it was withheld ('' without a name)
    withheld: tuple[str, ...]  # the ungrounded words that withheld the summary; () when it is shown


def check(summary: str, code: str, name: str | None = None) -> Checked:
    """The summary when it is grounded in ``code``, else the name rule's sentence for ``name`` (or the code's first
    definition) with the words that gave the summary away."""
    words = ungrounded_words(summary, code)
    if not words:
        return Checked(summary, ())
    return Checked(name_summary(name, code), tuple(words))
