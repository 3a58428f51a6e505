#!/usr/bin/env bash
# Trains a small FLARE model for LPBF distortion on the CPU, end to end, in a few minutes:
# 40 small simulated parts -> dataset -> train -> eval on the held-out parts -> predict on an
# example part that is in none of the data.
#
#   examples/train_small_cpu.sh [OUT_DIR]          # default OUT_DIR: runs/train_small
#   FLARE=/path/to/flare-surrogate EPOCHS=40 examples/train_small_cpu.sh
#   COUNT=10 EPOCHS=1 NODES=1000..2000 examples/train_small_cpu.sh /tmp/smoke   # seconds (the test)
#
# Rerunning reuses the simulated parts (am dataset resumes) and retrains. A model this small,
# trained this briefly, shows the workflow, not the accuracy of models/lpbf-default.h5.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
FLARE="${FLARE:-$root/build/flare-surrogate}"
OUT="${1:-runs/train_small}"
COUNT="${COUNT:-40}"
EPOCHS="${EPOCHS:-12}"
NODES="${NODES:-2000..5000}"
JOBS="${JOBS:-$(nproc)}"
PART="${PART:-$root/examples/lpbf/bracket.vtu}"
[ -x "$FLARE" ] || { echo "train_small_cpu.sh: $FLARE not found; build first or set FLARE=" >&2; exit 2; }
mkdir -p "$OUT"

step() {  # TITLE COMMAND...: runs and times one step
  local title="$1" start=$SECONDS
  shift
  echo
  echo "== $title"
  echo "\$ $*"
  "$@"
  echo "-- $title: $((SECONDS - start)) s"
}

total=$SECONDS
# Dataset seed 1 (not the bundled model's 0); 2k-5k nodes and 5 layer groups keep each solve to
# about a second on one core.
step "simulate $COUNT parts" "$FLARE" am dataset --count "$COUNT" --out "$OUT/parts" --seed 1 \
  --nodes "$NODES" --layers 5 --jobs "$JOBS"
step "build the dataset" "$FLARE" dataset build "$OUT/parts" -o "$OUT/data.h5" \
  --target displacement --split 0.8,0.1,0.1
rm -f "$OUT/model.h5" "$OUT/model.last.h5" "$OUT/train.jsonl"  # a fresh model, not a resume
step "train (C 32, L 2, $EPOCHS epochs)" "$FLARE" train --data "$OUT/data.h5" -o "$OUT/model.h5" \
  --epochs "$EPOCHS" -C 32 -L 2 -H 4 -M 16 --batch-size 4 --lr 0.003 --metrics "$OUT/train.jsonl"
step "evaluate on the test parts" "$FLARE" eval --model "$OUT/model.h5" --data "$OUT/data.h5" --split test
pred="$OUT/$(basename "${PART%.*}")_pred.vtu"
step "predict $(basename "$PART")" "$FLARE" predict "$PART" -m "$OUT/model.h5" -o "$pred"

echo
echo "done in $((SECONDS - total)) s: model $OUT/model.h5, prediction $pred"
echo "view it: pvpython examples/paraview/show_prediction.py $pred   (or open it in ParaView)"
