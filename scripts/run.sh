#!/usr/bin/env bash
# The quick start: install what is missing, build, and open the lab on the tiny preset and the default corpus
# (one click on Start training trains it). Without a display, the command line runs its demo instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
bash scripts/build.sh
if [[ -x build/app/minimind-lab && ( -n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-} ) ]]; then
  exec build/app/minimind-lab "$@"
fi
echo "No display here (DISPLAY is not set): running the command-line demo instead of the lab." >&2
exec build/app/minimind demo "$@"
