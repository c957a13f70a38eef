#!/usr/bin/env bash
# Runs Polar's tests and benchmarks on the GPU host (tool `run`), from what benchmarks/gpu/stage.sh
# put into .carry/ of the checkout: a jlinked Java 25 runtime (jre.tar.xz), the jars (lib/), the
# compiled tests (test-classes/) and the JUnit console launcher. The GPU host has no Java.
#
# Usage (from the repository root, on the device):
#   bash .carry/bin/device-run.sh STEP [STEP ...]
# Each STEP is one shell word (quote it when it has arguments):
#   env                          driver, GPU, CUDA libraries, Java
#   test:SELECTOR [junit args]   JUnit: SELECTOR is a package (polar.runtime.cuda) or a class (polar.runtime.KernelSuiteTest)
#   main:CLASS [args]            java CLASS args (e.g. "main:polar.bench.KernelBench --json $OUT/kernelbench.json")
#   nvcc:FILE.cu [args]          builds a native CUDA C++ program for this GPU (nvcc, -lcuda) and runs it
#   ncu:REGEX CLASS [args]       java CLASS args under Nsight Compute: the first NCU_COUNT (default 3) launches
#                                of kernels whose name matches REGEX (speed of light, occupancy, warp stalls,
#                                launch statistics) into $OUT/ncu-<CLASS>.txt
# Example, as the command of a `run` call with carry [".carry"]:
#   bash .carry/bin/device-run.sh env test:polar.runtime.cuda "main:polar.bench.KernelBench --json $OUT/kernelbench.json"
# Output: everything goes to stdout and $OUT/device-run.log; JUnit XML to $OUT/junit-<selector>.xml;
# a summary table (one line per step) is printed last. Exit status: the number of failed steps.
# STEP_TIMEOUT (seconds, default 300) bounds each test or main step.
set -u
ROOT=$(pwd)
OUT="${OUT:-$ROOT/out}"
mkdir -p "$OUT"
LOG="$OUT/device-run.log"
SUMMARY=$(mktemp)
exec > >(tee -a "$LOG") 2>&1

# JAVA, CP, JVM_ARGS; NVRTC and cuBLAS on the library path.
source "$(dirname "${BASH_SOURCE[0]}")/java-env.sh"
STEP_TIMEOUT=${STEP_TIMEOUT:-300}  # seconds per test or main step
failures=0

record() { # step status seconds note
  printf '%-48s %-6s %6ss  %s\n' "$1" "$2" "$3" "$4" >> "$SUMMARY"
  [ "$2" = ok ] || failures=$((failures + 1))
}

step_env() {
  echo "== env"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || true
  nvcc --version 2>/dev/null | tail -n 2 || true
  ldconfig -p | grep -E 'libcuda.so.1|libnvrtc.so|libcublas.so|libOpenCL.so' || true
  ls /etc/OpenCL/vendors 2>/dev/null && cat /etc/OpenCL/vendors/*.icd 2>/dev/null || echo "no OpenCL ICDs in /etc/OpenCL/vendors"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  "$JAVA" -version 2>&1
  record env ok 0 "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)"
}

step_test() { # selector [junit args]
  local selector=$1; shift
  local kind=--select-package last=${selector##*.}
  [[ $last =~ ^[A-Z] ]] && kind=--select-class
  [[ $selector == *#* ]] && kind=--select-method
  local reports; reports=$(mktemp -d)
  echo "== test $selector"
  local t0=$SECONDS
  timeout -s KILL "$STEP_TIMEOUT" "$JAVA" "${JVM_ARGS[@]}" -jar "$CARRY/junit-platform-console-standalone.jar" execute \
      --class-path "$CARRY/test-classes:$CP" $kind "$selector" --reports-dir "$reports" \
      --details=tree --disable-banner --disable-ansi-colors "$@"
  local rc=$?
  cp "$reports"/TEST-junit-jupiter.xml "$OUT/junit-${selector##*.}.xml" 2>/dev/null
  local counts
  counts=$(grep -o 'tests="[0-9]*"\|skipped="[0-9]*"\|failures="[0-9]*"\|errors="[0-9]*"' "$reports"/TEST-junit-jupiter.xml 2>/dev/null | head -n 4 | tr '\n' ' ')
  record "test $selector" "$([ $rc = 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) "$counts"
}

step_main() { # class [args]
  local class=$1; shift
  echo "== main $class $*"
  local t0=$SECONDS
  timeout -s KILL "$STEP_TIMEOUT" "$JAVA" "${JVM_ARGS[@]}" -cp "$CP" "$class" "$@"
  local rc=$?
  record "main ${class##*.}" "$([ $rc = 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) "exit $rc"
}

step_ncu() { # regex class [args]
  local regex=$1 class=$2; shift 2
  local report="$OUT/ncu-${class##*.}.txt"
  echo "== ncu $regex: $class $*"
  local t0=$SECONDS
  timeout -s KILL "$STEP_TIMEOUT" ncu --clock-control none --target-processes all -k "regex:$regex" -c "${NCU_COUNT:-3}" \
      --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis \
      "$JAVA" "${JVM_ARGS[@]}" -cp "$CP" "$class" "$@" > "$report" 2>&1
  local rc=$?
  grep -E '^  [A-Za-z].*\(|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per|Stall|Warp Cycles Per Issued' "$report" | head -n 80
  record "ncu ${class##*.}" "$([ $rc = 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) "exit $rc, $(basename "$report")"
}

step_nvcc() { # file.cu [args]
  local src=$1; shift
  local bin; bin=/tmp/$(basename "$src" .cu)
  local arch; arch=sm_$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '.')
  echo "== nvcc $src ($arch) $*"
  local t0=$SECONDS rc
  if nvcc -O2 -arch="$arch" -o "$bin" "$src" -L/usr/local/cuda/lib64/stubs -L/usr/local/cuda/targets/x86_64-linux/lib/stubs -lcuda; then
    timeout -s KILL "$STEP_TIMEOUT" "$bin" "$@"
    rc=$?
  else
    rc=98
  fi
  record "nvcc $(basename "$src")" "$([ $rc = 0 ] && echo ok || echo FAIL)" $((SECONDS - t0)) "exit $rc"
}

for step in "$@"; do
  read -r -a words <<< "$step"
  case "${words[0]}" in
    env) step_env ;;
    test:*) step_test "${words[0]#test:}" "${words[@]:1}" ;;
    main:*) step_main "${words[0]#main:}" "${words[@]:1}" ;;
    nvcc:*) step_nvcc "${words[0]#nvcc:}" "${words[@]:1}" ;;
    ncu:*) step_ncu "${words[0]#ncu:}" "${words[@]:1}" ;;
    *) echo "unknown step '$step'"; record "$step" FAIL 0 "unknown step" ;;
  esac
done

echo
echo "== summary"
cat "$SUMMARY"
exit $failures
