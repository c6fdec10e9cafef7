"""The model's input, defined once: how a chunk's code is prepared and cut before the encoder sees it.

The run-time summarizer, the model build's verify step, the data builder, both trainers and the data pack all call
these, so a model is trained on exactly what it is later shown. Needs nothing but the standard library (a training
machine without onnxruntime imports it too).
"""

from __future__ import annotations


def tokenizable(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates (an editor can send ``"\\udcff"`` in JSON) become U+FFFD, which the
    tokenizer accepts (it refuses a str that has no UTF-8 form: "TextInputSequence must be str"). Pairs stay whole."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def prepare_code(code: str) -> str:
    """The model's view of a chunk: tabs expanded, trailing blanks dropped."""
    code = tokenizable(code)
    lines = [line.rstrip() for line in code.expandtabs(4).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def truncate_ids(ids: list[int], limit: int, eos_id: int) -> list[int]:
    """Token ids cut to ``limit``: the head kept (the signature and first lines say most), ``</s>`` last."""
    return ids if len(ids) <= limit else [*ids[: limit - 1], eos_id]
