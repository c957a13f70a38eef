#!/usr/bin/env bash
# Polar's decode benchmark and the PyTorch peer in one device call, over the same plan, then the
# ratio table (printed last). Run on the GPU host from the repository root, after
# benchmarks/gpu/stage-decode.sh, as the command of the tool `run` with carry [".carry"]:
#   bash .carry/bin/decode-compare.sh [PLAN]
# PLAN defaults to the staged benchmarks/peers/decode-plan.txt. Environment: WARMUP (3), REPEATS (10),
# PEER_TIMEOUT and POLAR_TIMEOUT (seconds, 180 and 300); for a dry run without a GPU: BACKEND=jvm
# PEER_DEVICE=cpu PEER_DTYPE=float32 with a plan of smoke shapes. Writes to $OUT: torch-decode.json/.log,
# polar-decode.json, device-run.log (Polar's output, from device-run.sh), compare.json/.txt.
set -u
ROOT=$(pwd)
BIN="$ROOT/.carry/bin"
OUT="${OUT:-$ROOT/out}"
mkdir -p "$OUT"
PLAN=${1:-$BIN/decode-plan.txt}
WARMUP=${WARMUP:-3}
REPEATS=${REPEATS:-10}
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm --format=csv || true
echo "== peer: torch_decode.py --plan $PLAN"
timeout -s KILL "${PEER_TIMEOUT:-180}" python3 "$BIN/torch_decode.py" --plan "$PLAN" --warmup "$WARMUP" --repeats "$REPEATS" \
    --device "${PEER_DEVICE:-cuda}" --dtype "${PEER_DTYPE:-float16}" --json "$OUT/torch-decode.json" > "$OUT/torch-decode.log" 2>&1
echo "peer exit $?"; tail -n 60 "$OUT/torch-decode.log"

echo "== polar: DecodeBench --plan $PLAN"
STEP_TIMEOUT="${POLAR_TIMEOUT:-300}" bash "$BIN/device-run.sh" env \
    "main:polar.bench.DecodeBench --backend ${BACKEND:-cuda} --plan $PLAN --warmup $WARMUP --repeats $REPEATS --json $OUT/polar-decode.json"

if [ -s "$OUT/polar-decode.json" ] && [ -s "$OUT/torch-decode.json" ]; then
  python3 "$BIN/compare.py" "$OUT/polar-decode.json" "$OUT/torch-decode.json" --json "$OUT/compare.json" | tee "$OUT/compare.txt"
else
  echo "no comparison: missing $( [ -s "$OUT/polar-decode.json" ] || echo polar-decode.json ) $( [ -s "$OUT/torch-decode.json" ] || echo torch-decode.json )"
fi
