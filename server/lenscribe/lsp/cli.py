"""`lenscribe serve`: run the language server on stdio (what editors start) or on a TCP port (for debugging).

``create_server`` assembles the server from its feature modules (they import ``lenscribe.lsp.server``, so the server
module cannot import them back).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lenscribe.lsp.server import LenscribeServer

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    mode.add_argument("--tcp", metavar="HOST:PORT", default=None, help="listen on a TCP port instead")
    p.add_argument("--log-file", default=None, help="also write the server's log to this file")
    p.set_defaults(func=run)


def parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def create_server() -> LenscribeServer:
    """A server with every feature registered (one per connection / process). The modules load when it is called,
    not with this one: ``lenscribe --help`` does not load pygls."""
    from lenscribe.lsp import (
        code_actions,
        code_lens,
        commands,
        configuration,
        documents,
        hover,
        lifecycle,
        workspace_run,
    )
    from lenscribe.lsp.server import LenscribeServer

    server = LenscribeServer()
    for feature in (lifecycle, configuration, documents, hover, code_lens, commands, workspace_run, code_actions):
        feature.register(server)
    return server


def run(args: argparse.Namespace) -> int:
    from lenscribe.lsp.lifecycle import flush_and_exit

    if args.log_file:
        handler = logging.FileHandler(args.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        if logging.getLogger().level > logging.INFO:
            logging.getLogger().setLevel(logging.INFO)
    server = create_server()
    # stdout is the LSP channel: a stray print() anywhere must not corrupt it, so Python's sys.stdout becomes stderr
    lsp_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    try:
        if args.tcp:
            try:
                host, port = parse_hostport(args.tcp)
            except argparse.ArgumentTypeError as e:
                print(f"lenscribe serve: {e}", file=sys.stderr)
                return 2
            server.start_tcp(host, port)
        else:
            server.start_io(sys.stdin.buffer, lsp_out)
    finally:
        # the inference threads are stopped and joined here, before the interpreter exits: one still inside
        # onnxruntime during finalization is unwound through C++ frames and aborts the process (SIGABRT)
        server.shutdown_engine(wait=True)
    if server.exit_reason:
        log.warning("lenscribe serve: exiting with status %d: %s", server.exit_code, server.exit_reason)
    if not args.tcp:
        flush_and_exit(server.exit_code)  # pygls' stdin reader thread may still be blocked in a read
    return server.exit_code
