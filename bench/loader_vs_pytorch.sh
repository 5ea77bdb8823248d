#!/usr/bin/env bash
# crmt's loader against PyTorch's DataLoader on the same Kinetics-Sounds-shaped files, same worker
# counts, one after the other on an otherwise idle machine. Needs Debian's python3-torch,
# python3-numpy and python3-pil (/usr/bin/python3).
# Usage: bash bench/loader_vs_pytorch.sh [build dir] [clips]
set -euo pipefail
BUILD=${1:-build}
CLIPS=${2:-64}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BUILD/crmt" data make-fixture kinetics_sounds --out "$WORK/ks" --clips "$CLIPS" >/dev/null 2>&1
for workers in 1 2; do
  CRMT_KS_FIXTURE="$WORK/ks" "$BUILD/crmt_bench" --benchmark_filter="BM_KineticsSoundsLoader/$workers/" \
    --benchmark_min_time=3 --benchmark_format=json >"$WORK/crmt.json" 2>/dev/null
  /usr/bin/python3 -c 'import json, sys; b = json.load(open(sys.argv[1]))["benchmarks"][0]; print("crmt loader workers={} clips/s {:.1f}".format(int(b["workers"]), b["clips_per_second"]))' "$WORK/crmt.json"
  /usr/bin/python3 "$(dirname "$0")/pytorch_ks_loader.py" "$WORK/ks" "$workers" 16 3
done
