#!/usr/bin/env bash
# Run here (Debian 12) before a GPU check: unpacks crmt's non-torch dependencies, pkg-config,
# espeak-ng's English data and Fashion-MNIST from Debian's .debs into .gpu/root (git-ignored), so
# the GPU machine (no apt, no network) can build and test against it after `source scripts/gpu-env.sh`.
# Idempotent: .gpu/root is rebuilt from scratch. apt-get download needs no root, only apt lists.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=.gpu/root
LIB=$ROOT/usr/lib/x86_64-linux-gnu
LIMIT=$((50 * 1024 * 1024))  # what `run` carries with the working tree has to stay small
PKGS=(
  libyaml-cpp-dev libyaml-cpp0.7 libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev
  libgtest-dev libbenchmark-dev libbenchmark1debian
  zlib1g-dev libjpeg62-turbo-dev libjpeg62-turbo
  libespeak-ng-dev libespeak-ng1 libsonic0 espeak-ng-data
  pkgconf-bin libpkgconf3  # CMake's pkg_check_modules needs a pkg-config; the GPU image may lack one
  dataset-fashion-mnist
)
# Not taken: zlib1g (zlib is linked statically, the system keeps its own libz.so.1) and libpcaudio0
# (needs libasound2 + libpulse0 and their ~25 libraries; replaced by the stub built below).

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" -ne 0 ] || chown _apt "$tmp" 2>/dev/null || true  # lets apt's sandbox user write there
(cd "$tmp" && apt-get download -q "${PKGS[@]}") || {
  echo "gpu-prepare: apt-get download failed (run 'apt-get update' first?)" >&2; exit 1; }

rm -rf "$ROOT"
mkdir -p "$ROOT"
: > .gpu/packages.txt
for deb in "$tmp"/*.deb; do
  dpkg-deb -x "$deb" "$ROOT"
  dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >> .gpu/packages.txt
done

# Trim: docs, sources, static archives nobody links, non-English espeak dictionaries (crmt only
# speaks English voices: en, en-us, en-gb-*, en-029 with !v variants; lang/ and voices/ are kept).
rm -rf "$ROOT"/usr/share/{doc,man,lintian,vim} "$ROOT"/usr/src
rm -f "$LIB"/libyaml-cpp.a "$LIB"/libespeak-ng.a "$LIB"/libjpeg.a
rm -f "$LIB"/libz.so  # absolute link to /lib/...; FindZLIB then takes libz.a (static, PIE-safe)
find "$LIB/espeak-ng-data" -maxdepth 1 -name '*_dict' ! -name en_dict -delete
# jpeglib.h includes "jconfig.h", which Debian keeps in the multiarch include folder.
cp "$ROOT/usr/include/x86_64-linux-gnu/jconfig.h" "$ROOT/usr/include/jconfig.h"

# Make .pc files relocatable: prefix=/usr -> relative to the .pc file itself.
for pc in "$LIB"/pkgconfig/*.pc "$ROOT"/usr/share/pkgconfig/*.pc; do
  [ -e "$pc" ] || continue
  case "$pc" in */share/pkgconfig/*) up='${pcfiledir}/../..' ;; *) up='${pcfiledir}/../../..' ;; esac
  sed -i -E "s#^([A-Za-z_]+)=/usr(/|\$)#\1=$up\2#" "$pc"
done

# libespeak-ng needs libpcaudio.so.0 only to play sound; crmt synthesizes with
# AUDIO_OUTPUT_SYNCHRONOUS, which never opens a device. This stub has the same ABI and reports no device.
cat > "$tmp/pcaudio_stub.c" <<'EOF'
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
struct audio_object;
struct audio_object *create_audio_device_object(const char *d, const char *a, const char *s) { return NULL; }
int audio_object_open(struct audio_object *o, int format, uint32_t rate, uint8_t channels) { return ENODEV; }
void audio_object_close(struct audio_object *o) {}
void audio_object_destroy(struct audio_object *o) {}
int audio_object_write(struct audio_object *o, const void *data, size_t bytes) { return ENODEV; }
int audio_object_drain(struct audio_object *o) { return ENODEV; }
int audio_object_flush(struct audio_object *o) { return ENODEV; }
const char *audio_object_strerror(struct audio_object *o, int error) { return "no audio device (crmt stub)"; }
EOF
cc -O2 -shared -fPIC -Wl,-soname,libpcaudio.so.0 -o "$LIB/libpcaudio.so.0" "$tmp/pcaudio_stub.c"
echo "libpcaudio0 stub (built by gpu-prepare.sh)" >> .gpu/packages.txt

# ABI: the GPU machine has glibc 2.39 and gcc 13's libstdc++ (GLIBCXX_3.4.31+).
abi_max() { find "$ROOT" -name '*.so*' -type f -o -path "$ROOT/usr/bin/*" -type f | xargs objdump -T 2>/dev/null |
  grep -o "$1_[0-9.]*" | sort -uV | tail -1; }
glibc=$(abi_max GLIBC); glibcxx=$(abi_max GLIBCXX)
echo "gpu-prepare: newest symbol versions needed: ${glibc:-none} ${glibcxx:-none}"
[ "$(printf '%s\n' "$glibc" GLIBC_2.39 | sort -V | tail -1)" = GLIBC_2.39 ] || { echo "gpu-prepare: $glibc > GLIBC_2.39" >&2; exit 1; }
[ "$(printf '%s\n' "$glibcxx" GLIBCXX_3.4.31 | sort -V | tail -1)" = GLIBCXX_3.4.31 ] || { echo "gpu-prepare: $glibcxx > GLIBCXX_3.4.31" >&2; exit 1; }

size=$(du -sb .gpu | cut -f1)
echo "gpu-prepare: .gpu is $((size / 1024)) KiB ($(wc -l < .gpu/packages.txt) packages, list in .gpu/packages.txt)"
[ "$size" -le "$LIMIT" ] || { echo "gpu-prepare: .gpu is over 50 MiB" >&2; exit 1; }
