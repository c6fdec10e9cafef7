"""The engine's model, as one value (``ModelSlot``), the error a request gets when there is none
(``ModelUnavailable``), and the two steps that fill the slot: open a model directory for a decoding (quick: the
manifest gives the summary id, so cached summaries are served at once), then load its summarizer (hashes checked,
then the tokenizer and the onnxruntime sessions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lenscribe.modelfiles import ModelFiles
    from lenscribe.summarizer import Summarizer

__all__ = ["ModelSlot", "ModelUnavailable", "load_summarizer", "open_model"]


class ModelUnavailable(RuntimeError):
    """No model to run (missing, corrupt, still loading or being replaced)."""


@dataclass(frozen=True)
class ModelSlot:
    """The engine's model, as one value: ``Engine.model`` is replaced whole (never changed in place), so a reader that
    takes ``m = engine.model`` once sees a state, id, summarizer and error that belong together."""

    state: str = "not loaded"  # loading | ready | error
    dir: Path | None = None
    summary_id: str | None = None  # what summaries are cached under: the model's id and the decoding; None: not known
    summarizer: Any = None  # lenscribe.summarizer.Summarizer once ready
    error: str | None = None
    load_seconds: float | None = None
    # a model is loaded or loading (work queued now runs once it is there): a field (set from state and error, also
    # by ``replace``), not a property, so that reading it on every hover calls nothing
    can_summarize: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "can_summarize", self.state in ("ready", "loading", "not loaded")
                           and self.error is None)


def open_model(model_dir: Path, beams: int) -> ModelFiles:
    """The model directory opened for a decoding with ``beams`` beams (the manifest only; raises ModelError)."""
    from lenscribe.decoding import GenerationOptions
    from lenscribe.modelfiles import ModelFiles

    return ModelFiles.open(model_dir, GenerationOptions(num_beams=beams))


def load_summarizer(files: ModelFiles, workers: int) -> Summarizer:
    """The opened model's Summarizer: every file's hash checked, then the tokenizer and sessions (blocking)."""
    from lenscribe.summarizer import Summarizer

    files.verify()
    return Summarizer.from_files(files, workers=workers)
