"""Errors of the build pipeline: each carries a message a user can act on, the CLI prints it without a traceback."""

from __future__ import annotations

from typing import Any


class BuildError(Exception):
    """A build step cannot go on: bad source, missing dependency, failed export..."""


class VerifyFailed(BuildError):
    """The quantized model strays too far from the PyTorch reference; ``report`` holds the measured numbers."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report
