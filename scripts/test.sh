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
(cd build-fuzz && ctest -R '^fuzz\.' --output-on-failure)

# The suite itself (its summary closes the output).
(cd build && ctest --output-on-failure --timeout 600)
