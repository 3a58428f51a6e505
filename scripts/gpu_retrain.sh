#!/usr/bin/env bash
# On the GPU host: a bundled-model candidate from scratch in one call (data on the GPU solver with
# the default layering and supports, feature recipe 2, the reference recipe with augmentation,
# the held-out family), then the example parts re-simulated as outside parts and scored. What
# matters comes back in $OUT (checkpoints, evaluations, one log archive).
set -uo pipefail
OUT=${OUT:-/tmp/flare_gpu_out}
work=${WORK:-/tmp/retrain}
export FS="$PWD/.device/run flare-surrogate"
mkdir -p "$work/examples" "$OUT"
COUNT=${COUNT:-1000} NODES=${NODES:-5000..30000} JOBS=16 RECIPE=2 \
  AM_ARGS="--device cuda --batch-nodes ${BATCH_NODES:-500000}" \
  TRAIN_ARGS="--recipe reference --augment --precision bf16" HOLDOUT=${HOLDOUT:-cylinder_holes} \
  HOLDOUT_COUNT=${HOLDOUT_COUNT:-40} FLARE_SECONDS=${FLARE_SECONDS:-200} BASE_EPOCHS=${BASE_EPOCHS:-10} \
  STOP_AT=${STOP_AT:-520} scripts/lpbf_default_model.sh "$work" >"$work/run.log" 2>&1
echo "retrain rc=$?"
grep -E "^\[|parts|epochs|train |done" "$work/run.log" | tail -20
for e in bracket cantilever overhang blade; do
  $FS am simulate "examples/lpbf/$e.vtu" -o "$work/examples/$e.vtu" --device cuda >>"$work/examples.log" 2>&1
done
for m in flare baseline; do
  [ -f "$work/$m.h5" ] && $FS eval -m "$work/$m.h5" "$work"/examples/*.vtu --device cuda >"$work/$m.examples.txt" 2>&1
done
tail -n 12 "$work"/flare.examples.txt 2>/dev/null
for f in flare.h5 flare.last.h5 baseline.h5; do [ -f "$work/$f" ] && cp "$work/$f" "$OUT/"; done
tar -C "$work" -czf "$OUT/logs.tar.gz" --exclude='*.vtu' --exclude='*.h5' --exclude='parts' --exclude='holdout' \
  --exclude='examples/*.vtu' . 2>/dev/null
ls -la "$OUT"
