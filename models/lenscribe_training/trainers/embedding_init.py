"""Start a T5's tied embedding by words (``--embed-init words``): see ``words_embedding_init``."""

from __future__ import annotations

import math
import re

_WORD_BREAKS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def words_embedding_init(model, tok, seed: int, noise: float = 0.1) -> dict:
    """Start the (tied) embedding with what a word piece means: the tokens that spell one word in different cases or
    with the leading-space marker (``user``, ``Ġuser``, ``User``) share a vector, and an identifier token made of
    several words (``ĠgetUserName``) starts as the sum of its words' vectors over sqrt(n).

    CodeT5's BPE gives the ``user`` of ``get_user_name`` and the ``Ġuser`` of "Get the user" different ids; a model
    trained from scratch on ~10^5 pairs must otherwise learn every such correspondence one by one before it can carry
    a name's words into its summary, and in an hour of CPU it does not (it learns a language model of docstrings).
    """
    import torch

    emb = model.shared.weight
    d = emb.shape[1]
    std = float(emb.detach().std())
    g = torch.Generator().manual_seed(seed)
    base: dict[str, torch.Tensor] = {}
    words_of: dict[int, list[str]] = {}
    # by id: get_vocab()'s order changes from process to process, and the order draws the random word vectors
    for text, i in sorted(tok.get_vocab().items(), key=lambda item: item[1]):
        if i < 3 or text.startswith("<") and text.endswith(">"):
            continue
        bare = text.replace("\u0120", "")
        words = [w.lower() for w in _WORD_BREAKS.findall(bare)]
        if not words or "".join(words) != re.sub(r"[^a-z0-9]", "", bare.lower()):
            continue  # punctuation, byte pieces, mixed tokens: keep T5's init
        words_of[i] = words
        if len(words) == 1:
            base.setdefault(words[0], torch.randn(d, generator=g) * std)
    shared = composed = 0
    with torch.no_grad():
        for i, words in words_of.items():
            if len(words) == 1:
                vec = base[words[0]]
                shared += 1
            elif all(w in base for w in words):
                vec = torch.stack([base[w] for w in words]).sum(0) / math.sqrt(len(words))
                composed += 1
            else:
                continue
            emb[i] = vec + torch.randn(d, generator=g) * std * noise
    return {"shared_word_tokens": shared, "composed_identifier_tokens": composed, "words": len(base)}
