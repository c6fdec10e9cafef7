"""The name-only rule: a fixed rule that turns a function's *name* into a sentence, with no model.

Every model figure ``lenscribe eval`` prints stands beside this rule's score on the same records: a summary that
does not beat it says nothing the name did not already say. The summarizer also shows this rule's sentence in place
of a generated summary that fails the grounding check (``lenscribe.grounding``): vague, but not false.

The rule (``name_summary``):

1. take the last part of the qualified name (``Inventory.add_item`` -> ``add_item``; from the code's first
   ``def`` / ``function`` / ``func`` / ``fn`` / method header when the record has no name) and split it into lower-case
   words at ``_``, ``$``, digits and camel-case humps (``parseHTTPHeader`` -> parse http header);
2. the first word decides the sentence:
   - a predicate (is, has, can, should, ...) -> "Check if <rest>." (``is_empty`` -> "Check if empty.");
   - ``to`` / ``as`` -> "Convert to <rest>.";
   - a constructor (``__init__``, ``constructor``, ``new``) -> "Initialize the <owner words>." (the class's name, or
     "object");
   - a verb from ``VERBS`` (get, set, load, create, ...) -> "<Verb> the <rest>." (``load_user_config`` -> "Load the
     user config."; synonyms are mapped: fetch -> Get, calc -> Compute, init -> Initialize, ...);
   - otherwise (a noun: a class, a property) -> "The <words>." (``UserCache`` -> "The user cache.");
3. a verb with nothing after it stands alone ("Run.").
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_HEADER = re.compile(r"\b(?:def|function|func|fn|sub)\s+(?:\([^)]*\)\s*)?([A-Za-z_$][\w$]*)"
                     r"|\b([A-Za-z_$][\w$]*)\s*\([^)]*\)\s*(?:\{|=>|:|throws)")
PREDICATES = frozenset({"is", "has", "have", "can", "should", "was", "are", "does", "will", "needs", "contains"})
CONSTRUCTORS = frozenset({"init", "constructor", "new"})
# first word -> the verb the sentence starts with
VERBS = {
    "get": "Get", "fetch": "Get", "retrieve": "Get", "read": "Read", "load": "Load", "set": "Set", "put": "Put",
    "add": "Add", "append": "Append", "insert": "Insert", "push": "Push", "pop": "Pop", "remove": "Remove",
    "delete": "Delete", "del": "Delete", "drop": "Drop", "clear": "Clear", "reset": "Reset", "update": "Update",
    "save": "Save", "store": "Store", "write": "Write", "dump": "Dump", "create": "Create", "make": "Make",
    "build": "Build", "new": "Create", "init": "Initialize", "initialize": "Initialize", "setup": "Set up",
    "compute": "Compute", "calc": "Compute", "calculate": "Compute", "count": "Count", "find": "Find",
    "search": "Search", "lookup": "Look up", "parse": "Parse", "format": "Format", "render": "Render",
    "convert": "Convert", "encode": "Encode", "decode": "Decode", "serialize": "Serialize",
    "deserialize": "Deserialize", "validate": "Validate", "check": "Check", "verify": "Verify", "ensure": "Ensure",
    "handle": "Handle", "process": "Process", "run": "Run", "execute": "Execute", "exec": "Execute", "start": "Start",
    "stop": "Stop", "open": "Open", "close": "Close", "send": "Send", "receive": "Receive", "recv": "Receive",
    "emit": "Emit", "register": "Register", "unregister": "Unregister", "apply": "Apply", "copy": "Copy",
    "clone": "Clone", "merge": "Merge", "split": "Split", "join": "Join", "sort": "Sort", "filter": "Filter",
    "map": "Map", "match": "Match", "compare": "Compare", "test": "Test", "print": "Print", "log": "Log",
    "show": "Show", "display": "Display", "generate": "Generate", "gen": "Generate", "resolve": "Resolve",
    "normalize": "Normalize", "wrap": "Wrap", "unwrap": "Unwrap", "extract": "Extract", "replace": "Replace",
    "list": "List", "iter": "Iterate over", "visit": "Visit", "walk": "Walk", "scan": "Scan", "wait": "Wait for",
    "try": "Try to", "do": "Do", "enable": "Enable", "disable": "Disable", "use": "Use",
    "with": "Return a copy with", "on": "Handle", "mark": "Mark",
    "accept": "Accept", "reject": "Reject", "allow": "Allow", "attach": "Attach", "detach": "Detach",
    "bind": "Bind", "connect": "Connect", "disconnect": "Disconnect", "flush": "Flush", "sync": "Sync",
    "refresh": "Refresh", "reload": "Reload", "release": "Release", "acquire": "Acquire", "lock": "Lock",
    "unlock": "Unlock", "install": "Install", "configure": "Configure", "config": "Configure",
}


def words_of(name: str) -> list[str]:
    return [w.lower() for w in _SPLIT.findall(name.replace("$", "_"))]


def name_from_code(code: str) -> str:
    m = _HEADER.search(code)
    return (m.group(1) or m.group(2)) if m else ""


def name_summary(name: str | None, code: str = "") -> str:
    """The baseline's sentence for a chunk named ``name`` (``Class.method`` or bare); '' when there is no name."""
    qual = (name or name_from_code(code) or "").strip()
    if not qual:
        return ""
    parts = [p for p in re.split(r"[.#:]+", qual) if p]
    last = parts[-1] if parts else qual
    words = words_of(last)
    if not words:
        return ""
    first, rest = words[0], " ".join(words[1:])
    if first in CONSTRUCTORS and len(words) == 1:
        owner = " ".join(words_of(parts[-2])) if len(parts) > 1 else "object"
        return f"Initialize the {owner}."
    if first in PREDICATES:
        return f"Check if {rest}." if rest else "Check the condition."
    if first in ("to", "as") and rest:
        return f"Convert to {rest}."
    verb = VERBS.get(first)
    if verb:
        return f"{verb} the {rest}." if rest else f"{verb}."
    text = " ".join(words)
    return f"The {text}."
