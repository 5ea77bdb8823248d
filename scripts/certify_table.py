#!/usr/bin/env python3
"""Certified radii of trained checkpoints under every kind of bound, as one markdown table.

Runs `crmt certify --json` for each checkpoint and bound, times it, and prints per row: clean
accuracy, median radius, certified accuracy at the given radii, and seconds per sample. Used for the
measured table of docs/certify.md:

  scripts/certify_table.py --samples 100 runs/fidelity/official/{jt,crmt_jt,crmt_at}/seed{0,1,2}/best.pt
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time

BOUNDS = ["lipschitz-empirical", "lipschitz-guaranteed", "crown"]


def certify(crmt, checkpoint, bound, args):
    cmd = [crmt, "certify", "--checkpoint", str(checkpoint), "--bound", bound, "--json",
           "--radii", ",".join(str(r) for r in args.radii), "--threads", str(args.threads),
           "--set", f"data.test_size={args.samples}", "--set", "output.progress=false"]
    if bound == "crown":
        cmd += ["--intermediate", args.intermediate]
    if bound == "lipschitz-empirical":
        cmd += ["--samples", str(args.lipschitz_samples)]
    start = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if run.returncode != 0:
        sys.exit(f"certify_table: {' '.join(cmd)} failed: {run.stderr.strip().splitlines()[-1:]}")
    return json.loads(run.stdout)["certificate"], seconds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=pathlib.Path)
    p.add_argument("--crmt", default="build/crmt")
    p.add_argument("--samples", type=int, default=100, help="test samples (data.test_size)")
    p.add_argument("--lipschitz-samples", type=int, default=1000, help="training samples of the empirical estimate")
    p.add_argument("--radii", type=float, nargs="+", default=[0.05, 0.1, 0.25])
    p.add_argument("--bounds", nargs="+", default=BOUNDS, choices=BOUNDS)
    p.add_argument("--intermediate", default="interval", choices=["crown", "interval"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json-out", type=pathlib.Path, help="also write every row as JSON here")
    args = p.parse_args()

    radii = " | ".join(f"@{r:g}" for r in args.radii)
    print(f"| checkpoint | bound | clean acc | median radius | {radii} | s / sample |")
    print("| --- | --- | ---: | ---: |" + " ---: |" * len(args.radii) + " ---: |")
    rows = []
    for checkpoint in args.checkpoints:
        name = "/".join(checkpoint.parts[-3:-1])  # method/seedN
        for bound in args.bounds:
            cert, seconds = certify(args.crmt, checkpoint, bound, args)
            acc = dict(zip(cert["radii"], cert["certified_accuracy"]))
            label = f"crown ({args.intermediate})" if bound == "crown" else bound
            cells = " | ".join(f"{acc[r]:.2f}" for r in args.radii)
            per_sample = seconds / cert["samples"]
            print(f"| {name} | {label} | {cert['clean_accuracy']:.2f} | {cert['median_radius']:.4g} | {cells} | "
                  f"{per_sample:.2f} |", flush=True)
            rows.append({"checkpoint": str(checkpoint), "bound": label, "clean_accuracy": cert["clean_accuracy"],
                         "median_radius": cert["median_radius"], "radii": args.radii,
                         "certified_accuracy": [acc[r] for r in args.radii], "seconds_per_sample": per_sample})
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
