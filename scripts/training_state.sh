#!/usr/bin/env bash
# The retrain's state (scripts/retrain_session.sh) lives on the branch `training-state`, not on
# main: four members' resumable states are ~40 MB, and main's checkout travels to the lent GPU
# host on every call with a 64 MiB limit (docs/architecture.md, "Training that outlasts one lent
# GPU host").
#
#   scripts/training_state.sh pull DIR [PATTERN...]  # the branch's files (or those matching) into DIR
#   scripts/training_state.sh push DIR MESSAGE       # DIR's files onto the branch, as one commit
#   scripts/training_state.sh log                    # the branch's history
#
# A session: `pull .devstate '*.last.h5' '*.jsonl'` (what a resume needs; the best checkpoints
# stay here), carry .devstate, run with STATE=.devstate, then `push` what came back in $OUT.
set -euo pipefail
branch=${TRAINING_STATE_BRANCH:-training-state}
root=$(git rev-parse --show-toplevel)
cmd=${1:-}
case "$cmd" in
  pull)
    dir=${2:?usage: $0 pull DIR [PATTERN...]}; shift 2
    git -C "$root" rev-parse -q --verify "refs/heads/$branch" >/dev/null ||
      { echo "no branch $branch: nothing trained yet" >&2; exit 1; }
    mkdir -p "$dir"
    git -C "$root" archive "$branch" "$@" | tar -x -C "$dir"
    ls -la "$dir"
    ;;
  push)
    dir=${2:?usage: $0 push DIR MESSAGE}; msg=${3:?usage: $0 push DIR MESSAGE}
    dir=$(cd "$dir" && pwd)
    wt=$(mktemp -d)
    trap 'git -C "$root" worktree remove --force "$wt" 2>/dev/null; rm -rf "$wt"' EXIT
    if git -C "$root" rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
      git -C "$root" worktree add -q "$wt" "$branch"
    else
      # The first push starts the branch with no history of main's (it holds state, not code).
      git -C "$root" worktree add -q --detach "$wt"
      git -C "$wt" checkout -q --orphan "$branch"
      git -C "$wt" rm -rq --cached . && git -C "$wt" clean -fdxq
    fi
    cp -p "$dir"/* "$wt"/
    git -C "$wt" add -A
    git -C "$wt" commit -q -m "$msg"
    git -C "$root" log -1 --format='%h %s' "$branch"
    ;;
  log) git -C "$root" log --format='%h %ad %s' --date=short "$branch" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
