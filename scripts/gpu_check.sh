#!/usr/bin/env bash
# The CUDA backend's checks on a GPU machine without a package registry (Ubuntu 24.04 with nvcc, CMake,
# ninja, g++, python3 and compute-sanitizer; no Qt, no PCRE2 headers, perhaps no GoogleTest). Sets up what
# the build lacks from .device/ (filled by scripts/prepare_gpu_carry.sh and carried with the tree), builds
# (Release, CUDA for sm_90, without the lab), then runs: the GPU tests, the core tests, compute-sanitizer's
# memcheck, racecheck and initcheck on a subset of the GPU tests, a 20-step CLI training run under memcheck
# and the CLI's benchmark on the GPU. Every stage runs whatever became of the others (a stage whose
# prerequisite failed is skipped, saying why); each one's status and time go to OUT/summary.txt, printed
# last. The whole run stays under TOTAL_S seconds: each stage gets at most its limit and what is left.
#
#   bash scripts/gpu_check.sh OUT_DIR
#
# OUT_DIR receives 8 files: summary.txt, build.log, cuda.log, cuda.xml (JUnit), core.log, core.xml,
# sanitizers.log, later.log. Exit status: 0 when every stage that ran passed.
set -uo pipefail

# ---- settings (environment overrides) ----------------------------------------------------------------
TOTAL_S=${TOTAL_S:-540}
JOBS=${JOBS:-16}
BUILD_DIR=${BUILD_DIR:-build-gpu}
DEPS_DIR=${DEPS_DIR:-build-gpu-deps}  # built or adjusted dependencies, kept between runs on one machine
CUDA_TESTS_MINIMUM=${CUDA_TESTS_MINIMUM:-100}  # GPU tests that must run (none may skip on a GPU)
# The long GPU checks run as their own stage (LOSS_CURVE=1), not with the quick ones.
CUDA_TESTS_EXCLUDE=${CUDA_TESTS_EXCLUDE:-'^cuda\.loss_curve'}
LOSS_CURVE=${LOSS_CURVE:-0}
LIMIT_LOSS_CURVE=${LIMIT_LOSS_CURVE:-240}
# compute-sanitizer runs these gtest filters of cuda_tests (our own tests, then the conformance suite in f32).
# The tests that provoke CUDA errors on purpose (an absurd allocation, a bad device) are left out: the
# sanitizers would report the very errors they check.
provoked='CudaCopy.AnAbsurdAllocation*:CudaErrors.*:CudaDevice.*:GpuCheckpoints.*'
MEMCHECK_FILTER=${MEMCHECK_FILTER:-"Cuda*:Gpu*:*cuda_f32_*:*cuda_bf16_*:-$provoked"}
RACECHECK_FILTER=${RACECHECK_FILTER:-"Cuda*:GpuTrainingStep.*:*cuda_f32_*:*cuda_bf16_*:-$provoked"}
INITCHECK_FILTER=${INITCHECK_FILTER:-"Cuda*:GpuTrainingStep.*:*cuda_f32_*:-$provoked"}
BENCH_PRESETS=${BENCH_PRESETS:-'small:32 medium:16 large:8 moe:16'}  # preset:batch at sequence length 512
# Seconds each stage may take at most.
LIMIT_GOOGLETEST=${LIMIT_GOOGLETEST:-150} LIMIT_CONFIGURE=${LIMIT_CONFIGURE:-120} LIMIT_BUILD=${LIMIT_BUILD:-330}
LIMIT_CUDA_TESTS=${LIMIT_CUDA_TESTS:-150} LIMIT_CORE_TESTS=${LIMIT_CORE_TESTS:-100}
LIMIT_SANITIZER=${LIMIT_SANITIZER:-100} LIMIT_CLI=${LIMIT_CLI:-60} LIMIT_CLI_MEMCHECK=${LIMIT_CLI_MEMCHECK:-120}
LIMIT_BENCH=${LIMIT_BENCH:-60}
# ----------------------------------------------------------------------------------------------------

if [[ $# -ne 1 ]]; then
  echo "usage: bash scripts/gpu_check.sh OUT_DIR" >&2
  exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)
summary=$out/summary.txt
build_log=$out/build.log later_log=$out/later.log sanitizer_log=$out/sanitizers.log
: >"$summary"
: >"$build_log"
: >"$later_log"
: >"$sanitizer_log"
started=$SECONDS
failures=0

note() { echo "gpu_check: $*" | tee -a "$summary"; }

# record NAME STATUS SECONDS [WHY]: one line of the summary.
record() {
  local name=$1 status=$2 seconds=$3 why=${4:-} verdict
  case $status in
    0) verdict=ok ;;
    skipped) verdict=skipped ;;
    124 | 137) verdict="TIMED OUT"; failures=$((failures + 1)) ;;
    *) verdict="FAILED ($status)"; failures=$((failures + 1)) ;;
  esac
  printf 'gpu_check: %-16s %-12s %4s s  %s\n' "$name" "$verdict" "$seconds" "$why" | tee -a "$summary"
}

# stage NAME LIMIT LOG COMMAND...: runs COMMAND with its output appended to LOG, for at most LIMIT seconds
# and the time left; records its status. Returns the status (skipped: 125).
stage() {
  local name=$1 limit=$2 log=$3
  shift 3
  local left=$((TOTAL_S - (SECONDS - started) - 15))
  if ((left < 20)); then
    record "$name" skipped 0 "no time left of TOTAL_S=$TOTAL_S"
    return 125
  fi
  ((limit > left)) && limit=$left
  echo "==== $name (at most ${limit} s): $*" >>"$log"
  local begin=$SECONDS status
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  status=$?
  local why=""
  ((status == 124 || status == 137)) && why="stopped after ${limit} s"
  record "$name" "$status" $((SECONDS - begin)) "$why"
  return "$status"
}

skip() { record "$1" skipped 0 "$2"; }

# passed/failed/skipped counts of a ctest JUnit file.
junit_counts() {
  python3 - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ElementTree
cases = list(ElementTree.parse(sys.argv[1]).getroot().iter("testcase"))
failed = sum(1 for c in cases if c.find("failure") is not None or c.get("status") == "fail")
skipped = sum(1 for c in cases if c.find("skipped") is not None or c.get("status") in ("notrun", "disabled"))
print(f"{len(cases) - failed - skipped} passed, {failed} failed, {skipped} skipped")
EOF
}

# ---- the machine -------------------------------------------------------------------------------------
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
command -v compute-sanitizer >/dev/null || export PATH=$PATH:/usr/local/cuda/bin:/usr/local/cuda/compute-sanitizer
{
  echo "== nvidia-smi -L"; nvidia-smi -L
  echo "== nvcc --version"; nvcc --version
  echo "== compute-sanitizer --version"; compute-sanitizer --version
  echo "== cmake, ninja, g++"; cmake --version | head -1; ninja --version; g++ --version | head -1
} 2>&1 | tee -a "$build_log" | sed 's/^/gpu_check: /' | tee -a "$summary"

# ---- dependencies from .device/ ----------------------------------------------------------------------
mkdir -p "$DEPS_DIR"
deps=$(cd "$DEPS_DIR" && pwd)
prefixes=()
configure_extra=()

# pkg-config itself, when the machine has none: the carried pkgconf behind a wrapper that finds its library.
if ! command -v pkg-config >/dev/null; then
  if [[ -x $repo/.device/pkgconf/bin/pkgconf ]]; then
    mkdir -p "$deps/bin"
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$repo/.device/pkgconf/lib" \
      "$repo/.device/pkgconf/bin/pkgconf" >"$deps/bin/pkg-config"
    chmod +x "$deps/bin/pkg-config"
    export PATH=$deps/bin:$PATH
    configure_extra+=("-DPKG_CONFIG_EXECUTABLE=$deps/bin/pkg-config")
    note "pkg-config: the carried pkgconf"
  else
    note "pkg-config: missing, and not carried (.device/pkgconf): the configure will fail"
  fi
fi

# PCRE2: the carried static library, its .pc file pointed at where it lies here.
if [[ -f $repo/.device/pcre2/pkgconfig/libpcre2-8.pc ]]; then
  rm -rf "$deps/pcre2"
  cp -r "$repo/.device/pcre2" "$deps/pcre2"
  sed -i "s|@PREFIX@|$deps/pcre2|" "$deps/pcre2/pkgconfig/libpcre2-8.pc"
  export PKG_CONFIG_PATH=$deps/pcre2/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  note "PCRE2: the carried one ($(pkg-config --modversion libpcre2-8 2>&1))"
else
  note "PCRE2: not carried (.device/pcre2; run scripts/prepare_gpu_carry.sh and carry .device)"
fi

# Which CMake packages the machine has: Eigen3, nlohmann_json and GTest come from .device/ when it lacks them.
probe=$deps/probe
mkdir -p "$probe"
cat >"$probe/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(probe LANGUAGES CXX)
find_package(Eigen3 3.4 QUIET NO_MODULE)
find_package(nlohmann_json 3.10 QUIET)
find_package(GTest QUIET)
foreach(package Eigen3 nlohmann_json GTest)
  if(NOT ${package}_FOUND)
    message(STATUS "missing: ${package}")
  endif()
endforeach()
EOF
rm -rf "$probe/build"
missing=$(cmake -S "$probe" -B "$probe/build" 2>&1 | sed -n 's/^-- missing: //p')
for package in Eigen3 nlohmann_json; do
  carried=$repo/.device/$([[ $package == Eigen3 ]] && echo eigen3 || echo nlohmann_json)
  if grep -qx "$package" <<<"$missing"; then
    prefixes+=("$carried")
    note "$package: the carried one"
  fi
done
googletest_prefix=$deps/googletest-install
if grep -qx GTest <<<"$missing"; then
  if [[ -f $googletest_prefix/lib/cmake/GTest/GTestConfig.cmake ]]; then
    note "GoogleTest: built here by an earlier run"
  elif [[ -d $repo/.device/googletest ]]; then
    stage googletest "$LIMIT_GOOGLETEST" "$build_log" bash -c "
      cmake -S '$repo/.device/googletest' -B '$deps/googletest-build' -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX='$googletest_prefix' && ninja -C '$deps/googletest-build' -j$JOBS install"
  else
    note "GoogleTest: missing, and not carried (.device/googletest): the configure will fail"
  fi
  prefixes+=("$googletest_prefix")
fi
prefix_path=$(IFS=';'; echo "${prefixes[*]}")

# ---- build -------------------------------------------------------------------------------------------
built=0
if stage configure "$LIMIT_CONFIGURE" "$build_log" cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMINIMIND_BUILD_LAB=OFF -DMINIMIND_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DMINIMIND_BUILD_EXPERIMENTS=OFF \
  -DCMAKE_PREFIX_PATH="$prefix_path" "${configure_extra[@]}"; then
  # -k 0: build every target that can be built, so that one broken target does not keep the others back.
  stage build "$LIMIT_BUILD" "$build_log" ninja -C "$BUILD_DIR" -k 0 -j"$JOBS" && built=1
else
  skip build "the configure failed: see build.log"
fi
cuda_tests=$BUILD_DIR/tests/cuda/cuda_tests
cli=$BUILD_DIR/app/minimind

# ---- tests -------------------------------------------------------------------------------------------
if [[ -x $cuda_tests ]]; then
  ((built)) || note "the build failed, but cuda_tests was built: running it"
  # Several test processes share the GPU; none of them needs much of it.
  stage cuda-tests "$LIMIT_CUDA_TESTS" "$out/cuda.log" ctest --test-dir "$BUILD_DIR" -R '^cuda\.' -E "$CUDA_TESTS_EXCLUDE" -j8 \
    --output-on-failure --timeout 120 --output-junit "$out/cuda.xml"
  if [[ -f $out/cuda.xml ]]; then
    note "cuda tests: $(junit_counts "$out/cuda.xml")"
    stage cuda-groups 30 "$out/cuda.log" python3 scripts/check_test_groups.py "$out/cuda.xml" \
      "cuda.:$CUDA_TESTS_MINIMUM"
  fi
else
  skip cuda-tests "cuda_tests was not built: see build.log"
fi

if [[ -x $BUILD_DIR/tests/core_tests ]]; then
  stage core-tests "$LIMIT_CORE_TESTS" "$out/core.log" ctest --test-dir "$BUILD_DIR" -R '^core\.' -j"$JOBS" \
    --timeout 90 --output-on-failure --output-junit "$out/core.xml"
  [[ -f $out/core.xml ]] && note "core tests: $(junit_counts "$out/core.xml")"
else
  skip core-tests "core_tests was not built: see build.log"
fi

# ---- compute-sanitizer -------------------------------------------------------------------------------
for tool in memcheck racecheck initcheck; do
  case $tool in
    memcheck) filter=$MEMCHECK_FILTER ;;
    racecheck) filter=$RACECHECK_FILTER ;;
    initcheck) filter=$INITCHECK_FILTER ;;
  esac
  if [[ -x $cuda_tests ]]; then
    stage "$tool" "$LIMIT_SANITIZER" "$sanitizer_log" compute-sanitizer --tool "$tool" --error-exitcode=1 \
      "$cuda_tests" --gtest_filter="$filter" --gtest_brief=1
  else
    skip "$tool" "cuda_tests was not built"
  fi
done

# ---- later steps: the CLI on the GPU -----------------------------------------------------------------
# A few steps of the CLI's demo training on the GPU: the prerequisite of the two stages after it.
if ((LOSS_CURVE)) && [[ -x $cuda_tests ]]; then
  stage loss-curve "$LIMIT_LOSS_CURVE" "$later_log" ctest --test-dir "$BUILD_DIR" -R '^cuda\.loss_curve' -V
fi

cli_demo() {
  stage cli-demo "$LIMIT_CLI" "$later_log" "$cli" demo --device cuda --steps 3 --batch_size 2 --seq_len 32
}

# 20 training steps under memcheck.
cli_memcheck() {
  stage cli-memcheck "$LIMIT_CLI_MEMCHECK" "$later_log" compute-sanitizer --tool memcheck --error-exitcode=1 \
    "$cli" demo --device cuda --steps 20 --batch_size 2 --seq_len 64
}

# The training step's speed on the GPU (tiny preset).
bench() {
  local preset_batch
  for preset_batch in $BENCH_PRESETS; do
    stage "bench-${preset_batch%%:*}" "$LIMIT_BENCH" "$later_log" "$cli" bench --device cuda \
      --preset "${preset_batch%%:*}" --batch_size "${preset_batch##*:}" --seq_len 512 --steps 10 --warmup 2
    grep -E 'training step on|tokens/s|TFLOP/s|MFU|device memory' "$later_log" | tail -5 | tee -a "$summary"
  done
}

if [[ ! -x $cli ]]; then
  for name in cli-demo cli-memcheck bench; do skip "$name" "the CLI was not built: see build.log"; done
elif cli_demo; then
  cli_memcheck
  bench
else
  for name in cli-memcheck bench; do skip "$name" "the CLI's demo on cuda failed: see later.log"; done
fi

# ---- summary -----------------------------------------------------------------------------------------
note "total $((SECONDS - started)) s; $failures stage(s) failed"
echo
echo "==== summary ($summary)"
cat "$summary"
((failures == 0))
