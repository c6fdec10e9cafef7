"""The `lenscribe` command line: one sub-command per capability, each registered by the module that owns it."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

# Each module exposes register(subparsers) adding its sub-command(s) with set_defaults(func=callable(args) -> int).
COMMAND_MODULES = (
    "lenscribe.summarize_cli",  # lenscribe summarize PATH...
    "lenscribe.modelbuild.cli",  # lenscribe model build|clean
    "lenscribe.lsp.cli",  # lenscribe serve
    "lenscribe.evaluation.cli",  # lenscribe eval
    "lenscribe.bundle",  # lenscribe cache export|import|info
)


def version_text() -> str:
    """``lenscribe 0.1.0`` and, on a second line, the model used when none is configured."""
    from importlib.metadata import PackageNotFoundError, version

    from lenscribe import __version__
    from lenscribe.defaults import default_model_dir

    try:
        installed = version("lenscribe")
    except PackageNotFoundError:  # run from a source tree without an install
        installed = __version__
    model = default_model_dir()
    found = "" if (model / "manifest.json").is_file() else " (missing)"
    return f"lenscribe {installed}\ndefault model: {model}{found}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lenscribe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    parser.add_argument("--version", action="version", version=version_text(),
                        help="print the version and the default model's place, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):  # the module itself is not there (yet): no such command
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a reader gone before the last write fails here, not at exit
        return rc
    except BrokenPipeError:
        # stdout's reader went away (`lenscribe summarize src/ | head`): stop quietly, as Unix tools do, and point
        # stdout at /dev/null so that Python's own flush at exit does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    raise SystemExit(main())
