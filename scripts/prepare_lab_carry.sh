#!/usr/bin/env bash
# Packs the lab's tests (build/tests/widget_tests, built here with CUDA) with the Qt runtime they load into
# .device/lab.tar.gz, for a GPU machine that has no Qt: scripts/gpu_check.sh unpacks it and runs the lab's
# controllers on the GPU, offscreen (stage lab-tests). The libraries such a machine has (glibc, libstdc++,
# libgcc, the NVIDIA driver and CUDA's) stay out; everything else the binary and Qt's offscreen platform
# plugin load goes in, with one font.
#
#   bash scripts/build.sh && bash scripts/prepare_gpu_carry.sh && bash scripts/prepare_lab_carry.sh
# (in that order: prepare_gpu_carry.sh starts .device afresh), then carry .device with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${BUILD_DIR:-build}/tests/widget_tests
if [[ ! -x $binary ]]; then
  echo "prepare_lab_carry: $binary is not built (bash scripts/build.sh)" >&2
  exit 1
fi
plugins=$(qtpaths6 --query QT_INSTALL_PLUGINS 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/qt6/plugins)
offscreen=$plugins/platforms/libqoffscreen.so
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
for file in "$offscreen" "$font"; do
  if [[ ! -f $file ]]; then
    echo "prepare_lab_carry: $file is missing (bash scripts/install_dependencies.sh)" >&2
    exit 1
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lab=$work/lab
mkdir -p "$lab/bin" "$lab/lib" "$lab/plugins/platforms" "$lab/fonts"
cp "$binary" "$lab/bin/"
cp "$offscreen" "$lab/plugins/platforms/"
cp "$font" "$lab/fonts/"
# The system's own libraries, which the GPU machine provides in newer versions.
provided='^(linux-vdso|ld-linux|libc\.so|libm\.so|libstdc\+\+|libgcc_s|libpthread|libdl\.so|librt\.so|libcuda|libcudart|libcublas|libnvidia)'
for file in "$binary" "$offscreen"; do
  ldd "$file" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    [[ $name =~ $provided ]] || cp -L "$path" "$lab/lib/$name"
  done
done
mkdir -p .device
tar -C "$work" -czf .device/lab.tar.gz lab
echo "prepare_lab_carry: .device/lab.tar.gz, $(du -h .device/lab.tar.gz | cut -f1) ($(find "$lab/lib" -type f | wc -l) libraries)"
