# Sourced (bash) by device-run.sh and serve-load.sh: sets JAVA, CP and JVM_ARGS to run Polar from what
# benchmarks/gpu/stage.sh put into .carry/ (the GPU host has no Java: the jlinked runtime is unpacked once
# to /tmp/polar-jre), and makes NVRTC and cuBLAS findable. Expects ROOT (the repository root) and OUT.
# Without .carry/jre.tar.xz (a dry run on a build machine) it uses $JAVA_HOME and the worktree's built
# classes (mvn -o compile) instead.
CARRY="$ROOT/.carry"
if [ -s "$CARRY/jre.tar.xz" ]; then
  JAVA_DIR=/tmp/polar-jre
  if [ ! -x "$JAVA_DIR/bin/java" ]; then
    mkdir -p "$JAVA_DIR"
    tar -xJf "$CARRY/jre.tar.xz" -C "$JAVA_DIR" --strip-components=1 || { echo "cannot unpack $CARRY/jre.tar.xz"; exit 99; }
  fi
  JAVA="$JAVA_DIR/bin/java"
  CP=$(printf '%s:' "$CARRY"/lib/*.jar); CP=${CP%:}  # explicit jars: JUnit's --class-path does not expand lib/*
else
  JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
  CP=$(printf "$ROOT/%s/target/classes:" tornado-tasks src weights-tools benchmarks); CP=${CP%:}
fi

# NVRTC and cuBLAS: the loader's path first; else the toolkit's folders; else wherever they are (pip wheels).
if command -v nvidia-smi >/dev/null && { ! ldconfig -p | grep -q 'libnvrtc.so.1[23]' || ! ldconfig -p | grep -q 'libcublas.so.1[23]'; }; then
  extra=""
  for lib in libnvrtc.so.13 libnvrtc.so.12 libcublas.so.13 libcublas.so.12 libcublasLt.so.13 libcublasLt.so.12; do
    found=$(find /usr/local/cuda*/ /usr/lib /opt -name "$lib" 2>/dev/null | head -n 1)
    [ -n "$found" ] && extra="$extra:$(dirname "$found")"
  done
  export LD_LIBRARY_PATH="${extra#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export POLAR_CUDA_LIBS="${extra#:}"
fi

# LLVM in the OpenCL compilers (PoCL, NVIDIA's) replaces the SIGSEGV handler that the JVM relies on;
# libjsig chains them (without it, test processes died now and then with no crash report).
JSIG="$(dirname "$(dirname "$JAVA")")/lib/libjsig.so"
[ -f "$JSIG" ] && export LD_PRELOAD="$JSIG${LD_PRELOAD:+:$LD_PRELOAD}"

# A JVM crash report lands in $OUT (it comes back with the call).
JVM_ARGS=(--enable-native-access=ALL-UNNAMED -Xss4m -Xmx24g -Dpolar.shared="$ROOT/shared" -XX:ErrorFile="$OUT/hs_err_%p.log")
# Extra JVM options, e.g. POLAR_JVM_ARGS="-Dpolar.backends=cuda,opencl"
read -r -a EXTRA_JVM_ARGS <<< "${POLAR_JVM_ARGS:-}"
JVM_ARGS+=("${EXTRA_JVM_ARGS[@]}")
