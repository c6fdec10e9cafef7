#!/usr/bin/env bash
# The one-shot GPU recipe: everything a 15-minute GPU lend should do, in ONE command of <= 10 minutes.
#
# Here (2-core machine, once per data change; docs: models/TRAINING.md "A lent GPU"):
#   PYTHONPATH=models:server .venv/bin/python -m lenscribe_training.data.datapack .cache/data-all \
#       .cache/gpu/pack.npz --valid-per-language 400  # <= ~28 MiB: the working tree (~35 MiB) and the pack travel together
# On the lent machine (the device tool's run, carry [".cache/gpu"], timeout_s 600):
#   bash models/lenscribe_training/trainers/gpu_recipe.sh
# Back here, from the returned files (FILES = the folder they landed in):
#   bash models/lenscribe_training/trainers/gpu_recipe.sh unpack FILES .cache/gpu-run  # -> .cache/gpu-run/model.pt ...
#   PYTHONPATH=models:server .venv/bin/python -m lenscribe_training.export.export_hf .cache/gpu-run .cache/gpu-run/hf
#   .venv/bin/lenscribe model build .cache/gpu-run/hf --out models/lenscribe-small   # int8, verify, manifest
#
# What it runs (BUDGET_S of training in all, default 390 s, plus ~1 min of start-up, benchmark and packing):
#   1. benchmarks/bench_train.py on the GPU: today's trainer against the fast one, and a profile of the fast one
#      (the share of wall time the GPU is busy);
#   2. two runs side by side on the one GPU, each with half the data-loader workers:
#      A  warm start from the shipped model (models/lenscribe-small, its int8 weights read back), fine-tuned on all
#         the pack's languages;
#      B  a larger T5 (d384, 6+3 blocks, ~30M parameters, the most a <= 60 MB int8 build holds) from scratch:
#         PRETRAIN_FRAC of its time on identifier-aware denoising of the pack's code, then fine-tuning;
#   3. the run with the better mean valid BLEU (per-language 400-example slices, the shipped greedy decoding)
#      returned as fp16 state-dict parts of <= 15 MiB, with both runs' logs and records in meta.tar.gz.
# If a run fails the other one is still returned; the benchmark (the same model code, same batches) comes first and
# shows a set-up error within a minute. About 9 minutes in all: run it with timeout_s 600.
set -uo pipefail
cd "$(dirname "$0")/../../.."  # the checkout: models/lenscribe_training/trainers/ -> .
export PYTHONPATH=models:server PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-python3}

if [ "${1:-}" = unpack ]; then  # here: the returned parts -> one run directory
  src=$2 dest=$3
  mkdir -p "$dest"
  cat "$src"/model.pt.part* >"$dest/model.pt"
  tar -xzf "$src/meta.tar.gz" -C "$dest"
  (cd "$dest" && sha256sum -c model.pt.sha256) || { echo "model.pt checksum mismatch" >&2; exit 1; }
  ls -la "$dest"
  exit 0
fi

OUT=${OUT:-/tmp/recipe_out}
PACK=${PACK:-.cache/gpu/pack.npz}
BUDGET_S=${BUDGET_S:-420}
PRETRAIN_FRAC=${PRETRAIN_FRAC:-0.25}
WORKERS=${WORKERS:-6}
BENCH_STEPS=${BENCH_STEPS:-20}
WORK=${WORK:-/tmp/recipe}
A_ARGS=${A_ARGS:-"--init-onnx models/lenscribe-small --lr 5e-3 --max-tokens 32768 --eval-every-s 90"}
B_ARGS=${B_ARGS:-"--d-model 384 --d-ff 1536 --enc-layers 6 --dec-layers 3 --heads 6 --lr 1e-2 --max-tokens 65536 \
--pretrain-frac $PRETRAIN_FRAC --eval-every-s 90"}
EVAL_N=${EVAL_N:-400}
RUNS=${RUNS:-"a b"}  # the next lend: RUNS=b BUDGET_S=480 (models/TRAINING.md)
COMMON="--workers $WORKERS --eval-per-language $EVAL_N --eval-batch 1024 --log-every ${LOG_EVERY:-100}"
mkdir -p "$OUT" "$WORK"
T0=$(date +%s)
stamp() { echo "[recipe $(( $(date +%s) - T0 ))s] $*"; }

stamp "host: $(nproc) cpus; $($PY -c 'import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())')"
[ -f "$PACK" ] || { echo "no data pack at $PACK" >&2; exit 1; }

# 1. throughput: today's trainer vs the fast one, same batches; then a profile of the fast one
timeout "${BENCH_TIMEOUT:-120}" $PY benchmarks/bench_train.py --pack "$PACK" --steps "$BENCH_STEPS" --profile 2>&1 \
  | grep -v Warning | tee "$WORK/bench.log"
stamp "benchmark done"

# 2. the runs (RUNS: "a b" side by side, or one of them with the GPU to itself)
pids=()
for r in $RUNS; do
  case $r in
    a) args=$A_ARGS ;;
    b) args=$B_ARGS ;;
    *) echo "unknown run '$r' in RUNS (a, b)" >&2; exit 2 ;;
  esac
  $PY -m lenscribe_training.trainers.fast_train "$PACK" "$WORK/run-$r" $args $COMMON --budget-s "$BUDGET_S" \
    >"$WORK/run-$r.log" 2>&1 &
  pids+=($!)
done
alive() { for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while alive; do
  sleep 30
  for r in $RUNS; do stamp "$r: $(grep -E 'step|eval|Error' "$WORK/run-$r.log" | tail -n 1)"; done
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null | sed 's/^/[gpu] /'
done
wait
grep -h -E "eval|done|Error" "$WORK"/run-*.log

# 3. the better run goes back
best=$($PY - "$WORK" <<'PY'
import json, sys
from pathlib import Path
runs = []
for d in sorted(Path(sys.argv[1]).glob("run-?")):
    try:
        r = json.loads((d / "run.json").read_text())
        runs.append(((r.get("best_valid") or {}).get("mean_bleu", -1), d.name))
    except Exception:
        pass
print(max(runs)[1] if runs else "")
PY
)
[ -n "$best" ] || { echo "no run finished" >&2; tail -30 "$WORK"/run-*.log; exit 1; }
stamp "returning $best"
cp "$WORK/$best/model.pt" "$WORK/model.pt"
(cd "$WORK" && sha256sum model.pt >model.pt.sha256)
split -b 15m -d "$WORK/model.pt" "$OUT/model.pt.part"
for r in "$WORK"/run-?; do
  n=$(basename "$r")
  cp "$r/run.json" "$WORK/$n.json" 2>/dev/null
done
cp "$WORK/$best/config.json" "$WORK/config.json"
cp "$WORK/$best/run.json" "$WORK/run.json"
echo "$best" >"$WORK/chosen.txt"
tar -czf "$OUT/meta.tar.gz" -C "$WORK" config.json run.json chosen.txt model.pt.sha256 bench.log \
  $(cd "$WORK" && ls run-?.json run-?.log 2>/dev/null)
ls -la "$OUT"
stamp "done"
