"""lenscribe_training.data.corpus_files: an npm tarball's license and source files, read in place."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from lenscribe_training.data.corpus_files import iter_npm, npm_license
from lenscribe_training.data.corpus_sources import Fetched


def _npm(tmp_path: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Fetched:
    path = tmp_path / "pkg-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as t:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            t.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return Fetched("npm", "pkg", "1.0.0", path)


def test_npm_license_reads_package_json(tmp_path):
    f = _npm(tmp_path, {"package/package.json": json.dumps({"license": {"type": "MIT"}}).encode()})
    assert npm_license(f) == "MIT"


def test_a_package_json_that_is_no_file_gives_unknown(tmp_path):
    # tarfile.extractfile gives None for a directory: the license is unknown (it used to raise AttributeError)
    f = _npm(tmp_path, {"package/index.js": b"function f() {}\n"}, dirs=("package/package.json",))
    assert npm_license(f) == "unknown"


def test_iter_npm_reads_regular_files_and_skips_directories(tmp_path):
    code = b"/** Add two numbers. */\nfunction add(a, b) {\n  return a + b;\n}\n"
    f = _npm(tmp_path, {"package/src/add.js": code}, dirs=("package/src", "package/lib.js"))
    files = list(iter_npm(f))
    assert [(s.language, s.path) for s in files] == [("javascript", "pkg-1.0.0/src/add.js")]
    assert files[0].text == code.decode()
