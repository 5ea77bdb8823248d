#!/usr/bin/env python3
"""crmt against PyTorch on the same work, side by side (make bench-compare).

Runs build/crmt_step_timer --model small_cnn and bench/pytorch_gpu_bench.py --model small_cnn
(the official CRMT code's way, in eager PyTorch) on the CPU, alternating which goes first, for each
thread count, and prints one markdown table of samples/s and their ratio with the issue's targets.
Two rows time whole commands instead: jt_study is `crmt compare` of JT for one seed (4 epochs on
20000 samples, the evaluation suite and the certificate) against bench/pytorch_pipeline.py, and
train_memory is the peak resident memory of one JT epoch on the full embedded training set.
Every run is a fresh process; the table keeps the median over rounds. Standard library only: the
PyTorch side runs under the python given by --python (Debian's python3-torch).

  bench/compare.py [--timer build/crmt_step_timer] [--crmt build/crmt] [--threads 1,2] [--rounds 2]
                   [--iters 10] [--workloads jt_step,crmt_step,...,jt_study,train_memory] [--json out.json]
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
ROOT = os.path.dirname(HERE)
STEP_WORKLOADS = ("jt_step", "crmt_step", "crmt_at_step", "pgd", "eval_suite", "lipschitz")
COMMAND_WORKLOADS = ("jt_study", "train_memory")
WORKLOADS = STEP_WORKLOADS + COMMAND_WORKLOADS
LABELS = {
    "jt_step": "JT training step (batch 64)",
    "crmt_step": "CRMT step 1 training step (batch 64)",
    "crmt_at_step": "CRMT-AT training step (batch 64)",
    "pgd": "l2-PGD, 4 steps, eps 0.5 (batch 500)",
    "eval_suite": "evaluation suite: clean, FGM/PGD x 3, missing x 2 (batch 500)",
    "lipschitz": "empirical Lipschitz constants, 10 classes (batch 64)",
    "jt_study": "JT study, one seed: train 4 epochs, suite, certificate (s)",
    "train_memory": "JT epoch on the full training set: peak memory (MiB)",
}
TARGETS = {"jt_step": 1.5, "crmt_step": 1.5, "crmt_at_step": 1.5, "pgd": 1.5, "eval_suite": 1.5, "lipschitz": 3.0}
DATA = "data/embedded"


# glibc's malloc returns every freed block over 32 MB (a batch's activations) to the kernel, so eager
# CPU work pays page faults on every operation; crmt keeps such blocks (core/runtime.cpp). The third
# side is PyTorch given the same setting through glibc's tunables, to separate that gain from C++'s.
KEEP_FREED = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824"


def execute(cmd, threads, extra_env=None):
    """Runs cmd in a fresh process from the repository's root; returns its wall seconds and peak
    resident memory (MiB). Exits with the command's output if it fails."""
    env = dict(os.environ, **(extra_env or {}))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            sys.exit("bench/compare.py: %s failed (exit %d):\n%s" % (" ".join(cmd), code, log.read()[-4000:]))
    return seconds, usage.ru_maxrss / 1024.0


def run_steps(cmd, threads, extra_env=None):
    """One side's step timings in a fresh process; returns {workload: samples/s} and its wall time."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    seconds, _ = execute(cmd + ["--json", path], threads, extra_env)
    with open(path) as f:
        report = json.load(f)
    os.unlink(path)
    rates = {r["workload"]: r["samples_per_second"] for r in report["results"] if r.get("precision", "fp32") == "fp32"}
    return rates, seconds


def command_for(side, workload, threads, args, out_dir):
    """The whole command a command workload runs on one side."""
    if side == "crmt":
        if workload == "jt_study":
            return [args.crmt, "compare", "--seeds", "0", "--out", out_dir, "--config", "configs/jt.yaml",
                    "--threads", str(threads), "train.epochs=4", "data.train_size=20000", "data.test_size=2000",
                    "data.root=" + DATA]
        return [args.crmt, "train", "--config", "configs/jt.yaml", "--threads", str(threads), "train.epochs=1",
                "data.train_size=0", "data.root=" + DATA, "output.dir=" + out_dir]
    script = [args.python, os.path.join(HERE, "pytorch_pipeline.py"), "--data", DATA, "--threads", str(threads),
              "--out", out_dir]
    if workload == "jt_study":
        return script + ["--train-size", "20000", "--test-size", "2000", "--epochs", "4"]
    return script + ["--train-size", "0", "--epochs", "1", "--phases", "train"]


def run_commands(side, workloads, threads, args, extra_env=None):
    """One side's command workloads; returns {workload: seconds or peak MiB} and the wall time."""
    values, total = {}, 0.0
    for w in workloads:
        with tempfile.TemporaryDirectory() as out_dir:
            seconds, peak_mib = execute(command_for(side, w, threads, args, out_dir), threads, extra_env)
        values[w] = seconds if w == "jt_study" else peak_mib
        total += seconds
    return values, total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timer", default="build/crmt_step_timer", help="crmt's side (bench/step_timer.cpp)")
    p.add_argument("--crmt", default="build/crmt", help="crmt's command, for jt_study and train_memory")
    p.add_argument("--python", default="/usr/bin/python3", help="a python with torch (Debian's python3-torch)")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--json", default=None, help="also write every run's rates here")
    args = p.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        p.error("unknown workload(s): %s (known: %s)" % (", ".join(unknown), ", ".join(WORKLOADS)))
    steps = [w for w in workloads if w in STEP_WORKLOADS]
    commands = [w for w in workloads if w in COMMAND_WORKLOADS]
    for tool, wanted, target in ((args.timer, steps, "crmt_step_timer"), (args.crmt, commands, "crmt_cli")):
        if wanted and not os.access(tool, os.X_OK):
            sys.exit("bench/compare.py: %s: not built (ninja -C build %s)" % (tool, target))
    if commands and not os.path.exists(os.path.join(ROOT, DATA, "meta.json")):
        print("preparing the embedded data in %s (a few minutes, once)" % DATA, flush=True)
        execute([args.crmt, "data", "prepare", "--root", DATA], None)
    probe = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("bench/compare.py: %s cannot import torch (apt-get install python3-torch)" % args.python)
    common = ["--model", "small_cnn", "--device", "cpu", "--precisions", "fp32", "--batch", "64", "--pgd-batch", "500",
              "--warmup", str(args.warmup), "--iters", str(args.iters), "--workloads", ",".join(steps)]
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
                rates, seconds = run_steps(cmd + ["--threads", str(threads)], threads, env) if steps else ({}, 0.0)
                if commands:
                    values, more = run_commands("crmt" if side == "crmt" else "pytorch", commands, threads, args, env)
                    rates.update(values)
                    seconds += more
                runs.append({"side": side, "threads": threads, "round": r, "rates": rates, "seconds": seconds})
                print("  %d thread(s), round %d, %-12s %5.0f s  %s" % (
                    threads, r + 1, side, seconds, ", ".join("%s %.0f" % (w, v) for w, v in rates.items())), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs}, f, indent=2)
    print()
    print("samples/s (the study: seconds; the epoch: peak MiB), median of %d rounds; ratios: how many times "
          "faster (or leaner) crmt is; PyTorch*: PyTorch with glibc told to keep freed blocks, as crmt does"
          % args.rounds)
    print()
    print("| work | threads | PyTorch | PyTorch* | crmt | crmt vs PyTorch | crmt vs PyTorch* | target (2 threads) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for threads in sorted({r["threads"] for r in runs}):
        for w in workloads:
            med = {}
            for side in sides:
                values = [r["rates"][w] for r in runs if r["side"] == side and r["threads"] == threads and w in r["rates"]]
                med[side] = statistics.median(values) if values else float("nan")
            if w in STEP_WORKLOADS:  # samples/s: higher is better
                ratio, ratio_keep = med["crmt"] / med["pytorch"], med["crmt"] / med["pytorch_keep"]
                target = "%.1fx: %s" % (TARGETS[w], "met" if ratio >= TARGETS[w] else "not met")
            elif w == "jt_study":  # seconds: the ratio is still crmt's speed over PyTorch's
                ratio, ratio_keep = med["pytorch"] / med["crmt"], med["pytorch_keep"] / med["crmt"]
                target = ""
            else:  # peak MiB: the ratio is PyTorch's memory over crmt's (above 1: crmt needs less)
                ratio, ratio_keep = med["pytorch"] / med["crmt"], med["pytorch_keep"] / med["crmt"]
                target = "no more memory: %s" % ("met" if med["crmt"] <= med["pytorch"] else "not met")
            if threads != 2:
                target = ""
            print("| %s | %d | %.0f | %.0f | %.0f | %.2fx | %.2fx | %s |" % (
                LABELS[w], threads, med["pytorch"], med["pytorch_keep"], med["crmt"], ratio, ratio_keep, target))


if __name__ == "__main__":
    main()
