# Source from the repo root on the GPU machine: `source scripts/gpu-env.sh`. Points CMake,
# pkg-config, the dynamic loader and eSpeak NG at .gpu/root (made by scripts/gpu-prepare.sh), and
# sets CRMT_GPU_CMAKE_ARGS (string) / CRMT_GPU_CMAKE_ARGV (array) for the cmake configure line.
# No `set -euo pipefail` here: it would leak into the calling shell. Safe under `set -u`.
CRMT_GPU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.gpu/root"
if [ ! -d "$CRMT_GPU_ROOT/usr/lib/x86_64-linux-gnu" ]; then
  echo "gpu-env: $CRMT_GPU_ROOT missing: run scripts/gpu-prepare.sh on the Debian machine (and carry .gpu)" >&2
  return 1
fi
_u="$CRMT_GPU_ROOT/usr"
_l="$_u/lib/x86_64-linux-gnu"
export CRMT_GPU_ROOT
# find_package(yaml-cpp fmt nlohmann_json CLI11 GTest benchmark): config files under these prefixes.
export CMAKE_PREFIX_PATH="$_u:$_l/cmake:$_u/share/cmake${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# pkg-config (espeak-ng): our pkgconf and only our .pc files (they are relative to ${pcfiledir}).
export PKG_CONFIG="$_u/bin/pkgconf"
export PKG_CONFIG_LIBDIR="$_l/pkgconfig:$_u/share/pkgconfig"
export PKG_CONFIG_PATH="$PKG_CONFIG_LIBDIR"
unset PKG_CONFIG_SYSROOT_DIR
# FindZLIB / FindJPEG (CMP0074: <Pkg>_ROOT is honoured); zlib is the static libz.a, so the
# system's own libz.so.1 stays the one loaded at run time.
export ZLIB_ROOT="$_u" JPEG_ROOT="$_u"
# Runtime: libespeak-ng's own needs (libpcaudio stub, libsonic) are not on the binaries' RUNPATH.
export LD_LIBRARY_PATH="$_l${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# espeak_Initialize(..., nullptr, ...) looks in $ESPEAK_DATA_PATH/espeak-ng-data first.
export ESPEAK_DATA_PATH="$_l"
export CRMT_FASHION_MNIST_DIR="$_u/share/datasets/fashion-mnist"
CRMT_GPU_CMAKE_ARGV=(
  "-DPKG_CONFIG_EXECUTABLE=$PKG_CONFIG"
  "-DZLIB_INCLUDE_DIR=$_u/include" "-DZLIB_LIBRARY=$_l/libz.a"
  "-DJPEG_INCLUDE_DIR=$_u/include" "-DJPEG_LIBRARY=$_l/libjpeg.so"
)
export CRMT_GPU_CMAKE_ARGS="${CRMT_GPU_CMAKE_ARGV[*]}"

# crmt and its tests read Fashion-MNIST at the fixed /usr/share/datasets/fashion-mnist; as root,
# copy the pure-data folders into place when absent (never any .so into system folders).
_crmt_place() {  # $1: our data folder, $2: where crmt looks for it
  if [ -e "$2" ]; then :
  elif [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$(dirname "$2")" && cp -a "$1" "$2" && echo "gpu-env: copied $2"
  else
    echo "gpu-env: warning: $2 missing and not root: what reads it will fail" >&2
  fi
}
_crmt_place "$CRMT_FASHION_MNIST_DIR" /usr/share/datasets/fashion-mnist
_crmt_place "$_l/espeak-ng-data" /usr/lib/x86_64-linux-gnu/espeak-ng-data  # ESPEAK_DATA_PATH suffices; belt and braces

cat <<EOF
gpu-env: CRMT_GPU_ROOT=$CRMT_GPU_ROOT
gpu-env: CMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH
gpu-env: PKG_CONFIG=$PKG_CONFIG PKG_CONFIG_LIBDIR=$PKG_CONFIG_LIBDIR
gpu-env: LD_LIBRARY_PATH=$LD_LIBRARY_PATH
gpu-env: ESPEAK_DATA_PATH=$ESPEAK_DATA_PATH  ZLIB_ROOT=$ZLIB_ROOT  JPEG_ROOT=$JPEG_ROOT
gpu-env: CRMT_FASHION_MNIST_DIR=$CRMT_FASHION_MNIST_DIR
gpu-env: CRMT_GPU_CMAKE_ARGS=$CRMT_GPU_CMAKE_ARGS
EOF
unset _u _l; unset -f _crmt_place
