"""The instruction an instruction-tuned code LLM gets to summarize one chunk, and the clean-up of its reply.

One module, versioned, shared by everything that asks an LLM for a summary: the teacher that labels the student's
training data (``lenscribe_training.teacher``) and an OpenAI-compatible summarizer backend. A prompt's ``id`` is part of
every label row and of the cache key of what it produced, so changing the wording or the clean-up means a new id.

``messages(prompt, code, language, kind)`` is the chat request; ``clean_reply(text, prompt)`` turns the reply into at
most two sentences (the product shows two lines) or refuses it with a reason:

- only the first sentence is kept, and a second one only where the prompt keeps one and it says what the code
  returns, raises or changes;
- a lead such as "This function ...", "The `load` method ..." or "`load` is a function that ..." becomes the verb:
  "This function reads the file." -> "Reads the file.";
- code (fences, a line that ends in ``{`` or ``:``), the instruction echoed back, a chatty preamble ("Sure, ...",
  "Here is ...") with nothing after it, an empty reply or one sentence longer than the cap are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "tsx": "TypeScript",
                   "go": "Go", "java": "Java", "rust": "Rust", "c": "C", "cpp": "C++", "c_sharp": "C#", "ruby": "Ruby",
                   "php": "PHP"}


@dataclass(frozen=True)
class Prompt:
    """One instruction. ``id`` names wording and clean-up together (a label's and a cache entry's provenance)."""

    id: str
    system: str
    user: str  # str.format fields: {language} (display name), {kind} (function / method / class), {code}
    second_sentence: bool  # keep a second sentence that says what the code returns, raises or changes
    max_tokens: int  # the reply's budget (tokens)
    max_code_chars: int = 1500  # the code shown is cut at a line break before this many characters (~40 lines)
    max_words: int = 40  # one sentence longer than this is refused


PLAIN = Prompt(
    id="plain-v2",
    system="You are an expert software engineer who writes concise, accurate docstrings.",
    user="Write a one-sentence docstring summary for this {language} {kind}. Reply with the sentence only.\n\n"
         "```\n{code}\n```",
    second_sentence=False,
    max_tokens=48,
)

SPECIFIC = Prompt(
    id="specific-v2",
    system="You are an expert software engineer. You explain code to a developer who is reading it for the first "
           "time, accurately and briefly.",
    user="Summarize what this {language} {kind} does in one or two short sentences.\n"
         "- First sentence: what it does, starting with a verb (for example \"Parses\", \"Builds\", \"Checks\"), "
         "naming the concrete things it works on. Do not just repeat its name.\n"
         "- Second sentence, only if it adds something: what it returns, raises or changes.\n"
         "- State only what the code shows. No preamble, no code, no markdown.\n\n"
         "```\n{code}\n```",
    second_sentence=True,
    max_tokens=72,
)

PROMPTS: dict[str, Prompt] = {p.id: p for p in (PLAIN, SPECIFIC)}
# Earlier ids of the same wording (only the clean-up changed): a reply kept raw under one of them is cleaned again with
# the current clean-up (``current``). v1 -> v2: "`X` is a ..." kept as a noun phrase, a second sentence of the
# "This is useful ..." kind dropped, the second-sentence words matched whole.
SAME_WORDING: dict[str, str] = {"plain-v1": "plain-v2", "specific-v1": "specific-v2"}


def current(prompt_id: str) -> Prompt | None:
    """The prompt a reply made under ``prompt_id`` is cleaned with today (None: an unknown wording)."""
    return PROMPTS.get(SAME_WORDING.get(prompt_id, prompt_id))
# Chosen by a blind reading (models/DATA_CARD.md, "The teacher"): with the 1.5B teacher the plain prompt was as often
# right as the two-sentence one (36 of 60 against 35) and less often wrong (7 against 10), in shorter replies.
DEFAULT_PROMPT = PLAIN


def language_name(language: str) -> str:
    return _LANGUAGE_NAMES.get(language, language)


def cut_code(code: str, max_chars: int) -> str:
    """``code`` cut at the last line break before ``max_chars`` (a long chunk's head says what it is)."""
    if len(code) <= max_chars:
        return code
    nl = code.rfind("\n", 0, max_chars)
    return code[: nl if nl > 0 else max_chars].rstrip() + "\n..."


def messages(prompt: Prompt, code: str, language: str, kind: str = "function") -> list[dict[str, str]]:
    """The chat request (OpenAI message dicts) for one chunk."""
    kind = {"method": "method", "class": "class"}.get(kind, "function")
    user = prompt.user.format(language=language_name(language), kind=kind, code=cut_code(code, prompt.max_code_chars))
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class Reply:
    """A cleaned reply: ``text`` (one or two sentences) or None with ``refused`` saying why; ``changes`` lists the
    clean-up steps applied (counted by the labeller)."""

    text: str | None
    refused: str | None = None
    changes: tuple[str, ...] = ()


_KINDS = r"(?:function|method|class|constructor|code|snippet|helper|routine|procedure|property|getter|setter|" \
         r"decorator|struct|interface|type|module|script|callback|closure|hook|component|test|handler|func|lambda)"
_LANGS = r"(?:python|java|go|golang|javascript|typescript|rust|c|c\+\+|c#|ruby|php)"
_LEAD = re.compile(
    rf"^(?:(?:the|this|that)\s+(?:(?:given|provided|above|following)\s+)?(?:{_LANGS}\s+)?"
    rf"(?:`[^`\n]{{1,80}}`\s+|[\w.$]+(?:\(\))?\s+)?{_KINDS}(?:\s+`[^`\n]{{1,80}}`|\s+[\w.$]+\(\))?"
    rf"|`[^`\n]{{1,80}}`(?:\s+{_KINDS})?)\s+"
    rf"(?:(?:is|acts as)\s+an?\s+(?:[\w-]+\s+){{0,3}}?{_KINDS}\s+(?:that|which)\s+)?",
    re.IGNORECASE)
_PREAMBLE = re.compile(r"^(?:sure|certainly|of course|here(?:'s| is| are)|below is|okay|ok)\b[^.:\n]*[.:!,]?\s*",
                       re.IGNORECASE)
_CODEISH = re.compile(r"```|^\s*(?:def |class |function |func |public |private |import |return\b|#include)|[{;:]\s*$",
                      re.MULTILINE)
_SECOND = re.compile(r"\b(?:returns?|returning|raises?|throws?|yields?|modif(?:y|ies)|updates?|changes?|sets?|"
                     r"writes?|deletes?|removes?|appends?|adds?|stores?|mutates?|closes?|sends?|emits?|"
                     r"otherwise|if|none|null|nil|true|false|error|exception)\b", re.IGNORECASE)
_FLUFF = re.compile(r"^(?:this|it|that)\s+(?:is|can be|makes|helps|allows|ensures|provides)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(])")
_ECHO = ("one-sentence docstring", "reply with the sentence", "summarize what this", "first sentence:",
         "second sentence", "do not just repeat", "no preamble")


def _sentences(text: str) -> list[str]:
    """Sentences of one paragraph; an abbreviation such as "e.g." or "i.e." does not end one."""
    protected = re.sub(r"\b(e\.g|i\.e|etc|vs|approx)\.", lambda m: m.group(1).replace(".", "\0") + "\0", text)
    return [s.replace("\0", ".").strip() for s in _SENTENCE_END.split(protected) if s.strip()]


def _verb_first(sentence: str, changes: list[str]) -> str:
    stripped = _LEAD.sub("", sentence, count=1)
    if stripped != sentence and stripped and stripped[0].islower():
        words = stripped.split(None, 2)
        if words[0] in ("is", "are", "was"):  # "`BackendError` is a custom exception ...": a noun phrase, not a verb
            if len(words) < 3 or words[1] not in ("a", "an", "the"):
                return sentence
            stripped = stripped.split(None, 1)[1]
        changes.append("lead")
        return stripped[0].upper() + stripped[1:]
    return sentence


def clean_reply(text: str, prompt: Prompt) -> Reply:
    """The reply as one or two clean sentences, or refused (see the module's docstring)."""
    changes: list[str] = []
    t = text.replace("\r", "").strip()
    if not t:
        return Reply(None, "empty")
    low = t.lower()
    if any(e in low for e in _ECHO):
        return Reply(None, "echo")
    m = _PREAMBLE.match(t)
    if m and m.end() < len(t) and ("here" in m.group(0).lower() or m.group(0).rstrip().endswith(":")):
        t = t[m.end():].lstrip()
        changes.append("preamble")
    t = t.split("\n\n")[0].strip()  # the first paragraph
    t = re.sub(r"^[\"'*>#\-\s]+|[\"'*\s]+$", "", t)  # quotes, markdown bullets and emphasis around it
    if _CODEISH.search(t):
        return Reply(None, "code")
    t = " ".join(t.split())
    if not t:
        return Reply(None, "empty")
    sents = _sentences(t)
    first = _verb_first(sents[0], changes)
    if len(first.split()) > prompt.max_words:
        return Reply(None, "too long")
    if not first.endswith((".", "!", "?")):
        first += "."
    out = [first]
    if len(sents) > 1:
        second = sents[1]
        if (prompt.second_sentence and _SECOND.search(second) and not _FLUFF.match(second)
                and len(second.split()) <= prompt.max_words):
            if not second.endswith((".", "!", "?")):
                second += "."
            out.append(second[0].upper() + second[1:])
            changes.append("second kept")
        else:
            changes.append("second dropped")
        if len(sents) > 2:
            changes.append("rest dropped")
    return Reply(" ".join(out), None, tuple(changes))
