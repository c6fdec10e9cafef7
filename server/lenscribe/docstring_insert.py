"""A summary written into the code: where a function's, method's or class's docstring or doc comment belongs, and
the one text edit that puts it there.

Placement comes from tree-sitter's boundaries (the chunker's, and for Python the definition's own nodes):

=========== ===========================================================================================================
python      ``\"\"\"…\"\"\"`` as the first statement of the body, indented like the body: after the decorators and
            the whole signature however many lines it spans; a body on the signature's line (``def f(): return 1``)
            moves to a line of its own under the docstring
javascript  ``/** … */`` on the lines right above the chunk: above ``export``, decorators and ``const f =``
 typescript (the chunk's first line)
go          ``// Name …`` above (Go's convention: the comment starts with the name)
java        ``/** … */`` above the annotations and modifiers
rust        ``/// …`` above the attributes
c / cpp     ``/** … */`` above (``template<…>`` and ``typedef`` included)
=========== ===========================================================================================================

Positions are the chunker's: 0-based LSP lines (``lenscribe.chunking.lines``: a line ends at CR LF, CR or LF; a
form feed or a ``\\x1c`` ends no line), UTF-16 columns.  ``apply_edit`` applies an edit to a text the way an editor
does.

An edit must never break code: ``docstring_edit`` applies the edit it computed and parses the result (tree-sitter,
and for Python the compiler's own parser, ``ast.parse``, which never runs anything); an edit that makes a text that
parsed fail to parse (``def f(x):\\`` with the body on the next line, say) is refused (None).
"""

from __future__ import annotations

import ast
import logging
import warnings
from dataclasses import dataclass

from lenscribe.chunking.lines import lf_rows, lines_with_ends, newline_of
from lenscribe.postprocess import sanitize_summary

log = logging.getLogger(__name__)

__all__ = ["SUPPORTED_LANGUAGES", "TextEdit", "apply_edit", "breaks_parse", "docstring_edit", "format_doc"]

SUPPORTED_LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "java", "rust", "c", "cpp")
_BLOCK = ("javascript", "typescript", "tsx", "java", "c", "cpp")
_PY_DEFS = ("function_definition", "class_definition")


@dataclass(frozen=True)
class TextEdit:
    """Replace [start, end) by ``new_text``; positions are (line, UTF-16 column)."""

    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str


def _summary_lines(summary: str) -> list[str]:
    return [ln.strip() for ln in sanitize_summary(summary).splitlines() if ln.strip()]


def _py_escape(line: str, closes: bool) -> str:
    """A docstring line, its backslashes and any quotes that could end the string escaped (``closes``: the closing
    quotes follow it directly)."""
    out = line.replace("\\", "\\\\")
    if '"""' in out or (closes and out.endswith('"')):
        out = out.replace('"', '\\"')
    return out


def format_doc(language: str, name: str, summary: str) -> list[str]:
    """The doc comment's lines (unindented, no line endings) for a
    non-Python language, or the Python docstring's lines."""
    lines = _summary_lines(summary)
    if not lines:
        return []
    if language == "python":
        if len(lines) == 1:
            return [f'"""{_py_escape(lines[0], True)}"""']
        lines = [_py_escape(ln, False) for ln in lines]
        return [f'"""{lines[0]}', "", *lines[1:], '"""']
    if language == "go":
        first = lines[0]
        if first.split(" ", 1)[0].rstrip(".,:;") != name:
            if len(first) > 1 and first[0].isupper() and first[1].islower():
                first = first[0].lower() + first[1:]
            first = f"{name} {first}"
        return [f"// {first}", *(f"// {ln}" for ln in lines[1:])]
    if language == "rust":
        return [f"/// {ln}" for ln in lines]
    lines = [ln.replace("*/", "*\\/") for ln in lines]
    if len(lines) == 1:
        return [f"/** {lines[0]} */"]
    return ["/**", *(f" * {ln}" for ln in lines), " */"]


# ------------------------------------------------------------------------------------------- positions


def _col16_to_index(line: str, col16: int) -> int:
    units = 0
    for i, ch in enumerate(line):
        if units >= col16:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def _index_to_col16(line: str, index: int) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in line[:index])


def _split_lines(text: str) -> list[str]:
    """Lines with their endings: LSP's lines (breaks at CR LF, CR and LF only; not ``str.splitlines``, which also
    splits at a form feed, ``\x1c``-``\x1e``, ``\x85``, ``\u2028``...), the rows tree-sitter counts in ``lf_rows``
    text and the chunks' positions; a final empty line when the text ends with a line break."""
    lines = lines_with_ends(text) or [""]
    if lines[-1].endswith(("\n", "\r")):
        lines.append("")
    return lines


def _offset(lines: list[str], pos: tuple[int, int]) -> int:
    line, col16 = pos
    if line >= len(lines):
        return sum(len(ln) for ln in lines)
    body = lines[line].rstrip("\r\n")
    return sum(len(ln) for ln in lines[:line]) + _col16_to_index(body, col16)


def apply_edit(text: str, edit: TextEdit) -> str:
    lines = _split_lines(text)
    a, b = _offset(lines, edit.start), _offset(lines, edit.end)
    return text[:a] + edit.new_text + text[b:]


def _newline(text: str) -> str:
    return newline_of(text)


def _leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


# ------------------------------------------------------------------------------------------- the edit


def docstring_edit(text: str, chunk, summary: str) -> TextEdit | None:
    """The edit that documents ``chunk`` (a chunk of ``text``) with ``summary``; None when the language is not
    supported, the chunk already has a doc, the summary is empty or no place is found."""
    if chunk.language not in SUPPORTED_LANGUAGES or chunk.doc is not None or not _summary_lines(summary):
        return None
    edit = _python_edit(text, chunk, summary) if chunk.language == "python" else _above_edit(text, chunk, summary)
    if edit is not None and breaks_parse(text, apply_edit(text, edit), chunk.language):
        log.info("no docstring edit for %s: the edit would break the parse of its file", chunk.qualname)
        return None
    return edit


def _parse_errors(text: str, language: str) -> bool:
    from lenscribe.chunking.treesitter import parse

    if parse(lf_rows(text).encode("utf-8", "surrogatepass"), language).root_node.has_error:
        return True
    if language == "python":
        try:
            with warnings.catch_warnings():  # invalid escape sequences and the like: not our business here
                warnings.simplefilter("ignore")
                ast.parse(text)
        except (SyntaxError, ValueError):  # ValueError: a NUL byte (older Pythons)
            return True
    return False


def breaks_parse(before: str, after: str, language: str) -> bool:
    """Whether ``after`` (``before`` with an edit applied) fails to parse where ``before`` did not."""
    return _parse_errors(after, language) and not _parse_errors(before, language)


def _above_edit(text: str, chunk, summary: str) -> TextEdit | None:
    nl = _newline(text)
    lines = _split_lines(text)
    row, col16 = chunk.start
    if row >= len(lines):
        return None
    line = lines[row].rstrip("\r\n")
    indent = _leading_ws(line)
    doc = format_doc(chunk.language, chunk.name, summary)
    block = "".join(indent + ln + nl for ln in doc)
    prefix = line[: _col16_to_index(line, col16)]
    if not prefix.strip():  # the chunk starts its line: the comment goes on the lines above
        return TextEdit((row, 0), (row, 0), block)
    # code before the chunk on its line (`x = 1; function f() {`): the chunk moves to a line of its own
    return TextEdit((row, col16), (row, col16), nl + block + indent)


def _python_def(tree, data: bytes, chunk):
    """The function_definition / class_definition node the chunk was made from."""
    want_row = chunk.start[0]
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.start_point[0] > chunk.end[0] or node.end_point[0] < want_row:
            continue
        if node.type in _PY_DEFS:
            outer = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
            name = node.child_by_field_name("name")
            if (outer.start_point[0] == want_row and name is not None
                    and data[name.start_byte:name.end_byte].decode("utf-8", "replace") == chunk.name):
                return node
        stack.extend(reversed(node.children))
    return None


def _python_edit(text: str, chunk, summary: str) -> TextEdit | None:
    from lenscribe.chunking.treesitter import parse

    data = lf_rows(text).encode("utf-8", "surrogatepass")  # tree-sitter's rows are then LSP's lines
    node = _python_def(parse(data, "python"), data, chunk)
    if node is None:
        return None
    body = node.child_by_field_name("body")
    colon = None
    for child in node.children:
        if body is not None and child.start_byte >= body.start_byte:
            break
        if child.type == ":":
            colon = child
    if body is None or colon is None or body.start_byte == body.end_byte:
        return None
    nl = _newline(text)
    lines = _split_lines(text)
    def_line = lines[node.start_point[0]].rstrip("\r\n")
    if body.start_point[0] > colon.end_point[0]:  # the body starts on a line of its own
        row = body.start_point[0]
        line_bytes = lines[row].rstrip("\r\n").encode("utf-8", "surrogatepass")
        indent = line_bytes[: body.start_point[1]].decode("utf-8", "surrogatepass")
        if indent.strip():
            return None
        doc = format_doc("python", chunk.name, summary)
        return TextEdit((row, 0), (row, 0), "".join((indent + ln if ln else ln) + nl for ln in doc))
    # `def f(): return 1`: the body moves under the docstring, one indentation level in
    base = _leading_ws(def_line)
    indent = base + ("\t" if "\t" in base else "    ")
    doc = format_doc("python", chunk.name, summary)
    row = colon.end_point[0]
    line = lines[row].rstrip("\r\n")
    line_bytes = line.encode("utf-8", "surrogatepass")
    start = (row, _index_to_col16(line, len(line_bytes[: colon.end_point[1]].decode("utf-8", "surrogatepass"))))
    end = (row, _index_to_col16(line, len(line_bytes[: body.start_point[1]].decode("utf-8", "surrogatepass"))))
    new = nl + "".join((indent + ln if ln else ln) + nl for ln in doc) + indent
    return TextEdit(start, end, new)
