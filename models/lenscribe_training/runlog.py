"""The training log both trainers write: each line to stdout and appended to a file (``OUT/train.log``)."""

from __future__ import annotations

import time
from pathlib import Path


class Log:
    """``log(msg)`` prints ``[stamp] msg`` and appends it to ``path`` (None: stdout only).

    The stamp is the seconds since the log began (fast_train's one-sitting runs) or, with ``clock=True``, the time of
    day (train.py's runs, which go on over several sittings with ``--resume``)."""

    def __init__(self, path: Path | None, clock: bool = False):
        self.f = open(path, "a", encoding="utf-8") if path else None
        self.clock = clock
        self.t0 = time.time()

    def __call__(self, msg: str) -> None:
        stamp = time.strftime("%H:%M:%S") if self.clock else f"{time.time() - self.t0:7.1f}s"
        line = f"[{stamp}] {msg}"
        print(line, flush=True)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()
