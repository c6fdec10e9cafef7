"""The VS Code end-to-end test's summarizer backend: a real llama.cpp server (``python -m llama_cpp.server``,
tests/llama_server.py) on 127.0.0.1, serving the tiny GGUF the tests write (tests/tiny_gguf.py: it answers every chat
with "Reads the file.").

    PYTHONPATH=tests python client-vscode/test/e2e/llama_backend.py DIR LOG

Writes the GGUF into DIR (a temporary directory), the server's log to LOG, starts the server and prints one JSON line,
``{"url": "http://127.0.0.1:PORT/v1", "model": "tiny", "reply": "Reads the file."}``, once it serves the model. Stops
the server when its stdin closes (the test ended, or died) or on SIGTERM. Exits 2, saying why, when llama-cpp-python's
server is not installed (the ``backend-test`` extra).
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from pathlib import Path

from llama_server import SERVER_MODULES, LlamaServer
from tiny_gguf import reply_text, write_tiny_gguf

ALIAS = "tiny"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(f"llama_cpp.server is not installed in {sys.executable} (missing {', '.join(missing)}): "
              "pip install -e '.[backend-test]'", file=sys.stderr)
        return 2
    out = Path(argv[0])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # -> the with block stops the server
    with LlamaServer(write_tiny_gguf(out / "tiny.gguf"), alias=ALIAS, log=Path(argv[1])) as srv:
        print(json.dumps({"url": srv.url, "model": ALIAS, "reply": reply_text()}), flush=True)
        sys.stdin.read()  # until the test closes it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
