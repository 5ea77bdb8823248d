#!/usr/bin/env bash
# Installs everything crmt needs to build, test and report on a fresh Debian 12 machine.
# Idempotent: apt-get skips what is already there. Run as root (CI) or through sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread libgloo-dev
  libyaml-cpp-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libbenchmark-dev
  zlib1g-dev libjpeg-dev dataset-fashion-mnist
  libespeak-ng-dev espeak-ng-data
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev ffmpeg
  libopencv-dev libopencv-contrib-dev
  gnuplot-nox
  libboost-math1.81-dev
)
# --bench: also what `make bench-compare` runs its PyTorch side with.
if [ "${1:-}" = "--bench" ]; then PACKAGES+=(python3-torch); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
