#!/usr/bin/python3
"""Independent cross-check of crmt's evaluation and certificates, in plain PyTorch (Python).

Written from the formulas in docs/attacks.md and docs/certify.md, not from crmt's C++ code:
  * the model: small-CNN encoders and a concat (JT) or orthogonal (CRMT) head, rebuilt from the
    weights in a crmt checkpoint (read with torch.jit.load);
  * the data: the embedded test split read from its raw files and normalized with meta.json;
  * the attacks: FGM and l2-PGD with one joint budget over the attacked modalities, clamped to the
    valid range, and the missing modality (zeros);
  * the certificates: from the Lipschitz constants that `crmt certify --json` reports, eta
    (Theorem 3.3 for concat, Theorem 3.5 for orthogonal) and each test sample's radius over all
    classes.
It then runs crmt on the same checkpoint and test set and prints both side by side; the exit
status is 1 when they disagree beyond the tolerances.

Needs python3-torch (Debian: apt-get install python3-torch); it is a developer's tool, not part of
the build or of CI. Example:
    /usr/bin/python3 tools/crosscheck.py --checkpoint runs/jt/best.pt
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F


# ----------------------------------------------------------------------------- data

def load_test_split(root):
    with open(os.path.join(root, "meta.json")) as f:
        meta = json.load(f)
    n = meta["num_test"]
    inputs, bounds = [], []
    for mod in meta["modalities"]:
        dtype = {"uint8": np.uint8, "float16": np.float16}[mod["dtype"]]
        suffix = {"uint8": "u8", "float16": "f16"}[mod["dtype"]]
        raw = np.fromfile(os.path.join(root, f"test_{mod['name']}.{suffix}"), dtype)
        x = torch.from_numpy(raw.astype(np.float64).reshape([n] + mod["shape"]))
        x = ((x * mod["scale"] - mod["mean"]) / mod["std"]).float()
        inputs.append(x)
        # Pixel images live in [0, 1] before normalization; spectrograms are unbounded.
        if mod["dtype"] == "uint8":
            bounds.append(((0 - mod["mean"]) / mod["std"], (1 - mod["mean"]) / mod["std"]))
        else:
            bounds.append((-math.inf, math.inf))
    labels = torch.from_numpy(np.fromfile(os.path.join(root, "test_labels.i64"), np.int64).copy())
    names = [m["name"] for m in meta["modalities"]]
    return names, inputs, labels, bounds


# ----------------------------------------------------------------------------- model

class Model:
    """Late fusion: per-modality small CNN (conv-BN-ReLU x3 with two max-pools, global average), then
    a concat head (logits = W [phi_1; phi_2] + b) or the CRMT orthogonal head
    (logits = sum_m a(m) * (W~(m) phi_m) + b, W~ = (Vc Vc^T)^(-1/2) Vc, Vc = V with row means removed)."""

    def __init__(self, checkpoint, names):
        archive = torch.jit.load(checkpoint, map_location="cpu")
        self.architecture = str(archive.architecture)
        self.sd = {k: v.double() if v.is_floating_point() else v for k, v in archive.model.state_dict().items()}
        if "small_cnn" not in self.architecture:
            sys.exit(f"{checkpoint}: the cross-check rebuilds small_cnn encoders only ({self.architecture})")
        self.names = names
        self.head = self.architecture.split("head:")[1].split()[0]
        if self.head not in ("concat", "orthogonal"):
            sys.exit(f"{checkpoint}: head '{self.head}' is not rebuilt by the cross-check")
        self.rows = []  # R(m): the matrix whose rows give the uni-modal scores of modality m
        if self.head == "concat":
            w = self.sd["head.fc.weight"]
            dims = [self.sd[f"encoder_{n}.body.8.weight"].shape[0] for n in names]
            self.rows = list(torch.split(w, dims, dim=1))
            self.a = [torch.ones(w.shape[0], dtype=torch.float64) for _ in names]
            self.bias = self.sd["head.fc.bias"]
        else:
            for m in range(len(names)):
                v = self.sd[f"head.v{m}"]
                vc = v - v.mean(dim=1, keepdim=True)
                evals, evecs = torch.linalg.eigh(vc @ vc.T)
                inv_sqrt = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
                self.rows.append(inv_sqrt @ vc)
            self.a = [self.sd[f"head.a{m}"] for m in range(len(names))]
            self.bias = self.sd["head.bias"]

    def encode(self, m, x):
        p = f"encoder_{self.names[m]}.body."
        h = x.double()
        for conv, bn, pool in ((0, 1, True), (4, 5, True), (8, 9, False)):
            h = F.conv2d(h, self.sd[f"{p}{conv}.weight"], padding=1)
            h = F.batch_norm(h, self.sd[f"{p}{bn}.running_mean"], self.sd[f"{p}{bn}.running_var"],
                             self.sd[f"{p}{bn}.weight"], self.sd[f"{p}{bn}.bias"], training=False, eps=1e-5)
            h = F.relu(h)
            if pool:
                h = F.max_pool2d(h, 2)
        return h.mean(dim=(2, 3))

    def unimodal_scores(self, m, x):
        return self.encode(m, x) @ self.rows[m].T

    def logits(self, inputs):
        return sum(self.a[m] * self.unimodal_scores(m, x) for m, x in enumerate(inputs)) + self.bias


# ----------------------------------------------------------------------------- attacks

def joint_unit_direction(grads, attacked):
    """Per sample, the gradient over the attacked modalities divided by its joint l2 norm; zero where
    the gradient is zero (direction undefined: the sample stays put)."""
    sq = sum(grads[m].flatten(1).pow(2).sum(1) for m in attacked)
    norm = sq.sqrt()
    scale = torch.where(norm > 0, 1.0 / norm.clamp_min(1e-300), torch.zeros_like(norm))
    return {m: grads[m] * scale.view([-1] + [1] * (grads[m].dim() - 1)) for m in attacked}


def loss_gradients(model, inputs, labels, attacked):
    leaves = [x.detach().double().clone().requires_grad_(m in attacked) for m, x in enumerate(inputs)]
    loss = F.cross_entropy(model.logits(leaves), labels, reduction="sum")
    grads = torch.autograd.grad(loss, [leaves[m] for m in attacked])
    return dict(zip(attacked, grads))


def clamp(x, bound):
    return x.clamp(bound[0], bound[1]) if math.isfinite(bound[0]) else x


def fgm(model, inputs, labels, attacked, eps, bounds):
    d = joint_unit_direction(loss_gradients(model, inputs, labels, attacked), attacked)
    return [clamp(x.double() + eps * d[m], bounds[m]) if m in attacked else x for m, x in enumerate(inputs)]


def pgd(model, inputs, labels, attacked, eps, steps, bounds):
    clean = [x.double() for x in inputs]
    adv = list(clean)
    for _ in range(steps):
        d = joint_unit_direction(loss_gradients(model, adv, labels, attacked), attacked)
        step = {m: adv[m] + (eps / 3) * d[m] - clean[m] for m in attacked}
        norm = sum(step[m].flatten(1).pow(2).sum(1) for m in attacked).sqrt()
        shrink = torch.where(norm > eps, eps / norm.clamp_min(1e-300), torch.ones_like(norm))
        for m in attacked:
            adv[m] = clamp(clean[m] + step[m] * shrink.view([-1] + [1] * (step[m].dim() - 1)), bounds[m])
    return adv


def accuracy(model, inputs, labels, batch, attack):
    correct = 0
    for s in range(0, labels.numel(), batch):
        xs = [x[s:s + batch] for x in inputs]
        ys = labels[s:s + batch]
        xs = attack(xs, ys)
        with torch.no_grad():
            correct += (model.logits(xs).argmax(1) == ys).sum().item()
    return correct / labels.numel()


def evaluation_suite(model, names, inputs, labels, bounds, eps, steps, batch):
    all_m = list(range(len(names)))
    out = {"clean": accuracy(model, inputs, labels, batch, lambda xs, ys: xs)}
    for kind in ("fgm", "pgd"):
        for label, attacked in [("all", all_m)] + [(names[m], [m]) for m in all_m]:
            attack = (lambda xs, ys, a=attacked: fgm(model, xs, ys, a, eps, bounds)) if kind == "fgm" else \
                     (lambda xs, ys, a=attacked: pgd(model, xs, ys, a, eps, steps, bounds))
            out[f"{kind} eps={eps:g} on {label}"] = accuracy(model, inputs, labels, batch, attack)
    for m in all_m:
        out[f"missing {names[m]}"] = accuracy(
            model, inputs, labels, batch, lambda xs, ys, m=m: [torch.zeros_like(x) if i == m else x for i, x in enumerate(xs)])
    return out


# ----------------------------------------------------------------------------- certificates

def certificates(model, inputs, lipschitz):
    """eta[m][y][j] and, per sample, the radius min_{j != p} (h_p - h_j) / sqrt(sum_m eta[m][p][j]^2)."""
    tau = torch.tensor(lipschitz["tau"], dtype=torch.float64)            # [M, K]
    pairwise = torch.tensor(lipschitz["pairwise"], dtype=torch.float64)  # [M, K, K]
    if model.head == "concat":
        eta = pairwise                                                   # c_j(m) tau_j(m), Thm 3.3
    else:
        a = torch.stack(model.a).abs()                                   # [M, K]
        at = a * tau
        eta = at.unsqueeze(2) + at.unsqueeze(1)                          # |a_y| tau_y + |a_j| tau_j, Thm 3.5
    with torch.no_grad():
        logits = model.logits(inputs)
    pred = logits.argmax(1)
    margin = logits.gather(1, pred[:, None]) - logits                    # [N, K]
    denom = eta.pow(2).sum(0).sqrt()[pred]                               # [N, K]
    r = torch.where(denom > 0, margin / denom.clamp_min(1e-300), torch.full_like(margin, math.inf))
    r[torch.arange(len(pred)), pred] = math.inf
    return pred, r.min(1).values, eta


# ----------------------------------------------------------------------------- crmt side

def run_crmt(crmt, args):
    out = subprocess.run([crmt] + args, check=True, capture_output=True, text=True)
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--crmt", default="./build/crmt")
    ap.add_argument("--data", default=None, help="embedded data folder (default: the checkpoint's data.root)")
    ap.add_argument("--eps", type=float, default=0.5)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--tolerance", type=float, default=0.002, help="largest accuracy difference accepted")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = args.data or "data/embedded"
    names, inputs, labels, bounds = load_test_split(data)
    model = Model(args.checkpoint, names)
    print(f"cross-check of {args.checkpoint} ({model.architecture}) on all {labels.numel()} test samples")

    common = ["--set", "data.test_size=0", "--threads", str(args.threads)]
    ours = evaluation_suite(model, names, inputs, labels, bounds, args.eps, args.steps, args.batch)
    theirs = {r["label"]: r["accuracy"] for r in json.loads(run_crmt(args.crmt, [
        "eval", "--checkpoint", args.checkpoint, "--suite", "--json", "--eps", str(args.eps),
        "--steps", str(args.steps)] + common))["runs"][0]["results"]}
    worst = 0.0
    print(f"\n{'evaluation':28s} {'crmt':>8s} {'python':>8s} {'diff':>7s}")
    for label, acc in ours.items():
        diff = acc - theirs[label]
        worst = max(worst, abs(diff))
        print(f"{label:28s} {100 * theirs[label]:8.2f} {100 * acc:8.2f} {100 * diff:7.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        per_sample = os.path.join(tmp, "samples.csv")
        cert = json.loads(run_crmt(args.crmt, ["certify", "--checkpoint", args.checkpoint, "--json",
                                               "--per-sample", per_sample] + common))["certificate"]
        with open(per_sample) as f:
            rows = list(csv.DictReader(f))
    pred, radius, eta = certificates(model, inputs, cert["lipschitz"])
    crmt_radius = torch.tensor([float(r["radius"]) for r in rows], dtype=torch.float64)
    crmt_pred = torch.tensor([int(r["prediction"]) for r in rows])
    finite = torch.isfinite(radius) & torch.isfinite(crmt_radius)
    # Relative differences, with 1e-2 added to the scale: crmt's logits are float32, so a margin near
    # zero carries an absolute error of ~1e-6 that a pure relative measure would blow up.
    rel = ((radius - crmt_radius).abs() / (crmt_radius.abs() + 1e-2))[finite]
    off_diagonal = ~torch.eye(eta.shape[1], dtype=torch.bool)
    eta_diff = (eta - torch.tensor(cert["eta"], dtype=torch.float64)).abs()[:, off_diagonal].max().item()
    print(f"\ncertificates ({cert['lipschitz']['kind']} Lipschitz constants from crmt certify, "
          f"{cert['lipschitz']['samples']} training samples)")
    print(f"  predictions that differ: {(pred != crmt_pred).sum().item()} of {len(pred)}")
    print(f"  eta: largest absolute difference {eta_diff:.2e}")
    print(f"  radius: largest relative difference {rel.max().item():.2e} over {finite.sum().item()} finite radii; "
          f"median radius crmt {crmt_radius.median().item():.4f}, python {radius.median().item():.4f}")

    ok = worst <= args.tolerance and (pred != crmt_pred).sum().item() <= 2 and rel.max().item() < 1e-3 and eta_diff < 1e-6 * max(1.0, eta.max().item())
    print(f"\nlargest accuracy difference {100 * worst:.2f} points (tolerance {100 * args.tolerance:.2f}): "
          f"{'AGREE' if ok else 'DISAGREE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
