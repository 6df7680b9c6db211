#!/usr/bin/env bash
# Fills .device/ (ignored by git) with what scripts/gpu_check.sh needs on a GPU machine that reaches no
# package registry, taken from this machine's Debian packages (installed when missing):
#   .device/pcre2          include/pcre2.h, lib/libpcre2-8.a and pkgconfig/libpcre2-8.pc (prefix=@PREFIX@,
#                          set to the folder's absolute path there)
#   .device/googletest     GoogleTest's source (/usr/src/googletest), built there when its CMake package is absent
# and, used there only when the machine lacks them:
#   .device/pkgconf        pkg-config (pkgconf and its library)
#   .device/eigen3         Eigen's headers and CMake package
#   .device/nlohmann_json  nlohmann/json's headers and CMake package
#
#   bash scripts/prepare_gpu_carry.sh     (then carry .device with the working tree)
set -euo pipefail
cd "$(dirname "$0")/.."
carry=.device
arch_lib=/usr/lib/x86_64-linux-gnu

packages=(libpcre2-dev googletest libeigen3-dev nlohmann-json3-dev pkgconf)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "prepare_gpu_carry: installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

rm -rf "$carry"
mkdir -p "$carry"

# PCRE2: the static library alone, so that the binaries need no libpcre2 there.
mkdir -p "$carry/pcre2/include" "$carry/pcre2/lib" "$carry/pcre2/pkgconfig"
cp /usr/include/pcre2.h "$carry/pcre2/include/"
cp "$arch_lib/libpcre2-8.a" "$carry/pcre2/lib/"
# shellcheck disable=SC2016  # ${prefix} is pkg-config's, written as is
sed -e 's|^prefix=.*|prefix=@PREFIX@|' -e 's|^libdir=.*|libdir=${prefix}/lib|' \
    -e 's|^includedir=.*|includedir=${prefix}/include|' \
    "$arch_lib/pkgconfig/libpcre2-8.pc" >"$carry/pcre2/pkgconfig/libpcre2-8.pc"

cp -r /usr/src/googletest "$carry/googletest"

mkdir -p "$carry/pkgconf/bin" "$carry/pkgconf/lib"
cp "$(readlink -f /usr/bin/pkgconf)" "$carry/pkgconf/bin/pkgconf"
cp "$(readlink -f "$arch_lib/libpkgconf.so.3")" "$carry/pkgconf/lib/libpkgconf.so.3"

# Header-only libraries keep their /usr layout: their CMake packages find the headers relative to themselves.
mkdir -p "$carry/eigen3/include" "$carry/eigen3/share"
cp -r /usr/include/eigen3 "$carry/eigen3/include/"
cp -r /usr/share/eigen3 "$carry/eigen3/share/"
mkdir -p "$carry/nlohmann_json/include" "$carry/nlohmann_json/share/cmake"
cp -r /usr/include/nlohmann "$carry/nlohmann_json/include/"
cp -r /usr/share/cmake/nlohmann_json "$carry/nlohmann_json/share/cmake/"

{ du -sh "$carry"/*; du -sh "$carry"; } | sed 's/^/prepare_gpu_carry: /'
