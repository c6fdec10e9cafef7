"""Checkpoints of a build: ``DIR/work/state.json`` records, per step, the digest of its inputs and what it produced.

A step is skipped when its input key is unchanged and every file it produced is still there with the same hash, so a
re-run after a failure (or with other verify thresholds) redoes only what changed. Hashes of big files are cached by
(size, mtime) so that checking a 900 MB checkpoint does not rehash it on every run.
The file also keeps a log of what each run did (``ran``/``skipped``): it is how a user, and the tests, see that a
second build did not redo the export.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenscribe.modelfiles import sha256_file

STATE_NAME = "state.json"
STATE_VERSION = 1


def digest(obj: Any) -> str:
    """A stable sha256 of a JSON-able value: the key of a step's inputs."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class BuildState:
    """The checkpoint file of one build directory."""

    path: Path
    root: Path  # the build directory: recorded output paths are relative to it, so a moved build stays valid
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    hashes: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, work_dir: Path) -> BuildState:
        """Read the state; an unreadable or older file counts as no state (the steps just run again)."""
        path = Path(work_dir) / STATE_NAME
        root = Path(work_dir).resolve().parent
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path, root)
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            return cls(path, root)
        return cls(path, root, steps=raw.get("steps") or {}, log=raw.get("log") or [], hashes=raw.get("hashes") or {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hashes = {p: v for p, v in self.hashes.items() if Path(p).exists()}  # forget files of old layouts
        data = {"version": STATE_VERSION, "steps": self.steps, "log": self.log, "hashes": self.hashes}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    # -- hashes ------------------------------------------------------------------------------------------------------

    def file_sha256(self, path: Path) -> str:
        """sha256 of a file, reusing the cached value while its size and mtime are unchanged."""
        path = Path(path).resolve()
        st = path.stat()
        cached = self.hashes.get(str(path))
        if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
            return cached[2]
        value = sha256_file(path)
        self.hashes[str(path)] = [st.st_size, st.st_mtime_ns, value]
        return value

    def files_digest(self, paths: Iterable[Path]) -> dict[str, str]:
        """name -> sha256 for a set of files (names, not full paths, so a moved build dir keeps its keys)."""
        return {Path(p).name: self.file_sha256(Path(p)) for p in sorted(paths, key=lambda p: Path(p).name)}

    # -- steps -------------------------------------------------------------------------------------------------------

    def is_done(self, step: str, key: str) -> bool:
        """True when ``step`` ran with this input key and all the files it recorded are intact."""
        entry = self.steps.get(step)
        if not entry or entry.get("key") != key:
            return False
        for path, sha in (entry.get("files") or {}).items():
            p = self.root / path
            if not p.is_file() or self.file_sha256(p) != sha:
                return False
        return True

    def record(self, step: str, key: str, result: dict[str, Any], files: Iterable[Path], seconds: float) -> None:
        """Mark ``step`` done; ``files`` are its outputs, checked before a later run trusts the checkpoint."""
        self.steps[step] = {
            "key": key,
            "result": result,
            "files": {self._relative(Path(p)): self.file_sha256(Path(p)) for p in files},
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.save()

    def _relative(self, path: Path) -> str:
        path = path.resolve()
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)

    def result(self, step: str) -> dict[str, Any]:
        return self.steps[step]["result"]

    def invalidate(self, step: str) -> None:
        self.steps.pop(step, None)

    def log_action(self, run_id: str, step: str, action: str, seconds: float = 0.0) -> None:
        self.log.append({"run": run_id, "step": step, "action": action, "seconds": round(seconds, 3)})
        del self.log[:-200]  # keep the file small across many rebuilds
        self.save()
