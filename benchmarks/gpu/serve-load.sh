#!/usr/bin/env bash
# Load test of `polar serve` (issue 6): for each model and sparsity mode, starts a server, waits for it,
# runs `polar bench serve` at 64 and 256 concurrent clients (streamed, greedy, fixed output lengths,
# after a warm-up round that compiles the server's graphs), stops the server; writes one JSON report
# per run to $OUT and prints a table last (tokens/s, TTFT, ITL, end to end; p50 and p99).
#
#   tiny-llama         shared/models/tiny-llama, dense; then polar with weights-tools/trained/tiny-llama
#   synthetic 7B       synthetic:llama2-7b (random float16 weights of LLaMA-2-7B's shapes, tiny-llama's
#                      tokenizer), dense; then polar with random routers (0.5 of heads in layers 1..)
#
# On the GPU host, after benchmarks/gpu/stage.sh, as the command of the tool `run` with carry [".carry"]:
#   bash .carry/bin/serve-load.sh                    (about 7 minutes)
# Dry run on a build machine (JVM backend, tiny sizes; after mvn -o compile):
#   SERVE_LOAD_SMALL=1 bash benchmarks/gpu/serve-load.sh
# Environment: BACKEND (default cuda; jvm when small), SERVE_LOAD_SMALL=1, ONLY="tiny-llama-dense llama2-7b-polar ..."
# (a subset of the four servers), BUDGET (seconds, default 420 on the GPU: a server that would end later is skipped),
# OUT (default ./out).
set -u
ROOT=$(pwd)
OUT="${OUT:-$ROOT/out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/serve-load.log") 2>&1
source "$(dirname "${BASH_SOURCE[0]}")/java-env.sh"
POLAR=("$JAVA" "${JVM_ARGS[@]}" -cp "$CP" polar.cli.Polar)

SMALL=${SERVE_LOAD_SMALL:-0}
if [ "$SMALL" = 1 ]; then
  BACKEND=${BACKEND:-jvm}
  CLIENTS=(2 4); PROMPT=16; TOKENS=6; ROUNDS=2
  TINY_LIMIT=60; BIG_LIMIT=60; BIG=smoke-llama; BUDGET=${BUDGET:-1800}; BIG_SERVE=(--max-batch 4 --context 64)
  TINY_SERVE=(--max-batch 4 --context 64)
else
  BACKEND=${BACKEND:-cuda}
  CLIENTS=(64 256); PROMPT=128; TOKENS=128; ROUNDS=6
  # Seconds after which a run starts no new request (running ones finish): the whole script stays near 7 minutes.
  TINY_LIMIT=20; BIG_LIMIT=30; BIG=llama2-7b; BUDGET=${BUDGET:-420}
  # 256 sequences of up to 256 positions: 4096 blocks of 16 (32 GiB of float16 KV for LLaMA-2-7B) plus slack.
  BIG_SERVE=(--max-batch 256 --context 512 --kv-blocks 4352)
  TINY_SERVE=(--max-batch 256)
fi
SHARED="$ROOT/shared"; [ -d "$SHARED" ] || SHARED="$ROOT/../shared"  # a worktree here has it beside
TINY="$SHARED/models/tiny-llama"
TINY_ROUTERS="$ROOT/weights-tools/trained/tiny-llama"
PORT=18080
REPORTS=()

# serve NAME LIMIT ARGS...: starts `polar serve ARGS`, loads it at each client count, stops it.
serve() {
  local name=$1 limit=$2; shift 2
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  # A server needs about its two runs' limits plus start-up and warm-up: skip it rather than overrun the budget.
  if [ $((SECONDS + 2 * limit + 40)) -gt "$BUDGET" ]; then echo "!! $name: skipped (${SECONDS} s gone of a ${BUDGET} s budget)"; return; fi
  PORT=$((PORT + 1))
  echo
  echo "== $name: polar serve $* (port $PORT, backend $BACKEND)"
  local t0=$SECONDS
  "${POLAR[@]}" serve --backend "$BACKEND" --port "$PORT" --queue 4096 --shutdown-grace 5 "$@" > "$OUT/serve-$name.log" 2>&1 &
  local pid=$!
  # The server listens once the model is loaded (and uploaded): wait for the port, or for it to fail.
  until (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    if ! kill -0 $pid 2>/dev/null || [ $((SECONDS - t0)) -gt 300 ]; then
      echo "!! $name: the server did not start"; tail -n 30 "$OUT/serve-$name.log"; kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
      return
    fi
    sleep 1
  done
  echo "   listening after $((SECONDS - t0)) s"
  for c in "${CLIENTS[@]}"; do
    local report="$OUT/load-$name-c$c.json"
    # The warm-up round compiles (and captures) the server's graphs for up to this many sequences.
    timeout -s KILL $((limit + 150)) "${POLAR[@]}" bench serve --url "http://127.0.0.1:$PORT" --wait 30 \
        --clients "$c" --requests $((c * ROUNDS)) --prompt-tokens "$PROMPT" --max-tokens "$TOKENS" \
        --warmup "$c" --duration "$limit" --label "$name c$c" --json "$report" \
        || echo "!! $name c$c: bench serve failed (exit $?); server log: $OUT/serve-$name.log"
    [ -s "$report" ] && REPORTS+=("$report")
    kill -0 $pid 2>/dev/null || { echo "!! $name: the server exited"; tail -n 30 "$OUT/serve-$name.log"; break; }
  done
  kill -TERM $pid 2>/dev/null
  wait $pid 2>/dev/null
  head -n 3 "$OUT/serve-$name.log"
  echo "== $name: $((SECONDS - t0)) s"
}

serve tiny-llama-dense "$TINY_LIMIT" -m "$TINY" "${TINY_SERVE[@]}"
serve tiny-llama-polar "$TINY_LIMIT" -m "$TINY" --sparsity polar --routers "$TINY_ROUTERS" "${TINY_SERVE[@]}"
serve "$BIG-dense" "$BIG_LIMIT" -m "synthetic:$BIG" --tokenizer "$TINY" "${BIG_SERVE[@]}"
serve "$BIG-polar" "$BIG_LIMIT" -m "synthetic:$BIG" --tokenizer "$TINY" --sparsity polar "${BIG_SERVE[@]}"

echo
echo "== serve load ($BACKEND; prompt $PROMPT tokens, $TOKENS generated, greedy, streamed; $SECONDS s)"
if [ ${#REPORTS[@]} -gt 0 ]; then
  "${POLAR[@]}" bench serve --table "${REPORTS[@]}"
else
  echo "no reports"
fi
