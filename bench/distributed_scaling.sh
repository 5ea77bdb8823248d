#!/usr/bin/env bash
# Data-parallel scaling on this machine: `crmt train` on the embedded data with 1 process and with
# --nproc 2, one intra-op thread per process, the same global batch. Prints training throughput and
# the time each step spends exchanging gradients (rank 0's, from log.jsonl), for the small CNN of
# configs/jt.yaml and for ResNet-18 x 2 (about 22.4M parameters: the all-reduce volume of the paper's
# models). Run it on an otherwise idle machine: docs/distributed.md quotes its output.
#   bash bench/distributed_scaling.sh [build/crmt] [train samples] [resnet train samples]
set -euo pipefail
CRMT=${1:-build/crmt}
SAMPLES=${2:-12000}
RESNET_SAMPLES=${3:-1280}
OUT=$(mktemp -d /tmp/crmt_scaling.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# run NAME NPROC ARGS...: trains 2 epochs; reports the second (warm) epoch.
run() {
  local name=$1 nproc=$2
  shift 2
  "$CRMT" train --config configs/jt.yaml train.epochs=2 output.progress=false data.workers=0 --threads 1 \
    --nproc "$nproc" output.dir="$OUT/$name" "$@" > "$OUT/$name.txt" 2>&1 || { cat "$OUT/$name.txt"; exit 1; }
  python3 - "$OUT/$name/log.jsonl" "$name" "$nproc" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if '"stage": "train"' in l or '"stage":"train"' in l]
r = records[-1]
steps = max(1, r.get("steps", 1))
print(f"{sys.argv[2]:<28} {sys.argv[3]:>5} {r['samples_per_second']:>12.0f} {1000 * r['seconds'] / steps:>10.1f} "
      f"{1000 * r.get('communication_seconds', 0) / steps:>14.2f}")
PY
}

printf "%-28s %5s %12s %10s %14s\n" "model" "procs" "samples/s" "ms/step" "exchange ms/step"
for np in 1 2; do run "small_cnn_b64_np$np" $np data.train_size="$SAMPLES"; done
for np in 1 2; do run "small_cnn_b256_np$np" $np data.train_size="$SAMPLES" train.batch_size=256; done
for np in 1 2; do
  run "resnet18x2_b64_np$np" $np data.train_size="$RESNET_SAMPLES" model.encoder=resnet18 model.embed_dim=512
done
