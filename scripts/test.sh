#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
bash scripts/build.sh

# The fuzz targets, built with clang and its sanitizers, each run for a bounded time.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DMINIMIND_BUILD_LAB=OFF -DMINIMIND_CUDA=OFF -DMINIMIND_FUZZ=ON -DMINIMIND_FUZZ_SECONDS=30 >/dev/null
ninja -C build-fuzz safetensors_fuzz shard_fuzz tokenizer_json_fuzz jsonl_fuzz
(cd build-fuzz && ctest -R '^fuzz\.' --output-on-failure --output-junit fuzz.xml)
python3 scripts/check_test_groups.py build-fuzz/fuzz.xml fuzz.:4

# The suite itself, then a check that no group of it went missing or skipped (a package missing on a new machine
# can leave out the widget tests or skip the lab tour while ctest stays green). ctest's summary closes the output.
status=0
(cd build && ctest --output-on-failure --timeout 600 --output-junit ctest.xml) 2>&1 | tee build/ctest.log || status=$?
groups=(core.:500 widgets.:90 build.:2 interop.:1 lab.tour:1)
# The GPU tests are built wherever nvcc is: then they must be listed, and on a machine with a GPU they must run
# (without one each skips, saying why).
if grep -q '^CMAKE_CUDA_COMPILER:[A-Z]*=.*nvcc$' build/CMakeCache.txt; then
  if nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then groups+=(cuda.:100); else groups+=(cuda.:0/100); fi
fi
python3 scripts/check_test_groups.py build/ctest.xml "${groups[@]}" || status=1
grep -E '^[0-9]+% tests passed|^Total Test time' build/ctest.log || true
exit "$status"
