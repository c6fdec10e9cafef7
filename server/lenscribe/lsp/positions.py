"""Column conversions between the chunker's UTF-16 columns and the negotiated position encoding.

Chunks carry LSP-default positions (UTF-16 code units).  When a client negotiated ``utf-8`` or ``utf-32``
(Neovim offers utf-8 first), columns are converted on the line's text; with ``utf-16`` nothing is converted.

Why not pygls' ``PositionCodec`` (``ls.workspace.position_codec``)? It converts between the client's units and code
points (UTF-32) of pygls' live copy of the document, while chunk columns are UTF-16 columns of the text snapshot the
chunks were cut from (``Document.lines``; pygls' copy may already be newer).  Going client -> code points -> UTF-16
would take two codecs and change the edges: the codec clamps a position past the last line to the end of the
document, a column past the end of a line to the line's last character, and edits the Position it is given; here a
line outside the snapshot keeps its column and a column past the end maps to the end of the line.  The per-character
unit counts are pygls' own (its codec's ``UnitCounter``).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.workspace import PositionCodec

__all__ = ["ColumnConverter", "chunk_at"]

UTF16 = types.PositionEncodingKind.Utf16.value
_UTF16_UNITS = PositionCodec(types.PositionEncodingKind.Utf16).impl


class ColumnConverter:
    """Maps columns of ``lines`` (the text the chunks came from) between UTF-16 and ``encoding``."""

    def __init__(self, encoding: str | None, lines: list[str] | None) -> None:
        self.encoding = str(encoding or UTF16)
        self.lines = lines
        self._units = PositionCodec(self.encoding).impl  # the client's code units per character

    @property
    def identity(self) -> bool:
        return self.encoding == UTF16 or self.lines is None

    def _convert(self, line: int, column: int, to_client: bool) -> int:
        if self.lines is None or not 0 <= line < len(self.lines):
            return column
        src, dst = (_UTF16_UNITS, self._units) if to_client else (self._units, _UTF16_UNITS)
        seen = out = 0
        for ch in self.lines[line]:
            if seen >= column:
                break
            seen += src.code_units_for_char(ch)
            out += dst.code_units_for_char(ch)
        return out

    def to_utf16(self, line: int, column: int) -> int:
        """A client column (in the negotiated encoding) as a UTF-16 column."""
        return column if self.identity else self._convert(line, column, to_client=False)

    def from_utf16(self, line: int, column: int) -> int:
        """A UTF-16 column as a client column."""
        return column if self.identity else self._convert(line, column, to_client=True)

    def position(self, pos: tuple[int, int]) -> types.Position:
        return types.Position(line=pos[0], character=self.from_utf16(pos[0], pos[1]))

    def range(self, start: tuple[int, int], end: tuple[int, int]) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))


def chunk_at(encoding: str | None, doc: Any, position: types.Position) -> tuple[Any, types.Range] | None:
    """The innermost chunk of ``doc`` (a ``lenscribe.document.Document``) at a client position, with its range in the
    client's encoding; None where there is none."""
    conv = ColumnConverter(encoding, doc.lines)
    chunk = doc.chunk_at(position.line, conv.to_utf16(position.line, position.character))
    return None if chunk is None else (chunk, conv.range(chunk.start, chunk.end))
