"""Code in, summaries out: the one object the CLI and the language server use to run the model.

It owns the tokenizer and one shared ``Seq2SeqOnnx`` (one InferenceSession per graph, safe across threads), truncates
long inputs, batches, applies a per-request timeout and cleans the output. It knows nothing of LSP or editors.

    Summarizer.load(model_dir, options=GenerationOptions(...))   # in one go (the CLIs)
    files = ModelFiles.open(model_dir, options)   # lenscribe.modelfiles, quick: the manifest, so files.summary_id ...
    files.verify()                                # ... serves cached summaries while this and
    summarizer = Summarizer.from_files(files, workers=2)  # this run
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from lenscribe.decoding import GenerationOptions
from lenscribe.generation import GenerationTimeout, Seq2SeqOnnx, default_intra_op_threads
from lenscribe.model_input import prepare_code, truncate_ids
from lenscribe.modelfiles import Manifest, ModelError, ModelFiles
from lenscribe.postprocess import clean_summary
from lenscribe.tokenization import load_tokenizer

log = logging.getLogger(__name__)

__all__ = ["GenerationTimeout", "ModelError", "ModelFiles", "Summarizer"]


class Summarizer:
    def __init__(self, manifest: Manifest, generator: Seq2SeqOnnx, tokenizer, options: GenerationOptions) -> None:
        self.manifest = manifest
        self.generator = generator
        self.tokenizer = tokenizer
        self.options = options
        self.files = ModelFiles(manifest, options)  # the ids and the input limit
        self.max_input_tokens = self.files.max_input_tokens
        self._lock = threading.Lock()
        self.runs = 0  # number of model calls (batches) made: used by stats and tests

    @classmethod
    def load(
        cls,
        model_dir: Path | str,
        *,
        threads: int | None = None,
        workers: int = 1,
        options: GenerationOptions | None = None,
        check_hashes: bool = True,
    ) -> Summarizer:
        """Load a model directory through its manifest; raises ModelError with a message a user can act on."""
        files = ModelFiles.open(model_dir, options)
        if check_hashes:
            files.verify()
        return cls.from_files(files, threads=threads, workers=workers)

    @classmethod
    def from_files(cls, files: ModelFiles, *, threads: int | None = None, workers: int = 1) -> Summarizer:
        """The tokenizer and onnxruntime sessions of opened model files (``files.verify()`` checks hashes first)."""
        manifest = files.manifest
        try:
            tokenizer = load_tokenizer(manifest.path("tokenizer"))
            generator = Seq2SeqOnnx(
                manifest.path("encoder"),
                manifest.path("decoder"),
                manifest.architecture,
                intra_op_threads=threads or default_intra_op_threads(workers),
            )
        except ModelError:
            raise
        except Exception as e:  # onnxruntime / tokenizers raise their own types on corrupt files
            raise ModelError(f"cannot load model from {manifest.model_dir}: {e}") from e
        return cls(manifest, generator, tokenizer, files.options)

    @property
    def model_id(self) -> str:
        return self.files.model_id

    @property
    def summary_id(self) -> str:
        return self.files.summary_id

    @property
    def model_dir(self) -> Path:
        return self.manifest.model_dir

    def encode(self, code: str) -> tuple[list[int], bool]:
        """Token ids of one chunk, cut to the model's input limit (lenscribe.model_input); True when cut."""
        ids = self.tokenizer.encode(prepare_code(code)).ids
        return truncate_ids(ids, self.max_input_tokens, self.manifest.architecture.eos_token_id), \
            len(ids) > self.max_input_tokens

    def stop(self) -> None:
        """End generations in progress at their next decoder step and refuse new ones (shutting down)."""
        self.generator.stop()

    def summarize(self, codes: list[str], timeout: float | None = None) -> list[str]:
        """One summary per code string (1-2 lines joined by newline; '' if the model produced nothing usable).

        ``timeout`` bounds the whole call in seconds; past it GenerationTimeout is raised. ``codes`` are decoded
        ``options.batch_size`` at a time; a code's summary does not depend on the others in ``codes``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        encoded = [self.encode(c)[0] for c in codes]
        # Similar lengths together: less padding per batch.
        order = sorted(range(len(codes)), key=lambda i: len(encoded[i]))
        results: list[str] = [""] * len(codes)
        size = max(1, self.options.batch_size)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            out = self.generator.generate(
                [encoded[i] for i in idx],
                max_new_tokens=self.options.max_new_tokens,
                num_beams=self.options.num_beams,
                no_repeat_ngram_size=self.options.no_repeat_ngram_size,
                repetition_penalty=self.options.repetition_penalty,
                deadline=deadline,
            )
            with self._lock:
                self.runs += 1
            for i, tokens in zip(idx, out, strict=True):
                results[i] = clean_summary(self.tokenizer.decode(tokens, skip_special_tokens=True))
        return results
