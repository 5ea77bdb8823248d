#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UBSan) and fuzzes each for SECONDS
# (default 600), two at a time. New inputs that reach new code are added to fuzz/corpus/<target>;
# an input that crashes lands in fuzz/crashes/ and is what to fix, then to keep in the corpus.
#   bash fuzz/run.sh [SECONDS] [TARGET ...]        # or: make fuzz FUZZ_SECONDS=600
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(config idx wav npy index_file checkpoint checkpoint_pickle meta_json prepare_manifest video)
cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ > /dev/null
cmake --build build-fuzz -j2
mkdir -p fuzz/crashes
export ASAN_OPTIONS=detect_leaks=0  # LibTorch keeps process-lifetime allocations
status=0
run_one() {
  local t=$1
  mkdir -p "fuzz/corpus/$t"
  ./build-fuzz/fuzz_"$t" "fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="fuzz/crashes/$t-" -print_final_stats=1 > "build-fuzz/$t.log" 2>&1
  local rc=$?
  echo "fuzz_$t: exit $rc, $(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "build-fuzz/$t.log" | grep -oE '[0-9]+') inputs in ${SECONDS_EACH} s, corpus $(ls "fuzz/corpus/$t" | wc -l) files"
  return $rc
}
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
  run_one "${TARGETS[i]}" & first=$!
  second=""
  if [ $((i + 1)) -lt ${#TARGETS[@]} ]; then run_one "${TARGETS[i + 1]}" & second=$!; fi
  wait $first || status=1
  [ -n "$second" ] && { wait "$second" || status=1; }
done
[ $status -eq 0 ] && echo "fuzz: no crash" || echo "fuzz: crashes in fuzz/crashes/ (logs in build-fuzz/)"
exit $status
