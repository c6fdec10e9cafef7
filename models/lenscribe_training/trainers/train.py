"""Train lenscribe's default summarizer: a small CodeT5-architecture T5ForConditionalGeneration, from scratch (the
transformers-based trainer of the first model's CPU stages; see models/TRAINING.md).

    PYTHONPATH=models:server python -m lenscribe_training.trainers.train SUB-COMMAND ...

Data: a directory with ``train.jsonl``, ``valid.jsonl`` (and optionally ``test.jsonl``), one object a line with at
least ``code`` and ``doc``.  Inputs are ``prepare_code(code)`` tokenized with the CodeT5 tokenizer (``<s> ... </s>``,
cut to ``--max-src`` tokens keeping the head and the closing ``</s>``, as the run-time Summarizer does); targets are
``doc`` tokenized the same way (``<s> doc </s>``, at most ``--max-tgt`` tokens), as CodeT5's fine-tuning did.

Sub-commands::

    prepare  --data DIR --cache DIR            pre-tokenize once to compressed uint16 arrays (+ valid/test references)
    train    (--data DIR | --cache DIR) --out DIR [model/optimizer flags] [--time-budget-min M] [--resume]
    score    MODEL --cache DIR                 loss and BLEU of a checkpoint or model dir on a pre-tokenized split
    pack     MODEL_DIR DEST                    fp16 tar of a model dir split into <=15 MiB parts (for file transfer)
    unpack   SRC DEST                          parts -> a normal fp32 save_pretrained dir

``train`` writes ``OUT/train.log``, ``OUT/checkpoint/`` (resumable: model, optimizer, step, data position, RNG;
every ``--save-every-min`` minutes and at the end), ``OUT/best/`` (best validation smoothed BLEU-4) and finally
``OUT/model/``: a ``save_pretrained`` dir (safetensors) + ``tokenizer.json`` + ``training_run.json``.

The work is done by the package's modules: lenscribe_training.data.pairs (the data),
lenscribe_training.trainers.hf_model (the model), lenscribe_training.trainers.hf_train (the loop, driven by a
TrainConfig), lenscribe_training.trainers.evaluation (validation and ``score``) and lenscribe_training.export.transfer
(``pack``/``unpack``). torch and transformers are imported only by the sub-commands that need them: ``prepare`` needs
only tokenizers and numpy.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, fields
from pathlib import Path

from lenscribe_training.data.pairs import SPLITS, parse_languages, prepare


def _train_defaults() -> dict:
    from lenscribe_training.trainers.hf_train import TrainConfig

    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    pp = sub.add_parser("prepare", help="pre-tokenize JSONL to a compact cache")
    pp.add_argument("--data", required=True)
    pp.add_argument("--cache", required=True)
    pp.add_argument("--max-src", type=int, default=256)
    pp.add_argument("--max-tgt", type=int, default=48)
    pp.add_argument("--max-train-examples", type=int, default=None)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--languages", default=None, help="comma-separated languages to keep (default: all)")

    # train: one flag per TrainConfig field, its default the field's
    t = sub.add_parser("train", help="train (or --resume) a model")
    t.add_argument("--data", help="dir with train/valid/test.jsonl (pre-tokenized into --cache if needed)")
    t.add_argument("--cache", help="pre-tokenized dir (prepare's output)")
    t.add_argument("--out", required=True)
    t.add_argument("--max-src", type=int)
    t.add_argument("--max-tgt", type=int)
    t.add_argument("--max-train-examples", type=int)
    t.add_argument("--languages", help="with --data: comma-separated languages to keep (default: all)")
    # model
    t.add_argument("--d-model", type=int)
    t.add_argument("--d-kv", type=int, help="default d_model // heads")
    t.add_argument("--d-ff", type=int, help="default 4 * d_model")
    t.add_argument("--enc-layers", type=int)
    t.add_argument("--dec-layers", type=int)
    t.add_argument("--heads", type=int)
    t.add_argument("--dropout", type=float)
    t.add_argument("--size-note", help="why this size (recorded in training_run.json)")
    # optimisation
    t.add_argument("--lr", type=float)
    t.add_argument("--min-lr-ratio", type=float)
    t.add_argument("--beta2", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--warmup", type=int)
    t.add_argument("--schedule", choices=["linear", "inverse_sqrt"])
    t.add_argument("--schedule-by", choices=["auto", "time", "steps"],
                   help="linear decay over --max-steps, or over --time-budget-min of wall time (auto: steps if set)")
    t.add_argument("--label-smoothing", type=float)
    t.add_argument("--optimizer", choices=["adamw", "adafactor"])
    t.add_argument("--embed-lr-mult", type=float,
                   help="learning-rate multiplier of the tied embedding "
                        "(16 = sqrt(d_model 256) makes up for its scale)")
    t.add_argument("--embed-init", choices=["t5", "words"],
                   help="words: tokens spelling the same word share a start vector, identifiers start as their words")
    t.add_argument("--aux-name-frac", type=float,
                   help="fraction of examples whose target is their name's words (a copy task), at the start")
    t.add_argument("--aux-name-until", type=float,
                   help="training progress (0-1) at which --aux-name-frac has fallen linearly to 0")
    t.add_argument("--clip", type=float)
    t.add_argument("--max-tokens", type=int, help="padded source tokens per batch")
    t.add_argument("--max-batch", type=int)
    t.add_argument("--max-steps", type=int)
    t.add_argument("--time-budget-min", type=float, help="total training wall time, across resumes")
    t.add_argument("--stop-after-steps", type=int, help="pause (checkpoint, exit) after N more steps")
    # bookkeeping
    t.add_argument("--resume", action="store_true")
    t.add_argument("--init-from", metavar="CHECKPOINT_DIR",
                   help="start from the weights of another run's OUT/checkpoint (fresh optimizer and schedule), or "
                        "of a built model read back by lenscribe_training.export.onnx_weights")
    t.add_argument("--grow-dec-layers", type=int, metavar="N",
                   help="with --init-from: a decoder of N blocks, the ones past the checkpoint's copies of its own")
    t.add_argument("--save-every-min", type=float)
    t.add_argument("--log-every", type=int)
    t.add_argument("--eval-every", type=int)
    t.add_argument("--eval-every-min", type=float, help="also evaluate every M minutes")
    t.add_argument("--eval-examples", type=int)
    t.add_argument("--test-examples", type=int, help="final BLEU of the best model on test (0: skip)")
    t.add_argument("--eval-batch", type=int)
    t.add_argument("--device")
    t.add_argument("--precision", choices=["auto", "bf16", "fp32"],
                   help="auto: bf16 autocast on GPU; bf16 pays on CPUs with AMX or AVX512-BF16")
    t.add_argument("--threads", type=int)
    t.add_argument("--seed", type=int)
    t.set_defaults(**_train_defaults())

    sc = sub.add_parser("score", help="loss and BLEU of a checkpoint or model dir on a pre-tokenized split")
    sc.add_argument("model", help="a save_pretrained dir or a train.py checkpoint dir")
    sc.add_argument("--cache", required=True, help="pre-tokenized dir (prepare's output, e.g. OUT/tokenized)")
    sc.add_argument("--split", default="valid", choices=list(SPLITS))
    sc.add_argument("--examples", type=int, default=400)
    sc.add_argument("--eval-batch", type=int, default=250)
    sc.add_argument("--save-model", default=None, help="also write it as a save_pretrained dir with the tokenizer")

    pk = sub.add_parser("pack", help="fp16 tar of a model dir, split into parts")
    pk.add_argument("model_dir")
    pk.add_argument("dest")
    pk.add_argument("--part-mib", type=float, default=15.0)
    pk.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    pk.add_argument("--extra", nargs="*", default=[], help="more files to put in the tar (logs)")

    up = sub.add_parser("unpack", help="parts -> fp32 save_pretrained dir")
    up.add_argument("src")
    up.add_argument("dest")
    return p


def main(argv: list[str] | None = None):
    args = build_parser().parse_args(argv)
    if args.cmd == "prepare":
        return prepare(Path(args.data), Path(args.cache), args.max_src, args.max_tgt, args.max_train_examples,
                       args.seed, languages=parse_languages(args.languages))
    if args.cmd == "train":
        from lenscribe_training.trainers.hf_train import TrainConfig, train

        return train(TrainConfig(**{k: v for k, v in vars(args).items() if k != "cmd"}))
    if args.cmd == "score":
        from lenscribe_training.trainers.evaluation import score

        res = score(Path(args.model), Path(args.cache), args.split, args.examples, args.eval_batch,
                    Path(args.save_model) if args.save_model else None)
        print(json.dumps(res))
        return res
    if args.cmd == "pack":
        from lenscribe_training.export.transfer import pack

        info = pack(Path(args.model_dir), Path(args.dest), args.part_mib, args.dtype, [Path(e) for e in args.extra])
        print(json.dumps(info))
        return info
    if args.cmd == "unpack":
        from lenscribe_training.export.transfer import unpack

        return unpack(Path(args.src), Path(args.dest))


if __name__ == "__main__":
    main()
