#!/usr/bin/env python3
"""One JT study on the embedded data in eager PyTorch, the way the official CRMT code runs one:
the pipeline that `crmt compare --config configs/jt.yaml --seeds 0` runs, for bench/compare.py.

Reads crmt's prepared cache (data/embedded: meta.json and the raw .u8/.f16/.i64 files), takes a
class-stratified subset and holds out 10% for validation as crmt does, and then:
  train     SGD (lr 0.01, momentum 0.9, wd 1e-4, StepLR 7/0.1), batch 64, a torch Dataset and
            DataLoader as the official code feeds its model, loss.item() and accuracy .item() per
            batch; after each epoch validation accuracy and torch.save of best.pt and last.pt;
  suite     the paper's table on the test samples in batches of 500: clean, FGM and 4-step l2-PGD
            at 0.5 on both modalities and 1.0 on each, each modality missing (zeros);
  certify   the official get_lip over --lipschitz-samples training samples (one forward, one
            backward per class), margins of the test samples, Theorem 3.3's radius with
            eta = tau_y(m) + tau_j(m), certified accuracy at 0.05 and 0.1.
Prints each phase's wall time, the accuracies and the peak resident memory; --json writes them.

  pytorch_pipeline.py [--data data/embedded] [--train-size 20000] [--test-size 2000] [--epochs 4]
      [--seed 0] [--threads N] [--out DIR] [--phases train,suite,certify] [--json PATH]
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_gpu_bench as bench  # noqa: E402  the model and the attacks, shared with the step timings

CLASSES = 10
BATCH, EVAL_BATCH, LIP_BATCH = 64, 500, 64


def load_split(root, meta, split):
    """One split of crmt's embedded cache as (visual uint8 [N,1,28,28], audio fp16 [N,1,32,32], labels)."""
    arrays = {}
    for f in meta["files"]:
        if f["split"] != split:
            continue
        path = os.path.join(root, f["name"])
        data = np.fromfile(path, dtype=np.dtype(f["dtype"]))
        if data.size != int(np.prod(f["shape"])):
            sys.exit("%s: %d values, meta.json says shape %s" % (path, data.size, f["shape"]))
        arrays[f["role"]] = torch.from_numpy(data.reshape(f["shape"]))
    return arrays["visual"], arrays["audio"], arrays["labels"]


def stratified(labels, size, generator):
    """`size` indices with each class's share of the whole (crmt's stratified_indices does the same)."""
    if size <= 0 or size >= labels.numel():
        return torch.arange(labels.numel())
    picks = []
    for c in range(CLASSES):
        idx = torch.nonzero(labels == c).flatten()
        take = round(size * idx.numel() / labels.numel())
        picks.append(idx[torch.randperm(idx.numel(), generator=generator)[:take]])
    return torch.cat(picks)


class EmbeddedDataset(Dataset):
    """Per-sample access, normalized on the fly, as the official code's dataset classes do."""

    def __init__(self, arrays, indices, norm):
        self.visual, self.audio, self.labels = arrays
        self.indices, self.norm = indices, norm

    def __len__(self):
        return self.indices.numel()

    def __getitem__(self, i):
        j = int(self.indices[i])
        (vs, vm, vd), (am, ad) = self.norm
        visual = (self.visual[j].float() * vs - vm) / vd
        audio = (self.audio[j].float() - am) / ad
        return visual, audio, self.labels[j]


def accuracy_of(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for v, a, y in loader:
            correct += (model(v, a)[2].argmax(1) == y).sum().item()
            total += y.numel()
    return 100.0 * correct / total


def train(model, train_set, val_loader, args, out_dir):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.1)
    criterion = nn.CrossEntropyLoss()
    loader = DataLoader(train_set, batch_size=BATCH, shuffle=True, num_workers=args.workers,
                        generator=torch.Generator().manual_seed(args.seed))
    best = -1.0
    for epoch in range(args.epochs):
        model.train()
        start, seen, loss_sum, acc_sum = time.perf_counter(), 0, 0.0, 0.0
        for v, a, y in loader:
            opt.zero_grad()
            out = model(v, a)[2]
            loss = criterion(out, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * y.numel()
            acc_sum += bench.calculate_accuracy(out, y) * y.numel()
            seen += y.numel()
        sched.step()
        rate = seen / (time.perf_counter() - start)
        val = accuracy_of(model, val_loader)
        state = {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(), "val": val}
        if val > best:  # best first, then last, as crmt's Trainer
            best = val
            torch.save(state, os.path.join(out_dir, "best.pt"))
        torch.save(state, os.path.join(out_dir, "last.pt"))
        print("epoch %d/%d: loss %.4f acc %.1f%% %.0f samples/s, validation %.2f%%" % (
            epoch + 1, args.epochs, loss_sum / seen, 100 * acc_sum / seen, rate, val), flush=True)
    model.load_state_dict(torch.load(os.path.join(out_dir, "best.pt"))["model"])
    return best


def suite(model, loader, clamp):
    """The paper's evaluation table (bench.SUITE); returns {case: accuracy %}."""
    model.eval()
    correct = {name: 0 for name, _ in bench.SUITE}
    total = 0
    for v, a, y in loader:
        total += y.numel()
        for name, case in bench.SUITE:
            vv, aa = bench.suite_inputs(model, case, v, a, y, clamp)
            with torch.no_grad():
                correct[name] += (model(vv, aa)[2].argmax(1) == y).sum().item()
    return {name: 100.0 * n / total for name, n in correct.items()}


def certify(model, lip_loader, test_loader, radii=(0.05, 0.1)):
    """Official get_lip (max gradient norm of each class score per modality) on the training samples,
    then Theorem 3.3's radius per test sample: min_j (h_p - h_j) / sqrt(sum_m (tau_p(m) + tau_j(m))^2)."""
    model.eval()
    tau = torch.zeros(2, CLASSES, dtype=torch.float64)
    for v, a, _ in lip_loader:
        data = [v.clone().requires_grad_(True), a.clone().requires_grad_(True)]
        tau = torch.maximum(tau, bench.class_gradient_norms(model, data).double())
    eta = tau[:, :, None] + tau[:, None, :]                 # [M, y, j]
    denom = eta.pow(2).sum(0).sqrt()                        # [y, j]
    correct = [0] * len(radii)
    total = 0
    with torch.no_grad():
        for v, a, y in test_loader:
            h = model(v, a)[2].double()
            p = h.argmax(1)
            margin = h.gather(1, p[:, None]) - h             # [B, K]
            r = margin / denom[p]
            r[torch.arange(p.numel()), p] = float("inf")
            radius = r.min(1)[0]
            for i, rad in enumerate(radii):
                correct[i] += ((p == y) & (radius >= rad)).sum().item()
            total += y.numel()
    return {"certified acc r=%g" % rad: 100.0 * n / total for rad, n in zip(radii, correct)}, tau.max(1)[0].tolist()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/embedded")
    p.add_argument("--train-size", type=int, default=20000, help="0: all 60000")
    p.add_argument("--test-size", type=int, default=2000, help="0: all 10000")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers (the data is in memory)")
    p.add_argument("--lipschitz-samples", type=int, default=1000)
    p.add_argument("--phases", default="train,suite,certify")
    p.add_argument("--out", default=None, help="checkpoint folder (a temporary one by default)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    phases = [x for x in args.phases.split(",") if x]
    if set(phases) - {"train", "suite", "certify"}:
        p.error("unknown phase(s) in %s" % args.phases)
    if args.threads:
        torch.set_num_threads(args.threads)
    meta_path = os.path.join(args.data, "meta.json")
    if not os.path.exists(meta_path):
        sys.exit("%s: not found; prepare the embedded data with `crmt data prepare`" % meta_path)
    with open(meta_path) as f:
        meta = json.load(f)
    t0 = time.perf_counter()
    times = {}
    gen = torch.Generator().manual_seed(args.seed)
    train_arrays, test_arrays = load_split(args.data, meta, "train"), load_split(args.data, meta, "test")
    pool = stratified(train_arrays[2], args.train_size, gen)
    pool = pool[torch.randperm(pool.numel(), generator=gen)]
    n_val = int(0.1 * pool.numel())
    vis, aud = meta["modalities"]
    norm = ((vis["scale"], vis["mean"], vis["std"]), (aud["mean"], aud["std"]))
    train_set = EmbeddedDataset(train_arrays, pool[:pool.numel() - n_val], norm)
    val_set = EmbeddedDataset(train_arrays, pool[pool.numel() - n_val:], norm)
    test_set = EmbeddedDataset(test_arrays, stratified(test_arrays[2], args.test_size, gen), norm)
    eval_loader = lambda d, b: DataLoader(d, batch_size=b, shuffle=False, num_workers=args.workers)  # noqa: E731
    lo, hi = (0 - vis["mean"]) / vis["std"], (1 - vis["mean"]) / vis["std"]
    clamp = lambda x: x.detach().clamp(lo, hi)  # noqa: E731  visual pixels stay in [0, 1]
    times["load"] = time.perf_counter() - t0

    bench.K = CLASSES
    torch.manual_seed(args.seed)
    model = bench.MultiModal(False, argparse.Namespace(model="small_cnn", orth_impl="official", channels_last=False))
    report = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "train_samples": len(train_set),
              "val_samples": len(val_set), "test_samples": len(test_set), "epochs": args.epochs}
    tmp = None
    out_dir = args.out
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory()
        out_dir = tmp.name
    os.makedirs(out_dir, exist_ok=True)
    if "train" in phases:
        t = time.perf_counter()
        report["best_validation"] = train(model, train_set, eval_loader(val_set, EVAL_BATCH), args, out_dir)
        times["train"] = time.perf_counter() - t
    if "suite" in phases:
        t = time.perf_counter()
        report["suite"] = suite(model, eval_loader(test_set, EVAL_BATCH), clamp)
        times["suite"] = time.perf_counter() - t
    if "certify" in phases:
        t = time.perf_counter()
        lip_set = EmbeddedDataset(train_arrays, train_set.indices[:args.lipschitz_samples], norm)
        report["certificate"], report["tau_max"] = certify(model, eval_loader(lip_set, LIP_BATCH),
                                                           eval_loader(test_set, EVAL_BATCH))
        times["certify"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    report["seconds"] = times
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for key in ("suite", "certificate"):
        if key in report:
            print(key + ": " + ", ".join("%s %.2f" % kv for kv in report[key].items()))
    print("seconds: " + ", ".join("%s %.1f" % kv for kv in times.items()) + "; peak RSS %.0f MiB" % report["peak_rss_mib"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
