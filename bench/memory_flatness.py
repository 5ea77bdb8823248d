#!/usr/bin/env python3
"""Peak resident memory of one training epoch on a Kinetics-Sounds-shaped fixture and on one ten
times larger: the streaming loader keeps memory flat in the dataset's size (goal: < 10% growth).

Each run is `crmt train` in its own process (MLP encoders at 64x64 frames, so the epoch is
quick; the data layer reads the full files either way); peak RSS from GNU time (%M).
Usage: memory_flatness.py [build dir] [clips of the small fixture]
"""
import os
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
small = int(sys.argv[2]) if len(sys.argv) > 2 else 40
crmt = os.path.join(build, "crmt")


def peak_rss_of_training(root, out):
    """Peak RSS in KiB of `crmt train` (GNU time's %M) and its wall time."""
    report = out + ".rss"
    start = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report, crmt, "train", "data.name=kinetics_sounds",
                    "data.root=" + root, "data.val_fraction=0", "data.kinetics_sounds.image_size=64",
                    "model.encoder=mlp", "train.epochs=1", "train.batch_size=16", "train.eval_batch_size=16",
                    "output.progress=false", "output.dir=" + out], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(report) as f:
        return int(f.read().split()[-1]), time.perf_counter() - start


with tempfile.TemporaryDirectory() as work:
    results = []
    for clips in (small, 10 * small):
        root = os.path.join(work, "ks%d" % clips)
        subprocess.run([crmt, "data", "make-fixture", "kinetics_sounds", "--out", root, "--clips", str(clips)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rss, seconds = peak_rss_of_training(root, os.path.join(work, "run%d" % clips))
        results.append((clips, rss, seconds))
        print("{} clips per split: peak RSS {:.1f} MiB, {:.0f} s".format(clips, rss / 1024, seconds))
    growth = 100.0 * (results[1][1] - results[0][1]) / results[0][1]
    print("growth for 10x the clips: {:+.1f}%".format(growth))
