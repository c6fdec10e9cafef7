"""Release-shaped builds: ``python -m build`` gives an sdist and, built from it, a wheel that carries the shipped model
as data files; installed into a fresh environment the wheel finds that model at run time (``lenscribe --version``
names it) and summarizes offline. (Building through the sdist leaves no build/ directory in the checkout.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from lenscribe import __version__

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "lenscribe-small"
DATA = f"lenscribe-{__version__}.data/data/share/lenscribe/models/lenscribe-small/"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 600)
    out = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True, check=False, **kw)
    assert out.returncode == 0, f"{cmd} -> {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend (setuptools) comes from this environment, no download
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)])
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    wheels = list(dist.glob("lenscribe-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
def test_the_sdist_has_the_sources_the_model_and_the_tests(dist: Path) -> None:
    with tarfile.open(dist / f"lenscribe-{__version__}.tar.gz") as t:
        names = set(t.getnames())
    root = f"lenscribe-{__version__}/"
    for name in ("pyproject.toml", "README.md", "server/lenscribe/cli.py", "server/lenscribe/lsp/code_actions.py",
                 "models/lenscribe-small/manifest.json", "models/lenscribe-small/decoder_with_past_model.onnx"):
        assert root + name in names


@pytest.mark.slow
def test_the_wheel_carries_the_model_and_its_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read(DATA + "manifest.json"))
        for name in ("manifest.json", "config.json", "tokenizer.json", "encoder_model.onnx",
                     "decoder_with_past_model.onnx"):
            assert DATA + name in names
            assert z.getinfo(DATA + name).file_size == (MODEL / name).stat().st_size
        metadata = z.read(f"lenscribe-{__version__}.dist-info/METADATA").decode()
        entry_points = z.read(f"lenscribe-{__version__}.dist-info/entry_points.txt").decode()
    assert manifest == json.loads((MODEL / "manifest.json").read_text())
    assert "License-Expression: Apache-2.0" in metadata
    assert "lenscribe = lenscribe.cli:main" in entry_points
    assert "lenscribe/assets/codet5-tokenizer/vocab.json" in names
    assert "lenscribe/py.typed" in names  # the package says it is typed
    assert not [n for n in names if n.startswith(("tests/", "models/lenscribe_training"))]


@pytest.mark.slow
def test_installed_wheel_finds_its_model_and_summarizes_offline(wheel: Path, tmp_path: Path) -> None:
    # A fresh environment with only the wheel installed into it (by its own pip); its dependencies (already installed
    # here) are reached through a .pth file, so nothing is downloaded and this checkout's lenscribe is not on the path
    # (a path in a .pth file does not run that directory's .pth files, the editable install's among them).
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENSCRIBE_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONNOUSERSITE="1", OMP_NUM_THREADS="1",
               LENSCRIBE_CACHE_DIR=str(tmp_path / "cache"))
    where = run([str(python), "-c", "import lenscribe; print(lenscribe.__file__)"],
                env=env, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(purelib)), where
    shipped = env_dir / "share" / "lenscribe" / "models" / "lenscribe-small"
    version = run([str(python), "-m", "lenscribe", "--version"], env=env, cwd=tmp_path).stdout
    assert version.splitlines() == [f"lenscribe {__version__}", f"default model: {shipped}"]
    out = run([str(python), "-m", "lenscribe", "summarize", str(REPO / "examples")], env=env, cwd=tmp_path).stdout
    lines = out.splitlines()
    assert any(ln.endswith("inventory.py") for ln in lines), out
    for chunk in ("function load_items", "method Inventory.add", "function capitalize"):
        at = next(i for i, ln in enumerate(lines) if ln.strip().endswith(chunk))
        assert lines[at + 1].strip(), out  # the summary under it
