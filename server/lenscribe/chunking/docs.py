"""Documentation of chunks: finding and cleaning doc comments / docstrings, and helpers for training-data mining.

* ``doc_comment_above(data, line_start, style)``: the doc comment on the lines right above a chunk (no blank line
  between), comment markers removed.
* ``python_docstring(def_node)``: a Python ``def``/``class`` node's docstring, cleaned like ``inspect.cleandoc``.
* ``strip_doc(chunk)``: the chunk's code without its own docstring (Python; for every other language the doc
  comment is above the chunk, outside ``text``, so the text is returned as it is).
* ``first_sentence(doc)``: the first sentence of a docstring or doc comment, without tags and markup.
"""

from __future__ import annotations

import ast
import html
import inspect
import re
import textwrap
from typing import TYPE_CHECKING

from .parsers import parse

if TYPE_CHECKING:
    from tree_sitter import Node

    from .base import Chunk
    from .languages import DocStyle

__all__ = ["doc_comment_above", "first_sentence", "python_docstring", "strip_doc"]

_MAX_DOC_LINES = 2000  # how far up a doc comment is looked for


# ------------------------------------------------------------------------------------------- comments above


def _line_above(data: bytes, line_start: int) -> tuple[int, str] | None:
    """(start offset, text) of the line before the line starting at ``line_start``."""
    if line_start <= 0:
        return None
    end = line_start - 1  # the "\n"
    start = data.rfind(b"\n", 0, end) + 1
    return start, data[start:end].decode("utf-8", "replace").rstrip("\r")


def _starts(s: str, prefixes: tuple[str, ...]) -> bool:
    return any(s.startswith(p) for p in prefixes)


def doc_comment_above(data: bytes, line_start: int, style: DocStyle) -> str | None:
    """The doc comment ending on the line right above the line that starts at byte ``line_start``, cleaned."""
    above = _line_above(data, line_start)
    if above is None:
        return None
    pos, line = above
    s = line.strip()
    if style.block_openers and s.endswith("*/"):
        lines = [line]
        while "/*" not in lines[0] and len(lines) < _MAX_DOC_LINES:
            above = _line_above(data, pos)
            if above is None:
                return None
            pos, line = above
            lines.insert(0, line)
        head = lines[0].lstrip()
        if "/*" not in head or not _starts(head, style.block_openers) or _starts(head, style.block_excludes):
            return None
        return _clean_block(lines)
    if style.line_prefixes and _starts(s, style.line_prefixes) and not _starts(s, style.line_excludes):
        lines = []
        while True:
            lines.insert(0, s)
            if len(lines) >= _MAX_DOC_LINES:
                break
            above = _line_above(data, pos)
            if above is None:
                break
            pos, line = above
            s = line.strip()
            if not _starts(s, style.line_prefixes) or _starts(s, style.line_excludes):
                break
        if style.drop_lines is not None:
            lines = [ln for ln in lines if not style.drop_lines.match(ln)]
        return _clean_lines(lines, style.line_prefixes)
    return None


def _clean_lines(lines: list[str], prefixes: tuple[str, ...]) -> str | None:
    out = []
    for ln in lines:
        for p in sorted(prefixes, key=len, reverse=True):
            if ln.startswith(p):
                ln = ln[len(p):]
                break
        if prefixes == ("//",) and ln[:1] in ("/", "!"):  # C/C++/Go `///` and `//!` (Doxygen)
            ln = ln[1:]
        elif prefixes in (("#",), ("--",)):  # Ruby/shell `##`, Lua `---`
            ln = ln.lstrip(prefixes[0][0])
        out.append(ln.rstrip())
    return _finish(textwrap.dedent("\n".join(out)))


_BLOCK_OPEN = re.compile(r"^\s*/\*+!?")
_BLOCK_CLOSE = re.compile(r"\s*\*+/\s*$")
_GUTTER = re.compile(r"^\s*\*(?!/) ?")


def _clean_block(lines: list[str]) -> str | None:
    lines = list(lines)
    lines[0] = _BLOCK_OPEN.sub("", lines[0], count=1)
    lines[-1] = _BLOCK_CLOSE.sub("", lines[-1], count=1)
    body = lines[1:]
    if body and all(_GUTTER.match(ln) or not ln.strip() for ln in body):
        lines[1:] = [_GUTTER.sub("", ln, count=1) for ln in body]
    return _finish(inspect.cleandoc("\n".join(ln.rstrip() for ln in lines)))


def _finish(text: str) -> str | None:
    text = text.strip("\n").rstrip()
    return text if text.strip() else None


# ------------------------------------------------------------------------------------------- Python docstrings

_STRING_PREFIX = re.compile(r"^([rRuUbBfFtT]*)(\"\"\"|'''|\"|')")


def python_docstring_node(node: Node) -> Node | None:
    """The ``expression_statement`` holding the docstring of a function_definition / class_definition node."""
    body = node.child_by_field_name("body")
    if body is None:
        return None
    first = next((c for c in body.named_children if c.type != "comment"), None)
    if first is None or first.type != "expression_statement":
        return None
    named = first.named_children
    if len(named) != 1 or named[0].type not in ("string", "concatenated_string"):
        return None
    strings = [named[0]] if named[0].type == "string" else [c for c in named[0].named_children if c.type == "string"]
    for s in strings:
        m = _STRING_PREFIX.match((s.text or b"").decode("utf-8", "replace"))
        if m is None or set(m.group(1).lower()) & set("bft"):  # bytes / f-strings / t-strings are no docstrings
            return None
    return first


def python_docstring(node: Node) -> str | None:
    stmt = python_docstring_node(node)
    if stmt is None:
        return None
    literal = (stmt.named_children[0].text or b"").decode("utf-8", "surrogatepass").strip()
    m = _STRING_PREFIX.match(literal)
    if m is not None and "\\" not in literal and len(literal) >= m.end() + len(m.group(2)):
        quote = m.group(2)
        if literal.endswith(quote) and quote not in literal[m.end() : -len(quote)]:  # one plain literal: no eval
            return _finish(inspect.cleandoc(literal[m.end() : -len(quote)]))
    try:
        value = ast.literal_eval(literal.strip())
        if not isinstance(value, str):
            return None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        m = _STRING_PREFIX.match(literal)
        if m is None:
            return None
        quote = m.group(2)
        value = literal[m.end():]
        if value.endswith(quote):
            value = value[: -len(quote)]
    return _finish(inspect.cleandoc(value))


def strip_doc(chunk: Chunk) -> str:
    """The chunk's code with its own docstring removed.

    Python: the docstring statement is deleted (with its lines; a body left empty gets ``pass``).  Other languages:
    the leading doc comment is not part of ``chunk.text``, which is returned unchanged.  Nested definitions keep
    their docstrings.
    """
    if chunk.language != "python" or chunk.doc is None:
        return chunk.text

    text = chunk.text
    rest = text.split("\n", 1)[1] if "\n" in text else ""
    indent_char = "\t" if rest.startswith("\t") else " "
    prefix = indent_char * chunk.start[1]
    data = (prefix + text).encode("utf-8", "surrogatepass")
    tree = parse(data, "python")
    node = _first_definition(tree.root_node)
    if node is None:
        return text
    stmt = python_docstring_node(node)
    if stmt is None:
        return text
    s, e = stmt.start_byte, stmt.end_byte
    line_start = data.rfind(b"\n", 0, s) + 1
    line_end = data.find(b"\n", e)
    if line_end < 0:
        line_end = len(data)
    own_line = not data[line_start:s].strip() and not data[e:line_end].strip()
    only_statement = stmt.next_named_sibling is None or all(
        c.type == "comment" for c in _following_siblings(stmt)
    )
    if only_statement:
        result = data[:s] + b"pass" + data[e:]
    elif own_line:
        e = line_end + 1
        s = line_start
        # a blank line right after the docstring goes with it
        nxt = data.find(b"\n", e)
        if nxt >= 0 and not data[e:nxt].strip():
            e = nxt + 1
        result = data[:s] + data[e:]
    else:  # `def f(): """doc"""; return 1`
        while e < len(data) and data[e : e + 1] in (b" ", b"\t", b";"):
            e += 1
        result = data[:s] + data[e:]
    return result.decode("utf-8", "surrogatepass")[len(prefix):]


def _following_siblings(node: Node):
    sib = node.next_named_sibling
    while sib is not None:
        yield sib
        sib = sib.next_named_sibling


def _first_definition(root: Node) -> Node | None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("function_definition", "class_definition"):
            return node
        if node.type == "decorated_definition":
            inner = node.child_by_field_name("definition")
            if inner is not None:
                return inner
        stack.extend(reversed(node.named_children))
    return None


# ------------------------------------------------------------------------------------------- first sentence

_SUMMARY_XML = re.compile(r"<summary>(.*?)</summary>", re.S | re.I)
_BRIEF_TAG = re.compile(r"^(\s*)[@\\](?:brief|summary|description|desc|short)\b:?[ \t]*", re.M | re.I)
_SECTION = re.compile(
    r"""^(?:
        [@\\][A-Za-z]                                   # @param, @return, \param, {@inheritDoc} at line start
      | :[A-Za-z_][\w ]*(?:\s+[^:]*)?:(?:\s|$)          # :param x:, :returns:, :raises ValueError:
      | (?:Args|Arguments|Parameters|Params|Returns?|Yields?|Raises?|Throws|Examples?|Notes?|Warnings?
          |See\ Also|References|Attributes|Todo|Keyword\ Args|Keyword\ Arguments|Other\ Parameters
          |Methods|Usage|Example\ usage|Side\ Effects|Preconditions?|Postconditions?)\s*:?\s*$
      | (?:Args|Arguments|Parameters|Params|Returns?|Raises?|Yields?):\s          # Google section with text
      | >>>                                             # doctest
      | \#{1,6}\s                                       # markdown heading (Rust `# Examples`)
      | ```|~~~                                         # code fence
      | <(?:param|typeparam|returns|remarks|exception|example|value|seealso|inheritdoc)\b   # C# XML doc
      | -{3,}\s*$ | ={3,}\s*$                           # numpy/reST underline
    )""",
    re.X,
)
_UNDERLINE = re.compile(r"^(?:-{3,}|={3,})\s*$")

_INLINE_TAG = re.compile(r"\{@(?:link|linkplain|linkcode|code|literal|value|see)\s+([^}]*)\}")
_INLINE_OTHER = re.compile(r"\{@\w+[^}]*\}")
_XML_REF = re.compile(r"<(?:see|seealso)\s+(?:cref|href|langword)\s*=\s*\"([^\"]*)\"\s*/?>(?:</see>)?", re.I)
_XML_PARAMREF = re.compile(r"<(?:paramref|typeparamref)\s+name\s*=\s*\"([^\"]*)\"\s*/?>", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_REST_ROLE = re.compile(r":(?:[A-Za-z][\w+-]*:)+`([^`]+)`")
_REST_LITERAL = re.compile(r"``([^`]+)``")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REFLINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_INTRA = re.compile(r"\[(`[^`\]]+`)\]")
_MD_CODE = re.compile(r"`([^`]+)`")
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)([^*_]+?)(?<=\S)\1(?![\w*])")
_SPACES = re.compile(r"\s+")
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "dr", "approx", "no", "resp", "al", "fig", "eq"}
_SENTENCE_END = re.compile(r"[.!?。！？]+(?=[\s\"')\]]*(?:\s|$))")


def _role(m: re.Match[str]) -> str:
    target = m.group(1).strip()
    label = re.match(r"^(.*?)\s*<[^>]*>$", target)  # :func:`label <target>`
    if label and label.group(1):
        return label.group(1)
    if target.startswith("~"):  # :meth:`~pkg.Cls.meth` shows `meth`
        target = target[1:].rsplit(".", 1)[-1]
    return target.lstrip("!")


def _inline_tag(m: re.Match[str]) -> str:
    body = m.group(1).strip()
    parts = body.split(None, 1)
    if len(parts) == 2 and m.group(0).startswith(("{@link", "{@see")):  # {@link Foo#bar label} -> label
        return parts[1]
    return body.replace("#", ".") if m.group(0).startswith(("{@link", "{@see")) else body


def _clean_inline(text: str) -> str:
    text = _INLINE_TAG.sub(_inline_tag, text)
    text = _INLINE_OTHER.sub("", text)
    text = _XML_REF.sub(lambda m: m.group(1).split(":", 1)[-1], text)
    text = _XML_PARAMREF.sub(lambda m: m.group(1), text)
    text = _REST_ROLE.sub(_role, text)
    text = _REST_LITERAL.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REFLINK.sub(r"\1", text)
    text = _MD_INTRA.sub(r"\1", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_BOLD.sub(r"\2", text)
    text = _MD_ITALIC.sub(r"\2", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    return _SPACES.sub(" ", text).strip()


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring / doc comment, as one line of plain text ("" when there is none).

    Stops at the first tag or section (``@param``, ``:param x:``, ``Args:``, ``Returns:``, ``>>>``, ``# Examples``,
    C# ``<param>``...), keeps the first paragraph, removes markup (``{@link X}``, ``<code>``, reST roles such as
    :class:`X` -> X, markdown code/links/emphasis, HTML entities) and cuts after the first sentence-ending
    ``.``/``!``/``?`` that is followed by whitespace (abbreviations such as "e.g." do not end a sentence).
    The final punctuation is kept.
    """
    if not doc:
        return ""
    text = doc.replace("\r\n", "\n")
    m = _SUMMARY_XML.search(text)
    if m:
        text = m.group(1)
    text = _BRIEF_TAG.sub(r"\1", text)
    kept: list[str] = []
    for line in text.split("\n"):
        s = line.strip()
        if _UNDERLINE.match(s) and kept:  # numpy section: drop its header line
            kept.pop()
            break
        if _SECTION.match(s):
            break
        if not s and any(k.strip() for k in kept):  # end of the first paragraph
            break
        kept.append(s)
    para = _clean_inline(" ".join(kept))
    if not para:
        return ""
    for m in _SENTENCE_END.finditer(para):
        end = m.end()
        before = para[: m.start()]
        word = before.rsplit(None, 1)[-1].lower() if before.split() else ""
        if m.group(0) == "." and (word in _ABBREVIATIONS or word.rstrip(".") in _ABBREVIATIONS):
            continue
        return para[:end].strip()
    return para
