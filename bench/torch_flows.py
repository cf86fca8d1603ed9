#!/usr/bin/env python3
"""PyTorch reference timings for one training epoch of RealNVP and MAF.

The models are written here to match, layer for layer, what
discrete.NewRealNVP and discrete.NewMAF build in Odeflow for d = 2 with
FlowSettings{Layers: 6, Hidden: "128-128", Act: nn.ReLU} (the Go side is
bench/flows_throughput):

RealNVP  6 affine coupling layers, alternating masks: layer k transforms
         coordinate 1 given coordinate 0 for even k, coordinate 0 given
         coordinate 1 for odd k (no permutation layers). Conditioner: an MLP
         1 -> 128 -> 128 -> 2 with ReLU, outputs (t, r) per transformed
         coordinate; z_b = t + exp(l(r)) x_b with the soft-clamped log-scale
         l(r) = L tanh(r / L), L = 3; log|det| = l(r).
MAF      6 autoregressive layers, variable order (0, 1) for even k and
         (1, 0) for odd k. Conditioner: a MADE 2 -> 128 -> 128 -> 4 with
         ReLU, Germain et al.'s degrees as in nn.MADEMasks with cyclic
         hidden degrees: input in place p of the order has degree p + 1,
         hidden units degrees 1..d-1 cyclically (all 1 for d = 2), masks
         deg_out >= deg_in (hidden) and deg_out > deg_in (output); outputs
         variable-major (t_i, r_i); the same affine transformer.

Both: standard normal base, float64, hidden weights Glorot-uniform, biases
zero, last layer zero (so the flow starts as the identity, as in Odeflow),
loss = mean negative log-likelihood of the batch, Adam (lr 1e-3, betas 0.9,
0.999, eps 1e-8), no gradient clipping. One epoch = a fresh random
permutation of the 2000 training rows (ring of Gaussians: 8 modes on a
circle of radius 3, std 0.25) visited in floor(2000 / batch) full batches,
each: gather, forward, backward, optimizer step -- what train.Fit does.

Usage:  python3 bench/torch_flows.py [--threads 2] [--blas-threads N]
                                     [--batch 128,256] [--epochs 12] [--json]

--threads sets torch's threads and, unless --blas-threads says otherwise,
those of the BLAS that Debian's torch calls for its matrix products
(OpenBLAS keeps its own thread pool, which torch.set_num_threads does not
reach: --threads 1 alone would still multiply matrices on every core).
Prints seconds per epoch for each model and batch size: the fastest epoch
in wall-clock time (robust to other load on a shared machine) and the
median, after one warm-up epoch that is not counted, and the fastest epoch
in process CPU time (all threads; with --threads 1 the work of the epoch,
unaffected by waiting for a core on a loaded machine).
"""
import argparse
import json
import math
import os
import statistics
import time


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2,
                    help="torch intra-op threads (torch.set_num_threads)")
    ap.add_argument("--blas-threads", type=int, default=0,
                    help="threads of the BLAS behind torch's matmuls (Debian's torch "
                         "calls OpenBLAS, which keeps its own pool): OPENBLAS_NUM_THREADS, "
                         "set before torch loads; 0 (default) means --threads")
    ap.add_argument("--batch", default="128,256")
    ap.add_argument("--epochs", type=int, default=12, help="timed epochs per model and batch")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


ARGS = parse_args()
BLAS_THREADS = ARGS.blas_threads or ARGS.threads
# OpenBLAS and OpenMP read these when torch (and its BLAS) loads.
os.environ["OPENBLAS_NUM_THREADS"] = str(BLAS_THREADS)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_default_dtype(torch.float64)

BOUND = 3.0  # soft clamp of the log-scale
LOG2PI = math.log(2 * math.pi)


def glorot_(w):
    fan_out, fan_in = w.shape
    r = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        w.uniform_(-r, r)


def affine_forward(x, t, r):
    ls = BOUND * torch.tanh(r / BOUND)
    return t + torch.exp(ls) * x, ls


class MLP(nn.Module):
    """in -> hidden... -> out, ReLU between, last layer zero; with masks
    (one per layer), masked layers (MADE)."""

    def __init__(self, dims, masks=None):
        super().__init__()
        pairs = list(zip(dims[:-1], dims[1:]))
        if masks is None:
            layers = [nn.Linear(a, b) for a, b in pairs]
        else:
            layers = [MaskedLinear(a, b, m) for (a, b), m in zip(pairs, masks)]
        self.layers = nn.ModuleList(layers)
        for i, l in enumerate(self.layers):
            nn.init.zeros_(l.bias)
            if i < len(self.layers) - 1:
                glorot_(l.weight)
            else:
                nn.init.zeros_(l.weight)

    def forward(self, h):
        for i, l in enumerate(self.layers):
            h = l(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h


class Coupling(nn.Module):
    def __init__(self, d, transformed, hidden):
        super().__init__()
        self.b = [j for j in range(d) if transformed[j]]
        self.a = [j for j in range(d) if not transformed[j]]
        self.net = MLP([len(self.a)] + hidden + [2 * len(self.b)])

    def forward(self, x):
        xa, xb = x[:, self.a], x[:, self.b]
        phi = self.net(xa).view(-1, len(self.b), 2)
        zb, ls = affine_forward(xb, phi[..., 0], phi[..., 1])
        z = torch.empty_like(x)
        z[:, self.a] = xa
        z[:, self.b] = zb
        return z, ls.sum(1)


class MaskedLinear(nn.Linear):
    def __init__(self, n_in, n_out, mask):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def made_masks(order, hidden, mult):
    d = len(order)
    in_deg = [0] * d
    for p, v in enumerate(order):
        in_deg[v] = p + 1
    prev = in_deg
    masks = []
    for w in hidden:
        lo, hi = 1, d - 1
        if hi < lo:
            h = [hi] * w
        else:
            h = [lo + k % (hi - lo + 1) for k in range(w)]
        masks.append(torch.tensor(
            [[1.0 if do >= di else 0.0 for di in prev] for do in h]))
        prev = h
    out_deg = [in_deg[i] for i in range(d) for _ in range(mult)]
    masks.append(torch.tensor(
        [[1.0 if do > di else 0.0 for di in prev] for do in out_deg]))
    return masks


class MADELayer(nn.Module):
    def __init__(self, d, order, hidden):
        super().__init__()
        self.net = MLP([d] + hidden + [2 * d], made_masks(order, hidden, 2))

    def forward(self, x):
        phi = self.net(x).view(-1, x.shape[1], 2)
        z, ls = affine_forward(x, phi[..., 0], phi[..., 1])
        return z, ls.sum(1)


class Flow(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def log_prob(self, x):
        ldj = torch.zeros(x.shape[0])
        for l in self.layers:
            x, ld = l(x)
            ldj = ldj + ld
        return -0.5 * (x * x).sum(1) - 0.5 * x.shape[1] * LOG2PI + ldj


def realnvp(d=2, layers=6, hidden=(128, 128)):
    return Flow([Coupling(d, [(j % 2 == 0) == (k % 2 == 1) for j in range(d)], list(hidden))
                 for k in range(layers)])


def maf(d=2, layers=6, hidden=(128, 128)):
    out = []
    for k in range(layers):
        order = list(range(d)) if k % 2 == 0 else list(reversed(range(d)))
        out.append(MADELayer(d, order, list(hidden)))
    return Flow(out)


def ring_gaussians(n, rng):
    k = rng.integers(0, 8, size=n)
    a = k * math.pi / 4
    x = np.stack([3 * np.cos(a), 3 * np.sin(a)], 1) + 0.25 * rng.standard_normal((n, 2))
    return torch.from_numpy(x)


def epoch(flow, opt, x, batch):
    n = x.shape[0]
    perm = torch.randperm(n)
    total = 0.0
    for i in range(n // batch):
        xb = x[perm[i * batch:(i + 1) * batch]]
        loss = -flow.log_prob(xb).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
    return total / (n // batch)


def main():
    args = ARGS
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x = ring_gaussians(args.n, np.random.default_rng(1))
    rows = []
    for batch in [int(b) for b in args.batch.split(",")]:
        for name, make in (("realnvp", realnvp), ("maf", maf)):
            flow = make()
            opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
            nparams = sum(p.numel() for p in flow.parameters())
            epoch(flow, opt, x, batch)  # warm-up
            times, cpu, losses = [], [], []
            for _ in range(args.epochs):
                t0, c0 = time.perf_counter(), time.process_time()
                losses.append(epoch(flow, opt, x, batch))
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            rows.append(dict(model=name, batch=batch, threads=args.threads,
                             blas_threads=BLAS_THREADS, params=nparams,
                             min_s=min(times), median_s=statistics.median(times),
                             min_cpu_s=min(cpu), last_loss=losses[-1]))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"torch {torch.__version__}, threads {args.threads}, BLAS threads {BLAS_THREADS}, "
          f"float64, n = {args.n}")
    print(f"{'model':8} {'batch':>5} {'params':>7} {'min s/epoch':>12} {'median':>10} "
          f"{'min CPU s':>12} {'loss':>8}")
    for r in rows:
        print(f"{r['model']:8} {r['batch']:5d} {r['params']:7d} {r['min_s']:12.5f} "
              f"{r['median_s']:10.5f} {r['min_cpu_s']:12.5f} {r['last_loss']:8.4f}")


if __name__ == "__main__":
    main()
