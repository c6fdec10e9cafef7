"""Turn raw model text into at most two short, clean lines.

Models trained on docstrings sometimes loop ("returns the the the ...") or run on; an editor lens must stay short.
"""

from __future__ import annotations

import re

MAX_LINE_CHARS = 100
_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`'\"(])")


_TRAILING = ".,;:!?"
_SENTENCE_ENDS = (".", "!", "?")


def _key(word: str) -> str:
    return word.lower().rstrip(_TRAILING)


def collapse_repeats(words: list[str], max_ngram: int = 4) -> list[str]:
    """Cut a word sequence where any 1..max_ngram-gram starts repeating back to back (a decoding loop).

    Case and trailing punctuation do not make a copy different ("the user user." -> "the user."; the punctuation
    that ended the last copy is kept), but a copy that ends a sentence is not repeated by the next sentence."""
    keys = [_key(w) for w in words]
    for i in range(len(words)):
        for n in range(1, max_ngram + 1):
            if i + 2 * n > len(words):
                break
            if keys[i : i + n] == keys[i + n : i + 2 * n] and not words[i + n - 1].endswith(_SENTENCE_ENDS):
                # Keep legitimate doubles like "that that"? No: a summary never needs them; keep the first copy.
                j = i + 2 * n
                while not words[j - 1].endswith(_SENTENCE_ENDS) and keys[j : j + n] == keys[i : i + n]:
                    j += n
                kept = words[: i + n]
                end = words[j - 1][len(words[j - 1].rstrip(_TRAILING)):]
                if end and not kept[-1].endswith(end):
                    kept[-1] = kept[-1].rstrip(_TRAILING) + end
                return kept + collapse_repeats(words[j:], max_ngram)
    return words


_JOINED = re.compile(r"([.\-/])")


def collapse_joined_repeats(word: str, keep: int = 2) -> str:
    """Cut a run of three or more identical pieces inside one word to ``keep``: "datetime.datetime.datetime" ->
    "datetime.datetime" (a dotted name may legitimately repeat a piece once; a loop repeats it on and on). A piece
    hyphenated to itself is a loop at once: "cross-cross" -> "cross", "zero-zero" -> "zero"."""
    parts = _JOINED.split(word)  # pieces at even indexes, separators at odd ones
    if len(parts) < 3:
        return word
    out = parts[:1]
    run = 1
    for k in range(2, len(parts), 2):
        same = parts[k].lower() == parts[k - 2].lower() and parts[k]
        run = run + 1 if same else 1
        if run <= (1 if parts[k - 1] == "-" else keep):
            out += [parts[k - 1], parts[k]]
    return "".join(out)


def shorten(line: str, limit: int = MAX_LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


# Control characters (C0 but the newline, DEL, C1), zero-width and bidirectional formatting characters, the BOM,
# interlinear annotations and lone surrogates: nothing a summary needs, and each can break what it is written into
# (a NUL in a docstring is a SyntaxError) or make it read other than it is.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
                     "\ud800-\udfff]")
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")  # ![alt](src), [text](target)


def sanitize_summary(text: str) -> str:
    """A summary from anywhere (the model, a cache file, a bundle) made fit to show and to write into code: unsafe
    characters (``_UNSAFE``) dropped (a tab made a space), line breaks made ``\\n``, markdown images and links
    reduced to their text.  A clean summary (``clean_summary``'s) comes back unchanged."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return _safe(text)


def _safe(text: str) -> str:
    return _MD_LINK.sub(r"\1", _UNSAFE.sub(lambda m: " " if m.group() == "\t" else "", text))


def clean_summary(text: str) -> str:
    """Clean generated text into at most two lines joined by ``\\n``; '' when nothing usable is left."""
    words = _WS.sub(" ", _safe(text)).strip().split(" ")
    words = [w for w in collapse_repeats([collapse_joined_repeats(w) for w in words if w]) if w]
    flat = " ".join(words).strip(" -*#")
    if not flat:
        return ""
    flat = flat[0].upper() + flat[1:]
    sentences = [s.strip() for s in _SENTENCE_END.split(flat) if s.strip()]
    lines = [shorten(s) for s in sentences[:2]]
    return "\n".join(lines)
