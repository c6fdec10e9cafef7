"""A tiny llama-architecture GGUF that llama.cpp loads and serves, written by the tests themselves with the ``gguf``
package (a few MB, in milliseconds): deterministic, and it answers every chat with one known sentence.

    path = write_tiny_gguf(tmp_path / "tiny.gguf")                 # replies REPLY ("Reads the file.")
    path = write_tiny_gguf(tmp_path / "t.gguf", reply=["Sorts", "▁the", "▁list", "."])

How it works: a one-layer llama whose attention and feed-forward outputs are zero, so the residual stream at each
position is the current token's embedding; embeddings are one-hot (``n_embd`` >= the vocabulary), so the logits are a
column of ``output.weight``: a bigram table. Every token leads to the reply's first word, each reply token to the
next, the last to ``</s>`` (EOS): whatever the prompt, greedy decoding writes the reply and stops. The vocabulary is
a SentencePiece-style one ("llama" tokenizer): ``<unk>``, ``<s>``, ``</s>``, ChatML's ``<|im_start|>`` /
``<|im_end|>`` (control tokens), the 256 byte tokens (any text tokenizes) and the reply's words. The GGUF carries a
ChatML chat template, so ``/v1/chat/completions`` of ``llama_cpp.server`` works without ``--chat_format``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPLY = ("Reads", "▁the", "▁file", ".")
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
NAME = "lenscribe-tiny-bigram"

_NORMAL, _UNKNOWN, _CONTROL, _BYTE = 1, 2, 3, 6


def vocabulary(reply: tuple[str, ...] | list[str]) -> tuple[list[str], list[int]]:
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [_UNKNOWN, _CONTROL, _CONTROL, _CONTROL, _CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [_BYTE] * 256
    for word in reply:
        if word in tokens:
            raise ValueError(f"reply token {word!r} twice or a reserved token")
        tokens.append(word)
        types.append(_NORMAL)
    return tokens, types


def write_tiny_gguf(path: Path, reply: tuple[str, ...] | list[str] = REPLY, context: int = 4096) -> Path:
    """Write the model to ``path``; returns ``path``."""
    import gguf

    tokens, types = vocabulary(reply)
    n_vocab = len(tokens)
    n_head = 4
    n_embd = -(-n_vocab // (2 * n_head)) * 2 * n_head  # >= the vocabulary, a multiple of 2 * heads (rope pairs)
    n_ff = 32
    eos = tokens.index("</s>")
    first = tokens.index(reply[0])

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(NAME)
    w.add_context_length(context)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(tokens.index("<s>"))
    w.add_eos_token_id(eos)
    w.add_unk_token_id(0)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    f32 = np.float32
    embd = np.zeros((n_vocab, n_embd), f32)  # numpy shape (rows, cols): GGUF's ne = (n_embd, n_vocab)
    embd[np.arange(n_vocab), np.arange(n_vocab)] = 1.0
    out = np.zeros((n_vocab, n_embd), f32)  # logits[n] = out[n] . h: out[next(t), t] = 1
    nxt = np.full(n_vocab, first)
    ids = [tokens.index(word) for word in reply]
    for a, b in zip(ids, ids[1:], strict=False):
        nxt[a] = b
    nxt[ids[-1]] = eos
    out[nxt, np.arange(n_vocab)] = 1.0
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, f32))
    w.add_tensor("output.weight", out)
    rng = np.random.default_rng(0)
    w.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, f32))
    for name in ("attn_q", "attn_k", "attn_v"):
        w.add_tensor(f"blk.0.{name}.weight", rng.standard_normal((n_embd, n_embd)).astype(f32) * 0.02)
    w.add_tensor("blk.0.attn_output.weight", np.zeros((n_embd, n_embd), f32))  # attention adds nothing
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, f32))
    w.add_tensor("blk.0.ffn_gate.weight", rng.standard_normal((n_ff, n_embd)).astype(f32) * 0.02)
    w.add_tensor("blk.0.ffn_up.weight", rng.standard_normal((n_ff, n_embd)).astype(f32) * 0.02)
    w.add_tensor("blk.0.ffn_down.weight", np.zeros((n_embd, n_ff), f32))  # nor does the feed-forward
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def reply_text(reply: tuple[str, ...] | list[str] = REPLY) -> str:
    """What the model answers, as text."""
    return "".join(reply).replace("▁", " ")
