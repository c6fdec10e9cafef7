"""Turn a `tmux capture-pane -e -p` dump (SGR colour escapes) into a standalone HTML page, for a screenshot.

    python ansi_to_html.py CAPTURE.txt OUT.html [--title TEXT]

Handles what tmux emits: reset, bold, italic, underline, reverse, the 8/16 colours, 256-colour and 24-bit colours for
foreground and background. Trailing cells keep the last background, like a terminal.
"""

from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

DEFAULT_FG = (224, 226, 234)
DEFAULT_BG = (20, 22, 27)
BASE16 = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188), (17, 168, 205),
    (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234), (214, 112, 214),
    (41, 184, 219), (255, 255, 255),
]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def color256(n: int) -> tuple[int, int, int]:
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    v = 8 + 10 * (n - 232)
    return v, v, v


class Style:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.fg: tuple[int, int, int] | None = None
        self.bg: tuple[int, int, int] | None = None
        self.bold = self.italic = self.underline = self.reverse = False

    def apply(self, params: str) -> None:
        codes = [int(p) if p.isdigit() else 0 for p in re.split(r"[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    rgb = color256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    rgb = (codes[i + 2], codes[i + 3], codes[i + 4])
                    i += 4
                else:
                    rgb = None
                if rgb is not None:
                    if c == 38:
                        self.fg = rgb
                    else:
                        self.bg = rgb
            i += 1

    def css(self) -> str:
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        parts = [f"color:rgb{fg}", f"background:rgb{bg}"]
        if self.bold:
            parts.append("font-weight:bold")
        if self.italic:
            parts.append("font-style:italic")
        if self.underline:
            parts.append("text-decoration:underline")
        return ";".join(parts)


def convert(text: str, title: str) -> str:
    style = Style()
    rows = []
    for line in text.rstrip("\n").split("\n"):
        out = []
        pos = 0
        for m in SGR.finditer(line):
            if m.start() > pos:
                out.append(f'<span style="{style.css()}">{html.escape(line[pos:m.start()])}</span>')
            style.apply(m.group(1))
            pos = m.end()
        if pos < len(line):
            out.append(f'<span style="{style.css()}">{html.escape(line[pos:])}</span>')
        rows.append("".join(out))
    body = "".join(f'<div class="row">{r or " "}</div>' for r in rows)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
body {{ margin: 0; background: #2b2d31; }}
.term {{ display: inline-block; margin: 0; padding: 10px 12px; background: rgb{DEFAULT_BG};
  font: 15px/1.25 "DejaVu Sans Mono", "Liberation Mono", monospace; white-space: pre; }}
.bar {{ font: 13px sans-serif; color: #ccc; background: #3c3f45; padding: 5px 12px; }}
.row {{ height: 1.25em; }}
</style></head><body><div class="bar">{html.escape(title)}</div><div class="term">{body}</div></body></html>
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--title", default="nvim")
    args = ap.parse_args()
    screen = args.capture.read_text(encoding="utf-8", errors="replace")
    args.out.write_text(convert(screen, args.title), encoding="utf-8")


if __name__ == "__main__":
    main()
