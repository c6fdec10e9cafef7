"""Step 3, quantize: int8 weights, activations quantized on the fly, for CPU inference.

The encoder runs one chunk at a time (``Seq2SeqOnnx``), so onnxruntime's dynamic quantization, one activation scale
per tensor, is one scale per chunk there. The decoder step runs batched: its MatMuls quantize each row on its own
(``rowquant``), so a chunk's summary is the same alone or in any batch.

T5 pitfalls: never fp16 (activations overflow), and a few MatMuls may have to stay fp32 when verify shows
drift — ``keep_fp32`` names them by preset (``lm_head``, ``ffn_out``) or exact node name, and the manifest records
the resolved node list.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lenscribe.modelbuild.errors import BuildError
from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER

# Presets for nodes that may stay fp32, by the node names torch.onnx gives T5's modules.
KEEP_FP32_PRESETS: dict[str, str] = {
    # The output projection: its error lands directly on the logits (and on the argmax).
    "lm_head": r"(^|/)lm_head/MatMul$",
    # FFN output projections: T5's FFN activations have the large outliers that per-tensor activation scales handle
    # worst (the same outliers that make fp16 overflow).
    "ffn_out": r"/DenseReluDense/wo/MatMul$",
}
DEFAULT_OP_TYPES = ("MatMul", "Gather")  # Gather: the embedding tables, half the bytes of a small T5


@dataclass(frozen=True)
class QuantizeOptions:
    """How to quantize; every field goes into the step key and the manifest."""

    per_channel: bool = False  # measured worse than per-tensor on the tiny test model (drift 2.5 vs 0.7); try on yours
    reduce_range: bool = False  # 7-bit weights: only for old CPUs without VNNI where int8 saturates
    keep_fp32: tuple[str, ...] = ()  # presets from KEEP_FP32_PRESETS or exact node names
    op_types: tuple[str, ...] = DEFAULT_OP_TYPES

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def node_names(model_path: Path) -> list[str]:
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    return [n.name for n in model.graph.node]


def resolve_keep_fp32(names: list[str], keep_fp32: tuple[str, ...]) -> list[str]:
    """Node names of one graph to leave in fp32: presets match by pattern, anything else by exact name."""
    chosen: list[str] = []
    for item in keep_fp32:
        pattern = KEEP_FP32_PRESETS.get(item)
        if pattern is not None:
            rx = re.compile(pattern)
            chosen.extend(n for n in names if rx.search(n))
        elif item in names:
            chosen.append(item)
    return sorted(set(chosen))


def check_keep_fp32(all_names: set[str], keep_fp32: tuple[str, ...]) -> None:
    """A name that is neither a preset nor a node of any graph is a typo: fail rather than silently quantize it."""
    unknown = [k for k in keep_fp32 if k not in KEEP_FP32_PRESETS and k not in all_names]
    if unknown:
        presets = ", ".join(KEEP_FP32_PRESETS)
        raise BuildError(f"--keep-fp32: {', '.join(unknown)} is neither a preset ({presets}) nor a node of the graphs")


def quantize_graph(src: Path, dst: Path, options: QuantizeOptions, exclude: list[str], rows: bool = False) -> None:
    """Dynamic int8 quantization of ``src``; with ``rows`` its MatMuls are quantized per row (``rowquant``) and only
    the other op types (the embedding Gathers) by onnxruntime's quantizer."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from lenscribe.modelbuild.rowquant import quantize_rows

    op_types = list(options.op_types)
    if rows and "MatMul" in op_types:
        model = onnx.load(str(src))
        quantize_rows(model, exclude=set(exclude))
        src = dst.with_name(dst.stem + "-rows.onnx")
        onnx.save(model, str(src))
        op_types.remove("MatMul")
        if not op_types:
            shutil.move(src, dst)
            return
    # The quantizer logs a "consider pre-processing" warning per graph through the root logger: noise here.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            src,
            dst,
            op_types_to_quantize=op_types,
            per_channel=options.per_channel,
            reduce_range=options.reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
        )
    except Exception as e:
        raise BuildError(f"quantization of {src.name} failed: {type(e).__name__}: {e}") from e
    finally:
        logging.disable(logging.NOTSET)
        if rows and src.name.endswith("-rows.onnx"):
            src.unlink(missing_ok=True)


def quantize_model(fp32_dir: Path, out_dir: Path, options: QuantizeOptions) -> dict[str, Any]:
    """Quantize the encoder and the decoder step of ``fp32_dir`` into ``out_dir``.

    Returns ``{"encoder": path, "decoder": path, "excluded_nodes": [...]}``.
    """
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    graphs = (ENCODER, DECODER_WITH_PAST)
    names = {g: node_names(fp32_dir / g) for g in graphs}
    check_keep_fp32(set().union(*names.values()), options.keep_fp32)
    excluded: set[str] = set()
    for g in graphs:
        exclude = resolve_keep_fp32(names[g], options.keep_fp32)
        excluded.update(exclude)
        quantize_graph(fp32_dir / g, out_dir / g, options, exclude, rows=g != ENCODER)
    return {"encoder": out_dir / ENCODER, "decoder": out_dir / DECODER_WITH_PAST, "excluded_nodes": sorted(excluded)}
