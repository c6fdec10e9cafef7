"""The CodeT5 tokenizer: ids must match the hub checkpoints', round trips must be lossless."""

import json

import pytest

from lenscribe import tokenization as tk

CODE_SAMPLES = [
    "def add(a, b):\n    return a + b\n",
    "\tif (x != nullptr) {\n\t\treturn std::move(x);\n\t}\n",
    'name = "héllo wörld"  # ünïcode 🤗 and CJK 漢字\n',
    "func (s *Server) Serve(ctx context.Context) error {\r\n\treturn nil\r\n}",
    "    leading spaces and trailing   \n\n\n",
]


@pytest.fixture(scope="module")
def tok():
    return tk.build_tokenizer()


def test_special_token_ids(tok):
    assert [tok.token_to_id(t) for t in tk.SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert tok.get_vocab_size(with_added_tokens=True) == tk.VOCAB_SIZE == 32100
    assert tok.token_to_id("<extra_id_0>") == 32099 == tk.extra_id(0)
    assert tok.token_to_id("<extra_id_99>") == 32000 == tk.extra_id(99)
    assert tk.DECODER_START_ID == tk.PAD_ID == 0


def test_pinned_ids(tok):
    # Pinned against transformers' RobertaTokenizer over the same vocab/merges (CodeT5's tokenizer class).
    assert tok.encode("def add(a, b):\n    return a + b").ids == [
        1, 536, 527, 12, 69, 16, 324, 4672, 203, 565, 327, 279, 397, 324, 2,
    ]
    assert tok.encode("Returns the sum.").ids[0] == tk.BOS_ID
    assert tok.encode("Returns the sum.").ids[-1] == tk.EOS_ID
    assert tok.encode("<extra_id_0>", add_special_tokens=False).ids == [32099]


@pytest.mark.parametrize("code", CODE_SAMPLES)
def test_round_trip(tok, code):
    assert tok.decode(tok.encode(code).ids, skip_special_tokens=True) == code


def test_matches_transformers_roberta_tokenizer(tok):
    transformers = pytest.importorskip("transformers")
    ref = transformers.RobertaTokenizer(str(tk.ASSETS / "vocab.json"), str(tk.ASSETS / "merges.txt"))
    for code in CODE_SAMPLES:
        assert tok.encode(code).ids == ref(code)["input_ids"]


def test_rejects_a_vocab_with_wrong_specials(tmp_path):
    vocab = json.loads((tk.ASSETS / "vocab.json").read_text())
    vocab["<pad>"], vocab["<s>"] = vocab["<s>"], vocab["<pad>"]
    bad = tmp_path / "vocab.json"
    bad.write_text(json.dumps(vocab))
    with pytest.raises(ValueError, match="<pad>"):
        tk.build_tokenizer(bad, tk.ASSETS / "merges.txt")


def test_saved_tokenizer_json_loads_identically(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    again = tk.load_tokenizer(path)
    assert again.encode(CODE_SAMPLES[0]).ids == tok.encode(CODE_SAMPLES[0]).ids
