#!/usr/bin/env bash
# The CUDA backend's checks on a GPU machine without a package registry (Ubuntu 24.04 with nvcc, CMake,
# ninja, g++, python3 and compute-sanitizer; no Qt, no PCRE2 headers, perhaps no GoogleTest). Sets up what
# the build lacks from .device/ (filled by scripts/prepare_gpu_carry.sh, then scripts/prepare_lab_carry.sh,
# and carried with the tree), builds (Release, CUDA for sm_90, without the lab), then runs: the GPU tests,
# the core tests, the lab's controllers (from the carried package), compute-sanitizer's memcheck, racecheck
# and initcheck on the GPU tests, a 20-step CLI training run under each of them, the CLI's training
# benchmark and its generation speed on the GPU. Every stage runs whatever became of the others (a stage
# whose prerequisite failed is skipped, saying why); each one's status and time go to OUT/summary.txt,
# printed last. The whole run stays under TOTAL_S seconds: each stage gets at most its limit and what is left.
#
#   bash scripts/gpu_check.sh OUT_DIR
#
# OUT_DIR receives summary.txt, build.log, cuda.log, cuda.xml (JUnit), core.log, core.xml, each sanitizer's
# report on the tests (memcheck.log, racecheck.log, initcheck.log; sanitizers.log holds all three) and on the
# CLI (cli-memcheck.log, ...), and later.log. Exit status: 0 when every stage that ran passed.
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
RACECHECK_FILTER=${RACECHECK_FILTER:-"Cuda*:Gpu*:*cuda_f32_*:*cuda_bf16_*:-$provoked"}  # the heavy parts apart
RACECHECK_SAMPLING_FILTER=${RACECHECK_SAMPLING_FILTER:-'*SampleTokens*:-*wide_vocab*'}
SANITIZE_ALONGSIDE=${SANITIZE_ALONGSIDE:-0}
BUILD_TARGETS=${BUILD_TARGETS:-}  # space-separated ninja targets; empty: all
# The lab's tests run from the carried package: its controllers, with the one that needs the GPU.
LAB_TESTS_FILTER=${LAB_TESTS_FILTER:-'GenerationControllerTest.*:TrainingController.StartsPausesResumesAndStopsARealRun'}
INITCHECK_FILTER=${INITCHECK_FILTER:-"Cuda*:Gpu*:*cuda_f32_*:*cuda_bf16_*:-$provoked"}
BENCH_PRESETS=${BENCH_PRESETS:-'small:32 medium:16 large:8 moe:16'}  # preset:batch at sequence length 512
# Seconds each stage may take at most.
LIMIT_GOOGLETEST=${LIMIT_GOOGLETEST:-150} LIMIT_CONFIGURE=${LIMIT_CONFIGURE:-120} LIMIT_BUILD=${LIMIT_BUILD:-330}
LIMIT_CUDA_TESTS=${LIMIT_CUDA_TESTS:-150} LIMIT_CORE_TESTS=${LIMIT_CORE_TESTS:-100}
LIMIT_SANITIZER=${LIMIT_SANITIZER:-240} LIMIT_CLI=${LIMIT_CLI:-60} LIMIT_CLI_SANITIZER=${LIMIT_CLI_SANITIZER:-300}
LIMIT_BENCH=${LIMIT_BENCH:-60} LIMIT_LAB_TESTS=${LIMIT_LAB_TESTS:-120}
# Only these stages run when set (space-separated names or patterns of them as the summary prints them; the
# set-up and the build always run), e.g. STAGES='initcheck racecheck-*'.
STAGES=${STAGES:-}
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
  if ! wanted "$name"; then
    record "$name" skipped 0 "not in STAGES"
    return 125
  fi
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

# Whether stage NAME runs under STAGES.
wanted() {
  [[ -z $STAGES || $1 == googletest || $1 == configure || $1 == build ]] && return 0
  local pattern patterns
  read -ra patterns <<<"$STAGES"  # not globbed against the files here
  for pattern in "${patterns[@]}"; do
    # shellcheck disable=SC2053
    [[ $1 == $pattern ]] && return 0
  done
  return 1
}

# background_stage NAME LIMIT LOG COMMAND...: stage in the background; its status goes to OUT/.status.NAME.
background_stage() {
  local name=$1
  (
    stage "$@"
    echo $? >"$out/.status.$name"
  ) &
}

# collect_background NAME...: waits for the background stages and counts their failures here.
collect_background() {
  wait
  local name status
  for name in "$@"; do
    status=$(cat "$out/.status.$name" 2>/dev/null || echo 1)
    ((status != 0 && status != 125)) && failures=$((failures + 1))
  done
}

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
  read -ra targets <<<"$BUILD_TARGETS"
  stage build "$LIMIT_BUILD" "$build_log" ninja -C "$BUILD_DIR" -k 0 -j"$JOBS" "${targets[@]}" && built=1
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

# ---- the lab's controllers on the GPU ----------------------------------------------------------------
# The machine has no Qt: the lab's tests come packed with the Qt runtime (scripts/prepare_lab_carry.sh) and
# run offscreen; the GPU test among them must run, not skip.
if [[ -f $repo/.device/lab.tar.gz ]]; then
  rm -rf "$deps/lab"
  tar -C "$deps" -xzf "$repo/.device/lab.tar.gz"
  lab=$deps/lab
  : >"$out/lab.log"
  if stage lab-tests "$LIMIT_LAB_TESTS" "$out/lab.log" env \
    LD_LIBRARY_PATH="$lab/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    QT_PLUGIN_PATH="$lab/plugins" QT_QPA_PLATFORM=offscreen QT_QPA_FONTDIR="$lab/fonts" \
    MINIMIND_RESOURCES_DIR="$repo/resources" "$lab/bin/widget_tests" --gtest_filter="$LAB_TESTS_FILTER" &&
    grep -q 'SKIPPED \] GenerationControllerTest.OnAGpu' "$out/lab.log"; then
    record lab-gpu-test 1 0 "the lab's GPU test skipped: see lab.log"
  fi
  grep -E '^\[ +(PASSED|FAILED|SKIPPED) +\]' "$out/lab.log" | sed 's/^/gpu_check:   lab: /' | tee -a "$summary"
else
  skip lab-tests "not carried (.device/lab.tar.gz: run scripts/prepare_lab_carry.sh)"
fi

# ---- compute-sanitizer -------------------------------------------------------------------------------
# The tools run at once, racecheck (the slowest by far) in three parts: each is bound by its own
# instrumentation on the host, not by the GPU. With SANITIZE_ALONGSIDE=1 they run beside the loss curve and
# the CLI's checks, and the benchmarks wait for them.
sanitizer_report() {  # NAME LOG: the kernels (or API calls) its reports name, most frequent first
  grep -E '^=========     (at |Host Frame:)|^========= [A-Z]' "$2" | sed -E 's/\+0x[0-9a-f]+//; s/ \[0x[0-9a-f]+\]//' |
    sort | uniq -c | sort -rn | head -12 | sed "s/^/gpu_check:   $1: /" | tee -a "$summary"
}
# The sampling kernel runs hundreds of block reductions per row, slow under racecheck: the 70001-token case
# and the generation tests (whose other kernels the rest covers) stay out of it.
heavy_racecheck='*AttentionConformance*:*SampleTokens*:GpuGeneration.*'
sanitizer_jobs=(
  "memcheck memcheck $MEMCHECK_FILTER"
  "initcheck initcheck $INITCHECK_FILTER"
  "racecheck-attention racecheck *AttentionConformance*"
  "racecheck-sampling racecheck $RACECHECK_SAMPLING_FILTER"
  "racecheck-rest racecheck $RACECHECK_FILTER:$heavy_racecheck"
)
sanitizer_names=()
if [[ -x $cuda_tests ]]; then
  for job in "${sanitizer_jobs[@]}"; do
    read -r name tool filter <<<"$job"
    sanitizer_names+=("$name")
    : >"$out/$name.log"
    background_stage "$name" "$LIMIT_SANITIZER" "$out/$name.log" compute-sanitizer --tool "$tool" \
      --error-exitcode=1 --print-limit 1000 "$cuda_tests" --gtest_filter="$filter" --gtest_brief=1
  done
else
  for job in "${sanitizer_jobs[@]}"; do skip "${job%% *}" "cuda_tests was not built"; done
fi
collect_sanitizers() {
  ((${#sanitizer_names[@]})) || return 0
  collect_background "${sanitizer_names[@]}"
  local name status
  for name in "${sanitizer_names[@]}"; do
    cat "$out/$name.log" >>"$sanitizer_log"
    status=$(cat "$out/.status.$name")
    ((status != 0 && status != 125)) && sanitizer_report "$name" "$out/$name.log"
  done
  sanitizer_names=()
}
((SANITIZE_ALONGSIDE)) || collect_sanitizers

# ---- later steps: the CLI on the GPU -----------------------------------------------------------------
# A few steps of the CLI's demo training on the GPU: the prerequisite of the two stages after it.
if ((LOSS_CURVE)) && [[ -x $cuda_tests ]]; then
  stage loss-curve "$LIMIT_LOSS_CURVE" "$later_log" ctest --test-dir "$BUILD_DIR" -R '^cuda\.loss_curve' -V
fi

cli_demo() {
  stage cli-demo "$LIMIT_CLI" "$later_log" "$cli" demo --device cuda --steps 3 --batch_size 2 --seq_len 32
}

# 20 training steps under each of the three sanitizers, at once.
cli_sanitized() {
  local tool
  for tool in memcheck racecheck initcheck; do
    : >"$out/cli-$tool.log"
    background_stage "cli-$tool" "$LIMIT_CLI_SANITIZER" "$out/cli-$tool.log" compute-sanitizer --tool "$tool" \
      --error-exitcode=1 --print-limit 1000 "$cli" demo --device cuda --steps 20 --batch_size 2 --seq_len 64
  done
  collect_background cli-memcheck cli-racecheck cli-initcheck
  for tool in memcheck racecheck initcheck; do
    cat "$out/cli-$tool.log" >>"$later_log"
    status=$(cat "$out/.status.cli-$tool")
    ((status != 0 && status != 125)) && sanitizer_report "cli-$tool" "$out/cli-$tool.log"
  done
}

# Generation on the GPU: a freshly initialised small model, 256 tokens after a short prompt, greedy and
# sampled (the filters on the device); prefill and decode speed.
decode() {
  local model=$BUILD_DIR/decode-small mode
  stage decode-init "$LIMIT_CLI" "$later_log" "$cli" init --preset small --out "$model" --seed 1 || return
  for mode in greedy sampled; do
    local flags=(--greedy)
    [[ $mode == sampled ]] && flags=(--temperature 0.85 --top_k 50 --top_p 0.85 --repetition_penalty 1.1)
    stage "decode-$mode" "$LIMIT_CLI" "$later_log" "$cli" generate --device cuda --model "$model" \
      --prompt "The lab trains small language models" --max_new_tokens 256 --ignore_eos --benchmark "${flags[@]}"
    grep -E '^\{"batch"' "$later_log" | tail -1 | sed -E 's/, "tokens": \[[^]]*\]//; s/^/gpu_check:   /' |
      tee -a "$summary"
  done
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
  for name in cli-demo cli-sanitized bench decode; do skip "$name" "the CLI was not built: see build.log"; done
elif cli_demo; then
  cli_sanitized
  collect_sanitizers
  bench
  decode
else
  for name in cli-sanitized bench decode; do skip "$name" "the CLI's demo on cuda failed: see later.log"; done
fi
collect_sanitizers

# ---- summary -----------------------------------------------------------------------------------------
note "total $((SECONDS - started)) s; $failures stage(s) failed"
echo
echo "==== summary ($summary)"
cat "$summary"
((failures == 0))
