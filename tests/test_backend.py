"""The OpenAI-compatible summarizer backend against a loopback server that fails on cue (tests/fake_openai.py): the
request is the shared prompt, replies are cleaned, every failure falls back to the local model (marked, reported
once), the cache keeps each backend's summaries apart, edits cancel requests in flight, concurrency stays bounded.
The same paths against a real llama.cpp server: tests/lsp/test_lsp_backend_llama.py.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, closed_port
from lenscribe.backend import LOCAL_FALLBACK, BackendConfig, BackendError, BackendRequest, BackendSummarizer, Written
from lenscribe.engine import Engine
from lenscribe.prompts import DEFAULT_PROMPT, messages
from lenscribe.render import GENERATED, NAME, hover_markdown, lens_title
from lenscribe.scheduling import Priority
from lenscribe.settings import SETTINGS, Settings, parse_settings
from lenscribe.workspace import summarize_paths

CODE = "def load(path):\n    with open(path) as f:\n        return f.read()\n"
LOCAL_ID = "fake@1+rp1.2"


def local(codes: list[str]) -> list[str]:
    return [f"Local summary of {c.splitlines()[0]}" for c in codes]


def backend(url: str, **kw) -> BackendSummarizer:
    return BackendSummarizer(BackendConfig(url=url, model="tiny", **kw), local=lambda: local,
                             local_id=lambda: LOCAL_ID)


def wait_until(pred, what: str, limit: float = 20.0) -> None:
    end = time.monotonic() + limit
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------------- the client


def test_request_is_the_shared_prompt_and_the_reply_is_cleaned(monkeypatch):
    monkeypatch.setenv("LENSCRIBE_TEST_KEY", "sekret")
    with FakeOpenAI() as srv:
        b = backend(srv.url, api_key_env="LENSCRIBE_TEST_KEY")
        out = b.summarize_one(BackendRequest(CODE, "python"))
    assert isinstance(out, Written) and out.written_by == "tiny" and not out.fallback
    assert out == "Handles 'def load(path)' carefully."  # "This function handles ..." -> the verb
    body = srv.requests[0]
    assert body["messages"] == messages(DEFAULT_PROMPT, CODE, "python", "function")
    assert body["model"] == "tiny" and body["temperature"] == 0 and body["stream"] is False
    assert body["max_tokens"] == DEFAULT_PROMPT.max_tokens
    assert srv.headers[0]["Authorization"] == "Bearer sekret"
    assert b.summary_id == f"openai:tiny:{DEFAULT_PROMPT.id}"


def test_a_reply_is_sanitized_like_the_models():
    with FakeOpenAI() as srv:
        srv.mode = "evil"
        out = backend(srv.url).summarize_one(BackendRequest(CODE, "python"))
    assert out == "Reads the file at path." and not out.fallback  # bidi/zero-width characters and the link are gone


@pytest.mark.parametrize(("mode", "kind"), [
    ("refused", "refused"), ("http500", "http"), ("http404", "http"), ("malformed", "malformed"),
    ("slow", "timeout"), ("endless", "timeout"), ("code", "reply")])
def test_each_failure_falls_back_to_the_local_model_marked(mode, kind):
    with FakeOpenAI() as srv:
        srv.mode = mode
        url = f"http://127.0.0.1:{closed_port()}/v1" if mode == "refused" else srv.url
        b = backend(url, timeout=0.5)
        out = b.summarize(["def load(path):\n    return 1\n"])[0]
    assert out == "Local summary of def load(path):"
    assert isinstance(out, Written) and out.fallback and out.written_by == LOCAL_FALLBACK
    assert out.summary_id == LOCAL_ID and out.reason is not None and out.reason.startswith(f"{kind}:"), out.reason
    assert b.errors == {kind: 1} and b.fallbacks == 1
    assert b.client.in_flight == 0


def test_a_failing_server_is_reported_once(caplog):
    b = backend(f"http://127.0.0.1:{closed_port()}/v1")
    with caplog.at_level(logging.WARNING, logger="lenscribe.backend"):
        out = b.summarize([CODE, CODE.replace("load", "read"), CODE.replace("load", "open")])
    assert [o.fallback for o in out] == [True, True, True]  # type: ignore[attr-defined]
    warnings = [r for r in caplog.records if r.name == "lenscribe.backend" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "connection refused" in warnings[0].getMessage()
    assert b.errors == {"refused": 3}


def test_no_local_model_to_fall_back_on_is_an_error():
    def failed():
        raise RuntimeError("model directory not found")

    b = BackendSummarizer(BackendConfig(url=f"http://127.0.0.1:{closed_port()}/v1", model="tiny"),
                          local=failed, local_id=lambda: None)
    with pytest.raises(BackendError, match="local model is unavailable: model directory not found"):
        b.summarize([CODE])


# ---------------------------------------------------------------------------------------------------- settings


def test_backend_settings_are_checked_and_restricted():
    s, warnings = parse_settings({"backend.url": "http://127.0.0.1:8080/v1/", "backend.model": "qwen",
                                  "backend.apiKeyEnv": "OPENAI_API_KEY", "backend.maxConcurrent": 3})
    assert not warnings
    assert (s.backend_url, s.backend_model, s.backend_api_key_env, s.backend_max_concurrent) == (
        "http://127.0.0.1:8080/v1", "qwen", "OPENAI_API_KEY", 3)
    assert BackendConfig.from_settings(s) == BackendConfig("http://127.0.0.1:8080/v1", "qwen", "OPENAI_API_KEY", 3,
                                                           30.0)
    nested, warnings = parse_settings({"lenscribe": {"backend": {"url": "http://127.0.0.1:8080/v1", "model": "qwen"}}})
    assert not warnings and (nested.backend_url, nested.backend_model) == ("http://127.0.0.1:8080/v1", "qwen")
    bad, warnings = parse_settings({"backend.url": "file:///etc/passwd", "backend.apiKeyEnv": "sk-abc 123"})
    assert bad.backend_url is None and bad.backend_api_key_env is None and len(warnings) == 2
    assert BackendConfig.from_settings(Settings()) is None  # unset: the local model only
    assert BackendConfig.from_settings(Settings(backend_url="http://127.0.0.1:1/v1")) is None  # no model named
    # in an untrusted workspace (VS Code Restricted Mode) only the user's own backend settings count
    assert all(st.restricted for st in SETTINGS if st.key.startswith("backend."))
    pkg = json.loads((Path(__file__).parents[1] / "client-vscode" / "package.json").read_text())
    restricted = pkg["capabilities"]["untrustedWorkspaces"]["restrictedConfigurations"]
    assert {"lenscribe.backend.url", "lenscribe.backend.model", "lenscribe.backend.apiKeyEnv"} <= set(restricted)


# ---------------------------------------------------------------------------------------------------- the engine


class FakeLocal:
    model_id = "fake@1"

    def __init__(self):
        self.calls: list[str] = []
        self.runs = 0

    def summarize(self, codes, timeout=None):
        self.calls += codes
        self.runs += 1
        return local(codes)


def _fake_manifest(model_dir, check_hashes=True):
    class M:
        model_id = "fake@1"

    return M()


DOC = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(6))


@pytest.fixture
def make(tmp_path, monkeypatch):
    monkeypatch.setattr("lenscribe.modelfiles.load_manifest", _fake_manifest)
    d = tmp_path / "model"
    d.mkdir()
    (d / "manifest.json").write_text("{}")
    engines = []

    def make_engine(url: str | None, **settings) -> tuple[Engine, FakeLocal]:
        fake = FakeLocal()
        settings.setdefault("grounding_check", False)
        s = Settings(model_dir=str(d), cache_dir=str(tmp_path / "cache"), workers=1, backend_url=url,
                     backend_model="tiny" if url else None, **settings)
        e = Engine(s, load_summarizer=lambda files, w: fake)
        assert e.load_model() is None and e.model.summary_id == LOCAL_ID
        engines.append(e)
        return e, fake

    yield make_engine
    for e in engines:
        e.shutdown()


def idle(e: Engine) -> None:
    assert e.backend is not None and e.backend.scheduler.wait_idle(20) and e.scheduler.wait_idle(20)


def test_lenses_come_from_the_backend_marked_and_cached_under_its_key(make):
    with FakeOpenAI() as srv:
        e, fake = make(srv.url)
        doc = e.update_document("file:///t.py", "/t.py", DOC, 1)
        idle(e)
        assert len(srv.requests) == 6 and fake.calls == []  # the local model ran for none of them
        first = doc.chunks[0]
        shown = e.summary(first)
        assert shown is not None and shown.text == "Handles 'def f0(x)' carefully." and shown.model == "tiny"
        assert lens_title(shown) == "Handles 'def f0(x)' carefully. · generated by tiny"
        assert "generated by tiny" in hover_markdown("function", "f0", shown, None, LOCAL_ID)
        assert e.cache.get(f"openai:tiny:{DEFAULT_PROMPT.id}", first.hash) == shown.text
        assert e.cache.get(LOCAL_ID, first.hash) is None
        # another model on the same server: nothing of tiny's is shown as its
        todo = e.apply_settings(e.settings.replace(backend_model="other"))
        assert todo["reschedule"] and e.summary(first) is None
        # back: tiny's summaries again, from the cache (no request)
        e.apply_settings(e.settings.replace(backend_model="tiny"))
        e.schedule_all()
        idle(e)
        assert e.summary(first).model == "tiny" and len(srv.requests) == 6
        # the local model: its own summaries, not the backend's
        e.apply_settings(e.settings.replace(backend_url=None))
        assert e.backend is None and e.summary(first) is None
        e.schedule_all()
        assert e.scheduler.wait_idle(20)
        assert e.summary(first).text == "Local summary of def f0(x):" and e.summary(first).model is None


def test_a_failed_chunk_shows_the_local_fallback_marked(make):
    with FakeOpenAI() as srv:
        srv.mode = "http500"
        e, fake = make(srv.url)
        doc = e.update_document("file:///t.py", "/t.py", DOC, 1)
        idle(e)
        first = doc.chunks[0]
        shown = e.summary(first)
        assert shown is not None and shown.text == "Local summary of def f0(x):" and shown.model == LOCAL_FALLBACK
        assert lens_title(shown).endswith("· generated by local model (fallback)")
        assert "HTTP 500" in hover_markdown("function", "f0", shown, None)
        # cached as the local model's summary (which it is), never under the backend's key
        assert e.cache.get(LOCAL_ID, first.hash) == shown.text
        assert e.cache.get(e.backend.summary_id, first.hash) is None
        assert e.stats()["backend"]["errors"] == {"http": 6}
        # the server is back: a regenerate asks it again and its summary replaces the fallback
        srv.mode = "ok"
        assert e.regenerate(first, beams=4) == "Handles 'def f0(x)' carefully."
        assert e.summary(first).model == "tiny"


@pytest.mark.parametrize("mode", ["ok", "http500"])
def test_the_grounding_check_spares_the_backend_s_text_not_the_local_fallback(make, mode):
    """The check withholds a summary with a word the code never mentions: the small model's drift. A backend's text
    ("Handles ... carefully": neither word is in the code) is shown as written; its local fallback is checked."""
    with FakeOpenAI() as srv:
        srv.mode = mode
        e, _ = make(srv.url, grounding_check=True)
        doc = e.update_document("file:///t.py", "/t.py", DOC, 1)
        idle(e)
        shown = e.summary(doc.chunks[0])
        assert shown is not None
        if mode == "ok":
            assert shown.text == "Handles 'def f0(x)' carefully." and shown.source == GENERATED
        else:  # "Local summary of ...": 'local' and 'summary' are not in the code
            assert shown.source == NAME and shown.withheld


def test_regenerate_through_a_failing_backend_raises(make):
    with FakeOpenAI() as srv:
        srv.mode = "malformed"
        e, _ = make(srv.url)
        doc = e.make_document("file:///t.py", "/t.py", DOC, 1)
        with pytest.raises(BackendError, match="not a chat completion"):
            e.regenerate(doc.chunks[0], beams=4)


def test_concurrency_never_exceeds_the_setting(make):
    with FakeOpenAI() as srv:
        srv.mode = "hold"
        e, _ = make(srv.url, backend_max_concurrent=2)
        doc = e.update_document("file:///t.py", "/t.py", DOC, 1)
        e.request(doc.chunks[5], Priority.HOVER, owner="hover")  # the hover lane: still at most 2 requests
        wait_until(lambda: srv.open == 2, "two requests in flight")
        time.sleep(0.3)  # room for a third request, if anything would send one
        assert srv.open == 2
        srv.release.set()
        idle(e)
        assert e.backend.summarizer.client.max_in_flight == 2
        assert srv.max_concurrent == 2
        assert len(srv.requests) == 6 and all(e.summary(c).model == "tiny" for c in doc.chunks)


def test_an_edit_cancels_the_request_in_flight_for_a_chunk_edited_away(make):
    with FakeOpenAI() as srv:
        srv.mode = "hold"
        e, _ = make(srv.url, backend_max_concurrent=1)
        old = "def gone(x):\n    return x * 2\n"
        doc = e.update_document("file:///t.py", "/t.py", old, 1)
        wait_until(lambda: srv.open == 1, "the request in flight")
        doc2 = e.update_document("file:///t.py", "/t.py", "def kept(y):\n    return y - 1\n", 2)
        wait_until(lambda: srv.aborted == 1, "the request for the chunk edited away to be ended")
        srv.release.set()
        idle(e)
        assert e.cache.get(e.backend.summary_id, doc.chunks[0].hash) is None  # nothing came back for it
        assert e.cache.get(LOCAL_ID, doc.chunks[0].hash) is None  # and it did not fall back either
        assert e.summary(doc2.chunks[0]).text == "Handles 'def kept(y)' carefully."
        assert e.failure(doc.chunks[0]) is None


def test_closing_a_document_cancels_its_requests_and_other_documents_go_on(make):
    with FakeOpenAI() as srv:
        srv.mode = "hold"
        e, _ = make(srv.url, backend_max_concurrent=1)
        e.update_document("file:///a.py", "/a.py", "def a(x):\n    return x * 2\n", 1)
        wait_until(lambda: srv.open == 1, "a's request in flight")
        e.close_document("file:///a.py")
        wait_until(lambda: srv.aborted == 1, "a's request to be ended")
        srv.mode = "ok"
        doc_b = e.update_document("file:///b.py", "/b.py", "def b(x):\n    return x * 3\n", 1)
        idle(e)
        assert e.summary(doc_b.chunks[0]).model == "tiny"


def test_workspace_run_stops_sending_at_the_limit_and_warns(make, tmp_path):
    with FakeOpenAI() as srv:
        e, fake = make(srv.url, backend_workspace=True, backend_workspace_max_requests=4)
        f = tmp_path / "ws.py"
        f.write_text(DOC)
        report = summarize_paths(e, [f])
        assert report.summarized == 6 and report.backend_requests == 4 and len(srv.requests) == 4
        assert report.warning and "more than 4 requests" in report.warning
        assert len(fake.calls) == 2  # the rest went to the local model
    with FakeOpenAI() as srv2:
        e2, _ = make(srv2.url)  # backend.workspace off (the default): the workspace run never asks the server
        report = summarize_paths(e2, [f])
        assert report.backend_requests == 0 and srv2.requests == []


# ---------------------------------------------------------------------------------------------------- the CLI


def test_summarize_cli_through_the_backend_names_the_writer(tiny_model_dir, tmp_path, capsys):
    from lenscribe.cli import main

    (tmp_path / "m.py").write_text(DOC)
    args = ["summarize", str(tmp_path / "m.py"), "--json", "--model", str(tiny_model_dir), "--threads", "1",
            "--cache-dir", str(tmp_path / "cache"), "--no-grounding-check", "--backend-model", "tiny"]
    with FakeOpenAI() as srv:
        assert main([*args, "--backend-url", srv.url]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary_id"] == f"openai:tiny:{DEFAULT_PROMPT.id}" and len(srv.requests) == 6
    assert [(c["name"], c["written_by"], c["summary"]) for c in out["chunks"]][:2] == [
        ("f0", "tiny", "Handles 'def f0(x)' carefully."), ("f1", "tiny", "Handles 'def f1(x)' carefully.")]
    # again: from the cache, still named as the backend's
    assert main([*args, "--backend-url", srv.url]) == 0
    again = json.loads(capsys.readouterr().out)
    assert all(c["cached"] and c["written_by"] == "tiny" for c in again["chunks"])
    # another model on a server that is gone: every chunk falls back to the local model, named as such
    assert main([*args[:-1], "other", "--backend-url", f"http://127.0.0.1:{closed_port()}/v1"]) == 0
    gone = json.loads(capsys.readouterr().out)
    assert {c["written_by"] for c in gone["chunks"]} == {LOCAL_FALLBACK}
    assert gone["stats"]["backend"]["errors"] == {"refused": 6}
    assert main([*args[:-2], "--backend-url", srv.url]) == 2  # a URL without a model
