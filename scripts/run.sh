#!/usr/bin/env bash
# The quick start: install what is missing, build, and run the lab's main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
bash scripts/build.sh
exec build/app/minimind demo "$@"
