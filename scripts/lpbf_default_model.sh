#!/usr/bin/env bash
# Reproduces models/lpbf-default.h5 and the numbers of its model card (models/README.md):
# an LPBF dataset from `am dataset`, the default FLARE model and the pointwise-MLP baseline trained
# on it with --device cuda, both evaluated per part family on the held-out test parts.
#
#   scripts/lpbf_default_model.sh WORKDIR
#
# Environment (defaults are the shipped model's):
#   FS            command that runs flare-surrogate (default: flare-surrogate on PATH)
#   COUNT, SEED, NODES, JOBS     the dataset (1250 parts, seed 0, 5000..30000 nodes, all cores)
#   FLARE_SECONDS  wall-clock budget of the FLARE training; the epoch count is derived from it and
#                  a short timing probe, and printed (set EPOCHS to fix it instead)
#   BASE_EPOCHS    epochs of the baseline
#   RECIPE         feature recipe version of the dataset (default 1, as the shipped model)
#   AM_ARGS        more `am dataset` options (e.g. --device cuda --batch-nodes 1500000)
#   TRAIN_ARGS     more `train` options for both models (e.g. --recipe reference --augment
#                  --precision bf16)
#   HOLDOUT        a part family left out of the training data entirely; HOLDOUT_COUNT parts of it
#                  (default 60) are generated apart and scored as the out-of-distribution test
#   STOP_AT        stop training (resumably, as Ctrl-C would) after this many seconds of this run;
#                  rerunning the script resumes where it stopped. For machines lent by the slice.
#
# Every stage is skipped when its output exists, so an interrupted run resumes where it stopped
# (am dataset and train --resume are themselves resumable).
set -euo pipefail
work=${1:?usage: $0 WORKDIR}
FS=${FS:-flare-surrogate}
COUNT=${COUNT:-1250} SEED=${SEED:-0} NODES=${NODES:-5000..30000} JOBS=${JOBS:-$(nproc)}
FLARE_SECONDS=${FLARE_SECONDS:-900} BASE_EPOCHS=${BASE_EPOCHS:-50} STOP_AT=${STOP_AT:-0}
mkdir -p "$work"
log() { echo "[$(date +%H:%M:%S)] $*"; }
t0=$(date +%s)
remaining() { echo $(( STOP_AT - ($(date +%s) - t0) )); }

# 1. Parts, simulated layer by layer (resumable: existing samples are reused).
if [ ! -f "$work/parts/manifest.json" ] || [ "$(ls "$work"/parts/sample_*.vtu 2>/dev/null | wc -l)" -lt "$COUNT" ]; then
  log "am dataset: $COUNT parts, seed $SEED, $NODES nodes, $JOBS jobs"
  families=()
  if [ -n "${HOLDOUT:-}" ]; then
    families=(--families "$($FS am part --family list | awk '{print $1}' | grep -vx "$HOLDOUT" | paste -sd,)")
  fi
  $FS am dataset --count "$COUNT" --out "$work/parts" --seed "$SEED" --nodes "$NODES" --jobs "$JOBS" \
    "${families[@]}" ${AM_ARGS:-}
fi
if [ -n "${HOLDOUT:-}" ] && [ ! -f "$work/holdout/manifest.json" ]; then
  log "am dataset: ${HOLDOUT_COUNT:-60} parts of the held-out family $HOLDOUT"
  $FS am dataset --count "${HOLDOUT_COUNT:-60}" --out "$work/holdout" --seed "$((SEED + 1))" --nodes "$NODES" \
    --jobs "$JOBS" --families "$HOLDOUT" ${AM_ARGS:-}
fi
# 2. Features and targets, split by part as the manifest says. The shipped model predates feature
#    recipe version 2 (positions in each part's own frame): RECIPE=2 builds the invariant data.
if [ ! -f "$work/lpbf.h5" ]; then
  log "dataset build (feature recipe version ${RECIPE:-1})"
  $FS dataset build "$work/parts" -o "$work/lpbf.h5" --target displacement --split manifest \
    --recipe-version "${RECIPE:-1}" | tee "$work/dataset_build.log"
fi

train_args=(--data "$work/lpbf.h5" --device cuda --batch-size 1 --lr 1e-3 --schedule onecycle
            --clip-norm 1.0 --seed "$SEED" --checkpoint-every 2000 ${TRAIN_ARGS:-})

# Stops a training run early (SIGINT: it saves its resumable state) when STOP_AT is set.
run_train() {
  if [ "$STOP_AT" -gt 0 ]; then
    local left; left=$(remaining)
    [ "$left" -gt 30 ] || { log "no time left for: $*"; return 3; }
    timeout -s INT -k 120 "$left" $FS train "$@" || { local rc=$?; [ $rc -eq 124 ] || [ $rc -eq 130 ] && return 3; return $rc; }
  else
    $FS train "$@"
  fi
}

# 3. The pointwise MLP baseline: same features, recipe and code, no FLARE blocks, wider.
if [ ! -f "$work/baseline.done" ]; then
  resume=(); [ -f "$work/baseline.last.h5" ] && resume=(--resume)
  log "train baseline (L = 0, C = 128): $BASE_EPOCHS epochs"
  if run_train "${train_args[@]}" -o "$work/baseline.h5" -L 0 -C 128 --epochs "$BASE_EPOCHS" --log-every 200 \
       --metrics "$work/baseline.jsonl" "${resume[@]}"; then touch "$work/baseline.done"; else exit 3; fi
fi

# 4. FLARE, paper defaults (C=64, L=8, H=8, M=64). The epoch count fits FLARE_SECONDS, measured by
#    a 60-step probe (OneCycle needs the total length up front).
if [ ! -f "$work/flare.done" ]; then
  if [ -z "${EPOCHS:-}" ] && [ -f "$work/flare.epochs" ]; then EPOCHS=$(cat "$work/flare.epochs"); fi
  if [ -z "${EPOCHS:-}" ]; then
    $FS train "${train_args[@]}" -o "$work/probe.h5" --epochs 1000 --stop-after 60 --log-every 20 \
      --metrics "$work/probe.jsonl" > /dev/null
    n_train=$(grep -o 'train [0-9]*' "$work/dataset_build.log" | head -1 | cut -d' ' -f2)
    EPOCHS=$(python3 - "$work/probe.jsonl" "$FLARE_SECONDS" "$n_train" <<'PY'
import json, sys
path, budget, n_train = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(path) if '"train"' in l][1:]   # skip the warm-up window
ms = sorted(r["ms_per_step"] for r in rows)[len(rows) // 2]
print(max(5, min(250, int(budget / (ms / 1000 * n_train * 1.08)))))  # 8% for validation
PY
)
    echo "$EPOCHS" > "$work/flare.epochs"
    rm -f "$work"/probe*
  fi
  resume=(); [ -f "$work/flare.last.h5" ] && resume=(--resume)
  log "train FLARE (defaults): $EPOCHS epochs"
  if run_train "${train_args[@]}" -o "$work/flare.h5" --epochs "$EPOCHS" --log-every 200 \
       --metrics "$work/flare.jsonl" "${resume[@]}"; then touch "$work/flare.done"; else exit 3; fi
fi

# 5. Test-split errors per part family, both models; the held-out family's parts.
for m in flare baseline; do
  $FS eval -m "$work/$m.h5" --data "$work/lpbf.h5" --split test --device cuda \
    --json --csv "$work/$m.test.csv" > "$work/$m.test.json"
  if [ -n "${HOLDOUT:-}" ]; then
    $FS eval -m "$work/$m.h5" "$work"/holdout/sample_*.vtu --device cuda --json > "$work/$m.holdout.json"
  fi
done
log "done in $(( $(date +%s) - t0 )) s"
