"""The test run leaves the user's home as it was (tests/home_guard.py): the tests run with a temporary HOME and XDG
directories, and a run that writes to the real home fails, naming what it wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import home_guard

TESTS = Path(__file__).resolve().parent


def test_this_session_runs_in_a_temporary_home():
    real = Path(os.environ[home_guard.REAL_HOME_ENV])
    home = Path.home()
    assert home != real and home.name.startswith("lenscribe-test-home-") and home.is_dir()
    for var in home_guard.XDG_DIRS:
        assert Path(os.environ[var]).parent == home
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"


def test_snapshot_sees_what_is_written_outside_the_named_caches(tmp_path, monkeypatch):
    monkeypatch.delenv("LENSCRIBE_E2E_CACHE", raising=False)
    home = tmp_path / "home"
    for d in (".config/pip", ".cache/pip", ".cache/lenscribe", ".npm", ".rustup/toolchains"):
        (home / d).mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\n")
    before = home_guard.snapshot(home)
    (home / ".config" / "code-server").mkdir()
    (home / ".config" / "code-server" / "config.yaml").write_text("password: x\n")
    (home / ".config" / "pip" / "pip.conf").write_text("[global]\nindex-url = elsewhere\n")
    (home / ".ray").mkdir()
    (home / ".ray" / "auth_token").write_text("t")
    (home / ".cache" / "lenscribe" / "summaries.sqlite").write_text("x")
    (home / ".cache" / "Microsoft" / "DeveloperTools").mkdir(parents=True)
    # the named caches, and an existing directory the guard does not walk
    (home / ".cache" / "pip" / "wheel").write_text("w")
    (home / ".npm" / "_cacache").mkdir()
    (home / ".rustup" / "toolchains" / "new").write_text("n")
    assert home_guard.changes(before, home_guard.snapshot(home)) == [
        "added .cache/Microsoft",
        "added .cache/Microsoft/DeveloperTools",
        "added .cache/lenscribe/summaries.sqlite",
        "added .config/code-server",
        "added .config/code-server/config.yaml",
        "added .ray",
        "added .ray/auth_token",
        "changed .config/pip/pip.conf",
    ]


def test_the_named_caches_may_appear_in_a_fresh_home(tmp_path, monkeypatch):
    monkeypatch.delenv("LENSCRIBE_E2E_CACHE", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    before = home_guard.snapshot(home)
    for d in (".cache/pip/http", ".cache/lenscribe-e2e/node", ".npm/_cacache"):
        (home / d).mkdir(parents=True)
    assert home_guard.changes(before, home_guard.snapshot(home)) == []
    (home / ".cache" / "lenscribe").mkdir()
    assert home_guard.changes(before, home_guard.snapshot(home)) == ["added .cache/lenscribe"]


def _inner_run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    """pytest with the guard on one test ``body`` (``real`` is the real home, ``Path`` imported), the real home
    being a directory of this test's."""
    real = tmp_path / "real-home"
    (real / ".config").mkdir(parents=True, exist_ok=True)
    case = tmp_path / "case"
    case.mkdir(exist_ok=True)
    (case / "test_inner.py").write_text(
        "import os\nfrom pathlib import Path\n\n\ndef test_inner():\n"
        f"    real = Path({str(real)!r})\n    {body}\n")
    (case / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != home_guard.REAL_HOME_ENV and k != home_guard.ENABLE_ENV}
    env.update(HOME=str(real), PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "home_guard", "-p", "no:cacheprovider",
                           str(case)], cwd=case, env=env, capture_output=True, text=True, timeout=120)


def test_a_run_that_writes_to_the_real_home_fails(tmp_path):
    leak = _inner_run(tmp_path, "(real / '.config' / 'leak.yaml').write_text('password: x')")
    assert leak.returncode == 1, leak.stdout + leak.stderr
    assert "1 passed" in leak.stdout and "added .config/leak.yaml" in leak.stdout, leak.stdout
    # the same test writing where HOME points (the temporary home) passes, and the temporary home is gone after
    ok = _inner_run(tmp_path, "Path.home().joinpath('.config').mkdir(); "
                              "(Path.home() / '.config' / 'x.yaml').write_text('x'); "
                              "Path(os.environ['XDG_CACHE_HOME'], 'lenscribe').mkdir()")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert not (tmp_path / "real-home" / ".config" / "x.yaml").exists()


def test_the_command_checks_a_whole_run(tmp_path):
    home = tmp_path / "home"
    (home / ".cache" / "pip").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in (home_guard.REAL_HOME_ENV, home_guard.ENABLE_ENV,
                                                            "LENSCRIBE_E2E_CACHE")}
    env["HOME"] = str(home)
    snap = tmp_path / "snap.json"

    def guard(command: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(TESTS / "home_guard.py"), command, str(snap)], env=env,
                              capture_output=True, text=True, timeout=60)

    assert guard("snapshot").returncode == 0
    (home / ".cache" / "pip" / "http").write_text("a named cache")
    assert guard("check").returncode == 0
    (home / ".cache" / "Microsoft").mkdir()
    (home / ".cache" / "Microsoft" / "deviceid").write_text("id")
    bad = guard("check")
    assert bad.returncode == 1 and "added .cache/Microsoft/deviceid" in bad.stderr, bad.stderr
