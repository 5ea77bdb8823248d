#!/usr/bin/env python3
"""crmt against PyTorch on the same work, side by side (make bench-compare).

Runs build/crmt_step_timer --model small_cnn and bench/pytorch_gpu_bench.py --model small_cnn
(the official CRMT code's way, in eager PyTorch) on the CPU, alternating which goes first, for each
thread count, and prints one markdown table of samples/s and their ratio with the issue's targets.
Every run is a fresh process; the table keeps the median over rounds. Standard library only: the
PyTorch side runs under the python given by --python (Debian's python3-torch).

  bench/compare.py [--timer build/crmt_step_timer] [--threads 1,2] [--rounds 3] [--iters 10]
                   [--workloads jt_step,crmt_step,...] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("jt_step", "crmt_step", "crmt_at_step", "pgd", "eval_suite", "lipschitz")
LABELS = {
    "jt_step": "JT training step (batch 64)",
    "crmt_step": "CRMT step 1 training step (batch 64)",
    "crmt_at_step": "CRMT-AT training step (batch 64)",
    "pgd": "l2-PGD, 4 steps, eps 0.5 (batch 500)",
    "eval_suite": "evaluation suite: clean, FGM/PGD x 3, missing x 2 (batch 500)",
    "lipschitz": "empirical Lipschitz constants, 10 classes (batch 64)",
}
TARGETS = {"jt_step": 1.5, "crmt_step": 1.5, "crmt_at_step": 1.5, "pgd": 1.5, "eval_suite": 1.5, "lipschitz": 3.0}


# glibc's malloc returns every freed block over 32 MB (a batch's activations) to the kernel, so eager
# CPU work pays page faults on every operation; crmt keeps such blocks (core/runtime.cpp). The third
# side is PyTorch given the same setting through glibc's tunables, to separate that gain from C++'s.
KEEP_FREED = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824"


def run(cmd, threads, extra_env=None):
    """One side's run in a fresh process; returns {workload: samples/s} and its wall time."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **(extra_env or {}))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd + ["--json", path], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit("bench/compare.py: %s failed (exit %d):\n%s" % (cmd[0], proc.returncode, output))
    with open(path) as f:
        report = json.load(f)
    os.unlink(path)
    rates = {r["workload"]: r["samples_per_second"] for r in report["results"] if r.get("precision", "fp32") == "fp32"}
    return rates, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timer", default="build/crmt_step_timer", help="crmt's side (bench/step_timer.cpp)")
    p.add_argument("--python", default="/usr/bin/python3", help="a python with torch (Debian's python3-torch)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--json", default=None, help="also write every run's rates here")
    args = p.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        p.error("unknown workload(s): %s (known: %s)" % (", ".join(unknown), ", ".join(WORKLOADS)))
    if not os.access(args.timer, os.X_OK):
        sys.exit("bench/compare.py: %s: not built (ninja -C build crmt_step_timer)" % args.timer)
    probe = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("bench/compare.py: %s cannot import torch (apt-get install python3-torch)" % args.python)
    common = ["--model", "small_cnn", "--device", "cpu", "--precisions", "fp32", "--batch", "64", "--pgd-batch", "500",
              "--warmup", str(args.warmup), "--iters", str(args.iters), "--workloads", ",".join(workloads)]
    pytorch = [args.python, os.path.join(HERE, "pytorch_gpu_bench.py")] + common
    sides = {  # name: (command, extra environment)
        "crmt": ([args.timer] + common + ["--lipschitz-batch", "64"], None),
        "pytorch": (pytorch, None),
        "pytorch_keep": (pytorch, {"GLIBC_TUNABLES": KEEP_FREED}),
    }
    print("crmt_step_timer vs PyTorch %s, small CNN at the embedded data's shapes, CPU, fp32; %d rounds, "
          "alternating order" % (probe.stdout.strip(), args.rounds), flush=True)
    runs = []
    for threads in [int(t) for t in args.threads.split(",") if t]:
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(list(sides)))
            for side in order:
                cmd, env = sides[side]
                rates, seconds = run(cmd + ["--threads", str(threads)], threads, env)
                runs.append({"side": side, "threads": threads, "round": r, "rates": rates, "seconds": seconds})
                print("  %d thread(s), round %d, %-12s %5.0f s  %s" % (
                    threads, r + 1, side, seconds, ", ".join("%s %.0f" % (w, v) for w, v in rates.items())), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs}, f, indent=2)
    print()
    print("samples/s, median of %d rounds; PyTorch*: the same with glibc told to keep freed blocks, as crmt does"
          % args.rounds)
    print()
    print("| work | threads | PyTorch | PyTorch* | crmt | crmt / PyTorch | crmt / PyTorch* | target (2 threads) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for threads in sorted({r["threads"] for r in runs}):
        for w in workloads:
            med = {}
            for side in sides:
                values = [r["rates"][w] for r in runs if r["side"] == side and r["threads"] == threads and w in r["rates"]]
                med[side] = statistics.median(values) if values else float("nan")
            ratio, ratio_keep = med["crmt"] / med["pytorch"], med["crmt"] / med["pytorch_keep"]
            target = "%.1fx: %s" % (TARGETS[w], "met" if ratio >= TARGETS[w] else "not met") if threads == 2 else ""
            print("| %s | %d | %.0f | %.0f | %.0f | %.2fx | %.2fx | %s |" % (
                LABELS[w], threads, med["pytorch"], med["pytorch_keep"], med["crmt"], ratio, ratio_keep, target))


if __name__ == "__main__":
    main()
