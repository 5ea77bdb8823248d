#!/usr/bin/env bash
# `crmt data prepare` against the official scripts' approach (bench/official_preprocess.py: an
# ffmpeg process per clip and step, a Python spectrogram per clip; OpenCV TV-L1 in Python for flow)
# on the same fixture videos, 1 and 2 workers, one after the other on an otherwise idle machine.
# Kinetics-Sounds: 10 s clips, 340x256 at 25 fps, AAC 44.1 kHz stereo (decode + 1 fps frames +
# fbank). UCF101: flow and RGB of 4 s AVI clips, 320x240 at 5 fps (19 flow fields each).
# Needs Debian's ffmpeg, python3-torchaudio, python3-opencv (/usr/bin/python3).
# Usage: bash bench/prepare_vs_python.sh [build dir] [clips per split]
set -euo pipefail
BUILD=${1:-build}
CLIPS=${2:-16}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
HERE=$(dirname "$0")
"$BUILD/crmt" data make-fixture kinetics_sounds --videos --out "$WORK/ks" --clips "$CLIPS" >/dev/null 2>&1
"$BUILD/crmt" data make-fixture ucf101 --videos --out "$WORK/ucf" --clips "$((CLIPS / 2))" >/dev/null 2>&1
timed() {  # label, clips, command...
  local label=$1 clips=$2
  shift 2
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); print('{} clips={} seconds={:.2f} clips/s {:.2f}'.format(sys.argv[3], sys.argv[4], s, int(sys.argv[4]) / s))" \
    "$start" "$end" "$label" "$clips"
}
KS_CLIPS=$((2 * CLIPS))
UCF_CLIPS=$(find "$WORK/ucf/videos" -name '*.avi' | wc -l)
for workers in 1 2; do
  rm -rf "$WORK/out"
  timed "crmt ks workers=$workers" "$KS_CLIPS" "$BUILD/crmt" data prepare kinetics_sounds --videos "$WORK/ks/videos" \
    --out "$WORK/out" --workers "$workers"
  rm -rf "$WORK/out"
  /usr/bin/python3 "$HERE/official_preprocess.py" ks "$WORK/ks/videos" "$WORK/out" --workers "$workers"
done
for workers in 1 2; do
  rm -rf "$WORK/out"
  timed "crmt ucf101 flow+rgb workers=$workers" "$UCF_CLIPS" "$BUILD/crmt" data prepare ucf101 \
    --videos "$WORK/ucf/videos" --out "$WORK/out" --workers "$workers"
  rm -rf "$WORK/out"
  /usr/bin/python3 "$HERE/official_preprocess.py" flow "$WORK/ucf/videos" "$WORK/out" --workers "$workers"
done
