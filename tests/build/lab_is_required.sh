#!/usr/bin/env bash
# The build refuses to drop the lab silently: with Qt's OpenGL module missing (the package a new machine once
# lacked, which makes Qt 6 Charts unfindable), configuring fails and names the packages to install and the
# explicit way out; with -DMINIMIND_BUILD_LAB=OFF the same configuration succeeds.
#   lab_is_required.sh SOURCE_DIR
set -uo pipefail
source_dir=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
no_qt_opengl=(-G Ninja -DMINIMIND_CUDA=OFF -DMINIMIND_BUILD_TESTS=OFF -DMINIMIND_BUILD_EXPERIMENTS=OFF
              -DCMAKE_DISABLE_FIND_PACKAGE_Qt6OpenGL=TRUE)

if cmake -S "$source_dir" -B "$scratch/lab" "${no_qt_opengl[@]}" >"$scratch/lab.log" 2>&1; then
  echo "FAIL: configuring with the lab on and Qt 6 Charts unfindable succeeded:"; cat "$scratch/lab.log"; exit 1
fi
for expected in "The lab needs Qt 6 Widgets and Charts" "qt6-charts-dev" "libqt6opengl6-dev" "-DMINIMIND_BUILD_LAB=OFF"; do
  grep -qF -- "$expected" "$scratch/lab.log" || { echo "FAIL: the message lacks '$expected':"; cat "$scratch/lab.log"; exit 1; }
done
if ! cmake -S "$source_dir" -B "$scratch/cli" "${no_qt_opengl[@]}" -DMINIMIND_BUILD_LAB=OFF >"$scratch/cli.log" 2>&1; then
  echo "FAIL: configuring with -DMINIMIND_BUILD_LAB=OFF failed:"; cat "$scratch/cli.log"; exit 1
fi
echo "lab_is_required: refused without Qt, naming the packages; configured with MINIMIND_BUILD_LAB=OFF"
