#!/usr/bin/env python
"""Read a T5's weights back out of a built lenscribe model (int8 ONNX), so training can go on from the shipped model.

    PYTHONPATH=models:server python -m lenscribe_training.export.onnx_weights models/lenscribe-small OUT [--dropout 0.1]

The shipped model keeps no PyTorch checkpoint (models/ holds the int8 graphs only, and training checkpoints live in
the git-ignored .cache/, gone on a fresh machine), so a later training stage warm-starts from what is shipped: every
weight is dequantized (int8, ``(q - zero_point) * scale``, the scale per tensor or per output column) and put back
under its PyTorch name, found from the ONNX node names that torch.onnx gives T5's modules
(``/decoder/block.1/layer.0/SelfAttention/q/MatMul_quant`` -> ``decoder.block.1.layer.0.SelfAttention.q.weight``; the
decoder's cross-attention keys/values sit in the encoder graph under their decoder names). The tied embedding is stored
three times (encoder and decoder Gathers, the lm_head MatMul), each quantized on its own: the three are averaged, which
cancels part of the rounding.

OUT gets a train.py checkpoint (``OUT/model.pt`` + ``OUT/state.json``, for ``train.py train --init-from OUT``) and a
save_pretrained copy in ``OUT/model`` (for ``train.py score`` and ``lenscribe model build``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from lenscribe.modelbuild.export import DECODER_MERGED, DECODER_WITH_PAST, ENCODER
from lenscribe.modelfiles import load_manifest

QUANT_SUFFIX = re.compile(r"_quantized(_merged_\d+)?$")
MERGED_SUFFIX = re.compile(r"_merged_\d+$")
# node name (without the leading "/" and the "/MatMul_quant" or "/Gather" end) -> PyTorch module path
_MATMUL_NODE = re.compile(r"^/(?P<path>.+)/MatMul_quant$")
_GATHER_NODE = re.compile(r"^/(?P<path>.+)/Gather$")


def _tensors(graph) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # small tensors may be Constant nodes rather than initializers
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    out[node.output[0]] = numpy_helper.to_array(a.t)
    return out


def _graphs(model):
    """The top graph and, for the merged decoder, its ``If`` branches (the no-cache branch first)."""
    graphs = [model.graph]
    for node in model.graph.node:
        for a in node.attribute:
            if a.g is not None and a.g.name:
                graphs.append(a.g)
    return graphs


def _module_path(onnx_path: str, side: str) -> str:
    """``block.0/layer.0/SelfAttention/q`` in the encoder graph -> ``encoder.block.0.layer.0.SelfAttention.q``."""
    path = onnx_path.replace("/", ".")
    if path.startswith(("decoder.", "lm_head", "encoder.")):
        return path
    return f"{side}.{path}"


def read_onnx_weights(path: Path, side: str) -> dict[str, list[np.ndarray]]:
    """PyTorch parameter name -> the dequantized copies of it found in one graph file (fp32 numpy arrays)."""
    import onnx

    model = onnx.load(str(path))
    graphs = _graphs(model)
    top = _tensors(model.graph)
    found: dict[str, list[np.ndarray]] = {}

    def add(name: str, value: np.ndarray) -> None:
        copies = found.setdefault(name, [])
        if not any(c.shape == value.shape and np.array_equal(c, value) for c in copies):
            copies.append(value.astype(np.float32))

    for g in graphs:
        # a branch sees the top graph's tensors and its own; the two branches reuse names for different tensors
        tensors = top if g is model.graph else {**top, **_tensors(g)}
        for node in g.node:
            if node.op_type == "MatMulInteger":
                m = _MATMUL_NODE.match(node.name)
                w_name, w_zero = node.input[1], node.input[3]
                if not m or w_name not in tensors:
                    continue
                scale = tensors[w_zero.removesuffix("_zero_point") + "_scale"]
                w = (tensors[w_name].astype(np.float32) - tensors[w_zero].astype(np.float32)) * scale
                add(_module_path(m["path"], side) + ".weight", w.T)  # ONNX keeps x @ W.T's W.T
            elif node.op_type == "Gather" and QUANT_SUFFIX.search(node.input[0] or ""):
                m = _GATHER_NODE.match(node.name)
                if not m:
                    continue
                base = QUANT_SUFFIX.sub("", node.input[0])
                # the matching DequantizeLinear names the scale of this branch
                g_scale = tensors.get(base + "_scale")
                zero = tensors.get(base + "_zero_point")
                if g_scale is None or zero is None:
                    raise ValueError(f"{path.name}: no scale for {node.input[0]}")
                w = (tensors[node.input[0]].astype(np.float32) - zero.astype(np.float32)) * g_scale
                add(_module_path(m["path"], side) + ".weight", w)
        for t in g.initializer:
            name = MERGED_SUFFIX.sub("", t.name)
            if name.endswith("layer_norm.weight"):
                add(name if name.startswith("decoder.") else f"{side}.{name}", tensors[t.name])
    return found


def recover_state_dict(model_dir: Path, reference: dict | None = None) -> tuple[dict, dict[str, int]]:
    """A T5ForConditionalGeneration state dict (torch tensors) for a built model dir, and how many copies each
    parameter was averaged over. Raises ValueError when a parameter is missing or a shape is wrong.

    ``reference``: a state dict of the same architecture giving every name and shape (default: transformers' T5 of
    the model's config.json; lenscribe_training.trainers.t5.T5 has the same names and needs no transformers)."""
    import torch

    if reference is None:
        from transformers import T5Config, T5ForConditionalGeneration

        reference = T5ForConditionalGeneration(T5Config.from_pretrained(model_dir)).state_dict()
    # the encoder graph also holds the decoder's cross-attention key/value projections (named as in the decoder); a
    # model built before that has a merged decoder instead of the decoder step
    decoder = model_dir / DECODER_WITH_PAST
    found = read_onnx_weights(model_dir / ENCODER, "encoder")
    for name, dec_copies in read_onnx_weights(decoder if decoder.is_file() else model_dir / DECODER_MERGED,
                                              "decoder").items():
        found.setdefault(name, []).extend(dec_copies)
    # the tied embedding: encoder.embed_tokens, decoder.shared (the decoder's Gather) and lm_head are one tensor
    tied = [c for k in ("encoder.embed_tokens.weight", "decoder.shared.weight", "lm_head.weight") for c in
            found.pop(k, [])]
    found["shared.weight"] = tied
    state: dict[str, Any] = {}
    copies: dict[str, int] = {}
    for name, ref in reference.items():
        key = "shared.weight" if name in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                           "lm_head.weight") else name
        if not found.get(key):
            raise ValueError(f"{model_dir}: no weights for {name} in the ONNX graphs")
        arrays = found[key]
        if any(a.shape != tuple(ref.shape) for a in arrays):
            raise ValueError(f"{model_dir}: {name} has shape {arrays[0].shape}, the config wants {tuple(ref.shape)}")
        state[name] = torch.from_numpy(np.mean(arrays, axis=0).astype(np.float32))
        copies[name] = len(arrays)
    unused = set(found) - set(reference) - {"shared.weight"}
    if unused:
        raise ValueError(f"{model_dir}: ONNX weights with no PyTorch home: {sorted(unused)[:5]}")
    return state, copies


RUNS = Path(__file__).resolve().parents[1] / "runs"  # training_run.json of each shipped model, by model id


def run_record_path(model_id: str) -> Path:
    """Where runs/ keeps the training record of a shipped model id (it may not be there)."""
    return RUNS / f"{model_id}.json"


def _record_shape(record: dict) -> dict:
    """A training record's model shape in train.py's argument names: from its model_config where it has one."""
    cfg = record.get("model_config")
    if not cfg:
        return record["args"]
    return {"d_model": cfg["d_model"], "d_kv": cfg["d_kv"], "d_ff": cfg["d_ff"], "enc_layers": cfg["num_layers"],
            "dec_layers": cfg["num_decoder_layers"], "heads": cfg["num_heads"]}


def write_checkpoint(model_dir: Path, out: Path, dropout: float) -> dict:
    """OUT/model.pt + OUT/state.json (a train.py checkpoint for --init-from) and OUT/model (save_pretrained)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from lenscribe.tokenization import build_tokenizer

    state, copies = recover_state_dict(model_dir)
    config = T5Config.from_pretrained(model_dir)
    config.dropout_rate = dropout
    model = T5ForConditionalGeneration(config)
    model.load_state_dict(state)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    model.save_pretrained(out / "model", safe_serialization=True)
    build_tokenizer().save(str(out / "model" / "tokenizer.json"))
    manifest = load_manifest(model_dir, check_hashes=False)
    max_src = manifest.architecture.max_input_tokens
    args = {"d_model": config.d_model, "d_kv": config.d_kv, "d_ff": config.d_ff, "enc_layers": config.num_layers,
            "dec_layers": config.num_decoder_layers, "heads": config.num_heads, "dropout": dropout,
            "max_src": max_src, "max_tgt": 48}
    info = {"from_onnx": str(model_dir), "model_id": manifest.model_id,
            "averaged_copies": {k: v for k, v in copies.items() if v > 1}}
    # what train.py's warm start reads: the record of the run that made the model when runs/ keeps it (so the data
    # card can show every stage), else only the shape
    run_state: dict[str, Any] = {"step": 0, "epoch": 0, "elapsed_s": 0.0, "examples_seen": 0, "tokens_seen": 0,
                                 "best_bleu": -1.0, "best_step": None, "history": [], "args": args, "recovered": info}
    record_path = run_record_path(manifest.model_id)
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        info["run_record"] = str(record_path.relative_to(RUNS.parents[2]))
        # the model's shape is the built model's (args above): a fast_train record warm-started from a built model
        # (--init-onnx) keeps its command line's default shape in args, and its model_config is the real one; it
        # counts tokens per phase, not examples
        shape = ("d_model", "d_kv", "d_ff", "enc_layers", "dec_layers", "heads")
        recorded = _record_shape(record)
        if any(recorded[k] != args[k] for k in shape):
            raise ValueError(f"{info['run_record']} does not describe {model_dir}'s shape")
        run_state |= {"step": record["steps"], "elapsed_s": record["train_time_s"],
                      "examples_seen": record.get("examples_seen"), "tokens_seen": record.get("tokens_seen"),
                      "best_bleu": record["best_valid_bleu"], "best_step": record["best_step"],
                      "history": record["history"], "embed_init": record.get("embed_init"),
                      "warm_start": record.get("warm_start"),
                      "args": record["args"] | {k: args[k] for k in shape}}
    (out / "state.json").write_text(json.dumps(run_state, indent=1))
    return info


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path,
                   help="a built lenscribe model (manifest.json and the int8 graphs it names)")
    p.add_argument("out", type=Path)
    p.add_argument("--dropout", type=float, default=0.1)
    a = p.parse_args(argv)
    print(json.dumps(write_checkpoint(a.model_dir, a.out, a.dropout)))


if __name__ == "__main__":
    main()
