#!/usr/bin/env python3
"""Time per operator of one workload in crmt and in PyTorch, side by side, from the Chrome traces
that `crmt_step_timer --profile DIR` and `pytorch_gpu_bench.py --profile DIR` write.

Each operator's self time (its duration minus that of the operators it called, per thread) is
summed over the trace and divided by the profiled iterations; the table lists the operators that
take the most time on either side, in ms per iteration.

  bench/profile_table.py CRMT.trace PYTORCH.trace [--iters 10] [--top 15]
"""
import argparse
import collections
import json
import sys


def load_events(path):
    """The complete ("X") events of a Chrome trace, as (thread, start, duration, name)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        sys.exit("%s: %s" % (path, e.strerror))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # LibTorch's legacy writer may leave a trailing comma before the closing bracket
        data = json.loads(text.rstrip().rstrip("]").rstrip().rstrip(",") + "]")
    events = data["traceEvents"] if isinstance(data, dict) else data
    out = []
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            out.append(((e.get("pid"), e.get("tid")), float(e["ts"]), float(e["dur"]), e["name"]))
    if not out:
        sys.exit("%s: no complete events; is it a profiler trace?" % path)
    return out


def self_times(events):
    """{operator: total self time in microseconds}: nested calls are charged to the callee."""
    totals = collections.Counter()
    by_thread = collections.defaultdict(list)
    for thread, start, dur, name in events:
        by_thread[thread].append((start, -dur, name))
    for items in by_thread.values():
        items.sort()
        stack = []  # [end, name, self time]
        for start, neg_dur, name in items:
            dur = -neg_dur
            while stack and stack[-1][0] <= start:
                end, top, own = stack.pop()
                totals[top] += own
            if stack:
                stack[-1][2] -= dur
            stack.append([start + dur, name, dur])
        for _, top, own in stack:
            totals[top] += own
    return totals


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("crmt")
    p.add_argument("pytorch")
    p.add_argument("--iters", type=int, default=10, help="iterations each trace holds")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    sides = [self_times(load_events(path)) for path in (args.crmt, args.pytorch)]
    ms = [{k: v / 1000.0 / args.iters for k, v in side.items()} for side in sides]
    names = sorted(set(ms[0]) | set(ms[1]), key=lambda k: -max(ms[0].get(k, 0), ms[1].get(k, 0)))
    print("| operator (self time) | crmt ms/iter | PyTorch ms/iter |")
    print("| --- | ---: | ---: |")
    for name in names[:args.top]:
        print("| `%s` | %.2f | %.2f |" % (name, ms[0].get(name, 0.0), ms[1].get(name, 0.0)))
    rest = [sum(v for k, v in side.items() if k not in names[:args.top]) for side in ms]
    print("| everything else | %.2f | %.2f |" % tuple(rest))
    print("| **total profiled** | %.2f | %.2f |" % tuple(sum(side.values()) for side in ms))


if __name__ == "__main__":
    main()
