#!/usr/bin/env bash
# On the GPU host (the device tool; bundle at .device, see README "GPU host"): the GPU lattice
# solver against the CPU solver and CalculiX, then its benchmarks and the layering study. Each
# step has its own time limit and log in $OUT; the last lines of each log are printed.
#   scripts/gpu_am_check.sh [steps...]   steps: tests modeltests bench default batch big study dataset
#                                        coarse streams predict
set -uo pipefail
R=.device/run
OUT=${OUT:-/tmp/flare_gpu_out}
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-16}
step() {  # step NAME SECONDS CMD...
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "rc=$? in $((SECONDS - t0)) s"
  tail -n "${TAIL:-14}" "$OUT/$name.log"
}
EX=examples/lpbf
for what in "${@:-tests modeltests bench study batch default big}"; do
  for w in $what; do
    case $w in
      tests)
        step lattice_cuda 240 $R test_am_lattice_cuda
        step ccx_cuda 120 env FLARE_SIM_DEVICE=cuda FLARE_CCX="$PWD/$R ccx" $R test_am_ccx ;;
      modeltests)  # the model's GPU suites (ops, whole model, CLI through the bundled binary)
        step cuda_ops 120 $R test_cuda_ops
        step cuda_model 200 $R test_cuda_model
        step cuda_cli 200 env FLARE_TEST_BINARY="$PWD/$R flare-surrogate" $R test_cuda_cli ;;
      bench)
        step bench_1m 150 $R flare-surrogate bench simulate --nodes 1000000 --layers 10 --baseline --jsonl "$OUT/bench_simulate.jsonl" ;;
      default)  # the default layering: 1M nodes on the GPU, and a 100k-node part against the CPU
        step bench_1m_default 150 $R flare-surrogate bench simulate --nodes 1000000 --layer-height 0.1 --jsonl "$OUT/bench_simulate.jsonl"
        step bench_100k_default 150 $R flare-surrogate bench simulate --nodes 100000 --layer-height 0.1 --baseline --jsonl "$OUT/bench_simulate.jsonl" ;;
      batch)
        step bench_batch 150 $R flare-surrogate bench simulate --nodes 0 --batch 512 --layer-height 0.1 --baseline --cpu-parts 48 --jsonl "$OUT/bench_simulate.jsonl" ;;
      dataset)  # training-data throughput: parts/s of am dataset on the GPU, with the solver's profile
        step dataset "${DS_LIMIT:-200}" env FLARE_LATTICE_PROFILE=1 $R flare-surrogate am dataset --device cuda \
          --count "${DS_COUNT:-600}" --nodes 5000..30000 --jobs 16 --out /tmp/flare_ds_bench
        grep -c '"file"' /tmp/flare_ds_bench/manifest.json ;;
      coarse)  # the same with each part's coarse solve (the bundled model's data: --coarse-field)
        step dataset_coarse "${DS_LIMIT:-200}" env FLARE_LATTICE_PROFILE=1 $R flare-surrogate am dataset --device cuda \
          --count "${DS_COUNT:-600}" --nodes 5000..30000 --jobs 16 --coarse-field --out /tmp/flare_ds_coarse
        grep -c '"file"' /tmp/flare_ds_coarse/manifest.json ;;
      predict)  # predict end to end on a 1M-node part: the bundled model (its coarse solve first)
        # and the geometry-only one, process wall included
        step part_1m 120 $R flare-surrogate am part --family cylinder_holes --seed 1 --nodes 900000..1100000 -o /tmp/p1m.vtu
        for m in lpbf-default.h5 lpbf-v2-geometry.h5; do
          step "predict_1m_$m" 120 /usr/bin/time -f "process wall %e s, max RSS %M kB" $R flare-surrogate predict \
            /tmp/p1m.vtu -m $m -o /tmp/o1m.vtu --device cuda --precision bf16 --timings
        done ;;
      streams)  # am dataset throughput by concurrent batches x batch size (the defaults: 4 x 500k)
        for cfg in "1 4000000" "4 1000000" "8 500000" "4 500000" "16 250000"; do
          set -- $cfg
          step "dataset_$1x$2" 100 $R flare-surrogate am dataset --device cuda --count "${DS_COUNT:-600}" \
            --nodes 5000..30000 --jobs 16 --gpu-streams "$1" --batch-nodes "$2" --out "/tmp/flare_ds_$1x$2"
        done ;;
      big)
        step bench_10m 150 $R flare-surrogate bench simulate --nodes 10000000 --layers 10 --jsonl "$OUT/bench_simulate.jsonl" ;;
      study)
        step study 240 $R flare-surrogate am layer-study --device cuda --voxels 24,48,96 \
          --parts "$EX/bracket.stl:5,$EX/cantilever.stl:20,$EX/overhang.stl:40,$EX/blade.stl:80,$EX/bracket.stl:120" \
          --jsonl "$OUT/layer_study.jsonl" ;;
    esac
  done
done
