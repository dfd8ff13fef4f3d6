#!/usr/bin/env bash
# test.sh — sets up and runs the whole test suite: installs what is missing, builds portico
# twice (plain Release, and Debug with AddressSanitizer + UBSan) and runs every ctest test
# in both; then builds the libFuzzer targets with clang and runs each briefly.
# Usage: scripts/test.sh [--quick]   (--quick: plain build only, no sanitizers, no fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/setup.sh

JOBS=$(nproc)
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

# run_suite DIR [cmake args...]: configure, build everything, run every ctest test
run_suite() {
  local dir=$1; shift
  echo "=== build $dir ($*)"
  cmake -S "$ROOT" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  echo "=== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS"
}

# The fuzz build only builds and runs the libFuzzer targets (the suite already ran twice).
run_fuzz() {
  local dir=$1; shift
  echo "=== build $dir ($*)"
  cmake -S "$ROOT" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS" --target fuzz_json_to_pb fuzz_pb_to_json fuzz_path_template fuzz_aggregate_value fuzz_corpus descriptor_sets
  echo "=== test $dir (libFuzzer, briefly)"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" -R '^fuzz/'
}

run_suite build/release -DCMAKE_BUILD_TYPE=Release
if [ $QUICK -eq 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp run_suite build/asan -DCMAKE_BUILD_TYPE=Debug -DPORTICO_SANITIZE=ON
  if [ -f tests/fuzz/CMakeLists.txt ]; then
    CC=clang CXX=clang++ run_fuzz build/fuzz -DCMAKE_BUILD_TYPE=Debug -DPORTICO_FUZZ=ON -DPORTICO_BENCH=OFF
  fi
fi
echo "=== all test suites passed"
