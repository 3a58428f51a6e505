#!/usr/bin/env bash
# Issue 16 item 3, on the GPU host in one call: the PyTorch reference FLARE
# (tests/reference/flare_train_torch.py, the model of flare_torch.py) trained with FLARE.py's recipe,
# and `flare-surrogate train --recipe reference` with the same options, on the same dataset, epochs,
# precision and seed; both evaluated on the test split; both tables printed, then one comparison line.
#
#   scripts/recipe_vs_reference.sh WORKDIR
#
# Environment:
#   FS         command that runs flare-surrogate (default: flare-surrogate on PATH; with a bundle
#              made by ../shared/tools/device-bundle.sh .device build/flare-surrogate: FS=".device/run flare-surrogate")
#   PY         python with torch, einops, h5py, numpy (default python3: the GPU host's has them)
#   DATA       an existing dataset .h5 (from `dataset build`); unset: made in WORKDIR from
#              COUNT parts (400, split 320/40/40 by the manifest), SEED (0), NODES (5000..30000),
#              JOBS (all cores), as the issue's measurement (0.351 reference vs 0.404 ours before);
#              AM_ARGS: more `am dataset` options (e.g. "--device cuda")
#   EPOCHS     15          PRECISION  bf16 (fp32: both in fp32)          DEVICE  cuda
#   TRAIN_ARGS extra options for both sides (e.g. "-L 4"; model options are shared flags)
#   OLD=1      also trains ours with the recipe of the shipped model (mse, OneCycle pct 0.3,
#              div 25, clip 1, no average): the "before" row
#
# Every stage is skipped when its output exists (rerun after an interruption: am dataset and
# train --resume continue; the PyTorch run restarts). Outputs in WORKDIR: ours.h5, ours_eval.json,
# ref.json, *.log.
set -euo pipefail
work=${1:?usage: $0 WORKDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
FS=${FS:-flare-surrogate} PY=${PY:-python3}
COUNT=${COUNT:-400} SEED=${SEED:-0} NODES=${NODES:-5000..30000} JOBS=${JOBS:-$(nproc)}
EPOCHS=${EPOCHS:-15} PRECISION=${PRECISION:-bf16} DEVICE=${DEVICE:-cuda} TRAIN_ARGS=${TRAIN_ARGS:-}
OLD=${OLD:-0} AM_ARGS=${AM_ARGS:-}
mkdir -p "$work"
log() { echo "[$(date +%H:%M:%S)] $*"; }

# 1. The dataset.
if [ -z "${DATA:-}" ]; then
  DATA=$work/lpbf.h5
  if [ ! -f "$DATA" ]; then
    log "am dataset: $COUNT parts, seed $SEED, $NODES nodes, $JOBS jobs"
    # shellcheck disable=SC2086
    $FS am dataset --count "$COUNT" --out "$work/parts" --seed "$SEED" --nodes "$NODES" --jobs "$JOBS" \
      $AM_ARGS > "$work/am_dataset.log"
    tail -1 "$work/am_dataset.log"
    $FS dataset build "$work/parts" -o "$DATA" --target displacement --split manifest \
      | tee "$work/dataset_build.log"
  fi
fi
[ -f "$DATA" ] || { echo "recipe_vs_reference.sh: $DATA not found" >&2; exit 2; }

# 2. Ours, with the reference recipe (resumable).
train_ours() {  # NAME ARGS...
  local name=$1; shift
  if [ ! -f "$work/$name.done" ]; then
    local resume=(); [ -f "$work/$name.last.h5" ] && resume=(--resume)
    log "flare-surrogate train ($name): $*"
    # shellcheck disable=SC2086
    $FS train --data "$DATA" -o "$work/$name.h5" --epochs "$EPOCHS" --seed "$SEED" --device "$DEVICE" \
      --precision "$PRECISION" --log-every 500 --checkpoint-every 2000 --metrics "$work/$name.jsonl" \
      "$@" $TRAIN_ARGS "${resume[@]}" > "$work/$name.log"
    tail -1 "$work/$name.log"
    touch "$work/$name.done"
  fi
  $FS eval -m "$work/$name.h5" --data "$DATA" --split test --device "$DEVICE" --precision "$PRECISION" --json > "$work/${name}_eval.json"
}
train_ours ours --recipe reference
if [ "$OLD" = 1 ]; then train_ours old --lr 1e-3 --schedule onecycle --clip-norm 1.0; fi

# 3. The PyTorch reference with FLARE.py's recipe (same epochs, precision, seed, model flags).
if [ ! -f "$work/ref.json" ]; then
  log "PyTorch reference: flare_train_torch.py --recipe reference"
  # shellcheck disable=SC2086
  $PY "$root/tests/reference/flare_train_torch.py" --data "$DATA" --epochs "$EPOCHS" --recipe reference \
    --seed "$SEED" --device "$DEVICE" --precision "$PRECISION" $TRAIN_ARGS --json "$work/ref.json.tmp" \
    | tee "$work/ref.log"
  mv "$work/ref.json.tmp" "$work/ref.json"
fi

# 4. Both tables and the verdict.
echo
echo "== flare-surrogate train --recipe reference ($EPOCHS epochs, $PRECISION), test split"
summary_of() { $FS eval -m "$1" --data "$DATA" --split test --device "$DEVICE" --precision "$PRECISION" | sed -n '/^test split, /,$p'; }
summary_of "$work/ours.h5"
if [ "$OLD" = 1 ]; then
  echo
  echo "== flare-surrogate train, the shipped model's recipe ($EPOCHS epochs, $PRECISION), test split"
  summary_of "$work/old.h5"
fi
echo
echo "== PyTorch reference, FLARE.py recipe ($EPOCHS epochs, $PRECISION), test split"
sed -n '/^PyTorch FLARE (/,$p' "$work/ref.log"
echo
$PY - "$work/ours_eval.json" "$work/ref.json" "$work/old_eval.json" <<'PY'
import json, os, sys
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
comp = ours["components"]
def row(name, mean, zs):
    return f"{name:34} {mean:.4f}   " + "  ".join(f"{c} {z:.4f}" for c, z in zip(comp, zs))
s = ours["summary"]
print("test rel-L2 (mean over parts)      vector   per component")
print(row("flare-surrogate --recipe reference", s["mean_rel_l2"], [s["mean_rel_l2_" + c] for c in comp]))
if os.path.exists(sys.argv[3]):
    o = json.load(open(sys.argv[3]))["summary"]
    print(row("flare-surrogate, shipped recipe", o["mean_rel_l2"], [o["mean_rel_l2_" + c] for c in comp]))
r = ref["summary"]
print(row("PyTorch reference, FLARE.py recipe", r["mean_rel_l2"], r["mean_components"]))
ok = s["mean_rel_l2"] <= r["mean_rel_l2"]
print(f"ours at least as good as the reference: {'yes' if ok else 'NO'} "
      f"({s['mean_rel_l2']:.4f} vs {r['mean_rel_l2']:.4f}; torch {ref['torch']}, {ref['seconds']:.0f} s)")
PY
