#!/usr/bin/env bash
# Stages what benchmarks/gpu/decode-compare.sh needs on the GPU host: benchmarks/gpu/stage.sh (the
# jlinked runtime, the jars of this worktree, device-run.sh and the other gpu/ scripts into
# /work/main/.carry/), then the peer, the comparison script and the plan from benchmarks/peers/
# into .carry/bin/ (decode-plan-smoke.txt: a dry run without a GPU, see decode-compare.sh). Stage right
# before the `run` call: another stage.sh replaces .carry/bin.
#   benchmarks/gpu/stage-decode.sh [stage.sh options, e.g. --no-build]
set -euo pipefail
WORKTREE=$(cd "$(dirname "$0")/../.." && pwd)
CHECKOUT=/work/main
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = --checkout ] && CHECKOUT=${args[i + 1]}; done
# From the checkout: stage.sh sizes the checkout's tracked files with paths relative to the current folder.
(cd "$CHECKOUT" && bash "$WORKTREE/benchmarks/gpu/stage.sh" "$WORKTREE" "$@")
cp "$WORKTREE"/benchmarks/peers/{torch_decode.py,compare.py} "$WORKTREE"/benchmarks/peers/decode-plan*.txt "$CHECKOUT/.carry/bin/"
ls -la "$CHECKOUT/.carry/bin"
