#!/usr/bin/env python3
"""Plain eager PyTorch baseline for crmt's GPU timings: the official CRMT code's work
(GeWu-Lab/Certifiable-Robust-Multi-modal-Training) on Kinetics-Sounds shapes, as samples/s.

Workloads: jt_step, crmt_step, crmt_at_step (training steps, fp32/bf16/fp16), pgd, eval_suite and
lipschitz (fp32 only). --model small_cnn switches to crmt's small CNN on the embedded data's shapes
(visual 1x28x28, audio 1x32x32, 10 classes): the CPU comparison of `make bench-compare`.
Faithful to the official code by default: cudnn.deterministic=True and benchmark=False (its
utils.setup_seed), the orthogonal head's per-row SVD loop (OWNNorm, --orth-impl), rob_test.py's
per-frame Python-loop (un)normalisation with torchvision's Normalize (--clamp-impl), one
loss.item() and one accuracy .item() per training batch. No data loading is timed.

  pytorch_gpu_bench.py [--device cuda|cpu] [--batch 64] [--pgd-batch 64] [--warmup 3] [--iters 10]
      [--precisions fp32,bf16,fp16] [--workloads jt_step,crmt_step,pgd,lipschitz] [--small]
      [--json PATH] [--seed 0] [--channels-last] [--cudnn-benchmark] [--no-cudnn-deterministic]
      [--orth-impl official|closed_form] [--clamp-impl official|vectorized] [--data-parallel]
      [--threads N] [--model resnet18|small_cnn] [--profile DIR]
"""
import argparse
import contextlib
import gc
import json
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
K, RHO, EPS, PGD_ITERS = 31, 2.0, 0.5, 4  # K: 10 with --model small_cnn (set in main)
UNIMODAL_EPS = 1.0                          # the paper's budget for attacks on one modality
AT_EPS, AT_ITERS = 0.1, 5                   # train_CRMT_AT's generate_AT_sample
VISUAL_RANGE = (-0.8, 2.0)                  # the embedded data's normalized Fashion-MNIST range
TRAIN_WORKLOADS = ("jt_step", "crmt_step", "crmt_at_step")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# ---- model: official models/backbone.py, multimodal.py, fusion_model.py ----
class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ResNet18(nn.Module):
    """Trunk only (no pooling, no fc), as in the official backbone."""

    def __init__(self, in_channels, visual, channels_last):
        super().__init__()
        self.visual, self.channels_last = visual, channels_last
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)))
            inplanes = planes
        self.layers = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, mean=1, std=0.02)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        if self.visual:  # clip is [B, C, T, H, W]: one 2-D pass per frame
            B, C, T, H, W = x.shape
            x = x.permute(0, 2, 1, 3, 4).contiguous().view(B * T, C, H, W)
        if self.channels_last:  # inside forward so the attacked inputs keep the official layout
            x = x.contiguous(memory_format=torch.channels_last)
        return self.layers(self.maxpool(self.relu(self.bn1(self.conv1(x)))))


class SmallCnn(nn.Module):
    """crmt's small_cnn encoder (src/crmt/models/small_cnn.cpp): three 3x3 conv + BN + ReLU stages
    of 16, 32 and dim channels, 2x2 max pools between them; pooled by the fusion module."""

    def __init__(self, in_channels, dim):
        super().__init__()
        layers, cin = [], in_channels
        for i, cout in enumerate((16, 32, dim)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


def own_norm_official(weight, groups):
    """OWNNorm verbatim: one SVD per row (1x1 matrices) -- the official code's real cost."""
    Z = weight.view(groups, weight.shape[0] // groups, -1)
    Zc = Z - Z.mean(dim=-1, keepdim=True)
    S = torch.matmul(Zc, Zc.transpose(1, 2))
    wm = torch.randn(S.shape).to(S)  # host randn + copy, as in the original
    for i in range(groups):
        U, Eig, _ = S[i].svd() if hasattr(S, "svd") else torch.linalg.svd(S[i])
        wm[i] = U.mm(Eig.rsqrt().diag()).mm(U.t())
    return wm.matmul(Zc).view_as(weight)


def own_norm_closed_form(weight):
    """Same result with one row per group: centre each row, scale to unit norm."""
    Zc = weight - weight.mean(dim=1, keepdim=True)
    return Zc / Zc.norm(dim=1, keepdim=True)


class OrthHead(nn.Module):
    def __init__(self, dims, k, impl):
        super().__init__()
        self.dims, self.impl = dims, impl
        self.fc = nn.Linear(sum(dims), k)
        self.a_0 = nn.Parameter(torch.ones(k) * 0.1)
        self.a_1 = nn.Parameter(torch.ones(k) * 0.1)

    def forward(self, x):
        outs, output, c = [], 0, 0
        for m, d in enumerate(self.dims):
            # SVD has no half/bf16 kernels, so the weight normalisation stays fp32 under autocast
            with torch.autocast(device_type=x.device.type, enabled=False):
                w = self.fc.weight[:, c:c + d].float()
                w = own_norm_official(w, w.shape[0]) if self.impl == "official" else own_norm_closed_form(w)
            outs.append(x[:, c:c + d].matmul(w.t()))
            output = output + outs[m] * getattr(self, "a_%d" % m).view(1, -1).expand(outs[m].shape)
            c += d
        return outs, output + self.fc.bias


class MultiModal(nn.Module):
    def __init__(self, orth, args):
        super().__init__()
        self.clip = args.model == "resnet18"  # visual input: a clip of frames, or one image
        if self.clip:
            self.visual_net = ResNet18(3, True, args.channels_last)
            self.audio_net = ResNet18(1, False, args.channels_last)
            dim = 512
        else:
            dim = 64
            self.visual_net, self.audio_net = SmallCnn(1, dim), SmallCnn(1, dim)
        self.orth = orth
        self.fusion = OrthHead([dim, dim], K, args.orth_impl) if orth else nn.Linear(2 * dim, K)

    def forward(self, visual, audio):
        v, a = self.visual_net(visual), self.audio_net(audio)
        a = torch.flatten(F.adaptive_avg_pool2d(a, 1), 1)
        if self.clip:
            _, C, H, W = v.shape
            v = v.view(a.shape[0], -1, C, H, W).permute(0, 2, 1, 3, 4)
            v = torch.flatten(F.adaptive_avg_pool3d(v, 1), 1)
        else:
            v = torch.flatten(F.adaptive_avg_pool2d(v, 1), 1)
        x = torch.cat((v, a), dim=1)
        if self.orth:
            (ov, oa), out = self.fusion(x)
            return ov, oa, out
        return v, a, self.fusion(x)


def build_model(orth, args, dev):
    torch.manual_seed(args.seed)
    model = MultiModal(orth, args).to(dev)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if args.data_parallel and dev.type == "cuda":  # official wraps in DataParallel (4 GPUs there)
        model = nn.DataParallel(model)
    return model


def make_inputs(args, batch, dev):
    g = torch.Generator(device=dev)
    g.manual_seed(args.seed)
    if args.model == "small_cnn":
        lo, hi = VISUAL_RANGE
        visual = lo + (hi - lo) * torch.rand((batch, 1, 28, 28), generator=g, device=dev)
        audio = torch.randn((batch, 1, 32, 32), generator=g, device=dev)
        return visual, audio, torch.randint(0, K, (batch,), generator=g, device=dev)
    # Visual: valid [0,1] frames, normalised, so the attack's [0,1] clamp acts as on real data
    pix = torch.rand((batch, 3, 3) + args.frame_hw, generator=g, device=dev)
    mean, std = (torch.tensor(t, device=dev).view(1, 3, 1, 1, 1) for t in (MEAN, STD))
    visual = (pix - mean) / std
    audio = torch.randn((batch, 1) + args.audio_hw, generator=g, device=dev)
    labels = torch.randint(0, K, (batch,), generator=g, device=dev)
    return visual, audio, labels


def calculate_accuracy(outputs, targets):  # official utils.calculate_accuracy (a sync per batch)
    with torch.no_grad():
        pred = outputs.topk(1, 1, largest=True, sorted=True)[1].t()
        return pred.eq(targets.view(1, -1)).float().sum().item() / targets.size(0)


def autocast(dev, precision):  # 1.13's CPU autocast rejects any dtype but bf16, even disabled
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=DTYPES[precision])


def make_grad_scaler():
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


# ---- workloads: each returns step(), which does one timed iteration and returns sanity values ----
def at_samples(model, visual, audio, labels):
    """train.generate_AT_sample: AT_ITERS steps of AT_EPS / 5 along the CE gradient divided per
    sample by its joint l2 norm, the perturbation clamped to [-2 eps, 2 eps]; the model stays in
    train mode, as in train_CRMT_AT."""
    criterion, alpha = nn.CrossEntropyLoss(), AT_EPS / 5
    data = [visual, audio]
    adv = [d.clone().detach() for d in data]
    for _ in range(AT_ITERS):
        for x in adv:
            x.requires_grad_(True)
        _, _, out = model(*adv)
        grads = torch.autograd.grad(criterion(out, labels), adv)
        norm = torch.sqrt(sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads) + 1e-6)
        adv = [(x.detach() + alpha * g / norm.view(-1, *([1] * (g.dim() - 1)))) for x, g in zip(adv, grads)]
        adv = [d + torch.clamp(x - d, -2 * AT_EPS, 2 * AT_EPS) for x, d in zip(adv, data)]
    return [x.detach() for x in adv]


def train_step(model, crmt, precision, dev, inputs, adversarial=False):
    visual, audio, labels = inputs
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()
    scaler = make_grad_scaler() if precision == "fp16" else None
    rows = torch.arange(labels.shape[0])  # a CPU index tensor, as in train_CRMT_JT
    model.train()

    def step():
        v, a = at_samples(model, visual, audio, labels) if adversarial else (visual, audio)
        opt.zero_grad()
        with autocast(dev, precision):
            out_v, out_a, out = model(v, a)
            loss = criterion(out, labels)
            if crmt:  # raw exp, exactly as the official code (overflows for large logits)
                margin = 0.0
                for o in (out_v, out_a):
                    margin = margin + (torch.sum(torch.exp(o), dim=1) * torch.exp(-o[rows, labels]) - 1)
                loss = loss + torch.mean(torch.log(margin + 1e-5)) * RHO
        calculate_accuracy(out, labels)
        (scaler.scale(loss) if scaler else loss).backward()
        value = loss.item()
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        return {"final_loss": value}
    return step


def _normalize(t, mean, std):  # torchvision.transforms.Normalize (inplace=False), incl. its sync
    t = t.clone()
    mean = torch.as_tensor(mean, dtype=t.dtype, device=t.device)
    std = torch.as_tensor(std, dtype=t.dtype, device=t.device)
    if (std == 0).any():
        raise ValueError("std is zero")
    return t.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))


def clamp_visual_official(x):
    """rob_test.clamp_input: per sample and frame, un-normalise, clamp to [0,1], normalise."""
    x = x.detach().clone()
    for i in range(x.size(0)):
        for j in range(x.size(2)):
            frame = x[i, :, j, :, :]
            for t, m, s in zip(frame, MEAN, STD):
                t.mul_(s).add_(m)
            x[i, :, j, :, :] = frame
    x = torch.clamp(x, 0, 1)
    for i in range(x.size(0)):
        for j in range(x.size(2)):
            x[i, :, j, :, :] = _normalize(x[i, :, j, :, :], MEAN, STD)
    return x


def clamp_visual_range(x):  # the embedded data: one normalized channel, clamped to its range
    return x.detach().clamp(*VISUAL_RANGE)


def clamp_visual_vectorized(x):
    mean, std = (torch.tensor(t, device=x.device).view(1, 3, 1, 1, 1) for t in (MEAN, STD))
    return ((x.detach() * std + mean).clamp(0, 1) - mean) / std


def l2_attack(model, data, labels, budgets, iters, clamp):
    """rob_test.multimodal_attack's l2 attacks. budgets None: both modalities in one joint ball of
    EPS, steps normalized jointly; else an eps per modality (0: untouched), steps normalized per
    modality, projected onto the ball of the combined budget. iters 1 is FGM (one step of the whole
    budget), more is PGD (steps of a third). Visual inputs are clamped after every step."""
    B, tiny = labels.shape[0], 1e-13
    criterion = nn.CrossEntropyLoss()
    adv = [d.clone().detach() for d in data]
    for _ in range(iters):
        for x in adv:
            x.requires_grad = True
        _, _, preds = model(adv[0], adv[1])
        model.zero_grad()
        criterion(preds, labels).backward()
        grads = [x.grad.detach().reshape(B, -1) for x in adv]
        if budgets is None:
            radius, step = EPS, (EPS if iters == 1 else EPS / 3)
            norm = torch.sqrt(sum(torch.norm(g, dim=1) ** 2 for g in grads)).view(B, 1) + tiny
            moved = [x.detach() + step * (g / norm).view(x.shape) for x, g in zip(adv, grads)]
        else:
            radius = sum(e * e for e in budgets) ** 0.5
            moved = [x.detach() + (e if iters == 1 else e / 3) * (g / (torch.norm(g, dim=1, keepdim=True) + tiny)).view(x.shape)
                     for x, g, e in zip(adv, grads, budgets)]
        perts = [m - d for m, d in zip(moved, data)]
        sq = sum(torch.sum(p.view(B, -1) ** 2, dim=1) for p in perts)
        factor = torch.clamp(radius / (torch.sqrt(sq) + tiny), max=1.0)
        out = [d + p * factor.view(B, *([1] * (p.dim() - 1))) for d, p in zip(data, perts)]
        adv = [clamp(out[0]), out[1]]  # audio is not clamped
    return adv


def pgd_step(model, args, dev, inputs):
    """rob_test.multimodal_attack('pgd_l2', eps 0.5): joint-l2 steps, joint-ball projection."""
    visual, audio, labels = inputs
    clamp = visual_clamp(args)
    model.eval()

    def step():
        adv = l2_attack(model, [visual, audio], labels, None, PGD_ITERS, clamp)
        _, _, preds = model(adv[0], adv[1])  # no torch.no_grad(), as in the official evaluation
        return {"adv_accuracy": (torch.argmax(preds, 1).detach() == labels).float().mean()}
    return step


def visual_clamp(args):
    if args.model == "small_cnn":
        return clamp_visual_range
    return clamp_visual_official if args.clamp_impl == "official" else clamp_visual_vectorized


# rob_test.py's table: (name, case) with case None for clean inputs, (budgets, iters) for an attack
# (budgets as l2_attack's) and the index of a missing (zeroed) modality otherwise.
SUITE = ([("clean", None)]
         + [("%s eps=%g on %s" % (attack, eps, where), (budgets, iters))
            for attack, iters in (("fgm", 1), ("pgd", PGD_ITERS))
            for eps, where, budgets in ((EPS, "all", None), (UNIMODAL_EPS, "visual", [UNIMODAL_EPS, 0.0]),
                                        (UNIMODAL_EPS, "audio", [0.0, UNIMODAL_EPS]))]
         + [("missing visual", 0), ("missing audio", 1)])


def suite_inputs(model, case, visual, audio, labels, clamp):
    """The inputs one SUITE case evaluates the model on."""
    if case is None:
        return visual, audio
    if isinstance(case, int):
        return [torch.zeros_like(x) if m == case else x for m, x in enumerate((visual, audio))]
    return l2_attack(model, [visual, audio], labels, case[0], case[1], clamp)


def eval_suite_step(model, args, dev, inputs):
    """rob_test.py's table for one model on one batch (SUITE): clean; FGM and l2-PGD at EPS on
    both modalities and at UNIMODAL_EPS on each one alone (per-modality normalized steps); each
    modality missing (zeroed). Forward passes outside torch.no_grad(), as the official code."""
    visual, audio, labels = inputs
    clamp = visual_clamp(args)
    model.eval()

    def accuracy(v, a):
        _, _, preds = model(v, a)
        return (torch.argmax(preds, 1).detach() == labels).float().mean()

    def step():
        acc = [accuracy(*suite_inputs(model, case, visual, audio, labels, clamp)) for _, case in SUITE]
        return {"suite_accuracy": torch.stack(acc)}
    return step


def class_gradient_norms(model, data):
    """train.get_lip over one batch: one forward pass, then per class t the backward of
    sum_i fused[i, t] to every input; returns [modalities, K], each the batch's largest gradient
    norm. `data` are leaf tensors that require grad (their grads are left zeroed)."""
    B = data[0].shape[0]
    lip = torch.zeros(len(data), K, device=data[0].device)
    _, _, out = model(*data)
    for t in range(K):
        torch.sum(out[:, t]).backward(retain_graph=True)
        for m, d in enumerate(data):
            norms = torch.norm(d.grad.detach().clone().view(B, -1), dim=1)
            lip[m, t] = torch.maximum(torch.max(norms), lip[m, t])
        # Every input grad zeroed between classes (the official code zeroes only audio.grad,
        # inside the modality loop; same number of kernels, so the timing is unaffected).
        for d in data:
            d.grad.zero_()
    return lip


def lipschitz_step(model, dev, inputs):
    """train.get_lip over one batch (class_gradient_norms)."""
    visual, audio, _ = inputs
    data = [visual.clone().requires_grad_(True), audio.clone().requires_grad_(True)]
    model.eval()

    def step():
        return {"lip_max": class_gradient_norms(model, data).max(dim=1)[0]}
    return step


# ---- harness ----
def run_one(workload, precision, args, dev):
    batch = args.pgd_batch if workload in ("pgd", "eval_suite") else args.batch
    inputs = make_inputs(args, batch, dev)
    model = build_model(workload in ("crmt_step", "crmt_at_step", "lipschitz"), args, dev)
    if workload in TRAIN_WORKLOADS:
        step = train_step(model, workload != "jt_step", precision, dev, inputs, workload == "crmt_at_step")
    elif workload == "pgd":
        step = pgd_step(model, args, dev, inputs)
    elif workload == "eval_suite":
        step = eval_suite_step(model, args, dev, inputs)
    else:
        step = lipschitz_step(model, dev, inputs)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(args.warmup):
        step()
    times = []
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(args.iters):
        sync()
        t0 = time.perf_counter()
        extra = step()
        sync()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    if args.profile:  # as many calls again under the autograd profiler, for bench/profile_table.py
        with torch.autograd.profiler.profile() as prof:
            for _ in range(args.iters):
                step()
            sync()
        prof.export_chrome_trace("%s/%s_%s.trace" % (args.profile, workload, precision))
    res = {"workload": workload, "precision": precision, "batch": batch,
           "samples_per_second": batch / med, "ms_per_iter": 1e3 * med,
           "ms_per_iter_mean": 1e3 * statistics.mean(times), "ms_per_iter_min": 1e3 * min(times),
           "iters": args.iters, "warmup": args.warmup}
    # sanity values are read after timing: the official eval/get_lip loops do not sync per batch
    res.update({k: v.tolist() if torch.is_tensor(v) else v for k, v in extra.items()})
    if dev.type == "cuda":
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    del model, step, inputs
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return res


def save(report, path):
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)


def _read(getter):  # TF32 flags are recorded as found; newer versions may warn or refuse the legacy getters
    try:
        return getter()
    except Exception as e:  # noqa: BLE001 - a settings record must not stop the benchmark
        return "unreadable: %s" % e


def main():
    p = argparse.ArgumentParser(description="PyTorch baseline of the official CRMT code's work (see the docstring)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=None, help="training/lipschitz batch (64; 4 with --small)")
    p.add_argument("--pgd-batch", type=int, default=None, help="pgd batch (64; 4 with --small)")
    for name, default in (("--warmup", 3), ("--iters", 10), ("--seed", 0)):
        p.add_argument(name, type=int, default=default)
    p.add_argument("--precisions", default="fp32,bf16,fp16")
    p.add_argument("--workloads", default="jt_step,crmt_step,pgd,lipschitz")
    p.add_argument("--json", default=None)
    p.add_argument("--profile", default=None, help="also profile each workload's iterations into DIR/<workload>.trace")
    for flag in ("--small", "--channels-last", "--data-parallel"):
        p.add_argument(flag, action="store_true")
    p.add_argument("--cudnn-benchmark", action="store_true", help="official: off")
    p.add_argument("--no-cudnn-deterministic", action="store_true", help="official: deterministic on")
    p.add_argument("--orth-impl", choices=("official", "closed_form"), default="official")
    p.add_argument("--clamp-impl", choices=("official", "vectorized"), default="official")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (1 with --small)")
    p.add_argument("--model", choices=("resnet18", "small_cnn"), default="resnet18",
                   help="small_cnn: crmt's small CNN at the embedded data's shapes, 10 classes")
    args = p.parse_args()
    global K
    if args.model == "small_cnn":
        K = 10

    args.batch = args.batch or (4 if args.small else 64)
    args.pgd_batch = args.pgd_batch or (4 if args.small else 64)
    args.frame_hw, args.audio_hw = ((64, 64), (128, 64)) if args.small else ((224, 224), (1024, 128))
    if args.threads or args.small:
        torch.set_num_threads(args.threads or 1)
    dev = torch.device(args.device)
    # utils.setup_seed in the official code sets exactly these two flags
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.backends.cudnn.deterministic = not args.no_cudnn_deterministic
    workloads = [w for w in args.workloads.split(",") if w]
    precisions = [q for q in args.precisions.split(",") if q]
    bad = set(workloads) - set(TRAIN_WORKLOADS + ("pgd", "eval_suite", "lipschitz")) | set(precisions) - set(DTYPES)
    if bad:
        p.error("unknown workload/precision: %s" % ", ".join(sorted(bad)))

    settings = {k: getattr(args, k) for k in ("channels_last", "cudnn_benchmark", "orth_impl", "clamp_impl",
                                              "data_parallel", "seed", "warmup", "iters", "small", "pgd_batch", "model")}
    settings.update({"cudnn_deterministic": torch.backends.cudnn.deterministic,
                     "cudnn_allow_tf32": _read(lambda: torch.backends.cudnn.allow_tf32),
                     "matmul_allow_tf32": _read(lambda: torch.backends.cuda.matmul.allow_tf32),
                     "float32_matmul_precision": _read(torch.get_float32_matmul_precision),
                     "visual_shape": [args.batch, 1, 28, 28] if args.model == "small_cnn" else [args.batch, 3, 3, *args.frame_hw],
                     "audio_shape": [args.batch, 1, 32, 32] if args.model == "small_cnn" else [args.batch, 1, *args.audio_hw],
                     "classes": K, "rho": RHO, "pgd_eps": EPS, "pgd_iters": PGD_ITERS, "timing": "median",
                     "threads": torch.get_num_threads(), "cuda": torch.version.cuda,
                     "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
                     "python": platform.python_version()})
    report = {"torch_version": torch.__version__,
              "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
              "batch": args.batch, "settings": settings, "results": [], "skipped": []}
    print("torch %s on %s; batch %d, pgd batch %d; %s" % (torch.__version__, report["device_name"], args.batch,
                                                        args.pgd_batch, json.dumps(settings)))
    print("%-10s %-5s %5s %12s %10s  %s" % ("workload", "prec", "batch", "samples/s", "ms/iter", "sanity"))
    for w in workloads:
        for q in (precisions if w in TRAIN_WORKLOADS else ["fp32"]):
            if q == "fp16" and dev.type != "cuda":
                note = "fp16 autocast/GradScaler is CUDA-only here: skipped on " + dev.type
                print("%-10s %-5s %s" % (w, q, note))
                report["skipped"].append({"workload": w, "precision": q, "reason": note})
                continue
            r = run_one(w, q, args, dev)
            sanity = {k: r[k] for k in ("final_loss", "adv_accuracy", "suite_accuracy", "lip_max", "peak_mem_gib") if k in r}
            print("%-10s %-5s %5d %12.1f %10.2f  %s" % (w, q, r["batch"], r["samples_per_second"], r["ms_per_iter"],
                                                      json.dumps(sanity)), flush=True)
            report["results"].append(r)
            save(report, args.json)  # after each result, so a later failure (e.g. OOM) keeps the rest
    save(report, args.json)


if __name__ == "__main__":
    main()
