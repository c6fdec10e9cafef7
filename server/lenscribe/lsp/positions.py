"""Column conversions between the chunker's UTF-16 columns and the negotiated position encoding.

Chunks carry LSP-default positions (UTF-16 code units).  When a client negotiated ``utf-8`` or ``utf-32``
(Neovim offers utf-8 first), columns are converted on the line's text; with ``utf-16`` nothing is converted.
"""

from __future__ import annotations

from lsprotocol import types

__all__ = ["ColumnConverter"]


def _units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    if encoding == "utf-16":
        return 2 if cp >= 0x10000 else 1
    return 1


class ColumnConverter:
    """Maps columns of ``lines`` (the text the chunks came from) between UTF-16 and ``encoding``."""

    def __init__(self, encoding: str | None, lines: list[str] | None) -> None:
        self.encoding = str(encoding or types.PositionEncodingKind.Utf16.value)
        self.lines = lines

    @property
    def identity(self) -> bool:
        return self.encoding == types.PositionEncodingKind.Utf16.value or self.lines is None

    def _convert(self, line: int, column: int, src: str, dst: str) -> int:
        if self.lines is None or not 0 <= line < len(self.lines):
            return column
        seen = out = 0
        for ch in self.lines[line]:
            if seen >= column:
                break
            seen += _units(ch, src)
            out += _units(ch, dst)
        return out

    def to_utf16(self, line: int, column: int) -> int:
        """A client column (in the negotiated encoding) as a UTF-16 column."""
        return column if self.identity else self._convert(line, column, self.encoding, "utf-16")

    def from_utf16(self, line: int, column: int) -> int:
        """A UTF-16 column as a client column."""
        return column if self.identity else self._convert(line, column, "utf-16", self.encoding)

    def position(self, pos: tuple[int, int]) -> types.Position:
        return types.Position(line=pos[0], character=self.from_utf16(pos[0], pos[1]))

    def range(self, start: tuple[int, int], end: tuple[int, int]) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))
