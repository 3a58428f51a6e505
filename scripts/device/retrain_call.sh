#!/usr/bin/env bash
# The device calls of one retrain session (models/training/README.md), run on the GPU host from
# the repository root. The bundle (.devpack/device.tar.xz, made by ../shared/tools/device-bundle.sh
# with flare-surrogate, optionally flare-surrogate-safe, and the GPU test binaries, then tar -cJ)
# comes with call 1; a state to resume (.devstate, STATE_WAIT > 0) would not fit beside it, so it
# comes with call 2 (`state`). A run from the model on main (INIT_FROM) needs no state:
#
#   call 1, carry .devpack:   scripts/device/retrain_call.sh start   # returns in ~30 s
#   call 2, carry .devstate:  WAIT=560 scripts/device/retrain_call.sh state   # only with a state
#   calls 3..:                WAIT=570 scripts/device/retrain_call.sh wait
#   last call:                WAIT=S scripts/device/retrain_call.sh stop   # S s more, then evaluate
#
# The later calls take `start`'s settings (MEMBERS, INIT_FROM, EPOCHS, SEED, FAMILIES, ...; see
# `settings`) unless given again.
#
# A call must follow the one before within the host's idle limit (30 s). `start` gates the new
# binary (the cuBLASLt loader, the GPU predictor and the GPU solver's tests); if the gate fails
# the session runs on flare-surrogate-safe (a binary of known-good code packed beside it, if any;
# without one nothing trains) and says so. PREDICT=1: first the `predict --timings` of a 1M- and a 4M-node part with
# both binaries (or the one, twice) and the bundled model (PREDICT_SIZES: node counts, "1000000 4000000"),
# wall time of the whole process included (before the data, so nothing shares the GPU), and
# `bench features` of the 1M part on 1, 4 and 16 threads (FEATURES_SCALING=0: not);
# BENCH_SIMULATE=N adds `bench simulate` of an N-node part.
# MEMBERS (1 2 3 4), ENSEMBLE (1), and the rest of retrain_session.sh's environment (EPOCHS,
# INIT_FROM, ...) pass through to scripts/retrain_session.sh.
set -uo pipefail
export W=${W:-/tmp/retrain}
mkdir -p "$W"
# `start` remembers the session's settings and the later calls take them unless given again:
# session 14's `stop`, called without MEMBERS and INIT_FROM, left its MLP member unscored and its
# baseline off the test split.
SESSION_VARS=(MEMBERS INIT_FROM EPOCHS SEED FAMILIES COUNT NODES HOLDOUT_COUNT EXAMPLES HELDOUT_PARTS TRAIN_ARGS COARSE_INPUT)
if [ "${1:-}" = start ]; then
  for v in "${SESSION_VARS[@]}"; do
    [ -n "${!v+x}" ] && printf '[ -n "${%s+x}" ] || export %s=%q\n' "$v" "$v" "${!v}"
  done >"$W/session.env"
elif [ -f "$W/session.env" ]; then
  . "$W/session.env"
fi
export MEMBERS=${MEMBERS:-1 2 3 4}
OUT=${OUT:-$W/out}
T0=$SECONDS
mkdir -p "$OUT"
# WAIT seconds from the call's start, or less: it ends once every member has finished every run
# (one "train pid" line each in stages.txt), so a `stop` that follows training wastes no budget.
trained() {
  local runs members done
  runs=$(echo ${EPOCHS:-150} | wc -w); members=$(echo $MEMBERS | wc -w)
  # No stages.txt yet (the parts are still being made): grep prints nothing, and none are done.
  done=$(grep -c "train pid" "$W/stages.txt" 2>/dev/null)
  [ "${done:-0}" -ge $((runs * members)) ]
}
pause() { while [ $(( ${WAIT:-0} - (SECONDS - T0) )) -gt 0 ] && ! trained; do sleep 5; done; }
fs_bin() { cat "$W/fsbin" 2>/dev/null || echo flare-surrogate-safe; }
status() {
  cat "$W/gpu_suites.txt" 2>/dev/null
  free -g | sed -n 2p; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  FS="$PWD/.device/run $(fs_bin)" OUT=$OUT bash scripts/retrain_session.sh collect
}

predict_timings() {
  local n b bins=(flare-surrogate-safe flare-surrogate flare-surrogate-safe flare-surrogate)
  [ -e .device/bin/flare-surrogate-safe ] || bins=(flare-surrogate flare-surrogate)
  for n in ${PREDICT_SIZES:-1000000 4000000}; do
    .device/run flare-surrogate am part --family cylinder_holes --seed 1 \
      --nodes $((n * 9 / 10))..$((n * 11 / 10)) -o "$W/p$n.vtu" | tail -1
    for b in "${bins[@]}"; do
      echo "== $b, $n"
      /usr/bin/time -f "process wall %e s, max RSS %M kB" .device/run $b predict "$W/p$n.vtu" \
        -o "$W/o$n.vtu" --device cuda --precision bf16 --timings 2>&1 | grep -vE "^using|^wrote"
    done
    # The features stage by thread count: where its time goes, and how it scales on this host.
    [ "${FEATURES_SCALING:-1}" = 1 ] && [ $n = 1000000 ] && for t in 1 4 16; do
      OMP_NUM_THREADS=$t .device/run flare-surrogate bench features --mesh "$W/p$n.vtu" -r 2 | grep -E "^\|"
    done
    rm -f "$W/p$n.vtu" "$W/o$n.vtu"  # 0.1-0.5 GB: `collect` would pack them into logs.tar.gz
  done 2>&1 | tee "$W/predict_timings.txt"
}
# BENCH_SIMULATE=N: the GPU solver's `bench simulate` row of an N-node part (10 groups, 3
# repetitions), also before the data, with each binary packed (flare-surrogate-safe too: the
# same-call baseline of a solver change); its JSONL comes back with the logs.
bench_simulate_row() {
  local b
  for b in flare-surrogate-safe flare-surrogate; do
    [ -e ".device/bin/$b" ] || continue
    echo "== $b"
    .device/run $b bench simulate --nodes "$BENCH_SIMULATE" --layers 10 --reps 3 --jsonl "$W/bench_simulate.jsonl"
  done 2>&1 | tee "$W/bench_simulate.txt"
}

case "${1:-}" in
  start)
    python3 -c "import tarfile; tarfile.open('.devpack/device.tar.xz').extractall('.')"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
    # The GPU solver is gated too (~30 s, all but the every-family comparison, which the suites
    # run beside the data): its parts are the training data, so a wrong solver would waste the
    # session's training, not only its own test.
    if FLARE_TEST_BINARY="$PWD/.device/run flare-surrogate" .device/run test_cublaslt_loader >"$W/gate.log" 2>&1 &&
       FLARE_TEST_BINARY="$PWD/.device/run flare-surrogate" .device/run test_cuda_predictor >>"$W/gate.log" 2>&1 &&
       { [ ! -e .device/bin/test_am_lattice_cuda ] ||
         .device/run test_am_lattice_cuda --gtest_filter=-*OnEveryFamily* >>"$W/gate.log" 2>&1; }; then
      echo flare-surrogate >"$W/fsbin"
    else
      echo flare-surrogate-safe >"$W/fsbin"
    fi
    echo "gate: the session runs $(fs_bin) ($((SECONDS - T0)) s)"
    grep -E "^\[  (PASSED|FAILED)|FAILED " "$W/gate.log"
    [ -e ".device/bin/$(fs_bin)" ] || { echo "gate failed and no flare-surrogate-safe: not training"; tail -n 30 "$W/gate.log"; exit 1; }
    [ "${PREDICT:-0}" = 1 ] && predict_timings
    [ -n "${BENCH_SIMULATE:-}" ] && bench_simulate_row
    export FS="$PWD/.device/run $(fs_bin)"
    STATE=.devstate STATE_WAIT=${STATE_WAIT:-600} MPS=1 \
      setsid nohup bash scripts/retrain_session.sh start >"$W/session.log" 2>&1 </dev/null &
    # The GPU suites of this commit, beside the data generation (which takes ~400 s anyway); in a
    # session of their own, so that the end of this call does not end them.
    FLARE_TEST_BINARY="$FS" setsid nohup bash "$0" suites >/dev/null 2>&1 </dev/null &
    ;;
  suites)
    for t in test_cuda_cli test_cuda_residual_mlp test_cuda_model test_cuda_mixer test_cuda_ops test_am_lattice_cuda; do
      [ -e ".device/bin/$t" ] || continue  # a bundle made without it
      filter=(); [ $t = test_am_lattice_cuda ] && filter=(--gtest_filter=*OnEveryFamily*)  # the rest gated `start`
      .device/run $t "${filter[@]}" >"$W/gpu_$t.log" 2>&1
      echo "$t rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$W/gpu_$t.log" | tr '\n' ' ')" >>"$W/gpu_suites.txt"
    done
    ;;
  state)
    [ -f .devstate/m1.last.h5 ] && touch .devstate/READY && ls .devstate
    pause; status
    ;;
  wait) pause; status ;;
  settings)  # what the later calls of this session use
    for v in "${SESSION_VARS[@]}"; do if [ -n "${!v+x}" ]; then echo "$v=${!v}"; fi; done ;;
  stop)
    pause
    FS="$PWD/.device/run $(fs_bin)" OUT=$OUT ENSEMBLE=${ENSEMBLE:-1} bash scripts/retrain_session.sh stop
    echo "stop took $((SECONDS - T0)) s"
    ;;
  *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac
