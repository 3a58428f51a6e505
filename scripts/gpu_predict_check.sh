#!/usr/bin/env bash
# On the GPU host: the predictor's GPU tests, `predict --timings` end to end at 1M and 4M nodes
# with the bundled model, and the layering study (with supports); logs to $OUT.
set -uo pipefail
R=.device/run
OUT=${OUT:-/tmp/flare_gpu_out}
mkdir -p "$OUT"
EX=examples/lpbf
{
  for t in test_cuda_predictor test_cuda_model; do timeout 120 $R $t 2>&1 | tail -3; done
  FLARE_TEST_BINARY="$PWD/$R flare-surrogate" timeout 120 $R test_cuda_cli 2>&1 | tail -3
  for n in 1000000 4000000; do
    $R flare-surrogate am part --family cylinder_holes --seed 1 --nodes $((n * 9 / 10))..$((n * 11 / 10)) -o /tmp/p$n.vtu | tail -1
    for rep in 1 2; do
      $R flare-surrogate predict /tmp/p$n.vtu -m models/lpbf-default.h5 -o /tmp/o$n.vtu --device cuda --precision bf16 --timings 2>&1 | tail -12
    done
  done
} 2>&1 | tee "$OUT/predict.log"
timeout 150 $R flare-surrogate am layer-study --device cuda --voxels 24,48,96 \
  --parts "$EX/bracket.stl:5,$EX/cantilever.stl:20,$EX/overhang.stl:40,$EX/blade.stl:80,$EX/bracket.stl:120" \
  --jsonl "$OUT/layer_study.jsonl" >"$OUT/study.log" 2>&1
tail -n 3 "$OUT/study.log"
