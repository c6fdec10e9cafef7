"""train.py (python -m lenscribe_training.trainers.train) on CPU: a tiny T5 trains on synthetic pairs, resumes exactly,
and saves a loadable model."""

import json
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VERBS = ["add", "subtract", "multiply", "compare", "merge", "concatenate", "divide", "swap"]
NOUNS = ["numbers", "lists", "strings", "vectors", "counts", "values", "items", "names"]


@pytest.fixture(scope="module")
def train_mod():
    """train.py's command line and the package modules that do its work."""
    from lenscribe.tokenization import build_tokenizer
    from lenscribe_training.data import pairs
    from lenscribe_training.trainers.embedding_init import words_embedding_init
    from lenscribe_training.trainers.evaluation import smooth_bleu
    from lenscribe_training.trainers.train import main

    return SimpleNamespace(main=main, prepare=pairs.prepare, TokenData=pairs.TokenData, collate=pairs.collate,
                           name_sentence=pairs.name_sentence, smooth_bleu=smooth_bleu, build_tokenizer=build_tokenizer,
                           words_embedding_init=words_embedding_init)


def _pairs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        v, o = rng.choice(VERBS), rng.choice(NOUNS)
        code = f"def {v}_{o}(a, b):\n\t# {v} two {o}\n\treturn {v}(a, b)   \n\n"
        out.append({"language": "python", "package": "synthetic", "name": f"{v}_{o}", "code": code,
                    "doc": f"{v.capitalize()} two {o}."})
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    for split, n, seed in (("train", 20, 0), ("valid", 6, 1), ("test", 4, 2)):
        with open(d / f"{split}.jsonl", "w") as f:
            for obj in _pairs(n, seed):
                f.write(json.dumps(obj) + "\n")
    return d


TINY = ["--d-model", "32", "--d-ff", "64", "--heads", "2", "--enc-layers", "1", "--dec-layers", "1",
        "--dropout", "0.1", "--lr", "3e-3", "--warmup", "2", "--max-tokens", "512", "--max-batch", "8",
        "--device", "cpu", "--threads", "2", "--log-every", "1", "--eval-every", "0", "--eval-examples", "4",
        "--max-tgt", "16", "--max-src", "48", "--seed", "3"]


def _losses(out: Path) -> list[float]:
    return [float(line.split(" loss ")[1].split()[0]) for line in (out / "train.log").read_text().splitlines()
            if "] step " in line]


def test_training_scores_with_lenscribe_eval_bleu(train_mod):
    """Validation BLEU during training is the same smoothed BLEU-4 that `lenscribe eval` reports."""
    from lenscribe.evaluation.bleu import corpus_bleu

    refs, hyps = ["Returns the sum.", "get the user name"], ["returns the sum .", "get user id"]
    assert train_mod.smooth_bleu(refs[:1], hyps[:1]) == pytest.approx(100.0)
    assert 0 < train_mod.smooth_bleu(refs, hyps) < 100
    assert train_mod.smooth_bleu(refs, hyps) == corpus_bleu(refs, hyps)


def test_train_resume_and_load(train_mod, data_dir, tmp_path):
    cache = tmp_path / "cache"
    meta = train_mod.prepare(data_dir, cache, 48, 16)
    assert meta["splits"]["train"]["examples"] == 20
    data = train_mod.TokenData(cache, "train")
    assert data.src_ids.dtype.name == "uint16" and int(data.src(0)[0]) == 1 and int(data.src(0)[-1]) == 2

    steps = 30
    full = tmp_path / "full"
    train_mod.main(["train", "--cache", str(cache), "--out", str(full), "--max-steps", str(steps), *TINY])
    losses = _losses(full)
    assert len(losses) == steps
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses

    # Interrupted after 12 steps, then resumed: the same weights as the uninterrupted run.
    part = tmp_path / "part"
    train_mod.main(["train", "--cache", str(cache), "--out", str(part), "--max-steps", str(steps),
                    "--stop-after-steps", "12", *TINY])
    state = json.loads((part / "checkpoint" / "state.json").read_text())
    assert state["step"] == 12 and not (part / "model").exists()
    train_mod.main(["train", "--cache", str(cache), "--out", str(part), "--max-steps", str(steps), "--resume", *TINY])
    a = torch.load(full / "checkpoint" / "model.pt")
    b = torch.load(part / "checkpoint" / "model.pt")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)

    model_dir = full / "model"
    run = json.loads((model_dir / "training_run.json").read_text())
    assert run["steps"] == steps and run["parameters"] > 0 and "best_valid_bleu" in run
    assert (model_dir / "tokenizer.json").exists() and (model_dir / "model.safetensors").exists()
    model = transformers.T5ForConditionalGeneration.from_pretrained(model_dir)
    cfg = model.config
    assert (cfg.vocab_size, cfg.pad_token_id, cfg.eos_token_id, cfg.decoder_start_token_id) == (32100, 0, 2, 0)
    assert cfg.feed_forward_proj == "relu" and cfg.tie_word_embeddings

    # The transfer format round-trips to a normal save_pretrained dir.
    parts = tmp_path / "parts"
    info = train_mod.main(["pack", str(model_dir), str(parts), "--part-mib", "1"])
    assert len(info["parts"]) >= 2
    back = tmp_path / "back"
    train_mod.main(["unpack", str(parts), str(back)])
    model2 = transformers.T5ForConditionalGeneration.from_pretrained(back)
    ids = torch.tensor([[1, 536, 527, 12, 69, 2]])
    with torch.no_grad():
        g1 = model.generate(ids, max_new_tokens=8, num_beams=1, do_sample=False)
        g2 = model2.generate(ids, max_new_tokens=8, num_beams=1, do_sample=False)
    assert g1.shape[0] == 1 and g2.shape[0] == 1
    assert (back / "tokenizer.json").exists() and (back / "training_run.json").exists()


def test_warm_start_takes_the_weights_and_records_the_first_run(train_mod, data_dir, tmp_path):
    cache = tmp_path / "cache"
    train_mod.prepare(data_dir, cache, 48, 16)
    first = tmp_path / "first"
    train_mod.main(["train", "--cache", str(cache), "--out", str(first), "--max-steps", "30", "--stop-after-steps",
                    "20", *TINY])
    before = json.loads((first / "checkpoint" / "state.json").read_text())
    assert before["step"] == 20
    # the second phase: other batching and dropout, fresh optimizer and schedule; --d-model is overridden by the
    # checkpoint's (the shape is the checkpoint's), --dropout is not (a training choice)
    second = tmp_path / "second"
    args = [*TINY, "--max-tokens", "128", "--lr", "1e-3"]
    args[args.index("--d-model") + 1] = "64"
    args[args.index("--dropout") + 1] = "0.0"
    train_mod.main(["train", "--cache", str(cache), "--out", str(second), "--max-steps", "6",
                    "--init-from", str(first / "checkpoint"), *args])
    run = json.loads((second / "model" / "training_run.json").read_text())
    assert run["steps"] == 6 and run["model_config"]["d_model"] == 32
    assert run["warm_start"]["steps"] == 20 and run["warm_start"]["args"]["max_tokens"] == 512
    assert run["model_config"]["dropout_rate"] == 0.0 and run["warm_start"]["args"]["dropout"] == 0.1
    assert run["warm_start"]["best_step"] == before["best_step"]
    # the data card shows the two stages, each with its own recipe
    from lenscribe_training.data import data_card

    card = "\n".join(data_card.render_training(run, []))
    assert "in two stages" in card and "| stage 1 run | 20 steps" in card and "| stage 2 run | 6 steps" in card
    assert "| stage 1 optimiser | AdamW, lr 0.003" in card and "| stage 2 optimiser | AdamW, lr 0.001" in card
    assert run["warm_start"]["from"] == str(first / "checkpoint")

    # a third stage reading shorter inputs: the input length is the run's own (relative positions let the weights
    # read any length), the shape still the checkpoint's; the card shows the chain of three with each input length
    third = tmp_path / "third"
    args[args.index("--max-src") + 1] = "32"
    train_mod.main(["train", "--data", str(data_dir), "--cache", str(tmp_path / "cache32"), "--out", str(third),
                    "--max-steps", "3", "--init-from", str(second / "checkpoint"), *args])
    run3 = json.loads((third / "model" / "training_run.json").read_text())
    assert run3["args"]["max_src"] == 32 and run3["warm_start"]["args"]["max_src"] == 48
    assert run3["model_config"]["d_model"] == 32 and run3["warm_start"]["warm_start"]["steps"] == 20
    card3 = "\n".join(data_card.render_training(run3, []))
    assert "in three stages" in card3 and "| stage 2 run | 6 steps" in card3 and "| stage 3 run | 3 steps" in card3
    assert "| stage 1 inputs | 48 source tokens |" in card3 and "| stage 3 inputs | 32 source tokens |" in card3
    assert "code cut to 32 source tokens" in card3 and "stage 2 inputs" not in card
    # the warm-started run's first losses continue where the first run left off, far below a fresh start's
    first_losses, second_losses = _losses(first), _losses(second)
    assert second_losses[0] < first_losses[0] - 0.5, (first_losses, second_losses)

    # score: a checkpoint and its save_pretrained copy get the same loss and BLEU on the same slice
    saved = tmp_path / "saved"
    res = train_mod.main(["score", str(first / "checkpoint"), "--cache", str(cache), "--examples", "4",
                          "--save-model", str(saved)])
    again = train_mod.main(["score", str(saved), "--cache", str(cache), "--examples", "4"])
    assert res["examples"] == 4 and res["loss"] > 0 and 0 <= res["bleu"] <= 100
    assert (again["loss"], again["bleu"]) == pytest.approx((res["loss"], res["bleu"]), abs=1e-3)
    assert (saved / "tokenizer.json").exists()


def test_prepare_keeps_only_the_chosen_languages(train_mod, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for split, seed in (("train", 0), ("valid", 1), ("test", 2)):
        rows = _pairs(6, seed)
        for row in rows[:2]:
            row["language"] = "go"
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = train_mod.prepare(data, tmp_path / "py", 48, 16, languages=["python"], log=lambda *a: None)
    assert meta["languages"] == ["python"]
    assert {s: meta["splits"][s]["examples"] for s in ("train", "valid", "test")} == {"train": 4, "valid": 4, "test": 4}
    everything = train_mod.prepare(data, tmp_path / "all", 48, 16, log=lambda *a: None)
    assert everything["languages"] is None and everything["splits"]["train"]["examples"] == 6


@pytest.mark.parametrize("name, sentence", [
    ("dictDecoder.availRead", "Avail read."), ("get_user_name", "Get user name."),
    ("parseJSONString", "Parse json string."),
    ("HTTPServer.__init__", "Init."), ("_", ""), ("", "")])
def test_name_sentence_splits_identifiers(train_mod, name, sentence):
    assert train_mod.name_sentence(name) == sentence


def test_aux_name_targets_replace_only_the_rows_asked_for(train_mod, tmp_path):
    """--aux-name-frac: collate swaps in a row's name sentence where asked and where it has a name, nowhere else."""
    data = tmp_path / "data"
    data.mkdir()
    for split, seed in (("train", 0), ("valid", 1)):
        rows = _pairs(4, seed)
        del rows[3]["name"]
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    train_mod.prepare(data, tmp_path / "cache", 48, 16, log=lambda *a: None)
    d = train_mod.TokenData(tmp_path / "cache", "train")
    tok = train_mod.build_tokenizer()
    idx = np.arange(4)

    def rows(batch):
        t_len = batch["decoder_input_ids"].shape[1]
        out = [[] for _ in batch["input_ids"]]
        for pos, t in zip(batch["label_pos"], batch["label_ids"], strict=True):
            out[pos // t_len].append(int(t))
        return out

    def targets(batch):
        return [tok.decode(r, skip_special_tokens=True) for r in rows(batch)]

    plain = train_mod.collate(d, idx)
    mixed = train_mod.collate(d, idx, use_name=np.array([True, False, True, True]))
    docs = [json.loads(line)["doc"] for line in (data / "train.jsonl").read_text().splitlines()]
    names = [train_mod.name_sentence(json.loads(line).get("name", ""))
             for line in (data / "train.jsonl").read_text().splitlines()]
    assert targets(plain) == docs
    # row 1 was not asked; row 3 was asked but has no name, so it keeps its doc
    assert targets(mixed) == [names[0], docs[1], names[2], docs[3]]
    assert names[0] and names[0] != docs[0]
    np.testing.assert_array_equal(mixed["input_ids"], plain["input_ids"])
    # the decoder input is the shifted target, for swapped rows too
    first = rows(mixed)[0]
    assert mixed["decoder_input_ids"][0, 0] == 0
    assert mixed["decoder_input_ids"][0, 1 : len(first)].tolist() == first[:-1]


def test_words_embedding_init_shares_word_vectors(train_mod):
    """user / Ġuser / User start as one vector; an identifier token starts near its words; other tokens stay apart."""
    # d_model 256 as shipped: in fewer dimensions random word vectors overlap by chance (cos ~ N(0, 1/d))
    cfg = transformers.T5Config(vocab_size=32100, d_model=256, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1,
                                num_heads=2)
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(cfg)
    tok = train_mod.build_tokenizer()
    before = model.shared.weight.detach().clone()
    info = train_mod.words_embedding_init(model, tok, seed=0)
    torch.manual_seed(0)
    again = transformers.T5ForConditionalGeneration(cfg)

    class Reversed:  # get_vocab()'s order differs from process to process
        def get_vocab(self):
            return dict(reversed(tok.get_vocab().items()))

    train_mod.words_embedding_init(again, Reversed(), seed=0)
    assert torch.equal(again.shared.weight, model.shared.weight)  # the same start whatever the vocab order
    assert info["shared_word_tokens"] > 10_000 and info["composed_identifier_tokens"] > 1_000
    emb, vocab = model.shared.weight.detach(), tok.get_vocab()

    def cos(a, b):
        return float(torch.nn.functional.cosine_similarity(emb[vocab[a]], emb[vocab[b]], dim=0))

    assert cos("user", "\u0120user") > 0.9 and cos("get", "Get") > 0.9
    assert cos("\u0120getUserName", "user") > 0.3 and cos("\u0120getUserName", "name") > 0.3
    assert abs(cos("user", "\u0120strings")) < 0.5
    # specials, punctuation
    assert torch.equal(emb[:3], before[:3]) and torch.equal(emb[vocab["("]], before[vocab["("]])
    assert emb.std().item() == pytest.approx(before.std().item(), rel=0.1)


def test_t5_recipe_flags_train_and_are_recorded(train_mod, data_dir, tmp_path):
    """Adafactor, the embedding's own learning rate, the words init and the name curriculum together: the loss falls,
    the eval reports how much the loss depends on the code, and the run records the choices."""
    cache = tmp_path / "cache"
    train_mod.prepare(data_dir, cache, 48, 16)
    out = tmp_path / "run"
    args = [*TINY, "--optimizer", "adafactor", "--lr", "1e-2", "--embed-lr-mult", "4", "--embed-init", "words",
            "--aux-name-frac", "0.5", "--aux-name-until", "0.5", "--eval-every", "20"]
    train_mod.main(["train", "--cache", str(cache), "--out", str(out), "--max-steps", "40", *args])
    losses = _losses(out)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses
    run = json.loads((out / "model" / "training_run.json").read_text())
    assert run["embed_init"]["shared_word_tokens"] > 10_000
    assert run["args"]["optimizer"] == "adafactor" and run["args"]["embed_lr_mult"] == 4
    assert all("source_gain" in h for h in run["history"]) and len(run["history"]) >= 2
