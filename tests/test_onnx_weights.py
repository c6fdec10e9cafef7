"""models/lenscribe_training/export/onnx_weights.py: a built int8 model's weights read back into PyTorch, and train.py
going on from them (also with a deeper decoder)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def onnx_weights():
    from lenscribe_training.export import onnx_weights

    return onnx_weights


@pytest.fixture(scope="module")
def train_mod():
    """train.py's command line and the model module that grows a decoder."""
    from lenscribe_training.trainers.hf_model import grow_decoder
    from lenscribe_training.trainers.train import main

    return SimpleNamespace(main=main, grow_decoder=grow_decoder)


def test_every_weight_comes_back_within_its_int8_rounding(onnx_weights, tiny_checkpoint, tiny_model_dir):
    from transformers import T5ForConditionalGeneration

    original = T5ForConditionalGeneration.from_pretrained(tiny_checkpoint).state_dict()
    recovered, copies = onnx_weights.recover_state_dict(tiny_model_dir)
    assert set(recovered) == set(original)
    for name, w in original.items():
        r = recovered[name]
        assert r.shape == w.shape, name
        err = float((r - w).abs().max())
        if "layer_norm" in name:
            assert err == 0.0, name  # kept in fp32 by the quantizer
        else:
            # per-tensor: a step is max|w| / 127 for the symmetric int8 MatMuls (-127..127), at most (max - min) / 255
            # for the uint8 Gathers; rounding is off by at most half a step
            step = 2 * float(w.abs().max()) / 254
            assert err <= 0.5 * step * (1 + 1e-4), (name, err, step)
            assert err > 0, name  # it really went through int8: an exact match would mean the fp32 weights were read
    # the tied embedding is read from the encoder's and the decoder's Gathers and from lm_head, and averaged
    assert copies["shared.weight"] == 3
    assert torch.equal(recovered["shared.weight"], recovered["lm_head.weight"])


def test_recovered_model_says_what_the_int8_model_says(onnx_weights, tiny_model_dir, tiny_pairs, tmp_path):
    from transformers import T5ForConditionalGeneration

    from lenscribe.model_input import prepare_code
    from lenscribe.tokenization import build_tokenizer

    out = tmp_path / "recovered"
    info = onnx_weights.write_checkpoint(tiny_model_dir, out, dropout=0.0)
    assert info["model_id"] == json.loads((tiny_model_dir / "manifest.json").read_text())["model_id"]
    state = json.loads((out / "state.json").read_text())
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert (state["args"]["dec_layers"], state["args"]["d_model"]) == (config["num_decoder_layers"], config["d_model"])
    assert state["recovered"]["from_onnx"] == str(tiny_model_dir)
    model = T5ForConditionalGeneration.from_pretrained(out / "model").eval()
    tok = build_tokenizer()
    for code, summary in tiny_pairs:
        ids = torch.tensor([tok.encode(prepare_code(code)).ids])
        gen = model.generate(input_ids=ids, max_new_tokens=24, num_beams=1, do_sample=False)
        assert tok.decode(gen[0].tolist(), skip_special_tokens=True).strip() == summary


def test_missing_or_misshapen_weights_are_a_clear_error(onnx_weights, tiny_model_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    config = json.loads((bad / "config.json").read_text())
    config["d_ff"] = config["d_ff"] * 2
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="shape"):
        onnx_weights.recover_state_dict(bad)
    config["d_ff"] //= 2
    config["num_decoder_layers"] += 1
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no weights for decoder.block.2"):
        onnx_weights.recover_state_dict(bad)


def test_grow_decoder_stacks_copies_of_the_old_blocks(train_mod):
    from transformers import T5Config, T5ForConditionalGeneration

    small = T5ForConditionalGeneration(T5Config(vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=1,
                                                num_decoder_layers=2, num_heads=2)).state_dict()
    grown = train_mod.grow_decoder(small, 2, 5)
    big = T5ForConditionalGeneration(T5Config(vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=1,
                                              num_decoder_layers=5, num_heads=2))
    big.load_state_dict(grown)  # strict: every parameter of the deeper model is there, none extra
    for j, src in ((2, 0), (3, 1), (4, 0)):
        for part in ("layer.0.SelfAttention.q", "layer.1.EncDecAttention.o", "layer.2.DenseReluDense.wi"):
            a, b = grown[f"decoder.block.{j}.{part}.weight"], small[f"decoder.block.{src}.{part}.weight"]
            assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
    assert not any(k.startswith("decoder.block.2.") and "relative_attention_bias" in k for k in grown)
    with pytest.raises(ValueError, match="shrink"):
        train_mod.grow_decoder(small, 2, 1)


def test_training_goes_on_from_a_built_model_with_a_deeper_decoder(onnx_weights, train_mod, tiny_model_dir,
                                                                    tiny_pairs, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"language": "python", "package": "p", "name": "f", "code": c, "doc": d} for c, d in tiny_pairs]
    for split in ("train", "valid", "test"):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ckpt = tmp_path / "recovered"
    onnx_weights.write_checkpoint(tiny_model_dir, ckpt, dropout=0.0)
    out = tmp_path / "deeper"
    train_mod.main(["train", "--data", str(data), "--out", str(out), "--init-from", str(ckpt), "--grow-dec-layers",
                    "4", "--max-steps", "4", "--max-src", "64", "--max-tgt", "24", "--dropout", "0.0", "--lr", "1e-4",
                    "--warmup", "1", "--label-smoothing", "0", "--max-tokens", "512", "--device", "cpu",
                    "--threads", "1", "--eval-every", "0", "--eval-examples", "3", "--test-examples", "0",
                    "--log-every", "1"])
    run = json.loads((out / "model" / "training_run.json").read_text())
    assert run["model_config"]["num_decoder_layers"] == 4
    assert run["warm_start"]["dec_layers"] == [2, 4]
    assert run["warm_start"]["recovered"]["model_id"].startswith("tiny-codet5@")
    # the data card tells how stage 2 began
    from lenscribe_training.data import data_card

    card = "\n".join(data_card.render_training(run, []))
    assert "in two stages" in card and "| stage 2 run | 4 steps" in card and "/ 4 decoder layers" in card
    assert "| stage 1 | not recorded; the model shipped from it (`tiny-codet5@" in card
    assert "read back from its int8 ONNX (`onnx_weights.py`), starts with its 2 decoder blocks grown to 4" in card
    # the memorised pairs are still largely known after the growth (the stacked copies perturb the old function, they
    # do not replace it): a fresh model's loss is ln(32,100) = 10.4
    losses = [float(line.split(" loss ")[1].split()[0]) for line in (out / "train.log").read_text().splitlines()
              if "] step " in line]
    assert len(losses) == 4 and max(losses) < 3.0, losses


SHIPPED = Path(__file__).resolve().parents[1] / "models" / "lenscribe-small"


@pytest.mark.skipif(not (SHIPPED / "manifest.json").is_file(), reason="the shipped model is not in this checkout")
def test_the_shipped_model_reads_back_with_its_training_record(onnx_weights, tmp_path):
    """`python -m lenscribe_training.export.onnx_weights models/lenscribe-small OUT` on the shipped model: its record (a
    fast_train run, which counts tokens, not examples, and whose args keep the command line's default shape) goes into
    state.json with the model's real shape, and the weights read back say what the int8 model says."""
    from transformers import T5ForConditionalGeneration

    from lenscribe.summarizer import Summarizer

    out = tmp_path / "recovered"
    onnx_weights.main([str(SHIPPED), str(out), "--dropout", "0.0"])
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    record = json.loads(onnx_weights.run_record_path(manifest["model_id"]).read_text())
    state = json.loads((out / "state.json").read_text())
    config = json.loads((SHIPPED / "config.json").read_text())
    assert (state["args"]["d_model"], state["args"]["enc_layers"], state["args"]["dec_layers"]) == (
        config["d_model"], config["num_layers"], config["num_decoder_layers"])
    assert state["step"] == record["steps"] and state["history"] == record["history"]
    assert state["examples_seen"] == record.get("examples_seen")
    assert state["recovered"]["model_id"] == manifest["model_id"]
    model = T5ForConditionalGeneration.from_pretrained(out / "model").eval()
    shipped = Summarizer.load(SHIPPED, threads=1)
    codes = ["def read_file(path):\n    with open(path) as f:\n        return f.read()",
             "def add(a, b):\n    return a + b",
             "def save_json(data, path):\n    with open(path, 'w') as f:\n        json.dump(data, f)",
             "def close(self):\n    if self.conn is not None:\n        self.conn.close()"]
    agree = total = 0
    for code in codes:
        ids, _ = shipped.encode(code)
        tokens = shipped.generator.generate([ids], max_new_tokens=16)[0]
        dec = torch.tensor([[manifest["architecture"]["decoder_start_token_id"], *tokens]])
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids]), decoder_input_ids=dec).logits[0, :-1]
        agree += int((logits.argmax(-1) == torch.tensor(tokens)).sum())
        total += len(tokens)
    assert total > 10 and agree / total >= 0.9, (agree, total)
