#!/usr/bin/env bash
# Does a part family teach what the held-out parts need? One device call (~3-6 min, GPU host,
# repository root, bundle unpacked in .device): member 1 of the bundled model fine-tuned for
# EPOCHS on COUNT parts of the training mix with the families ADD drawn in as well (A) and on
# COUNT parts of the mix without them (B), side by side, same seed and recipe; then A, B and the
# bundled ensemble scored on examples/heldout (every part in its parts.txt, solved here) and on
# A's test split (which holds the added family's parts). Outputs under $OUT (default
# /tmp/probe/out). Session 16 probed `pattern` (ADD's default); session 17 `plate`:
#
#   ADD=plate,plate,plate MIX=<the mix>,pattern,pattern,pattern COUNT=700 EPOCHS=6 \
#     OUT=$OUT bash scripts/device/family_probe.sh
set -uo pipefail
W=${W:-/tmp/probe}; OUT=${OUT:-$W/out}; COUNT=${COUNT:-1000}; EPOCHS=${EPOCHS:-10}
FS="$PWD/.device/run flare-surrogate"
MIX=${MIX:-bridge,cantilever,composite,composite,csg,csg,csg,gyroid,gyroid,i_beam,l_bracket,lattice,lattice,overhang,ribs,shell,shell,sweep,sweep,sweep,t_beam,thin_wall,tube,wall}
ADD=${ADD:-pattern,pattern,pattern}
mkdir -p "$W" "$OUT"; T0=$SECONDS
stage() { echo "$(date +%T) $* ($((SECONDS - T0)) s)" | tee -a "$OUT/stages.txt"; }
for v in A B; do
  fam=$MIX; [ $v = A ] && fam=$MIX,$ADD
  $FS am dataset --count "$COUNT" --seed 16 --nodes 5000..30000 --families "$fam" --device cuda --jobs 16 \
    --out "$W/parts_$v" >"$OUT/gen_$v.log" 2>&1
  $FS dataset build "$W/parts_$v" -o "$W/$v.h5" --target displacement --split manifest \
    --recipe-from models/lpbf-default.h5 >"$OUT/build_$v.log" 2>&1
  stage "data $v rc=$?"
done
for v in A B; do
  $FS train --data "$W/$v.h5" -o "$W/$v.model.h5" --recipe reference --augment --precision bf16 --device cuda \
    --batch-size 1 --seed 1 --epochs "$EPOCHS" --val-every 2 --log-every 500 --metrics "$OUT/$v.jsonl" \
    --init-from models/lpbf-default.h5 --init-member 1 >"$OUT/train_$v.log" 2>&1 &
done
W=$W OUT=$OUT FS=$FS DEVICE=cuda HELDOUT_PARTS=examples/heldout bash scripts/retrain_session.sh heldout
cp "$W/hp.log" "$OUT/"
stage "held-out parts solved"
wait; stage "trained"
for m in A B shipped; do
  f="$W/$m.model.h5"; [ $m = shipped ] && f=models/lpbf-default.h5
  $FS eval -m "$f" "$W"/hp/*.vtu --device cuda >"$OUT/eval_${m}_heldout.txt" 2>&1
  $FS eval -m "$f" --data "$W/A.h5" --split test --device cuda >"$OUT/eval_${m}_testA.txt" 2>&1
done
cp "$W/A.model.h5" "$OUT/" 2>/dev/null  # member 1 fine-tuned with the added family, for a look on a CPU
stage "scored"
