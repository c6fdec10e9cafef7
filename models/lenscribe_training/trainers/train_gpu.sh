#!/usr/bin/env bash
# Device-side driver for a time-budgeted GPU training run of train.py, split over several <=10-minute commands.
# The training runs in its own process session (setsid), so it outlives each command while the machine stays warm;
# every command returns the log and the best model so far (fp16 tar parts, see `train.py pack`) under $OUT.
#
#   bash models/lenscribe_training/trainers/train_gpu.sh start  CACHE WAIT_S [train.py train flags...]
#        install the carried wheels (.whl), smoke-test 20 steps of the same config, launch the real run, watch WAIT_S
#   bash models/lenscribe_training/trainers/train_gpu.sh wait   WAIT_S
#        watch the run WAIT_S seconds, return log + best model so far
#   bash models/lenscribe_training/trainers/train_gpu.sh finish WAIT_S
#        wait (at most WAIT_S) for the run to end, return the final model
#
# Here: PYTHONPATH=models:server python -m lenscribe_training.trainers.train unpack <files_at> .cache/trained/<name>
set -uo pipefail
PHASE=$1; shift
RUN=/tmp/lenscribe_run
OUT=${OUT:-/tmp/lenscribe_out}
mkdir -p "$RUN" "$OUT"
T0=$(date +%s)
export PYTHONUNBUFFERED=1
TRAIN="python3 -m lenscribe_training.trainers.train"

if [ ! -d /tmp/site/transformers ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
fi
export PYTHONPATH=models:server:/tmp/site  # the training package and lenscribe from the checkout first

alive() { [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; }

collect() {  # log, run record and the newest model (final if there, else best) into $OUT
  cp "$RUN/out/train.log" "$OUT/train.log" 2>/dev/null
  tail -n 200 "$RUN/stdout.log" >"$OUT/stdout.log" 2>/dev/null
  local src=""
  if [ -f "$RUN/out/model/training_run.json" ]; then src="$RUN/out/model"; cp "$src/training_run.json" "$OUT/"
  elif [ -d "$RUN/out/best" ]; then src="$RUN/out/best"; fi
  [ -n "$src" ] || { echo "no model yet"; return; }
  for try in 1 2 3; do  # the trainer may be swapping best/ in right now
    rm -rf "$RUN/snap" && cp -r "$src" "$RUN/snap" 2>/dev/null && $TRAIN pack "$RUN/snap" "$OUT" && return
    sleep 3
  done
  echo "pack failed"
}

watch() {  # $1: seconds since T0 to stop watching; stops early when the run ends
  while alive && [ $(( $(date +%s) - T0 )) -lt "$1" ]; do
    sleep 20
    tail -n 1 "$RUN/out/train.log" 2>/dev/null
  done
}

case "$PHASE" in
  start)
    CACHE=$1; WAIT=$2; shift 2
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c "import torch, transformers, tokenizers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__)" || exit 1
    rm -rf /tmp/smoke
    $TRAIN train --cache "$CACHE" --out /tmp/smoke "$@" --max-steps 20 --warmup 5 --log-every 5 --eval-every 0 \
      --eval-every-min 0 --eval-examples 50 --test-examples 50 --save-every-min 0 2>&1 | grep -v "args:" | tail -n 12
    [ -f /tmp/smoke/model/training_run.json ] || { echo "SMOKE FAILED"; cat /tmp/smoke/train.log; exit 1; }
    echo "SMOKE OK after $(( $(date +%s) - T0 ))s; launching the real run"
    rm -rf "$RUN/out"
    setsid nohup $TRAIN train --cache "$CACHE" --out "$RUN/out" "$@" >"$RUN/stdout.log" 2>&1 </dev/null &
    echo $! >"$RUN/pid"
    watch "$WAIT"
    collect ;;
  wait)
    watch "$1"; collect ;;
  finish)
    watch "$1"
    alive && echo "run still going after $1 s; returning what there is"
    collect ;;
  *) echo "unknown phase $PHASE"; exit 2 ;;
esac
tail -n 25 "$RUN/out/train.log" 2>/dev/null
ls -la "$OUT"
echo "phase $PHASE took $(( $(date +%s) - T0 ))s; run alive: $(alive && echo yes || echo no)"
