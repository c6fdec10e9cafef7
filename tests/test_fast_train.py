"""The fast trainer (models/lenscribe_training: t5, objectives, datapack, fast_train, export_hf): the model is
transformers' T5 exactly, the objectives hide and give back what they should, batches respect their budget and language
weights, and a short real run goes from a data pack to a model that transformers and `lenscribe model build` load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from lenscribe_training.data.datapack import Pack, build_pack
from lenscribe_training.trainers import objectives
from lenscribe_training.trainers.fast_train import Config, bucket, collate, language_sample, train
from lenscribe_training.trainers.t5 import T5, Dropout, T5Shape, hf_state, load_hf_state

SHAPE = T5Shape(vocab_size=32100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=3, num_heads=4,
                dropout_rate=0.0)


def _pair(shape: T5Shape):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    hf = T5ForConditionalGeneration(T5Config(**shape.hf_config()))
    ours = T5(shape)
    load_hf_state(ours, hf.state_dict())
    return ours, hf


def _batch():
    g = torch.Generator().manual_seed(1)
    src = torch.randint(5, 32000, (3, 24), generator=g)
    src[0, 17:] = 0
    src[2, 9:] = 0
    dec = torch.randint(5, 32000, (3, 9), generator=g)
    dec[:, 0] = 0
    return src, dec


def test_a_pack_stores_a_row_repeated_far_back_as_a_reference(tmp_path):
    """A row that comes again after more than xz's usual 8 MiB window is stored almost free, and reads back."""
    from lenscribe_training.data import datapack

    rng = np.random.default_rng(0)
    rows = [rng.integers(3, 32_000, size=128).tolist() for _ in range(800)]  # 200 KB that do not compress
    far = rows + [[5] * 128] * 37_000 + rows  # the copy 9.5 MB after the first
    near: dict = {}
    datapack._store(near, "x", rows, 128)
    arrays: dict = {}
    datapack._store(arrays, "x", far, 128)
    assert arrays["x_xz"].nbytes < near["x_xz"].nbytes * 1.1
    np.savez(tmp_path / "p.npz", **arrays)
    back = datapack._load(np.load(tmp_path / "p.npz"), "x")
    assert back.shape == (len(far), 128) and (back[:800] == back[-800:]).all()
    assert back[:800].tolist() == rows


def test_forward_loss_and_gradients_equal_transformers_t5():
    ours, hf = _pair(SHAPE)  # a decoder deeper than the encoder, padding in the source
    src, dec = _batch()
    a = ours(src, dec)
    b = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=dec).logits
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    labels = torch.randint(5, 32000, (3, 9))
    pos = torch.tensor([0, 1, 2, 9, 10, 18, 19, 20, 21, 22])  # some rows shorter than others
    ours.loss(src, dec, pos, labels.view(-1)[pos]).backward()
    logits = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=dec).logits
    torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1])[pos], labels.view(-1)[pos]).backward()
    theirs = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        ref = theirs[name].grad
        assert torch.allclose(p.grad, ref, atol=1e-6 + 1e-4 * float(ref.abs().max())), name


def test_greedy_decoding_equals_transformers_generate_with_the_shipped_rules():
    shape = T5Shape(**{**SHAPE.__dict__, "num_decoder_layers": 2})
    ours, hf = _pair(shape)
    ours.eval()
    hf.eval()
    src, _ = _batch()
    mine = ours.greedy(src, 12, no_repeat_ngram=3, repetition_penalty=1.2)
    ref = hf.generate(input_ids=src, attention_mask=(src != 0).long(), max_new_tokens=12, num_beams=1,
                      do_sample=False, no_repeat_ngram_size=3, repetition_penalty=1.2, decoder_start_token_id=0,
                      eos_token_id=2, pad_token_id=0)[:, 1:]
    width = max(mine.shape[1], ref.shape[1])

    def pad(t):
        return torch.nn.functional.pad(t, (0, width - t.shape[1]))

    assert torch.equal(pad(mine), pad(ref))


def test_hf_state_round_trips_and_keeps_the_tied_embedding_once():
    ours, hf = _pair(SHAPE)
    state = hf_state(ours, torch.float16)
    assert "lm_head.weight" not in state and state["shared.weight"].dtype == torch.float16
    again = T5(SHAPE)
    load_hf_state(again, {k: v.float() for k, v in state.items()})
    assert again.lm_head.weight is again.shared.weight
    assert torch.allclose(again.shared.weight, ours.shared.weight, atol=1e-2)


def _body(row):
    return [t for t in row if t not in (0, 1, 2)]


def test_cpu_dropout_drops_its_share_scales_the_rest_and_follows_the_seed():
    x = torch.ones(200_000, requires_grad=True)
    drop = Dropout(0.1).train()
    torch.manual_seed(3)
    y = drop(x)
    dropped = float((y == 0).float().mean())
    assert abs(dropped - 26 / 256) < 0.004  # p rounded to 26/256
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(256 / 230)))  # the kept ones scaled: same expectation
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient goes through the same mask and scale
    torch.manual_seed(3)
    assert torch.equal(drop(x).detach(), y.detach())  # torch.manual_seed decides the mask
    assert not torch.equal(drop(x).detach(), y.detach())  # and the next call draws a new one
    half = drop(torch.ones(7, 3, dtype=torch.bfloat16))
    assert half.dtype == torch.bfloat16 and half.shape == (7, 3)  # odd sizes, autocast's dtype kept


def test_dropout_is_the_identity_in_eval_mode_and_at_zero():
    x = torch.randn(50)
    assert Dropout(0.1).eval()(x) is x
    assert Dropout(0.0).train()(x) is x


def test_fast_trainer_autocasts_to_bf16_only_on_a_cpu_that_has_it(monkeypatch):
    from lenscribe_training.trainers import machine

    cpu = torch.device("cpu")
    monkeypatch.setattr(machine, "native_cpu_bf16", lambda: True)
    assert machine.pick_device("cpu", "auto", None, cpu_bf16=True) == (cpu, torch.bfloat16)
    assert machine.pick_device("cpu", "auto", None) == (cpu, None)  # train.py: fp32 on every CPU
    assert machine.pick_device("cpu", "fp32", None, cpu_bf16=True) == (cpu, None)
    monkeypatch.setattr(machine, "native_cpu_bf16", lambda: False)
    assert machine.pick_device("cpu", "auto", None, cpu_bf16=True) == (cpu, None)
    assert machine.pick_device("cpu", "bf16", None) == (cpu, torch.bfloat16)


def test_span_corruption_hides_about_15_percent_and_gives_it_back():
    rng = np.random.default_rng(0)
    ids = np.array([1, *range(100, 180), 2])
    src, tgt = objectives.span_corrupt(ids, rng, max_tgt=200)
    sentinels = [t for t in src if t >= objectives.sentinel(99)]
    assert sentinels == [objectives.sentinel(k) for k in range(len(sentinels))]
    hidden = len(_body(tgt)) - len(sentinels)
    assert hidden == round(80 * 0.15)
    # putting each sentinel's tokens back gives the original
    spans, cur = {}, None
    for t in _body(tgt):
        if t in sentinels:
            cur = t
            spans[cur] = []
        else:
            spans[cur].append(t)
    rebuilt = [x for t in _body(src) for x in (spans[t] if t in spans else [t])]
    assert rebuilt == list(range(100, 180))


def test_identifier_masking_hides_every_occurrence_of_a_name():
    from lenscribe.tokenization import build_tokenizer

    tok = build_tokenizer()
    table = objectives.IdentifierTable(tok.get_vocab())
    code = "def total_price(items):\n    total_price = sum(i.price for i in items)\n    return total_price"
    ids = np.array(tok.encode(code).ids)
    rng = np.random.default_rng(3)
    src, tgt = objectives.mask_identifiers(ids, rng, table, frac=1.0, max_ids=8, max_tgt=200)
    text_src = tok.decode(src, skip_special_tokens=False)
    assert "total_price" not in text_src and "items" not in text_src  # every occurrence replaced
    assert "return" in text_src and "def" in text_src  # keywords are not identifiers
    decoded = tok.decode(tgt, skip_special_tokens=False)
    assert "total_price" in decoded.replace(" ", "")


def test_language_sampling_follows_the_alpha_power():
    class S:
        lang = np.array([0] * 900 + [1] * 100)

    order = language_sample(S(), [0, 1], 0.5, np.random.default_rng(0))
    assert len(order) == 1000
    share = float(np.mean(S.lang[order] == 1))
    assert abs(share - 0.25) < 0.01  # sqrt(100) / (sqrt(900) + sqrt(100))
    assert len(set(order[S.lang[order] == 0].tolist())) == 750  # the larger language without repeats


def test_buckets_keep_their_token_budget_and_cover_every_row_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 128, 5000)
    batches = bucket(lengths, rng.permutation(5000), 2048, 64, rng)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(5000))
    for b in batches:
        padded = (lengths[b].max() + 7) // 8 * 8
        assert len(b) <= 64 and (len(b) == 1 or padded * len(b) <= 2048)


def test_collate_shifts_the_decoder_input_and_lists_the_real_targets():
    b = collate([([1, 50, 51, 2], [1, 7, 2]), ([1, 60, 2], [1, 8, 9, 10, 2])])
    assert b["input_ids"].shape == (2, 8)
    assert b["decoder_input_ids"].tolist() == [[0, 1, 7, 0, 0], [0, 1, 8, 9, 10]]
    assert b["label_pos"].tolist() == [0, 1, 2, 5, 6, 7, 8, 9]
    assert b["label_ids"].tolist() == [1, 7, 2, 1, 8, 9, 10, 2]


def _write_data(root: Path) -> Path:
    verbs = ["get", "load", "save", "remove", "count", "parse"]
    nouns = ["user", "config", "file", "item", "record", "token"]
    rng = np.random.default_rng(0)
    data = root / "data"
    data.mkdir()
    for split, n in (("train", 240), ("valid", 30), ("test", 30)):
        with open(data / f"{split}.jsonl", "w") as f:
            for i in range(n):
                v, o = verbs[rng.integers(6)], nouns[rng.integers(6)]
                lang = "python" if i % 3 else "go"
                code = (f"def {v}_{o}(self, key):\n    return self.{o}s.{v}(key)\n" if lang == "python" else
                        f"func {v.title()}{o.title()}(key int) error {{\n\treturn {o}s.{v.title()}(key)\n}}\n")
                f.write(json.dumps({"language": lang, "name": f"{v}_{o}", "code": code,
                                    "doc": f"{v.title()} the {o} of the key."}) + "\n")
    return data


def test_a_short_run_from_a_pack_to_a_model_transformers_loads(tmp_path):
    data = _write_data(tmp_path)
    stats = build_pack(data, tmp_path / "pack.npz", max_src=64, max_tgt=16)
    assert stats["splits"]["train"] == {"go": 80, "python": 160}
    pack = Pack(tmp_path / "pack.npz")
    assert pack.splits["train"].src.shape == (240, 64) and pack.splits["valid"].refs[0].endswith("of the key.")
    cfg = Config(d_model=32, d_kv=8, d_ff=64, enc_layers=1, dec_layers=1, heads=4, workers=0, budget_s=40,
                 pretrain_frac=0.3, eval_per_language=10, max_tokens=512, log_every=3, threads=1, warmup=10,
                 embed_init="t5")
    run = train(tmp_path / "pack.npz", tmp_path / "out", cfg)
    assert run["wall_s"] < 40 + 15  # the budget holds (one final evaluation past it at most)
    pre, fine = run["phases"]
    assert pre["name"] == "pretrain" and pre["steps"] >= 6 and fine["steps"] >= 6
    losses = [h["loss"] for h in fine["history"] if "loss" in h]
    assert losses[-1] < losses[0]
    assert set(run["best_valid"]["bleu"]) == {"go", "python"}

    from lenscribe_training.export.export_hf import export, training_record

    record = training_record(tmp_path / "out")
    assert (record["args"]["max_src"], record["args"]["max_tgt"]) == (64, 16)  # the pack's, not a default
    assert record["steps"] == pre["steps"] + fine["steps"]
    assert record["best_valid_bleu"] == run["best_valid"]["mean_bleu"]
    hf_dir = export(tmp_path / "out", tmp_path / "hf")
    hf = transformers.T5ForConditionalGeneration.from_pretrained(hf_dir).eval()
    ours = T5(T5Shape.from_hf_config(json.loads((tmp_path / "out" / "config.json").read_text()))).eval()
    load_hf_state(ours, {k: v.float() for k, v in torch.load(tmp_path / "out" / "model.pt").items()})
    src = torch.from_numpy(pack.splits["valid"].src[:4].astype(np.int64))
    dec = torch.zeros((4, 3), dtype=torch.long)
    ref = hf(input_ids=src, attention_mask=(src != 0).long(), decoder_input_ids=dec).logits
    assert torch.allclose(ours(src, dec), ref, atol=1e-4)
    assert (hf_dir / "tokenizer.json").exists()


def test_epochs_stop_the_run_by_steps_and_decay_the_rate_to_zero(tmp_path):
    build_pack(_write_data(tmp_path), tmp_path / "pack.npz", max_src=64, max_tgt=16)
    cfg = Config(d_model=32, d_kv=8, d_ff=64, enc_layers=1, dec_layers=1, heads=4, workers=0, budget_s=3600,
                 eval_per_language=0, max_tokens=1024, log_every=1, threads=1, warmup=2, embed_init="t5",
                 epochs=2.5, lr=1e-2)
    run = train(tmp_path / "pack.npz", tmp_path / "out", cfg)
    (fine,) = run["phases"]
    assert fine["epoch_steps"] >= 4 and fine["steps"] == round(2.5 * fine["epoch_steps"])  # not the budget's hour
    steps = [line for line in (tmp_path / "out" / "train.log").read_text().splitlines() if " ep " in line]
    assert f"step {fine['steps']} ep 2 " in steps[-1]  # stopped half way through the third epoch
    lrs = [float(line.split(" lr ")[1].split()[0]) for line in steps]
    assert max(lrs) > 0.9e-2 and lrs[-1] < 1e-2 / fine["epoch_steps"]  # warmed up, then decayed by step to ~0


def test_warm_start_from_a_built_int8_model(tmp_path, tiny_model_dir):
    pytest.importorskip("onnx")
    from lenscribe_training.export.onnx_weights import recover_state_dict
    from lenscribe_training.runlog import Log
    from lenscribe_training.trainers.fast_train import build_model

    model, info = build_model(Config(init_onnx=str(tiny_model_dir), dropout=0.0), Log(None))
    state, _ = recover_state_dict(tiny_model_dir)  # transformers' reference names
    assert info["init"] == {"onnx": str(tiny_model_dir)}
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_a_grown_model_computes_what_its_start_did_then_learns_in_its_new_blocks():
    from lenscribe_training.trainers.t5 import grow

    ours, _ = _pair(SHAPE)
    ours.eval()
    big = grow(ours, add_encoder_layers=1, add_decoder_layers=2)
    big.eval()
    assert (big.shape.num_layers, big.shape.num_decoder_layers) == (3, 5)
    src, dec = _batch()
    assert torch.allclose(big(src, dec), ours(src, dec), atol=1e-5)
    old = dict(ours.state_dict())
    for k, v in big.state_dict().items():
        if k in old:
            assert torch.equal(v, old[k]), k
    # the new blocks are not stuck at the identity: their output projections get gradients
    big.train()
    big(src, dec).logsumexp(-1).mean().backward()
    new_o = big.decoder.block[4].layer[0].SelfAttention.o.weight
    assert new_o.grad is not None and new_o.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        grow(ours, add_decoder_layers=-1)


def test_build_model_grows_a_warm_start_and_refuses_to_grow_a_scratch_model(tmp_path, tiny_model_dir):
    pytest.importorskip("onnx")
    from lenscribe_training.runlog import Log
    from lenscribe_training.trainers.fast_train import build_model

    start, _ = build_model(Config(init_onnx=str(tiny_model_dir), dropout=0.0), Log(None))
    model, info = build_model(Config(init_onnx=str(tiny_model_dir), dropout=0.0, add_decoder_layers=1), Log(None))
    assert info["init"]["grown"] == {"encoder": 0, "decoder": 1}
    assert model.shape.num_decoder_layers == start.shape.num_decoder_layers + 1
    assert info["parameters"] > sum(p.numel() for p in start.parameters())
    with pytest.raises(ValueError, match="warm start"):
        build_model(Config(add_decoder_layers=1), Log(None))
