#!/usr/bin/env bash
# The bundled model's retrain (issue 16 item 4), one lent GPU host at a time. The host keeps
# nothing between sessions, so each session regenerates the same parts (seeded per part),
# rebuilds the dataset, and either resumes each member from the .last.h5 a session before handed
# back (STATE; the statistics are kept: docs/architecture.md, "Training that outlasts one lent GPU
# host"), or starts it afresh, or fine-tunes it from a member of an ensemble (INIT_FROM: a run
# that fits one session, continuing the model on main); it trains until stopped and hands the new
# state back in $OUT.
#
#   scripts/retrain_session.sh start     # background (setsid): data, dataset, train or resume
#   scripts/retrain_session.sh collect   # state, best checkpoints and logs into $OUT
#   scripts/retrain_session.sh stop      # stop training (it saves its state), evaluate, collect
#   scripts/retrain_session.sh heldout   # only solve the held-out parts into $W/hp
#
# Environment: FS (the flare-surrogate command), W (work folder, /tmp/retrain), MEMBERS (the
# members trained side by side on the one GPU, "1" by default; MEMBER=K is the same as MEMBERS=K;
# member K is seed K; members after the first take member 1's normalizer when $STATE has its
# checkpoint (they start in a later session, on a rebuild of the data); `mlp`: the
# pointwise-MLP baseline of the model card, -L 0 -C 128, seed 1, on member 1's normalizer),
# STAGGER (seconds between starting one member and the next, so each one's ms/step alone and
# side by side can be read from its metrics), MPS (1: run the members under the CUDA
# Multi-Process Service, so kernels of different members share the SMs instead of taking turns;
# small parts leave most SMs idle), STATE (.devstate: the folder of .last.h5 files a call
# carried; a member whose .last.h5 is there resumes, others start), STATE_WAIT
# (seconds to wait for $STATE/READY before training: the state can then come with a later call
# than the bundle, since both do not fit in one), INIT_FROM (a checkpoint, e.g. the bundled
# ensemble: member K fine-tunes from its member K with `train --init-from --init-member K`, on a
# dataset built with its recipe, `dataset build --recipe-from`; a member with state resumes
# instead), EPOCHS (150: fixed for the whole run, OneCycle needs its length up front; a list
# "10 6" makes runs one after another on the same data, each member of a later run fine-tuned from
# its best checkpoint of the run before, whose files move to $W/run<i>/: a warm restart, which
# session 13 found worth 0.142 -> 0.133 on the test split), COUNT (6250 parts: 5000 train),
# FAMILIES (every family but cylinder_holes, the held-out one: 16),
# SEED (0: the dataset seed; part i depends only on (SEED, i), so a run fine-tuned from a model
# trained on seed 0 sees 5,000 new parts with another SEED, and that model's test error on the new
# test split is a fair baseline), NODES (5000..30000), HOLDOUT_COUNT (60), EXAMPLES (the examples/lpbf parts re-simulated and
# scored by `stop`), HELDOUT_PARTS (examples/heldout: a folder of STLs and their voxel sizes in
# parts.txt, voxelised, solved and scored by `stop`; empty: none), ENSEMBLE (1: `stop` also
# builds the members' calibrated ensemble and evaluates it), COARSE_INPUT (1: the parts carry
# their coarse solve, `am dataset --coarse-field`, and the models read it, `dataset build --inputs
# displacement_coarse`; members fine-tuned from INIT_FROM get a widened input layer; the
# baseline is then scored on the test split's meshes, its recipe being the narrower one), DEVICE (cuda; cpu for a dry run of the script itself), TRAIN_ARGS (more `train`
# options, e.g. a small model for a dry run).
set -uo pipefail
FS=${FS:-"$PWD/.device/run flare-surrogate"}
W=${W:-/tmp/retrain}
MEMBERS=${MEMBERS:-${MEMBER:-1}}
STAGGER=${STAGGER:-0}
MPS=${MPS:-0}
STATE=${STATE:-.devstate}
STATE_WAIT=${STATE_WAIT:-0}
EPOCHS=${EPOCHS:-150}
COUNT=${COUNT:-6250}
SEED=${SEED:-0}
NODES=${NODES:-5000..30000}
HOLDOUT_COUNT=${HOLDOUT_COUNT:-60}
EXAMPLES=${EXAMPLES-bracket cantilever overhang blade}
HELDOUT_PARTS=${HELDOUT_PARTS-examples/heldout}
FAMILIES=${FAMILIES:-bridge,cantilever,composite,csg,gyroid,i_beam,l_bracket,lattice,overhang,ribs,shell,sweep,t_beam,thin_wall,tube,wall}
INIT_FROM=${INIT_FROM:-}
DEVICE=${DEVICE:-cuda}
PRECISION=bf16; [ "$DEVICE" = cuda ] || PRECISION=fp32
OUT=${OUT:-$W/out}
COARSE_INPUT=${COARSE_INPUT:-0}
COARSE_GEN=(); COARSE_BUILD=()
[ "$COARSE_INPUT" = 1 ] && COARSE_GEN=(--coarse-field) && COARSE_BUILD=(--inputs displacement_coarse)
export FLARE_NO_PROGRESS=1
mkdir -p "$W" "$OUT"
stage() { echo "$(date +%T) $*" >>"$W/stages.txt"; }
name() { [ "$1" = mlp ] && echo mlp || echo "m$1"; }

# One member for one run of $2 epochs: in a later run (EPOCHS "10 6") fine-tune it from its best
# checkpoint of the run before (in folder $3); else resume it from $STATE, or fine-tune it from
# INIT_FROM, or start it (on member 1's normalizer when that comes from an earlier session).
train_member() {
  local member=$1 epochs=$2 previous=${3:-} m seed arch=() resume=() from=()
  m=$(name "$member"); seed=$member
  if [ "$member" = mlp ]; then seed=1; arch=(-L 0 -C 128); fi
  if [ -n "$previous" ]; then
    from=(--init-from "$previous/$m.h5")
  elif [ -f "$STATE/$m.last.h5" ]; then
    cp "$STATE/$m.last.h5" "$W/$m.last.h5"
    [ -f "$STATE/$m.h5" ] && cp "$STATE/$m.h5" "$W/$m.h5"
    [ -f "$STATE/$m.jsonl" ] && cp "$STATE/$m.jsonl" "$W/$m.jsonl"
    resume=(--resume)
  elif [ -n "$INIT_FROM" ] && [ "$member" != mlp ]; then
    from=(--init-from "$INIT_FROM" --init-member "$member")
  elif [ "$member" != 1 ] && [ -f "$STATE/m1.h5" ]; then
    from=(--normalizer-from "$STATE/m1.h5")
  fi
  $FS train --data "$W/lpbf.h5" -o "$W/$m.h5" --recipe reference --augment --precision "$PRECISION" \
    --device "$DEVICE" --batch-size 1 --seed "$seed" --epochs "$epochs" --val-every 2 "${arch[@]}" \
    --checkpoint-every 5000 --log-every 500 --metrics "$W/$m.jsonl" "${resume[@]}" "${from[@]}" ${TRAIN_ARGS:-} \
    >>"$W/train_$m.log" 2>&1 &
  echo $! >"$W/$m.pid"
  stage "started $m (pid $!)"
}

# The MPS control daemon, if asked for and present; a client check first, so that a daemon that
# does not serve leaves the members on plain time slicing instead of failing them.
start_mps() {
  [ "$MPS" = 1 ] && command -v nvidia-cuda-mps-control >/dev/null || { stage "mps off"; return; }
  export CUDA_MPS_PIPE_DIRECTORY=$W/mps CUDA_MPS_LOG_DIRECTORY=$W/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d && python3 -c "import torch; torch.zeros(1).cuda(); torch.cuda.synchronize()" \
    >>"$W/mps_check.log" 2>&1; then
    stage "mps on"
  else
    echo quit | nvidia-cuda-mps-control 2>/dev/null
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    stage "mps failed, off"
  fi
}

start() {
  local t0=$SECONDS
  rm -f "$W/STOP"
  [ -f "$W/parts/manifest.json" ] && [ "$(ls "$W"/parts/*.vtu 2>/dev/null | wc -l)" -ge "$COUNT" ] ||
    $FS am dataset --count "$COUNT" --seed "$SEED" --nodes "$NODES" --families "$FAMILIES" --device "$DEVICE" \
      --jobs 16 --out "$W/parts" "${COARSE_GEN[@]}" >"$W/gen.log" 2>&1
  stage "parts rc=$? $((SECONDS - t0)) s"; t0=$SECONDS
  # The held-out family: never in training, the out-of-distribution test.
  $FS am dataset --count "$HOLDOUT_COUNT" --seed 1 --nodes "$NODES" --families cylinder_holes --device "$DEVICE" \
    --jobs 16 --out "$W/holdout" "${COARSE_GEN[@]}" >"$W/gen_holdout.log" 2>&1
  stage "holdout rc=$? $((SECONDS - t0)) s"; t0=$SECONDS
  local recipe=(--recipe-version 2)
  [ -n "$INIT_FROM" ] && recipe=(--recipe-from "$INIT_FROM")
  [ -f "$W/lpbf.h5" ] || $FS dataset build "$W/parts" -o "$W/lpbf.h5" --target displacement \
    --split manifest "${recipe[@]}" "${COARSE_BUILD[@]}" >"$W/build.log" 2>&1
  stage "dataset rc=$? $((SECONDS - t0)) s"; t0=$SECONDS
  local waited=0
  while [ "$STATE_WAIT" -gt 0 ] && [ ! -f "$STATE/READY" ] && [ $waited -lt "$STATE_WAIT" ]; do
    sleep 5; waited=$((waited + 5))
  done
  if [ "$STATE_WAIT" -gt 0 ]; then
    # Without the state the members would start over, and that would come back as their state.
    [ -f "$STATE/READY" ] || { stage "no state in $STATE after $waited s: not training"; return 1; }
    stage "state ready after $waited s"
  fi
  start_mps
  local member m epochs run=0 previous=""
  for epochs in $EPOCHS; do
    run=$((run + 1))
    if [ $run -gt 1 ]; then
      # `stop` during a run ends the session's training, not just that run.
      [ -f "$W/STOP" ] && { stage "stopped: run $run not started"; return 0; }
      previous=$W/run$((run - 1))
      mkdir -p "$previous"
      for member in $MEMBERS; do
        m=$(name "$member")
        for f in $m.h5 $m.last.h5; do [ -f "$W/$f" ] && mv "$W/$f" "$previous/"; done
      done
      stage "run $run ($epochs epochs) from the members of run $((run - 1)) ($previous)"
    fi
    local first=1 pids=()
    for member in $MEMBERS; do
      [ $first = 1 ] || sleep "$STAGGER"
      first=0
      train_member "$member" "$epochs" "$previous"
      pids+=("$!")
    done
    for pid in "${pids[@]}"; do wait "$pid"; stage "train pid $pid rc=$?"; done
  done
}

# One archive per member: $OUT returns at most 8 files of 16 MiB.
collect() {
  local member m files
  for member in $MEMBERS; do
    m=$(name "$member"); files=()
    for f in $m.last.h5 $m.h5 $m.jsonl; do [ -f "$W/$f" ] && files+=("$f"); done
    [ ${#files[@]} -gt 0 ] && tar -C "$W" -cf "$OUT/state_$m.tar" "${files[@]}"
  done
  tar -C "$W" -czf "$OUT/logs.tar.gz" --exclude=parts --exclude=holdout --exclude=ex --exclude=hp --exclude=out \
    --exclude='det_*' --exclude='*.h5' --exclude='m*.jsonl' --exclude=mps . 2>/dev/null
  cat "$W/stages.txt" 2>/dev/null
  for member in $MEMBERS; do
    m=$(name "$member")
    echo "== $m"; grep -E "val|epoch" "$W/train_$m.log" 2>/dev/null | tail -n 2
    tail -n 1 "$W/$m.jsonl" 2>/dev/null
  done
}

# The held-out parts (HELDOUT_PARTS, examples/heldout: shapes no family makes), voxelised and
# solved into $W/hp; `stop` scores them, scripts/device/family_probe.sh too (`heldout`).
solve_heldout() {
  local part voxel
  mkdir -p "$W/hp"
  [ -n "$HELDOUT_PARTS" ] && while read -r part voxel; do
    $FS am voxelize "$HELDOUT_PARTS/$part.stl" --voxel "$voxel" -o "$W/hp/${part}_part.vtu" >>"$W/hp.log" 2>&1 &&
      $FS am simulate "$W/hp/${part}_part.vtu" -o "$W/hp/$part.vtu" --device "$DEVICE" >>"$W/hp.log" 2>&1
    rm -f "$W/hp/${part}_part.vtu"
  done <"$HELDOUT_PARTS/parts.txt"
}

stop() {
  local member m pid pids=()
  touch "$W/STOP"
  for member in $MEMBERS; do
    pid=$(cat "$W/$(name "$member").pid" 2>/dev/null) && kill -INT "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 90); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  done
  [ -d "$W/mps" ] && CUDA_MPS_PIPE_DIRECTORY=$W/mps nvidia-cuda-mps-control <<<quit 2>/dev/null
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  mkdir -p "$W/ex"
  for e in $EXAMPLES; do
    $FS am simulate "examples/lpbf/$e.vtu" -o "$W/ex/$e.vtu" --device "$DEVICE" >>"$W/ex.log" 2>&1
  done
  solve_heldout
  # The baseline: the model this run continues (INIT_FROM; the data carry its recipe, so it is
  # scored on the test split too), else the bundled one (another recipe: held-out parts only).
  local pairs=(shipped:${INIT_FROM:-models/lpbf-default.h5}) members=()
  for member in $MEMBERS; do m=$(name "$member"); pairs+=("$m:$W/$m.h5")
    [ "$m" != mlp ] && [ -f "$W/$m.h5" ] && members+=("$W/$m.h5")  # a member not yet validated has none
  done
  # ENSEMBLE=1: the members' best checkpoints as one calibrated ensemble (the candidate bundled
  # model), evaluated beside them; its file comes back in $OUT.
  if [ "${ENSEMBLE:-0}" = 1 ] && [ ${#members[@]} -ge 2 ]; then
    # `auto` needs validation parts below 0.2 error; an early ensemble may have none.
    # $FS is a command line ("… run flare-surrogate"): split on purpose, as everywhere here.
    local ens=($FS model ensemble "${members[@]}" -o "$W/ensemble.h5" --calibrate "$W/lpbf.h5" --split val --device "$DEVICE")
    { "${ens[@]}" --warn-above auto || "${ens[@]}"; } >"$W/ensemble.log" 2>&1 && pairs+=("ensemble:$W/ensemble.h5")
    stage "ensemble rc=$?"
  fi
  for pair in "${pairs[@]}"; do
    local n=${pair%%:*} f=${pair#*:}
    $FS eval -m "$f" "$W"/holdout/*.vtu --device "$DEVICE" >"$W/eval_${n}_holdout.txt" 2>&1
    [ -n "$EXAMPLES" ] && $FS eval -m "$f" "$W"/ex/*.vtu --device "$DEVICE" >"$W/eval_${n}_examples.txt" 2>&1
    [ -n "$HELDOUT_PARTS" ] && $FS eval -m "$f" "$W"/hp/*.vtu --device "$DEVICE" >"$W/eval_${n}_heldout_parts.txt" 2>&1
    # The same parts as `predict --coarse-solve` answers them (ensembles: the weight is their score).
    # (Not for a model that reads the coarse solve already: eval refuses to count it twice.)
    [ -n "$HELDOUT_PARTS" ] && { [ "$n" = shipped ] || { [ "$n" = ensemble ] && [ "$COARSE_INPUT" != 1 ]; }; } && $FS eval -m "$f" "$W"/hp/*.vtu --coarse-solve --device "$DEVICE" \
      >"$W/eval_${n}_heldout_parts_coarse.txt" 2>&1
    # The test split, on the dataset; a baseline whose recipe is not the dataset's (eval refuses
    # it: the dataset reads the coarse solve, the baseline does not) on the split's meshes, each
    # featurised by its own recipe. The bundled model of a geometry-only run from scratch: held-out
    # parts only.
    [ "$n" = shipped ] && [ -z "$INIT_FROM" ] && [ "$COARSE_INPUT" != 1 ] && continue
    $FS eval -m "$f" --data "$W/lpbf.h5" --split test --device "$DEVICE" --csv "$W/${n}_test.csv" \
      >"$W/eval_${n}_test.txt" 2>&1 && continue
    [ "$n" = shipped ] || continue  # a member that fails on its own dataset: the log says why
    local tests=()
    mapfile -t tests < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["splits"]["test"]))' "$W/parts/manifest.json")
    $FS eval -m "$f" "${tests[@]/#/$W/parts/}" --device "$DEVICE" \
      --csv "$W/${n}_test.csv" >"$W/eval_${n}_test.txt" 2>&1
  done
  collect
  [ -f "$W/ensemble.h5" ] && cp "$W/ensemble.h5" "$OUT/"
  for f in "$W"/eval_*.txt; do echo "== $(basename "$f")"; grep -iE "^mean|mean rel|median" "$f" | head -3; done
}

case "${1:-}" in
  start) start ;;
  collect) collect ;;
  stop) stop ;;
  heldout) solve_heldout ;;
  *) echo "usage: $0 start|collect|stop|heldout" >&2; exit 2 ;;
esac
