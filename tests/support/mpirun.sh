#!/bin/sh
# mpirun.sh MPIEXEC NP PROGRAM [ARGS...]: Open MPI's launcher as the tests use it. CI runs as root
# (Open MPI refuses root without --allow-run-as-root) on 2 cores (--oversubscribe).
mpiexec=$1
np=$2
shift 2
root=""
[ "$(id -u)" = 0 ] && root="--allow-run-as-root"
exec "$mpiexec" -np "$np" --oversubscribe $root -x OMP_NUM_THREADS=1 "$@"
