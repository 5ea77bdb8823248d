#!/usr/bin/env bash
# The GPU check, on a machine with one NVIDIA GPU, CUDA, CMake, ninja and a PyTorch 2.x wheel but
# none of crmt's other dependencies: those travel in .gpu/ (run scripts/gpu-prepare.sh on a Debian
# machine first and carry that folder along).
#
#   bash scripts/gpu-check.sh [PHASE ...]     # default: all phases, in this order
#
# Phases: build      crmt, crmt_step_timer and the device tests against the wheel's LibTorch (CUDA
#                    build); only CMAKE_PREFIX_PATH differs from a CPU build
#         devtests   the tests that take a device, on the CPU and on CUDA (their own small binary)
#         timings    crmt_step_timer next to bench/pytorch_gpu_bench.py (the official code's way),
#                    same card, same run (ITERS, WARMUP: repetitions)
#         variants   both again with cuDNN autotuning, PyTorch also with its fastest eager code
#         accuracy   the embedded set: JT trained on CUDA in each of PRECISIONS, evaluated on CUDA
#                    and on the CPU from the same checkpoint
#         buildtests the whole suite's binaries (unit and integration)
#         tests      the whole suite (CUDA present, so device tests run on both)
# TIME_BUDGET=N seconds stops the later phases in time for the summary to come back.
# Results go to gpu-check-out/ (RESULTS=...): summary.md, logs and JSON; where $OUT is set (the
# device tool), summary.md and a tarball of everything are copied there. Each phase keeps going
# after a failure of an earlier one where it can, so that one run says as much as possible.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-gpu-check-out}
mkdir -p "$RESULTS"
BUILD=${BUILD:-build-gpu}
PHASES=("$@")
[ ${#PHASES[@]} -eq 0 ] && PHASES=(build devtests timings variants accuracy buildtests tests)
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-3}
PRECISIONS=${PRECISIONS:-fp32 bf16 fp16}
START=$(date +%s)
SUMMARY="$RESULTS/summary.md"
say() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(( $(date +%s) - START )); }
want() { local p; for p in "${PHASES[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
# TIME_BUDGET=N (seconds, 0 = none): the accuracy and test phases stop where the budget ends, so a
# run under a hard time limit still returns its summary.
TIME_BUDGET=${TIME_BUDGET:-0}
within_budget() {  # runs "$@" under what is left of the budget
  if [ "$TIME_BUDGET" -le 0 ]; then "$@"; return; fi
  local left=$(( TIME_BUDGET - $(elapsed) ))
  if [ $left -le 5 ]; then echo "skipped: time budget spent" >&2; return 124; fi
  timeout "$left" "$@"
}

say "# crmt GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
say '```'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$SUMMARY"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "cxx11 abi", torch.compiled_with_cxx11_abi())' 2>&1 | tee -a "$SUMMARY"
say "cpu cores: $(nproc)"
say '```'

# shellcheck source=scripts/gpu-env.sh
source scripts/gpu-env.sh > "$RESULTS/env.log" || { say "gpu-env failed: see env.log"; exit 1; }

if want build; then
  TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
    -DTORCH_CUDA_ARCH_LIST=9.0 "${CRMT_GPU_CMAKE_ARGV[@]}" > "$RESULTS/build.log" 2>&1
  # -k 0: every compile error in one run, not just the first.
  within_budget cmake --build "$BUILD" -j "$(nproc)" --target crmt_cli crmt_step_timer crmt_device_tests -- -k 0 >> "$RESULTS/build.log" 2>&1
  rc=$?
  say "build: exit $rc after $(elapsed) s ($(grep -m1 'crmt: LibTorch' "$RESULTS/build.log" | sed 's/^-- //'))"
  if [ $rc -ne 0 ]; then
    say '```'; grep -E "error|FAILED" "$RESULTS/build.log" | head -40 | tee -a "$SUMMARY"; say '```'
  fi
fi
CRMT="$BUILD/crmt"

if want devtests; then
  within_budget "$BUILD/tests/crmt_device_tests" > "$RESULTS/devtests.log" 2>&1
  say "device tests: exit $? after $(elapsed) s: $(grep -E '^\[  (PASSED|FAILED) ' "$RESULTS/devtests.log" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \]' "$RESULTS/devtests.log" | head -20 | tee -a "$SUMMARY"
fi

if want timings; then
  # Same card, same run, one after the other; PyTorch the official way (cuDNN deterministic, no
  # autotuning, the official head and clamp code).
  export PYTHONUNBUFFERED=1
  T="--iters $ITERS --warmup $WARMUP"
  within_budget "$BUILD/crmt_step_timer" --device cuda --batch 64 --lipschitz-batch 64 $T --json "$RESULTS/crmt_steps.json" > "$RESULTS/timings.log" 2>&1
  within_budget python3 bench/pytorch_gpu_bench.py --device cuda --batch 64 --pgd-batch 64 $T --workloads jt_step,crmt_step,pgd \
    --json "$RESULTS/pytorch_official.json" >> "$RESULTS/timings.log" 2>&1
  # 31 backward passes per estimate: fewer repetitions, the same 64 samples as crmt's.
  within_budget python3 bench/pytorch_gpu_bench.py --device cuda --batch 64 --workloads lipschitz --warmup 1 --iters 2 \
    --json "$RESULTS/pytorch_lipschitz.json" >> "$RESULTS/timings.log" 2>&1
fi
if want variants; then
  T="--iters $ITERS --warmup $WARMUP"
  within_budget "$BUILD/crmt_step_timer" --device cuda --batch 64 $T --nchw --no-cudnn-benchmark --workloads jt_step,crmt_step,pgd \
    --json "$RESULTS/crmt_steps_nchw.json" >> "$RESULTS/timings.log" 2>&1
  within_budget python3 bench/pytorch_gpu_bench.py --device cuda --batch 64 --pgd-batch 64 $T --cudnn-benchmark --no-cudnn-deterministic \
    --orth-impl closed_form --clamp-impl vectorized --workloads jt_step,crmt_step,pgd \
    --json "$RESULTS/pytorch_fast.json" >> "$RESULTS/timings.log" 2>&1
fi
if want timings || want variants; then
  say "timings: done after $(elapsed) s"
  python3 - "$RESULTS" <<'EOF' | tee -a "$SUMMARY"
import json, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p): return {}
    return {(r["workload"], r["precision"]): r["samples_per_second"] for r in json.load(open(p)).get("results", [])}
crmt, crmt_b, pt, pt_f = (load(n) for n in ("crmt_steps.json", "crmt_steps_nchw.json", "pytorch_official.json", "pytorch_fast.json"))
pt.update(load("pytorch_lipschitz.json"))
print("\n| workload | precision | crmt (defaults: NHWC, cuDNN autotuning) | crmt, NCHW, no autotuning | PyTorch, official way | PyTorch, fastest eager | crmt / official | crmt / fastest |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
f = lambda v: f"{v:.1f}" if v else "-"
for key in sorted(set(crmt) | set(pt), key=lambda k: (["jt_step", "crmt_step", "pgd", "lipschitz"].index(k[0]), ["fp32", "bf16", "fp16"].index(k[1]))):
    c, cb, p, pf = crmt.get(key), crmt_b.get(key), pt.get(key), pt_f.get(key)
    r1 = f"{c / p:.2f}x" if c and p else "-"
    r2 = f"{c / pf:.2f}x" if c and pf else "-"
    print(f"| {key[0]} | {key[1]} | {f(c)} | {f(cb)} | {f(p)} | {f(pf)} | {r1} | {r2} |")
for name, table in (("crmt", crmt), ("crmt nchw", crmt_b), ("pytorch", pt), ("pytorch fastest", pt_f)):
    if table.get(("jt_step", "fp32")):
        print(f"{name}: mixed precision vs fp32 (jt_step): " + ", ".join(
            f"{p} {table[('jt_step', p)] / table[('jt_step', 'fp32')]:.2f}x" for p in ("bf16", "fp16") if table.get(("jt_step", p))))
print("samples/s, ResNet-18 encoders at Kinetics-Sounds shapes (3x3x224x224 frames, 1x1024x128 spectrogram, 31 classes), batch 64")
EOF
fi

if want accuracy; then
  # The embedded set in the setting of docs/results.md (20000 training samples, 4 epochs), trained
  # on the GPU in each precision; each checkpoint then evaluated on the GPU and on the CPU.
  within_budget "$CRMT" data prepare > "$RESULTS/accuracy.log" 2>&1
  say ""
  say "| embedded set, JT | test accuracy on CUDA | on CPU (same checkpoint) | PGD 0.5 on CUDA | PGD 0.5 on CPU | train samples/s |"
  say "|---|---:|---:|---:|---:|---:|"
  for precision in $PRECISIONS; do
    dir="runs/gpu-check/jt-$precision"
    within_budget "$CRMT" train --device cuda train.method=jt train.precision=$precision data.train_size=20000 data.test_size=2000 \
      train.epochs=4 output.progress=false output.dir=$dir >> "$RESULTS/accuracy.log" 2>&1 || { say "| $precision | training failed (accuracy.log) |"; continue; }
    acc() { within_budget "$CRMT" eval --checkpoint $dir/best.pt --device "$1" --attack "$2" --eps 0.5 --json 2>>"$RESULTS/accuracy.log" \
      | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (100 * d["runs"][0]["results"][0]["accuracy"]))' 2>>"$RESULTS/accuracy.log"; }
    rate=$(python3 -c "import json; print(round(json.load(open('$dir/summary.json'))['samples_per_second']))" 2>/dev/null)
    say "| $precision | $(acc cuda none) | $(acc cpu none) | $(acc cuda pgd) | $(acc cpu pgd) | $rate |"
  done
  say "accuracy: done after $(elapsed) s"
fi

if want buildtests; then
  within_budget cmake --build "$BUILD" -j "$(nproc)" --target crmt_tests crmt_integration_tests -- -k 0 > "$RESULTS/build-tests.log" 2>&1
  rc=$?
  say "test build: exit $rc after $(elapsed) s"
  [ $rc -ne 0 ] && { say '```'; grep -E "error|FAILED" "$RESULTS/build-tests.log" | head -30 | tee -a "$SUMMARY"; say '```'; }
fi

if want tests; then
  within_budget ctest --test-dir "$BUILD" -j 8 --timeout 300 --output-on-failure > "$RESULTS/ctest.log" 2>&1
  say "test suite: exit $? after $(elapsed) s: $(grep -E 'tests passed|tests failed' "$RESULTS/ctest.log") ($(grep -cE ' Passed ' "$RESULTS/ctest.log") passed, $(grep -cE '\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout' "$RESULTS/ctest.log") failed so far)"
  grep -A40 -E '^The following tests FAILED' "$RESULTS/ctest.log" | head -40 | tee -a "$SUMMARY"
fi
say "total: $(elapsed) s"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  cp "$SUMMARY" "$OUT/summary.md"
  tar -czf "$OUT/gpu-check.tar.gz" -C "$RESULTS" .
fi
