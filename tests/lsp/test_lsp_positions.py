"""lenscribe.lsp.positions: columns between UTF-16 (LSP's default) and the encoding the client chose."""

from __future__ import annotations

from lenscribe.lsp.positions import ColumnConverter

# ---------------------------------------------------------------------------------------------------- columns


def test_column_conversion():
    lines = ['x = "é😀"; def f():']
    u8 = ColumnConverter("utf-8", lines)
    u32 = ColumnConverter("utf-32", lines)
    u16 = ColumnConverter("utf-16", lines)
    col16 = len('x = "é😀"; '.encode("utf-16-le")) // 2  # 11
    assert u16.from_utf16(0, col16) == col16 and u16.identity
    assert u8.from_utf16(0, col16) == len('x = "é😀"; '.encode())
    assert u32.from_utf16(0, col16) == len('x = "é😀"; ')
    for conv in (u8, u32):
        assert conv.to_utf16(0, conv.from_utf16(0, col16)) == col16
    assert u8.from_utf16(5, 3) == 3  # beyond the text: unchanged
