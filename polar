#!/bin/sh
# Runs Polar. On first use (or after a source change) builds the self-contained image
# target/polar (jlinked Java 25 runtime + jars) with Maven; then runs target/polar/bin/polar.
set -e
ROOT=$(cd "$(dirname "$0")" && pwd)
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
IMAGE="$ROOT/target/polar"
stale() {
  [ ! -x "$IMAGE/bin/polar" ] && return 0
  [ -n "$(find "$ROOT/pom.xml" "$ROOT"/*/pom.xml "$ROOT/src/main" "$ROOT"/tornado-tasks/src/main \
      "$ROOT"/weights-tools/src/main "$ROOT"/benchmarks/src/main -newer "$IMAGE/bin/polar" -print 2>/dev/null | head -n 1)" ]
}
if stale; then
  if ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "2[5-9]'; then
    echo "polar: Java 25 is required to build; none found at JAVA_HOME=$JAVA_HOME (install Temurin 25 or set JAVA_HOME)" >&2
    exit 1
  fi
  command -v mvn >/dev/null || { echo "polar: Maven (mvn) is required to build" >&2; exit 1; }
  echo "polar: building target/polar (mvn package) ..." >&2
  (cd "$ROOT" && mvn -q -B package -DskipTests) >&2
fi
exec "$IMAGE/bin/polar" "$@"
