"""The optional ``[build]`` dependencies: a clear error when they are missing, and their versions for the manifest."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import logging
import platform
import warnings
from collections.abc import Iterator

from lenscribe.modelbuild.errors import BuildError

# import name -> distribution name; all needed by export/verify, none at run time.
BUILD_MODULES = {
    "torch": "torch",
    "transformers": "transformers",
    "optimum.exporters.onnx": "optimum",
    "optimum.onnx": "optimum-onnx",
    "onnx": "onnx",
}
VERSIONED = ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime", "huggingface_hub", "lenscribe")


def require_build_deps() -> None:
    """Check the build extra up front, so a missing package fails before any work, not in the middle.

    ``find_spec`` rather than import: an up-to-date build then finishes without the seconds torch takes to import.
    """
    missing = []
    for module, dist in BUILD_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module set to None in sys.modules
            found = False
        if not found:
            missing.append(dist)
    if missing:
        raise BuildError(
            f"building a model needs the [build] extra (missing: {', '.join(sorted(set(missing)))}); "
            "install it with: pip install 'lenscribe[build]'"
        )


def tool_versions() -> dict[str, str]:
    """Versions of everything that shapes the built files: recorded in the manifest and part of the step keys."""
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


@contextlib.contextmanager
def quiet_libraries(enabled: bool = True) -> Iterator[None]:
    """Silence the tracer/deprecation chatter of torch.onnx, transformers and optimum (dozens of lines per export).

    Errors still raise; ``lenscribe -v`` (DEBUG logging) keeps everything.
    """
    if not enabled or logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
        hf_logging.set_verbosity(previous)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run torch with ``threads`` intra-op threads (None: leave torch's default), restoring the setting after.

    On a shared or small machine one thread is often several times faster for small models: torch's OpenMP workers
    fight over busy cores.
    """
    if not threads:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
