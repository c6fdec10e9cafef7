"""End to end over raw stdio: every request is answered (bad params, bad JSON, after shutdown), the process exits with
the status LSP asks for (and never aborts while summarizing), a message too large to hold ends the session cleanly,
the server follows its client process, and lenscribe.summarizeFile reads nothing outside the workspace."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from lsp_support import ADD, READ_LINES, base_options
from raw_lsp import RawServer


@pytest.fixture
def raw(tmp_path):
    servers: list[RawServer] = []

    def start() -> RawServer:
        s = RawServer(tmp_path / f"server-{len(servers)}.stderr")
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def stats(s: RawServer) -> dict:
    return s.call("workspace/executeCommand", {"command": "lenscribe.stats"})["result"]


def wait_idle(s: RawServer, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = stats(s)
        q = st["queue"]
        if st["model"]["state"] == "ready" and q["queued"] == 0 and q["running"] == 0 \
                and st["server"]["pending_debounce"] == 0:
            return st
        assert time.monotonic() < deadline, f"not idle: {st['queue']}"
        time.sleep(0.05)


def popups(s: RawServer) -> list[dict]:
    return [m for m in s.seen if m.get("method") == "window/showMessage"]


def end(s: RawServer) -> int:
    assert "result" in s.call("shutdown")
    s.notify("exit")
    return s.wait(30)


def hover_params(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


# ---------------------------------------------------------------------------------------------------- item 8


def test_requests_with_missing_or_invalid_params_get_invalid_params(raw, tiny_model_dir, tmp_path, summary_of):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = s.open(tmp_path / "m.py", f"{ADD}\n")
    cases = [
        ("textDocument/hover", None, True),
        ("textDocument/hover", {}, False),
        ("textDocument/hover", hover_params(uri, -1, 0), False),
        ("textDocument/codeLens", None, True),
        ("textDocument/codeLens", {"textDocument": 5}, False),
    ]
    for method, params, omit in cases:
        r = s.call(method, params, omit_params=omit, timeout=10)
        assert r.get("error", {}).get("code") == -32602, (method, params, r)
        assert method in r["error"]["message"]
    for args in ([uri, "x"], [uri]):  # showSummary(uri, line, character) with a line that is not one
        r = s.call("workspace/executeCommand", {"command": "lenscribe.showSummary", "arguments": args})
        assert ("error" in r) == (len(args) == 2), r
        if "error" in r:
            assert r["error"]["code"] == -32602
    r = s.call("workspace/executeCommand", {"command": "lenscribe.summarizeFile", "arguments": [42]})
    assert r["error"]["code"] == -32602
    for command in ("lenscribe.insertDocstring", "lenscribe.regenerateSummary", "lenscribe.summaryAt"):
        for args in ([uri, "x"], [uri], [42, 0, 0], [], [{"uri": uri, "position": {"line": "x"}}]):
            r = s.call("workspace/executeCommand", {"command": command, "arguments": args})
            assert r.get("error", {}).get("code") == -32602, (command, args, r)
            assert command in r["error"]["message"]
    h = s.call("textDocument/hover", hover_params(uri, 0, 1))["result"]  # still serving
    assert summary_of(ADD) in h["contents"]["value"]
    assert popups(s) == []
    assert end(s) == 0


def test_unparsable_messages_get_parse_errors_and_no_popups(raw, tiny_model_dir, tmp_path):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    for i in range(20):
        s.send_bytes(b"{not json " + str(i).encode())
    s.send_bytes(b'{"jsonrpc": "2.0", "id": 5, "method": "x", "params": {\xff\xfe}')  # not UTF-8
    s.send_bytes(b"[1, 2, 3]")  # JSON, not a message
    s.send_bytes(b'{"id": 7, "method": "textDocument/hover"}')  # no "jsonrpc"
    assert "queue" in stats(s)  # answered after all of them
    errors = [m for m in s.seen if "error" in m]
    parse = [m for m in errors if m["error"]["code"] == -32700]
    assert len(parse) == 21 and all(m["id"] is None for m in parse), errors
    assert sorted(m["id"] or 0 for m in errors if m["error"]["code"] == -32600) == [0, 7]
    assert popups(s) == []  # no popup per bad message
    assert end(s) == 0


def test_a_message_too_large_to_hold_ends_the_session_cleanly(raw, tiny_model_dir, tmp_path):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    s.send_bytes(b"{}", length=100_000_000_000)  # 1e11 bytes announced
    assert s.wait(30) == 1
    err = s.stderr()
    assert "MemoryError" not in err and "Traceback" not in err
    assert "100000000000 bytes is over the" in err  # the reason is logged


def test_exit_without_shutdown_is_status_1(raw, tiny_model_dir, tmp_path):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    s.notify("exit")
    assert s.wait(30) == 1


def test_requests_after_shutdown_are_invalid_requests(raw, tiny_model_dir, tmp_path):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = s.open(tmp_path / "m.py", f"{ADD}\n")
    assert s.call("shutdown") == {"jsonrpc": "2.0", "id": s._next_id, "result": None}
    for method, params in (("textDocument/hover", hover_params(uri, 0, 1)),
                           ("workspace/executeCommand", {"command": "lenscribe.stats"})):
        r = s.call(method, params, timeout=10)
        assert r.get("error", {}).get("code") == -32600, r
    s.notify("exit")
    assert s.wait(30) == 0


def test_the_server_exits_when_its_client_process_dies(raw, tiny_model_dir, tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        s = raw()
        s.initialize(base_options(tiny_model_dir, tmp_path / "cache"), process_id=parent.pid)
        assert "queue" in stats(s)
        time.sleep(3)
        assert s.proc.poll() is None  # the parent lives: so does the server
    finally:
        parent.kill()
        parent.wait()
    assert s.wait(20) == 1  # gone without shutdown: status 1


# ---------------------------------------------------------------------------------------------------- item 6


def busy_file(k: int, n: int = 60) -> str:
    return "\n\n".join(f"def f{k}_{i}(a, b):\n    x = a * {i} + b\n    return x - {k}\n" for i in range(n))


def test_shutdown_while_summarizing_exits_0_every_time(raw, tiny_model_dir, tmp_path):
    for attempt in range(5):
        s = raw()
        s.initialize(base_options(tiny_model_dir, tmp_path / f"cache-{attempt}", batchSize=8))
        for k in range(4):
            s.open(tmp_path / f"busy{k}.py", busy_file(k))
        deadline = time.monotonic() + 30
        while (st := stats(s))["chunks_summarized"] < 8 or st["queue"]["queued"] == 0:  # busy: started, more queued
            assert time.monotonic() < deadline, st["queue"]
            time.sleep(0.02)
        started = time.monotonic()
        rc = end(s)
        err = s.stderr()
        assert rc == 0, f"attempt {attempt}: status {rc}\n{err[-3000:]}"
        assert "terminate called" not in err
        assert "Traceback" not in err and "GenerationStopped" not in err, err[-3000:]  # stopping is not failing
        assert time.monotonic() - started < 15


# ---------------------------------------------------------------------------------------------------- item 9


def test_lone_surrogates_do_not_sink_a_batch(raw, tiny_model_dir, tmp_path, summary_of):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache", batchSize=8))
    odd = "def odd(s):\n    return s + '\udcff'"  # json.dumps writes "\udcff", as an editor can
    uri = s.open(tmp_path / "m.py", f"{ADD}\n\n\n{odd}\n\n\n{READ_LINES}\n")
    wait_idle(s)
    lenses = s.call("textDocument/codeLens", {"textDocument": {"uri": uri}})["result"]
    assert len(lenses) == 3
    assert [lens["data"]["pending"] for lens in lenses] == [False, False, False]
    assert lenses[0]["command"]["title"] == summary_of(ADD) + " · generated"
    assert lenses[2]["command"]["title"] == summary_of(READ_LINES) + " · generated"
    assert stats(s)["queue"]["failed"] == 0
    assert end(s) == 0


# ---------------------------------------------------------------------------------------------------- item 4


def summarize_file(s: RawServer, uri: str, timeout: float = 10.0) -> dict:
    return s.call("workspace/executeCommand", {"command": "lenscribe.summarizeFile", "arguments": [uri]},
                  timeout=timeout)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs, symlinks and /proc")
def test_summarize_file_reads_only_workspace_files(raw, tiny_model_dir, tmp_path, summary_of):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "mod.py").write_text(f"{ADD}\n")
    secret = tmp_path / "secret.py"  # outside the workspace
    secret.write_text(f"{READ_LINES}\n")
    (ws / "link.py").symlink_to(secret)
    (ws / "sub").mkdir()
    os.mkfifo(ws / "sub" / "pipe.py")
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"), root=ws)
    ok = summarize_file(s, (ws / "mod.py").as_uri(), timeout=30)["result"]
    assert [r["summary"] for r in ok["summaries"]] == [summary_of(ADD)]
    refused = {
        secret.as_uri(): "outside the workspace",
        (ws / "link.py").as_uri(): "outside the workspace",  # a symlink is followed, then refused
        "file:///etc/passwd": "outside the workspace",
        "file:///proc/self/fd/0": "",  # its own stdin: would eat the LSP stream
        (ws / "sub" / "pipe.py").as_uri(): "not a regular file",  # would block the read forever
        (ws / "missing.py").as_uri(): "cannot be resolved",
    }
    for uri, why in refused.items():
        r = summarize_file(s, uri)
        assert r.get("error", {}).get("code") == -32602, (uri, r)
        assert why in r["error"]["message"] and "workspace folders" in r["error"]["message"]
    assert stats(s)["model"]["state"] == "ready"  # the session survived
    opened = s.open(secret, f"{READ_LINES}\n")  # an open document is the client's to give, wherever it lives
    rows = summarize_file(s, opened, timeout=30)["result"]["summaries"]
    assert [r["summary"] for r in rows] == [summary_of(READ_LINES)]
    assert end(s) == 0


# ---------------------------------------------------------------------------------------------------- issue 24, 13


def test_notifications_sent_with_an_id_are_answered(raw, tiny_model_dir, tmp_path):
    """A notification's method with an id is a request (JSON-RPC): it gets an answer, and it still takes effect."""
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = (tmp_path / "m.py").as_uri()
    ids = [s.request("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                               "text": f"{ADD}\n"}}),
           s.request("$/cancelRequest", {"id": 12345}),
           s.request("workspace/didChangeConfiguration", {"settings": {}})]
    for msg_id in ids:
        r = s.response(msg_id, timeout=10)
        assert "result" in r or r["error"]["code"] in (-32600, -32601), r
    h = s.call("textDocument/hover", hover_params(uri, 0, 1))["result"]  # the didOpen took effect
    assert "add" in h["contents"]["value"]
    assert end(s) == 0


def test_insert_docstring_answers_when_the_client_replies_null(raw, tiny_model_dir, tmp_path):
    """``workspace/applyEdit`` answered with ``null`` (RawServer answers every server request so): the command still
    answers, saying the edit was not applied."""
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = s.open(tmp_path / "m.py", f"{ADD}\n")
    wait_idle(s)
    r = s.call("workspace/executeCommand", {"command": "lenscribe.insertDocstring", "arguments": [uri, 0, 4]},
               timeout=20)
    assert r["result"]["applied"] is False, r
    assert any(m.get("method") == "workspace/applyEdit" for m in s.seen)
    assert end(s) == 0


def test_wrong_arguments_are_invalid_params_in_one_log_line(raw, tiny_model_dir, tmp_path):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = s.open(tmp_path / "m.py", f"{ADD}\n")
    wait_idle(s)
    for command in ("lenscribe.regenerateSummary", "lenscribe.insertDocstring", "lenscribe.summaryAt",
                    "lenscribe.showSummary"):
        for args in ([uri, 99999, 0], [uri, -5, 0], [uri, 0, -1]):
            r = s.call("workspace/executeCommand", {"command": command, "arguments": args}, timeout=20)
            assert "result" in r or r["error"]["code"] == -32602, (command, args, r)
    for args in ([uri, "x"], [42, 0, 0], []):
        r = s.call("workspace/executeCommand", {"command": "lenscribe.regenerateSummary", "arguments": args})
        assert r["error"]["code"] == -32602
    assert end(s) == 0
    err = s.stderr()
    assert "Traceback" not in err, err[-4000:]


def test_a_second_initialize_is_invalid_request_and_changes_nothing(raw, tiny_model_dir, tmp_path, summary_of):
    s = raw()
    s.initialize(base_options(tiny_model_dir, tmp_path / "cache"))
    uri = s.open(tmp_path / "m.py", f"{ADD}\n")
    wait_idle(s)
    threads = len(os.listdir(f"/proc/{s.proc.pid}/task")) if os.path.isdir("/proc") else 0
    again = {"processId": os.getpid(), "capabilities": {},
             "initializationOptions": {"lenscribe": base_options(tiny_model_dir, tmp_path / "c2")}}
    for _ in range(5):
        r = s.call("initialize", again)
        assert r.get("error", {}).get("code") == -32600, r
        assert "initialized" in r["error"]["message"]
    st = wait_idle(s)
    assert uri in st["documents"]  # the open document is kept
    assert st["settings"]["cache_dir"] == str(tmp_path / "cache")  # and the settings
    if threads:  # no new engine, pools or threads per initialize (each one added 4)
        assert len(os.listdir(f"/proc/{s.proc.pid}/task")) <= threads + 2
    h = s.call("textDocument/hover", hover_params(uri, 0, 1))["result"]
    assert summary_of(ADD) in h["contents"]["value"]
    assert end(s) == 0
