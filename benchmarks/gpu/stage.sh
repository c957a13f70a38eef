#!/usr/bin/env bash
# Builds a worktree and stages what the GPU host needs into the checkout that the tool `run`
# sends (default /work/main), under its git-ignored .carry/:
#   .carry/jre.tar.xz                                jlinked Java 25 runtime (built once, then reused)
#   .carry/lib/*.jar                                 the project's jars and their runtime dependencies
#   .carry/test-classes/                             compiled tests of polar-core (src/)
#   .carry/junit-platform-console-standalone.jar     JUnit's console launcher
#   .carry/bin/                                      benchmarks/gpu/ (device-run.sh, the runner; native baselines *.cu)
# Then call `run` with carry [".carry"] and a command such as
#   bash .carry/bin/device-run.sh env test:polar.runtime.cuda "main:polar.bench.KernelBench --json $OUT/kernelbench.json"
#
# Usage: benchmarks/gpu/stage.sh [WORKTREE] [--checkout DIR] [--no-build] [--rebuild-jre]
set -euo pipefail
WORKTREE=$(cd "$(dirname "$0")/../.." && pwd)
CHECKOUT=/work/main
BUILD=1
REBUILD_JRE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --checkout) CHECKOUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    --rebuild-jre) REBUILD_JRE=1 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) WORKTREE=$(cd "$1" && pwd) ;;
  esac
  shift
done
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
CARRY="$CHECKOUT/.carry"
JUNIT_CONSOLE=org.junit.platform:junit-platform-console-standalone:1.14.1
JUNIT_JAR="$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar"
MODULES=java.base,java.compiler,jdk.compiler,jdk.unsupported,java.logging,java.xml,java.management,jdk.management,jdk.httpserver,java.net.http

git -C "$CHECKOUT" check-ignore -q .carry/x || { echo "$CHECKOUT/.carry is not git-ignored there; refusing to stage" >&2; exit 1; }

if [ $BUILD = 1 ]; then
  echo "stage: building $WORKTREE (mvn package -DskipTests)"
  (cd "$WORKTREE" && mvn -q -B -o package -DskipTests)
fi

mkdir -p "$CARRY"
if [ $REBUILD_JRE = 1 ] || [ ! -s "$CARRY/jre.tar.xz" ]; then
  echo "stage: jlink $MODULES"
  tmp=$(mktemp -d)
  # Uncompressed modules compress far better under xz than jlink's own zip.
  "$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
      --compress=zip-0 --output "$tmp/jre"
  tar -C "$tmp" -cf - jre | xz -T0 -6 > "$CARRY/jre.tar.xz.part"
  mv "$CARRY/jre.tar.xz.part" "$CARRY/jre.tar.xz"
  rm -rf "$tmp"
fi

if [ ! -s "$JUNIT_JAR" ]; then
  mvn -q -B dependency:get -Dartifact=$JUNIT_CONSOLE
fi
cp "$JUNIT_JAR" "$CARRY/junit-platform-console-standalone.jar"

rm -rf "$CARRY/lib" "$CARRY/test-classes" "$CARRY/bin"
mkdir -p "$CARRY/lib" "$CARRY/bin"
IMAGE_LIB="$WORKTREE/target/polar/lib"
if [ -d "$IMAGE_LIB" ]; then
  cp "$IMAGE_LIB"/*.jar "$CARRY/lib/"
else # no image: each module's jar and the benchmarks' runtime dependencies
  cp "$WORKTREE"/{tornado-tasks,src,weights-tools,benchmarks}/target/polar-*.jar "$CARRY/lib/"
  (cd "$WORKTREE/benchmarks" && mvn -q -B -o dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$CARRY/lib")
fi
# Keep under the device tool's 64 MiB: JMH's jars are not needed there, and the embedded model is
# tracked, so it travels in the checkout anyway (tests find it through shared/models/tiny-llama).
rm -f "$CARRY"/lib/{commons-math3,jmh-core,jopt-simple}*.jar
python3 - "$CARRY"/lib/polar-core-*.jar <<'PY'
import sys, zipfile, os
jar = sys.argv[1]
with zipfile.ZipFile(jar) as src, zipfile.ZipFile(jar + '.lean', 'w', zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        if not item.filename.startswith('polar/models/'):
            dst.writestr(item, src.read(item.filename))
os.replace(jar + '.lean', jar)
PY
cp -r "$WORKTREE/src/target/test-classes" "$CARRY/test-classes"
cp "$WORKTREE"/benchmarks/gpu/*.sh "$WORKTREE"/benchmarks/gpu/*.cu "$CARRY/bin/"

size=$(du -sm "$CARRY" | cut -f1)
tracked=$(git -C "$CHECKOUT" ls-files -z | xargs -0 du -cm 2>/dev/null | tail -n 1 | cut -f1)
echo "stage: $CARRY holds ${size} MiB; the checkout's tracked files about ${tracked} MiB (limit 64 MiB together)"
[ $((size + tracked)) -lt 60 ] || { echo "stage: too large for the device tool" >&2; exit 1; }
ls -la "$CARRY" "$CARRY/lib"
