"""train.py's model: a transformers T5ForConditionalGeneration in CodeT5's conventions (CodeT5 vocabulary, pad 0 /
bos 1 / eos 2, decoder start 0, tied embeddings, ReLU feed-forward, relative position buckets), built from a shape,
loaded from a train.py checkpoint (optionally with a deeper decoder), its loss, greedy decoding and optimizer.

torch and transformers are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lenscribe.decoding import DEFAULT_NO_REPEAT_NGRAM  # validation decodes as the run-time default
from lenscribe.tokenization import BOS_ID, DECODER_START_ID, EOS_ID, PAD_ID, VOCAB_SIZE

NO_REPEAT_NGRAM = DEFAULT_NO_REPEAT_NGRAM


@dataclass(frozen=True)
class Shape:
    """The model arguments of a train.py run (its ``--d-model`` ... ``--dropout``)."""

    d_model: int
    d_kv: int | None  # None: d_model // heads
    d_ff: int | None  # None: 4 * d_model
    enc_layers: int
    dec_layers: int
    heads: int
    dropout: float

    @classmethod
    def of(cls, args: Mapping[str, Any] | object) -> Shape:
        """The shape in a run's arguments: a config, or the ``args`` dict of a checkpoint's ``state.json``."""
        get: Callable[[str], Any] = args.__getitem__ if isinstance(args, Mapping) else lambda k: getattr(args, k)
        return cls(d_model=get("d_model"), d_kv=get("d_kv"), d_ff=get("d_ff"), enc_layers=get("enc_layers"),
                   dec_layers=get("dec_layers"), heads=get("heads"), dropout=get("dropout"))


def make_config(shape: Shape):
    """transformers' config of ``shape``: CodeT5's architecture as ``lenscribe_training.trainers.t5.T5Shape.hf_config``
    defines it for both trainers."""
    from transformers import T5Config

    from lenscribe_training.trainers.t5 import T5Shape

    return T5Config(**T5Shape(
        vocab_size=VOCAB_SIZE,
        d_model=shape.d_model,
        d_kv=shape.d_kv or shape.d_model // shape.heads,
        d_ff=shape.d_ff or 4 * shape.d_model,
        num_layers=shape.enc_layers,
        num_decoder_layers=shape.dec_layers,
        num_heads=shape.heads,
        dropout_rate=shape.dropout,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        bos_token_id=BOS_ID,
        decoder_start_token_id=DECODER_START_ID,
    ).hf_config())


def new_model(shape: Shape):
    """A freshly initialized T5 of ``shape`` (draws from torch's global RNG)."""
    from transformers import T5ForConditionalGeneration

    return T5ForConditionalGeneration(make_config(shape))


def model_from_checkpoint(ckpt: Path, shape: Shape, grow_from_dec_layers: int | None = None):
    """A T5 of ``shape`` holding the weights of a train.py checkpoint's model.pt.

    ``grow_from_dec_layers``: the checkpoint has that many decoder blocks and ``shape`` more; the new blocks start as
    copies of the old ones stacked on top (grow_decoder)."""
    import torch

    model = new_model(shape)
    weights = torch.load(ckpt / "model.pt", map_location="cpu")
    if grow_from_dec_layers is not None and grow_from_dec_layers != shape.dec_layers:
        weights = grow_decoder(weights, grow_from_dec_layers, shape.dec_layers)
    model.load_state_dict(weights)
    return model


def grow_decoder(weights: dict, old_layers: int, new_layers: int) -> dict:
    """A state dict with ``new_layers`` decoder blocks from one with ``old_layers``: block j (j >= old_layers) is a copy
    of block j % old_layers, so the old stack is repeated on top of itself (progressive stacking, as in Gong et al.
    2019 for BERT). Only block 0 holds T5's relative attention bias; the copies share it like every later block."""
    if new_layers < old_layers:
        raise ValueError(f"cannot shrink the decoder from {old_layers} to {new_layers} blocks")
    out = dict(weights)
    for j in range(old_layers, new_layers):
        src = f"decoder.block.{j % old_layers}."
        for k, v in weights.items():
            if k.startswith(src) and "relative_attention_bias" not in k:
                out[f"decoder.block.{j}." + k[len(src):]] = v.clone()
    return out


def load_for_scoring(path: Path):
    """A save_pretrained dir, or a train.py checkpoint dir (model.pt + state.json), as a T5 model on the CPU."""
    from transformers import T5ForConditionalGeneration

    if (path / "state.json").exists() and (path / "model.pt").exists():
        return model_from_checkpoint(path, Shape.of(json.loads((path / "state.json").read_text())["args"]))
    return T5ForConditionalGeneration.from_pretrained(path)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields the tied embedding once


def seq2seq_loss(model, batch, label_smoothing: float):
    """Cross entropy over real target tokens only (the vocab projection skips padding); returns (loss, n_tokens)."""
    import torch.nn.functional as F

    enc = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    dec = model.decoder(input_ids=batch["decoder_input_ids"], encoder_hidden_states=enc,
                        encoder_attention_mask=batch["attention_mask"], use_cache=False).last_hidden_state
    h = dec.reshape(-1, dec.shape[-1]).index_select(0, batch["label_pos"])
    if model.config.tie_word_embeddings:
        h = h * (model.config.d_model ** -0.5)
    logits = model.lm_head(h).float()
    loss = F.cross_entropy(logits, batch["label_ids"], label_smoothing=label_smoothing)
    return loss, int(batch["label_ids"].shape[0])


def greedy(model, input_ids, attention_mask, max_new_tokens: int) -> list[list[int]]:
    """Greedy decoding with transformers' generate and validation's rules (no repeated ``NO_REPEAT_NGRAM``-grams):
    id rows after the decoder start token, EOS and padding still in."""
    gen = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                         num_beams=1, do_sample=False, no_repeat_ngram_size=NO_REPEAT_NGRAM,
                         decoder_start_token_id=DECODER_START_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID,
                         past_key_values=fresh_cache())
    return [row[1:] for row in gen.tolist()]


def fresh_cache():
    """An empty KV cache that grows with the decoder: transformers sizes its default one by T5's num_layers (the
    encoder's), so generate() fails on a decoder deeper than the encoder (--grow-dec-layers)."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    return EncoderDecoderCache(DynamicCache(), DynamicCache())


def make_optimizer(model, optimizer: str, lr: float, beta2: float, weight_decay: float, embed_lr_mult: float):
    """AdamW or Adafactor over three groups (weights with decay; norms and biases without; the tied embedding at
    ``embed_lr_mult`` times the rate); each group's ``lr_mult`` scales the scheduled rate."""
    import torch

    decay, no_decay, embed = [], [], []
    for name, p in model.named_parameters():
        if p is model.shared.weight:
            embed.append(p)
        elif p.ndim < 2 or "layer_norm" in name or "relative_attention_bias" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    # T5's tied embedding starts at std 1 and its logits are scaled by d_model**-0.5: T5 trained it with Adafactor,
    # whose steps grow with a parameter's scale; with AdamW's fixed step it learns ~sqrt(d_model) times slower than
    # the rest unless its learning rate is raised (--embed-lr-mult)
    groups = [{"params": decay, "weight_decay": weight_decay, "lr_mult": 1.0},
              {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0},
              {"params": embed, "weight_decay": 0.0, "lr_mult": embed_lr_mult}]
    if optimizer == "adafactor":
        # T5's own optimizer: factored second moments, steps scaled by each parameter's RMS (scale_parameter), which
        # suits T5's unscaled attention and std-1 embedding; the learning rate is relative (T5 pre-trained at 1e-2)
        from transformers.optimization import Adafactor

        return Adafactor(groups, lr=lr, scale_parameter=True, relative_step=False, warmup_init=False,
                         clip_threshold=1.0)
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, beta2), eps=1e-8, fused=True)


