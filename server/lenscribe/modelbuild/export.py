"""Step 2, export: the fp32 ONNX graphs of a T5 checkpoint: an encoder that also gives the cross-attention keys and
values, and one decoder step.

optimum writes encoder_model.onnx, decoder_model.onnx (first step), decoder_with_past_model.onnx (cached steps) and
decoder_model_merged.onnx (both behind an ``If``) in its ``text2text-generation-with-past`` layout. The first step's
only extra work is projecting the encoder's output to each decoder layer's cross-attention keys and values; those
MatMuls move into the encoder graph (``add_cross_attention``: outputs ``present.{i}.encoder.{key,value}``), and every
step, the first one included (with an empty self-attention past), runs decoder_with_past_model.onnx. The engine then
needs two graphs and no ``If``, and the projections run once per chunk inside its encoder run. The other two decoders
are removed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from lenscribe.modelbuild.deps import quiet_libraries
from lenscribe.modelbuild.errors import BuildError

TASK = "text2text-generation-with-past"
ENCODER = "encoder_model.onnx"
DECODER = "decoder_model.onnx"
DECODER_WITH_PAST = "decoder_with_past_model.onnx"
DECODER_MERGED = "decoder_model_merged.onnx"
EXPORTED = (ENCODER, DECODER_WITH_PAST)
DEFAULT_OPSET = 17
LAYOUT = "encoder with cross-attention keys/values + decoder_with_past"  # the export step's key and the manifest


def export_onnx(source_dir: Path, out_dir: Path, opset: int = DEFAULT_OPSET, quiet: bool = True) -> dict[str, Path]:
    """Export ``source_dir`` into ``out_dir`` (emptied first); returns file name -> path of the four graphs.

    optimum's own validation is off: verify runs a stricter check (greedy tokens and teacher-forced logits on code).
    """
    from optimum.exporters.onnx import main_export

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    try:
        with quiet_libraries(quiet):
            main_export(
                str(source_dir),
                output=str(out_dir),
                task=TASK,
                opset=opset,
                device="cpu",
                do_validation=False,
                local_files_only=True,
                library_name="transformers",
            )
    except Exception as e:  # the exporter raises anything from ValueError to RuntimeError
        raise BuildError(f"ONNX export of {source_dir} failed: {type(e).__name__}: {e}") from e
    paths = {name: out_dir / name for name in (ENCODER, DECODER, DECODER_WITH_PAST)}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        raise BuildError(f"ONNX export of {source_dir} did not produce {', '.join(missing)}")
    add_cross_attention(out_dir / ENCODER, out_dir / DECODER)
    for name in (DECODER, DECODER_MERGED):
        (out_dir / name).unlink(missing_ok=True)
    return {name: out_dir / name for name in EXPORTED}


def add_cross_attention(encoder_path: Path, decoder_path: Path) -> None:
    """Give the encoder graph the decoder's cross-attention key/value projections, as outputs
    ``present.{i}.encoder.{key,value}`` [batch, heads, seq, d_kv] (what the first decoder step computes from
    ``encoder_hidden_states``). The MatMuls keep the decoder's node names, so their weights read back under their
    PyTorch names (``lenscribe_training.export.onnx_weights``)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    encoder = onnx.load(str(encoder_path))
    decoder = onnx.load(str(decoder_path))
    weights = {t.name: t for t in decoder.graph.initializer}
    projections = [n for n in decoder.graph.node if n.op_type == "MatMul" and n.input[0] == "encoder_hidden_states"]
    pattern = re.compile(r"^/decoder/block\.(\d+)/layer\.1/EncDecAttention/([kv])/MatMul$")
    outputs = {o.name: o for o in decoder.graph.output}
    added = []
    for node in projections:
        m = pattern.match(node.name)
        if not m or node.input[1] not in weights:
            raise BuildError(f"{decoder_path.name}: unexpected cross-attention node {node.name}")
        layer, kv = m[1], {"k": "key", "v": "value"}[m[2]]
        out = f"present.{layer}.encoder.{kv}"
        if out not in outputs:
            raise BuildError(f"{decoder_path.name} has no output {out}")
        heads, d_kv = (d.dim_value for d in outputs[out].type.tensor_type.shape.dim[1:4:2])
        weight = numpy_helper.to_array(weights[node.input[1]])
        w_name, shape_name = f"cross.{layer}.{kv}.weight", f"cross.{layer}.{kv}.shape"
        encoder.graph.initializer.extend([
            numpy_helper.from_array(weight, w_name),
            numpy_helper.from_array(np.array([0, -1, heads, d_kv], dtype=np.int64), shape_name),
        ])
        encoder.graph.node.extend([
            helper.make_node("MatMul", ["last_hidden_state", w_name], [out + ".flat"], name=node.name),
            helper.make_node("Reshape", [out + ".flat", shape_name], [out + ".heads"], name=node.name + "/Reshape"),
            helper.make_node("Transpose", [out + ".heads"], [out], name=node.name + "/Transpose", perm=[0, 2, 1, 3]),
        ])
        added.append(helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, ["batch_size", heads,
                                                                                   "encoder_sequence_length", d_kv]))
    if not added:
        raise BuildError(f"{decoder_path.name}: no cross-attention projections found")
    encoder.graph.output.extend(sorted(added, key=lambda o: o.name))
    onnx.save(encoder, str(encoder_path))
