"""CodeT5 byte-level BPE tokenizer on the `tokenizers` library.

The vocabulary and merges are the Salesforce CodeT5 ones (BSD-3, see assets/codet5-tokenizer/LICENSE.txt),
extended with the 100 ``<extra_id_N>`` sentinels the hub checkpoints carry, so ids match those checkpoints:
vocab 32100, ``<pad>``=0, ``<s>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>``=4, decoder start = pad = 0.
Encoding a single text gives ``<s> ... </s>`` as CodeT5's RobertaTokenizer does.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

ASSETS = Path(__file__).parent / "assets" / "codet5-tokenizer"

PAD_ID = 0
BOS_ID = 1
EOS_ID = 2
UNK_ID = 3
MASK_ID = 4
DECODER_START_ID = PAD_ID
BASE_VOCAB_SIZE = 32000
NUM_EXTRA_IDS = 100
VOCAB_SIZE = BASE_VOCAB_SIZE + NUM_EXTRA_IDS
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", "<mask>")


def extra_id_token(n: int) -> str:
    return f"<extra_id_{n}>"


def extra_id(n: int) -> int:
    """Id of ``<extra_id_n>``: as in T5 and the CodeT5 checkpoints, ``<extra_id_0>`` is the last id (32099)."""
    if not 0 <= n < NUM_EXTRA_IDS:
        raise ValueError(f"extra id {n} out of range")
    return VOCAB_SIZE - 1 - n


def build_tokenizer(vocab_path: Path | None = None, merges_path: Path | None = None) -> Tokenizer:
    """Build the CodeT5 tokenizer from a vocab.json and merges.txt (the shipped ones by default)."""
    vocab_path = vocab_path or ASSETS / "vocab.json"
    merges_path = merges_path or ASSETS / "merges.txt"
    vocab = json.loads(Path(vocab_path).read_text(encoding="utf-8"))
    if len(vocab) != BASE_VOCAB_SIZE:
        raise ValueError(f"{vocab_path}: expected {BASE_VOCAB_SIZE} entries, found {len(vocab)}")
    for i, tok in enumerate(SPECIAL_TOKENS):
        if vocab.get(tok) != i:
            raise ValueError(f"{vocab_path}: {tok} must have id {i}")
    bpe = models.BPE.from_file(str(vocab_path), str(merges_path), unk_token="<unk>")
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(sep=("</s>", EOS_ID), cls=("<s>", BOS_ID), trim_offsets=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    # Sentinels are added in id order 32000.. (<extra_id_99> first) so each gets its checkpoint id.
    tok.add_special_tokens(
        [AddedToken(extra_id_token(n), special=True, normalized=False) for n in reversed(range(NUM_EXTRA_IDS))]
    )
    if tok.get_vocab_size(with_added_tokens=True) != VOCAB_SIZE:
        raise AssertionError("tokenizer size mismatch")
    return tok


def load_tokenizer(path: Path | None = None) -> Tokenizer:
    """Load a tokenizer.json (a model directory's), or build the shipped CodeT5 one."""
    if path is not None:
        return Tokenizer.from_file(str(path))
    return build_tokenizer()
