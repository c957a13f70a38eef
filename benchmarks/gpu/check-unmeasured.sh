#!/usr/bin/env bash
# One device call for what the last CPU-only sessions changed and could not time (docs/benchmarks.md,
# "evening"): the kernels' tests on CUDA and NVIDIA's OpenCL, TopKBench (radix TopK.large beside the
# bit-by-bit one it replaced), the target plan with the PyTorch peer, then Nsight Compute over the
# small kernels of one OPT-6.7B batch-1 step. About 8 minutes; each part has its own time limit, so
# one that hangs leaves the others their share. After benchmarks/gpu/stage-decode.sh, as the command
# of the tool `run` with carry [".carry"]:
#   bash .carry/bin/check-unmeasured.sh
# Writes under $OUT: tests.log, compare.log and decode-compare's files, ncu-*.txt; prints the summaries last.
set -u
ROOT=$(pwd)
BIN="$ROOT/.carry/bin"
OUT="${OUT:-$ROOT/out}"
mkdir -p "$OUT"
STEP_TIMEOUT=90 timeout -s KILL 200 bash "$BIN/device-run.sh" env test:polar.runtime.TopKTest test:polar.tornado.kernels.AttentionTest \
    test:polar.runtime.SelectiveAttentionTest test:polar.runtime.SparseMlpTest test:polar.runtime.HeadRouterTest \
    "main:polar.bench.TopKBench --backend cuda" > "$OUT/tests.log" 2>&1
PEER_TIMEOUT=120 POLAR_TIMEOUT=180 bash "$BIN/decode-compare.sh" "$BIN/decode-plan-targets.txt" > "$OUT/compare.log" 2>&1
NCU_COUNT=8 STEP_TIMEOUT=100 bash "$BIN/device-run.sh" "ncu:scoreTopK|large|upSum|fc2F16|pagedHalf polar.bench.DecodeBench --backend cuda --plan $BIN/decode-plan-profile.txt --warmup 1 --repeats 1" > "$OUT/ncu.log" 2>&1
echo "== TopKBench"; grep -E "^TopK|byBits" "$OUT/tests.log"
echo "== tests"; grep -A12 "== summary" "$OUT/tests.log"
echo "== targets"; tail -n 14 "$OUT/compare.log"
echo "== ncu"; tail -n 4 "$OUT/ncu.log"
