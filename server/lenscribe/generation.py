"""Encoder-decoder generation on onnxruntime: greedy and beam search with a KV cache, batched.

Runs the ONNX graphs of a T5/CodeT5 model as ``lenscribe model build`` writes them (see docs/ARCHITECTURE.md): an
encoder that also gives each decoder layer's cross-attention keys and values, and a decoder step (optimum's
``decoder_with_past`` graph), run with an empty self-attention past for the first token. Only numpy and onnxruntime
are used.

A chunk's tokens do not depend on the other chunks of a batch: each chunk is encoded in a run of its own (the encoder
quantizes activations per tensor, which is then per chunk), and the decoder step quantizes per row
(``lenscribe.modelbuild.rowquant``), so a row computes the same bits alone or among others, and a finished row simply
leaves the batch.

One ``Seq2SeqOnnx`` holds one InferenceSession per graph; onnxruntime sessions are safe to ``run`` from several threads
at once, so the language server's workers share a single instance.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from lenscribe.decoding import DEFAULT_MAX_NEW_TOKENS
from lenscribe.modelfiles import Architecture, ModelError


class GenerationTimeout(TimeoutError):
    """Generation ran past its deadline."""


class GenerationStopped(RuntimeError):
    """Generation was stopped (``Seq2SeqOnnx.stop``): the process is shutting down."""


def default_intra_op_threads(workers: int = 1) -> int:
    """Threads per session run: the machine's cores shared among the workers that run concurrently.

    On a 2-core laptop with one worker that is 2; with two workers, 1 each, so that concurrent requests do not fight
    over cores (oversubscription makes every request slower and the editor less responsive).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def make_session_options(intra_op_threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning worker threads burn a core while idle between decoder steps; on small CPUs that steals time from the
    # editor.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No memory arena: it keeps the high-water mark of a batched decoder step (32 rows of 32,100 logits, several
    # times over) for the life of the process; without it a batch of 32 peaks ~15 MB lower, at no measured cost.
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 3
    return opts


@dataclass
class _Beam:
    tokens: list[int]
    score: float


class Seq2SeqOnnx:
    """Greedy and beam-search decoding: an ONNX encoder (with cross-attention outputs) and a KV-cache decoder step."""

    def __init__(
        self,
        encoder_path: Path | str,
        decoder_path: Path | str,
        architecture: Architecture,
        intra_op_threads: int | None = None,
    ) -> None:
        self.arch = architecture
        threads = intra_op_threads or default_intra_op_threads()
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(encoder_path), sess_options=make_session_options(threads),
                                            providers=providers)
        # A decoder step is ~300 small nodes: split over threads, each node pays a hand-over; one thread decodes a
        # hover with less CPU (and, on a busy machine, less wall time), and a batch uses the threads by decoding its
        # rows in groups at once (generate).
        self.decoder = ort.InferenceSession(str(decoder_path), sess_options=make_session_options(1),
                                            providers=providers)
        decoder_inputs = [i.name for i in self.decoder.get_inputs()]
        self._cross_outputs = sorted(o.name for o in self.encoder.get_outputs() if o.name.startswith("present."))
        if "use_cache_branch" in decoder_inputs or not self._cross_outputs:
            raise ModelError(f"{decoder_path}: a model in the layout of an earlier lenscribe (a merged decoder); "
                             "rebuild it with `lenscribe model build`")
        # the decoder's inputs for the encoder's keys/values, in the encoder's output order
        self._cross_names = ["past_key_values." + n[len("present."):] for n in self._cross_outputs]
        self._self_past = [n for n in decoder_inputs if n.startswith("past_key_values.") and ".decoder." in n]
        self._present_names = [o.name for o in self.decoder.get_outputs() if o.name.startswith("present.")]
        self._step_outputs = ["logits", *self._present_names]
        self._self_past_of_present = ["past_key_values." + n[len("present."):] for n in self._present_names]
        self._threads = threads
        self._float = np.float32
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Make every generation in progress end at its next decoder step (GenerationStopped), and refuse new ones.

        Shutting down: the threads that run ``InferenceSession.run`` must return to Python and be joined before the
        interpreter finalizes; a thread still inside onnxruntime then is unwound by ``pthread_exit`` through C++
        frames, and the process aborts ("terminate called without an active exception")."""
        self._stopped.set()

    def _check(self, deadline: float | None) -> None:
        if self._stopped.is_set():
            raise GenerationStopped("generation stopped: shutting down")
        _check_deadline(deadline)

    # -- building blocks ---------------------------------------------------------------------------------------

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The cross-attention keys and values of a batch of inputs, by the decoder input they feed."""
        values = self.encoder.run(self._cross_outputs, {"input_ids": ids, "attention_mask": mask})
        return dict(zip(self._cross_names, values, strict=True))

    def _encode_each(self, batch_ids: list[list[int]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Each input through the encoder alone, written into one padded batch (the mask hides the padding).

        With more than one thread and more than one input, the encoder runs of a batch go on that many threads at
        once, each run on the session's threads as they come free: a chunk's run is too small to keep two threads busy
        (64 chunks on 2 threads: 7% less CPU per chunk and 30% less wall time than one run after the other, on a 2-core
        machine at load average 4). A run's bits do not depend on its thread or on the runs beside it.
        """
        width = max(len(x) for x in batch_ids)
        mask = np.zeros((len(batch_ids), width), dtype=np.int64)
        cross = {name: np.zeros((len(batch_ids), self.arch.num_heads, width, self.arch.d_kv), dtype=self._float)
                 for name in self._cross_names}

        def one(i: int) -> None:
            ids = np.asarray([batch_ids[i]], dtype=np.int64)
            for name, value in self.encode(ids, np.ones_like(ids)).items():
                cross[name][i, :, : ids.shape[1]] = value[0]
            mask[i, : ids.shape[1]] = 1

        parallel = min(self._threads, len(batch_ids))
        if parallel < 2:
            for i in range(len(batch_ids)):
                one(i)
        else:
            with ThreadPoolExecutor(parallel, thread_name_prefix="lenscribe-encode") as pool:
                list(pool.map(one, range(len(batch_ids))))
        return cross, mask

    def _step(self, decoder_ids: np.ndarray, cross: dict, mask: np.ndarray,
              past: dict | None) -> tuple[np.ndarray, dict]:
        """One decoder run: logits [B, T, V] and the self-attention past with this step's keys/values added.

        onnxruntime hands its output buffers to numpy as they are (no copy): the logits are this step's own, and the
        caller may change them in place.
        """
        feed = {"input_ids": decoder_ids, "encoder_attention_mask": mask, **cross}
        if past is None:
            empty = np.zeros((decoder_ids.shape[0], self.arch.num_heads, 0, self.arch.d_kv), dtype=self._float)
            past = dict.fromkeys(self._self_past, empty)
        feed.update(past)
        outputs = self.decoder.run(self._step_outputs, feed)
        return outputs[0], dict(zip(self._self_past_of_present, outputs[1:], strict=True))

    # -- public API ------------------------------------------------------------------------------------------------

    def forced_logits(self, input_ids: list[int], decoder_ids: list[int]) -> np.ndarray:
        """Logits for every position of ``[start] + decoder_ids`` under teacher forcing: shape [len+1, vocab]."""
        return self.batch_forced_logits([input_ids], decoder_ids)[0]

    def batch_forced_logits(self, batch_ids: list[list[int]], decoder_ids: list[int]) -> np.ndarray:
        """``forced_logits`` of each input with the same ``decoder_ids``, in one batch: [B, len+1, vocab]; each row is
        the same bits as its input's ``forced_logits`` alone."""
        cross, mask = self._encode_each(batch_ids)
        dec = np.tile(np.array([[self.arch.decoder_start_token_id, *decoder_ids]], dtype=np.int64),
                      (len(batch_ids), 1))
        logits, _ = self._step(dec, cross, mask, None)
        return logits

    def generate(
        self,
        batch_ids: list[list[int]],
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        num_beams: int = 1,
        no_repeat_ngram_size: int = 0,
        deadline: float | None = None,
        repetition_penalty: float = 1.0,
    ) -> list[list[int]]:
        """Decode each input; returns the generated ids without the decoder start token and without eos.

        ``deadline`` is a ``time.monotonic()`` value; passing it raises GenerationTimeout between decoder steps.
        ``repetition_penalty`` > 1 makes tokens already generated less likely (_penalize_repeats).
        """
        if not batch_ids:
            return []
        if any(len(x) == 0 for x in batch_ids):
            raise ValueError("empty input sequence")
        self._check(None)
        cross, mask = self._encode_each(batch_ids)
        self._check(deadline)
        rules = _RepeatRules(no_repeat_ngram_size, repetition_penalty)

        def decode(rows: slice) -> list[list[int]]:
            part = {name: value[rows] for name, value in cross.items()}
            if num_beams <= 1:
                return self._greedy(part, mask[rows], max_new_tokens, rules, deadline)
            return self._beam(part, mask[rows], max_new_tokens, num_beams, rules, deadline)

        # The rows are independent: with more than one thread, groups of them decode at once, each its own batch.
        groups = _groups(len(batch_ids), self._threads)
        if len(groups) == 1:
            return decode(groups[0])
        with ThreadPoolExecutor(len(groups), thread_name_prefix="lenscribe-decode") as pool:
            return [tokens for part in pool.map(decode, groups) for tokens in part]

    # -- strategies --------------------------------------------------------------------------------------------------

    def _greedy(self, cross, mask, max_new_tokens, rules: _RepeatRules, deadline) -> list[list[int]]:
        batch = mask.shape[0]
        eos = self.arch.eos_token_id
        out: list[list[int]] = [[] for _ in range(batch)]
        alive = np.arange(batch)  # the inputs still decoding, in the order of the model's rows
        start = np.full((batch, 1), self.arch.decoder_start_token_id, dtype=np.int64)
        logits, past = self._step(start, cross, mask, None)
        for step in range(max_new_tokens):
            scores = logits[:, -1, :]  # this step's own array (_step): the rules below change it in place
            if rules.active:
                for row, b in enumerate(alive):
                    rules.apply(scores[row], out[b])
            nxt = scores.argmax(axis=-1)
            finished = nxt == eos
            for row, b in enumerate(alive):
                if not finished[row]:
                    out[b].append(int(nxt[row]))
            if finished.all() or step == max_new_tokens - 1:
                break
            self._check(deadline)
            if finished.any():
                # A finished input leaves the batch: the rows are independent (per-row quantized decoder), so the
                # others decode on unchanged, and no step is spent on it. The last rows still decoding move into the
                # finished rows' places, so the batch is a prefix of the arrays: a row copied per finished input,
                # not the whole batch's cross-attention keys/values (16 MB at batch 32) each time.
                rows = _fill_holes(finished)
                alive, nxt = alive[rows], nxt[rows]
                mask = _move_rows(mask, rows)
                cross = {name: _move_rows(value, rows) for name, value in cross.items()}
                past = {name: _move_rows(value, rows) for name, value in past.items()}
            logits, past = self._step(nxt.astype(np.int64).reshape(-1, 1), cross, mask, past)
        return out

    def _beam(self, cross, mask, max_new_tokens, k, rules: _RepeatRules, deadline, length_penalty: float = 1.0):
        batch = mask.shape[0]
        eos = self.arch.eos_token_id
        # Expand every input to k rows; row r of input b is b*k + r.
        cross_k = {name: np.repeat(value, k, axis=0) for name, value in cross.items()}
        mask_k = np.repeat(mask, k, axis=0)
        start = np.full((batch * k, 1), self.arch.decoder_start_token_id, dtype=np.int64)
        logits, past = self._step(start, cross_k, mask_k, None)
        beams: list[list[_Beam]] = [[_Beam([], 0.0 if r == 0 else -1e9) for r in range(k)] for _ in range(batch)]
        finished: list[list[_Beam]] = [[] for _ in range(batch)]
        closed = [False] * batch
        for step in range(max_new_tokens):
            logp = _log_softmax(logits[:, -1, :].astype(np.float32))
            vocab = logp.shape[-1]
            rows: list[int] = []
            tokens: list[int] = []
            for b in range(batch):
                if closed[b]:
                    rows.extend([b * k] * k)
                    tokens.extend([self.arch.pad_token_id] * k)
                    continue
                cand = np.empty((k, vocab), dtype=np.float32)
                for r, beam in enumerate(beams[b]):
                    row = logp[b * k + r].copy()
                    if rules.active:
                        rules.apply(row, beam.tokens)
                    cand[r] = beam.score + row
                flat = cand.reshape(-1)
                top = np.argpartition(-flat, 2 * k)[: 2 * k]
                top = top[np.argsort(-flat[top], kind="stable")]
                new_beams: list[_Beam] = []
                new_rows: list[int] = []
                for idx in top:
                    r, tok = divmod(int(idx), vocab)
                    score = float(flat[idx])
                    parent = beams[b][r]
                    if tok == eos:
                        length = max(1, len(parent.tokens) + 1)
                        finished[b].append(_Beam(parent.tokens, score / (length**length_penalty)))
                    else:
                        new_beams.append(_Beam(parent.tokens + [tok], score))
                        new_rows.append(b * k + r)
                    if len(new_beams) == k:
                        break
                finished[b].sort(key=lambda x: -x.score)
                del finished[b][k:]
                beams[b] = new_beams
                rows.extend(new_rows)
                tokens.extend(bm.tokens[-1] for bm in new_beams)
                if len(finished[b]) >= k:
                    best_running = max(bm.score for bm in new_beams) / (max(1, step + 1) ** length_penalty)
                    if finished[b][-1].score >= best_running:
                        closed[b] = True
            if all(closed) or step == max_new_tokens - 1:
                break
            self._check(deadline)
            order = np.array(rows, dtype=np.int64)  # a beam's parent is a row of the same input: cross_k stays
            past = {name: value[order] for name, value in past.items()}
            logits, past = self._step(np.array(tokens, dtype=np.int64).reshape(-1, 1), cross_k, mask_k, past)
        results = []
        for b in range(batch):
            pool = finished[b] or [
                _Beam(bm.tokens, bm.score / (max(1, len(bm.tokens)) ** length_penalty)) for bm in beams[b]
            ]
            if not closed[b]:
                pool = pool + [
                    _Beam(bm.tokens, bm.score / (max(1, len(bm.tokens)) ** length_penalty)) for bm in beams[b]
                ]
            results.append(max(pool, key=lambda x: x.score).tokens)
        return results


def _groups(rows: int, threads: int) -> list[slice]:
    """``rows`` rows in at most ``threads`` consecutive groups of nearly equal size."""
    n = max(1, min(rows, threads))
    bounds = [rows * i // n for i in range(n + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def _fill_holes(finished: np.ndarray) -> np.ndarray:
    """The rows left when the ``finished`` ones leave a batch, in their new order: row ``i`` of the result is the old
    row that takes place ``i``: a row still decoding past the end of the new batch fills a finished row's place."""
    rows = np.arange(len(finished))
    left = len(finished) - int(finished.sum())
    holes = np.flatnonzero(finished[:left])
    rows[holes] = np.flatnonzero(~finished[left:]) + left
    return rows[:left]


def _move_rows(value: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``value[rows]`` for ``rows`` from ``_fill_holes``, in place: only the rows that move are copied, and the result
    is a view of the first ``len(rows)`` rows (contiguous, so onnxruntime reads it without a copy)."""
    moved = np.flatnonzero(rows != np.arange(len(rows)))
    value[moved] = value[rows[moved]]
    return value[: len(rows)]


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise GenerationTimeout("generation timed out")


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class _RepeatRules:
    """What keeps a decoding from looping, applied to one row of next-token scores given the tokens so far."""

    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0

    @property
    def active(self) -> bool:
        return self.no_repeat_ngram_size > 0 or self.repetition_penalty != 1.0

    def apply(self, scores: np.ndarray, tokens: list[int]) -> None:
        _penalize_repeats(scores, tokens, self.repetition_penalty)
        _ban_repeated_ngrams(scores, tokens, self.no_repeat_ngram_size)


def _penalize_repeats(scores: np.ndarray, tokens: list[int], penalty: float) -> None:
    """CTRL's repetition penalty (Keskar et al. 2019, as transformers' ``repetition_penalty`` applies it), in place: the
    score of a token already generated is divided by ``penalty`` where positive and multiplied where negative. The
    no-repeat n-gram ban only sees token n-grams; this also reaches a word looping through other sub-word tokens
    ("cross-cross cross-validation", "a case of case ... of the case")."""
    if penalty == 1.0 or not tokens:
        return
    ids = np.asarray(tokens, dtype=np.int64)  # a repeated id is written twice with the same value: no unique() needed
    v = scores[ids]
    scores[ids] = np.where(v > 0, v / penalty, v * penalty)


def _ban_repeated_ngrams(scores: np.ndarray, tokens: list[int], n: int) -> None:
    """Forbid any token that would complete an n-gram already present in ``tokens`` (in place)."""
    if len(tokens) < n - 1 or n <= 0:
        return
    if n == 1:
        scores[list(set(tokens))] = -np.inf
        return
    prefix = tuple(tokens[len(tokens) - (n - 1) :])
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n - 1]) == prefix:
            scores[tokens[i + n - 1]] = -np.inf
