"""A T5 (CodeT5's architecture) in plain PyTorch for training: the same weights and state-dict names as transformers'
``T5ForConditionalGeneration`` (ReLU feed-forward, relative position buckets, tied embedding), so a model trained
here loads there unchanged and goes through ``lenscribe model build`` like any checkpoint.

Why not transformers' own module: it computes attention as explicit matmuls with a softmax in between (three
kernels and a (B, H, L, L) probability tensor kept for backward), pads the loss over every target position, and
depends on a transformers version. Here attention is one ``scaled_dot_product_attention`` call with T5's position
bias (plus padding / causal masking) as its additive mask and T5's unscaled logits (``scale=1``), the loss projects
only the real target tokens through the vocabulary, and nothing needs more than torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

NEG_INF = -1e9  # finite: a fully masked row must not give NaN in bf16


def _random_bytes(shape: torch.Size) -> torch.Tensor:
    """Uniform random bytes of ``shape`` on the CPU, eight per draw of the generator (``torch.manual_seed`` decides
    them)."""
    n = math.prod(shape)
    words = torch.empty((n + 7) // 8, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
    return words.view(torch.uint8)[:n].view(shape)


class Dropout(nn.Module):
    """``nn.Dropout``, cheaper on a CPU: the keep mask is a comparison of random bytes, eight drawn at once, so ``p``
    is rounded to a multiple of 1/256 (0.1 -> 26/256). PyTorch's CPU dropout draws one Bernoulli sample per element
    and was 16-24% of a training step of the shipped model's shape on 2 cores (``torch.profiler``); this mask costs
    about a tenth of that. On a GPU (Philox, fused) and in eval mode it is ``F.dropout`` as before."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.threshold = round(p * 256)
        self.scale = 256 / (256 - self.threshold) if self.threshold < 256 else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        # one multiply by a mask already in x's dtype and scaled: a bool mask costs two more passes and casts
        return x * ((_random_bytes(x.shape) >= self.threshold).to(x.dtype) * self.scale)


@dataclass(frozen=True)
class T5Shape:
    vocab_size: int = 32100
    d_model: int = 256
    d_kv: int = 64
    d_ff: int = 1024
    num_layers: int = 4  # encoder blocks
    num_decoder_layers: int = 2
    num_heads: int = 4
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    pad_token_id: int = 0
    eos_token_id: int = 2
    bos_token_id: int = 1
    decoder_start_token_id: int = 0

    def hf_config(self) -> dict:
        """transformers' config.json for the same model."""
        return asdict(self) | {
            "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "feed_forward_proj": "relu",
            "dense_act_fn": "relu", "is_gated_act": False, "is_encoder_decoder": True, "tie_word_embeddings": True,
            "initializer_factor": 1.0, "use_cache": True}

    @classmethod
    def from_hf_config(cls, cfg: dict) -> T5Shape:
        if cfg.get("feed_forward_proj", "relu") != "relu" or not cfg.get("tie_word_embeddings", True):
            raise ValueError("only ReLU T5 with a tied embedding (CodeT5's architecture) is supported")
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


def relative_position_bucket(relative_position: torch.Tensor, bidirectional: bool, num_buckets: int,
                             max_distance: int) -> torch.Tensor:
    """T5's bucketing of (key - query) offsets, as transformers computes it."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets
        relative_position = relative_position.abs()
    else:
        relative_position = -torch.clamp(relative_position, max=0)
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    large = max_exact + (torch.log(relative_position.float().clamp(min=1) / max_exact)
                         / math.log(max_distance / max_exact) * (num_buckets - max_exact)).long()
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(is_small, relative_position, large)


class RMSNorm(nn.Module):
    """T5's layer norm: no mean, no bias, statistics in fp32."""

    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        y = x * torch.rsqrt(var + self.eps)
        return self.weight * y.to(self.weight.dtype if self.weight.dtype in (torch.float16, torch.bfloat16)
                                  else y.dtype)


class Attention(nn.Module):
    def __init__(self, s: T5Shape, has_bias: bool, bidirectional: bool):
        super().__init__()
        inner = s.num_heads * s.d_kv
        self.h, self.dk = s.num_heads, s.d_kv
        self.q = nn.Linear(s.d_model, inner, bias=False)
        self.k = nn.Linear(s.d_model, inner, bias=False)
        self.v = nn.Linear(s.d_model, inner, bias=False)
        self.o = nn.Linear(inner, s.d_model, bias=False)
        self.bidirectional = bidirectional
        self.buckets, self.max_distance = s.relative_attention_num_buckets, s.relative_attention_max_distance
        if has_bias:
            self.relative_attention_bias = nn.Embedding(s.relative_attention_num_buckets, s.num_heads)
        self.dropout = s.dropout_rate

    def position_bias(self, q_len: int, k_len: int, device, offset: int = 0) -> torch.Tensor:
        """(1, H, q_len, k_len) additive bias; ``offset``: the first query's position (incremental decoding)."""
        ctx = torch.arange(offset, offset + q_len, device=device)[:, None]
        mem = torch.arange(k_len, device=device)[None, :]
        b = relative_position_bucket(mem - ctx, self.bidirectional, self.buckets, self.max_distance)
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.h, self.dk).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:
        """``mask``: additive, broadcastable to (B, H, Lq, Lk), position bias included where there is one."""
        src = x if kv is None else kv
        q, k, v = self.split(self.q(x)), self.split(self.k(src)), self.split(self.v(src))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype),
                                             dropout_p=self.dropout if self.training else 0.0, scale=1.0)
        b, _, n, _ = out.shape
        return self.o(out.transpose(1, 2).reshape(b, n, self.h * self.dk))


class FeedForward(nn.Module):
    def __init__(self, s: T5Shape):
        super().__init__()
        self.wi = nn.Linear(s.d_model, s.d_ff, bias=False)
        self.wo = nn.Linear(s.d_ff, s.d_model, bias=False)
        self.drop = Dropout(s.dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(self.drop(F.relu(self.wi(x))))


class _Sub(nn.Module):
    """One pre-norm residual sub-layer; attribute names follow transformers (SelfAttention / EncDecAttention /
    DenseReluDense, layer_norm)."""

    def __init__(self, s: T5Shape, kind: str, **kw):
        super().__init__()
        if kind == "ff":
            self.DenseReluDense = FeedForward(s)
        elif kind == "self":
            self.SelfAttention = Attention(s, **kw)
        else:
            self.EncDecAttention = Attention(s, has_bias=False, bidirectional=True)
        self.layer_norm = RMSNorm(s.d_model, s.layer_norm_epsilon)
        self.drop = Dropout(s.dropout_rate)


class Block(nn.Module):
    def __init__(self, s: T5Shape, decoder: bool, has_bias: bool):
        super().__init__()
        self.decoder = decoder
        subs = [_Sub(s, "self", has_bias=has_bias, bidirectional=not decoder)]
        if decoder:
            subs.append(_Sub(s, "cross"))
        subs.append(_Sub(s, "ff"))
        self.layer = nn.ModuleList(subs)

    def forward(self, x: torch.Tensor, self_mask: torch.Tensor, enc: torch.Tensor | None = None,
                cross_mask: torch.Tensor | None = None) -> torch.Tensor:
        sa = cast(_Sub, self.layer[0])
        x = x + sa.drop(sa.SelfAttention(sa.layer_norm(x), self_mask))
        if self.decoder:
            ca = cast(_Sub, self.layer[1])
            x = x + ca.drop(ca.EncDecAttention(ca.layer_norm(x), cross_mask, kv=enc))
        ff = cast(_Sub, self.layer[-1])
        return x + ff.drop(ff.DenseReluDense(ff.layer_norm(x)))


class Stack(nn.Module):
    def __init__(self, s: T5Shape, decoder: bool, embed: nn.Embedding):
        super().__init__()
        n = s.num_decoder_layers if decoder else s.num_layers
        self.embed_tokens = embed
        self.block = nn.ModuleList([Block(s, decoder, has_bias=i == 0) for i in range(n)])
        self.final_layer_norm = RMSNorm(s.d_model, s.layer_norm_epsilon)
        self.dropout = Dropout(s.dropout_rate)

    def bias(self) -> Attention:
        return cast(_Sub, cast(Block, self.block[0]).layer[0]).SelfAttention


class T5(nn.Module):
    def __init__(self, s: T5Shape):
        super().__init__()
        self.shape = s
        self.shared = nn.Embedding(s.vocab_size, s.d_model)
        self.encoder = Stack(s, False, self.shared)
        self.decoder = Stack(s, True, self.shared)
        self.lm_head = nn.Linear(s.d_model, s.vocab_size, bias=False)
        self.lm_head.weight = self.shared.weight
        self.reset_parameters()

    def reset_parameters(self, factor: float = 1.0) -> None:
        """transformers' T5 initialisation (``_init_weights``)."""
        s = self.shape
        with torch.no_grad():
            self.shared.weight.normal_(0.0, factor)
            for m in self.modules():
                if isinstance(m, RMSNorm):
                    m.weight.fill_(factor)
                elif isinstance(m, FeedForward):
                    m.wi.weight.normal_(0.0, factor * s.d_model ** -0.5)
                    m.wo.weight.normal_(0.0, factor * s.d_ff ** -0.5)
                elif isinstance(m, Attention):
                    m.q.weight.normal_(0.0, factor * (s.d_model * s.d_kv) ** -0.5)
                    m.k.weight.normal_(0.0, factor * s.d_model ** -0.5)
                    m.v.weight.normal_(0.0, factor * s.d_model ** -0.5)
                    m.o.weight.normal_(0.0, factor * (s.num_heads * s.d_kv) ** -0.5)
                    if hasattr(m, "relative_attention_bias"):
                        m.relative_attention_bias.weight.normal_(0.0, factor * s.d_model ** -0.5)

    # -- pieces -------------------------------------------------------------------------------------------------

    def encoder_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1, S) additive padding mask."""
        return ((input_ids == self.shape.pad_token_id).to(torch.float32) * NEG_INF)[:, None, None, :]

    def encode(self, input_ids: torch.Tensor) -> torch.Tensor:
        pad = self.encoder_mask(input_ids)
        n = input_ids.shape[1]
        mask = self.encoder.bias().position_bias(n, n, input_ids.device) + pad
        x = self.encoder.dropout(self.shared(input_ids))
        for blk in self.encoder.block:
            x = blk(x, mask)
        return self.encoder.dropout(self.encoder.final_layer_norm(x))

    def decode(self, decoder_input_ids: torch.Tensor, enc: torch.Tensor, enc_pad: torch.Tensor) -> torch.Tensor:
        """Decoder hidden states (teacher forcing / full recompute), before the vocabulary projection."""
        t = decoder_input_ids.shape[1]
        dev = decoder_input_ids.device
        causal = torch.triu(torch.full((t, t), NEG_INF, device=dev), diagonal=1)
        mask = self.decoder.bias().position_bias(t, t, dev) + causal
        x = self.decoder.dropout(self.shared(decoder_input_ids))
        for blk in self.decoder.block:
            x = blk(x, mask, enc, enc_pad)
        return self.decoder.dropout(self.decoder.final_layer_norm(x))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.lm_head(h * self.shape.d_model ** -0.5)

    def forward(self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor) -> torch.Tensor:
        """Full logits (B, T, V): for checks; training uses ``loss``."""
        enc = self.encode(input_ids)
        return self.logits(self.decode(decoder_input_ids, enc, self.encoder_mask(input_ids)))

    def loss(self, input_ids: torch.Tensor, decoder_input_ids: torch.Tensor, label_pos: torch.Tensor,
             label_ids: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
        """Mean cross entropy over the real target tokens only: ``label_pos`` indexes the flattened (B*T) decoder
        positions, ``label_ids`` their tokens (found on the host, so the step needs no device-to-host sync)."""
        enc = self.encode(input_ids)
        dec = self.decode(decoder_input_ids, enc, self.encoder_mask(input_ids))
        h = dec.reshape(-1, dec.shape[-1]).index_select(0, label_pos)
        return F.cross_entropy(self.logits(h).float(), label_ids, label_smoothing=label_smoothing)

    @torch.no_grad()
    def greedy(self, input_ids: torch.Tensor, max_new_tokens: int, no_repeat_ngram: int = 3,
               repetition_penalty: float = 1.0) -> torch.Tensor:
        """Greedy decoding as the shipped summarizer does it (no-repeat n-gram ban, CTRL repetition penalty on the
        logits of tokens already generated, decoder start token included, as transformers applies it); recomputes
        the decoder each step (validation only). Returns (B, <= max_new_tokens) ids after the start token, 0-padded
        after the first EOS."""
        s = self.shape
        enc = self.encode(input_ids)
        pad = self.encoder_mask(input_ids)
        b = input_ids.shape[0]
        seq = torch.full((b, 1), s.decoder_start_token_id, dtype=torch.long, device=input_ids.device)
        done = torch.zeros(b, dtype=torch.bool, device=input_ids.device)
        for _ in range(max_new_tokens):
            logits = self.logits(self.decode(seq, enc, pad)[:, -1]).float()
            if repetition_penalty != 1.0:
                prev = logits.gather(1, seq)
                logits.scatter_(1, seq, torch.where(prev > 0, prev / repetition_penalty, prev * repetition_penalty))
            n = no_repeat_ngram
            if n and seq.shape[1] >= n:
                grams = seq.unfold(1, n, 1)  # (B, G, n)
                hit = (grams[:, :, :-1] == seq[:, None, seq.shape[1] - n + 1:]).all(-1)
                ban = torch.zeros_like(logits, dtype=torch.int32).scatter_reduce(1, grams[:, :, -1], hit.int(),
                                                                                 "amax")
                logits = logits.masked_fill(ban.bool(), float("-inf"))
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, s.pad_token_id), nxt)
            seq = torch.cat([seq, nxt[:, None]], 1)
            done |= nxt == s.eos_token_id
            if bool(done.all()):
                break
        return seq[:, 1:]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_hf_state(model: T5, state: dict[str, torch.Tensor]) -> None:
    """Load a transformers T5ForConditionalGeneration state dict (tied copies may be missing)."""
    state = dict(state)
    for k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
        state.setdefault(k, state["shared.weight"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"state dict does not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")


def grow(model: T5, add_encoder_layers: int = 0, add_decoder_layers: int = 0) -> T5:
    """A deeper copy of ``model`` that computes the same function: the new blocks go on top of each stack (below its
    final norm) with their output projections (attention ``o``, feed-forward ``wo``) at zero, so each is the identity
    until training moves it; the old weights are copied. A warm-started student can grow this way without forgetting
    where it started."""
    if add_encoder_layers < 0 or add_decoder_layers < 0:
        raise ValueError("layers can only be added")
    s = model.shape
    bigger = T5(replace(s, num_layers=s.num_layers + add_encoder_layers,
                        num_decoder_layers=s.num_decoder_layers + add_decoder_layers))
    missing, unexpected = bigger.load_state_dict(model.state_dict(), strict=False)
    new = {(stack, i) for stack, old, n in (("encoder", s.num_layers, add_encoder_layers),
                                              ("decoder", s.num_decoder_layers, add_decoder_layers))
           for i in range(old, old + n)}
    if unexpected or any((k.split(".")[0], int(k.split(".")[2])) not in new for k in missing):
        raise ValueError(f"grow: state does not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():
        for stack, i in new:
            for m in getattr(bigger, stack).block[i].modules():
                if isinstance(m, Attention):
                    m.o.weight.zero_()
                elif isinstance(m, FeedForward):
                    m.wo.weight.zero_()
    return bigger


def hf_state(model: T5, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The state dict under transformers' names, the tied embedding once (``shared.weight``)."""
    out = {}
    for k, v in model.state_dict().items():
        if k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
            continue
        v = v.detach().cpu()
        out[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v.clone()
    return out
