#!/usr/bin/env bash
# On the GPU host (bundle at .device): a bundled-model candidate as a calibrated deep ensemble, in
# two calls of the device tool that share the host's disk (the second must start while the host
# is still warm). Everything a later session needs comes back in $OUT.
#
#   scripts/gpu_ensemble_model.sh data    # GPU-solver data until DATA_SECONDS, held-out family, dataset build
#   scripts/gpu_ensemble_model.sh train   # MEMBERS members at once for TRAIN_SECONDS, combine, calibrate, eval
#
# Environment: WORK (/tmp/ens), DATA_SECONDS (420), CHUNK (400 parts per am dataset call: the
# command is resumable, so the data grows chunk by chunk until the time is spent), NODES
# (5000..30000), HOLDOUT (cylinder_holes) and HOLDOUT_COUNT (60), MEMBERS (4), TRAIN_SECONDS (330),
# TRAIN_ARGS (more train options).
set -uo pipefail
FS="$PWD/.device/run flare-surrogate"
OUT=${OUT:-/tmp/flare_gpu_out}
work=${WORK:-/tmp/ens}
NODES=${NODES:-5000..30000} HOLDOUT=${HOLDOUT:-cylinder_holes} MEMBERS=${MEMBERS:-4}
mkdir -p "$work" "$OUT"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/progress.txt"; }
t0=$SECONDS
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-16}

case ${1:?usage: $0 data|train} in
data)
  families=$($FS am part --family list | awk '{print $1}' | grep -vx "$HOLDOUT" | paste -sd,)
  $FS am dataset --count "${HOLDOUT_COUNT:-60}" --out "$work/holdout" --seed 1 --nodes "$NODES" \
    --families "$HOLDOUT" --device cuda > "$work/holdout.log" 2>&1
  log "held-out family $HOLDOUT: $(grep -c '"file"' "$work/holdout/manifest.json") parts"
  count=0
  chunk=${CHUNK:-400}
  # The next chunk starts only when the last one's pace says it ends inside the budget.
  while :; do
    t=$SECONDS
    count=$((count + chunk))
    FLARE_LATTICE_PROFILE=1 $FS am dataset --count "$count" --out "$work/parts" --seed 0 --nodes "$NODES" \
      --families "$families" --device cuda > "$work/parts.$count.log" 2>&1 || { log "am dataset failed"; tail -3 "$work/parts.$count.log"; break; }
    took=$((SECONDS - t))
    log "am dataset: $count parts (this chunk $took s)"
    [ $((SECONDS - t0 + took + 10)) -lt "${DATA_SECONDS:-420}" ] || break
  done
  grep -h "dataset profile: [0-9]* batches" "$work"/parts.*.log | tee -a "$OUT/progress.txt"
  $FS dataset build "$work/parts" -o "$work/lpbf.h5" --target displacement --split manifest --recipe-version 2 \
    > "$work/dataset_build.log" 2>&1
  tail -4 "$work/dataset_build.log" | tee -a "$OUT/progress.txt"
  cp "$work/parts/manifest.csv" "$OUT/parts_manifest.csv"
  ;;
train)
  [ -f "$work/lpbf.h5" ] || { echo "no $work/lpbf.h5: the host went cold; run the data step again"; exit 3; }
  budget=${TRAIN_SECONDS:-330}
  args=(--data "$work/lpbf.h5" --device cuda --precision bf16 --batch-size 1 --recipe reference --augment
        --checkpoint-every 2000 ${TRAIN_ARGS:-})
  # Epochs from a short probe of all members at once (they share the GPU), so OneCycle ends in time.
  for s in $(seq 1 "$MEMBERS"); do
    $FS train "${args[@]}" --seed "$s" -o "$work/probe$s.h5" --epochs 1000 --stop-after 150 --log-every 50 \
      --metrics "$work/probe$s.jsonl" > /dev/null 2>&1 &
  done
  wait
  n_train=$(grep -o 'train [0-9]*' "$work/dataset_build.log" | head -1 | cut -d' ' -f2)
  epochs=$(python3 - "$work/probe1.jsonl" "$((budget - (SECONDS - t0)))" "$n_train" <<'PY'
import json, sys
path, budget, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(path) if '"train"' in l][1:]
ms = sorted(r["ms_per_step"] for r in rows)[len(rows) // 2]
print(max(3, int(budget / (ms / 1000 * n * 1.1))))
PY
)
  log "train: $MEMBERS members, $n_train parts, $epochs epochs each"
  rm -f "$work"/probe*
  for s in $(seq 1 "$MEMBERS"); do
    timeout -s INT -k 60 $((budget - (SECONDS - t0) + 30)) $FS train "${args[@]}" --seed "$s" -o "$work/m$s.h5" \
      --epochs "$epochs" --log-every 500 --metrics "$work/m$s.jsonl" > "$work/m$s.log" 2>&1 &
  done
  wait
  for s in $(seq 1 "$MEMBERS"); do tail -2 "$work/m$s.log" | tee -a "$OUT/progress.txt"; done
  members=$(ls "$work"/m[0-9].h5)
  $FS model ensemble $members -o "$work/ensemble.h5" --calibrate "$work/lpbf.h5" --split val --warn-above auto --device cuda \
    2>&1 | tee -a "$OUT/progress.txt"
  cp "$work/ensemble.h5" "$OUT/"
  $FS eval -m "$work/ensemble.h5" --data "$work/lpbf.h5" --split test --device cuda --json > "$OUT/ens.test.json" 2>&1
  $FS eval -m "$work/ensemble.h5" "$work"/holdout/sample_*.vtu --device cuda --json > "$OUT/ens.holdout.json" 2>&1
  # Parts not made by our generators (examples/lpbf), simulated with the same defaults as the data.
  mkdir -p "$work/examples"
  for e in bracket cantilever overhang blade; do
    $FS am simulate "examples/lpbf/$e.vtu" -o "$work/examples/$e.vtu" --device cuda > /dev/null 2>&1
  done
  $FS eval -m "$work/ensemble.h5" "$work"/examples/*.vtu --device cuda --json > "$OUT/ens.examples.json" 2>&1
  $FS eval -m "$work/m1.h5" --data "$work/lpbf.h5" --split test --device cuda --json > "$OUT/m1.test.json" 2>&1
  tar -C "$work" -czf "$OUT/logs.tar.gz" --exclude='*.vtu' --exclude='*.h5' m1.jsonl m2.jsonl m1.log dataset_build.log 2>/dev/null
  log "done in $((SECONDS - t0)) s"
  ;;
esac
