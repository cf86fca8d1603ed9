#!/usr/bin/env python3
"""PyTorch reference timings for FFJORD's toy vector field.

The field is FFJORD's toy ODE net: d=2 -> 64-64-64 -> 2, ConcatSquashLinear
layers with tanh between them and none after the last,

    layer(t, x) = (W x + b) * sigmoid(W_g t + b_g) + W_b t,

and the divergence is computed with autograd exactly as FFJORD does:

    exact (divergence_bf):  sum_i  d f_i / d z_i, one autograd.grad per
                            dimension, create_graph=True as in training;
    Hutchinson (divergence_approx): e^T (d f / d z) e with one Gaussian probe,
                            via autograd.grad(f, z, e, create_graph=True).

For each batch size it times, per evaluation:

    f+exact        f and the exact divergence (create_graph=True)
    f+exact-nocg   the same without create_graph (inference)
    f+hutch        f and the Hutchinson estimate (create_graph=True)
    vjp-exact      f + exact divergence, then the VJP of (a.f + b.div) w.r.t.
                   z, t and all parameters
    vjp-hutch      the same with the Hutchinson estimate

Usage:  python3 bench/torch_field.py [--threads 2] [--batches 100,1000]
                                     [--min-time 2.0] [--json]
CPU only. Each op is timed in blocks of repetitions (at least --min-time
seconds in all); the script prints the fastest block (robust to other load on
a shared machine) and the median block, per evaluation.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


class ConcatSquashLinear(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self._layer = nn.Linear(dim_in, dim_out)
        self._hyper_bias = nn.Linear(1, dim_out, bias=False)
        self._hyper_gate = nn.Linear(1, dim_out)

    def forward(self, t, x):
        tt = t.view(1, 1)
        return self._layer(x) * torch.sigmoid(self._hyper_gate(tt)) + self._hyper_bias(tt)


class ODENet(nn.Module):
    def __init__(self, d=2, hidden=(64, 64, 64)):
        super().__init__()
        dims = (d,) + tuple(hidden) + (d,)
        self.layers = nn.ModuleList(
            [ConcatSquashLinear(a, b) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, t, z):
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(t, h)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return h


def divergence_bf(f, z, create_graph):
    s = 0.0
    d = z.shape[1]
    for i in range(d):
        # Without create_graph the graph must still be kept for the next i.
        g = torch.autograd.grad(f[:, i].sum(), z, create_graph=create_graph,
                                retain_graph=create_graph or i < d - 1)[0]
        s = s + g[:, i]
    return s


def divergence_approx(f, z, e, create_graph):
    e_dfdz = torch.autograd.grad(f, z, e, create_graph=create_graph)[0]
    return (e_dfdz * e).sum(dim=1)


def make_ops(net, n, d, gen, dtype):
    z0 = torch.randn(n, d, generator=gen, dtype=dtype)
    t0 = torch.tensor(0.5, dtype=dtype)
    e = torch.randn(n, d, generator=gen, dtype=dtype)
    a = torch.randn(n, d, generator=gen, dtype=dtype)
    b = torch.randn(n, generator=gen, dtype=dtype)
    params = list(net.parameters())

    def inputs():
        z = z0.clone().requires_grad_(True)
        t = t0.clone().requires_grad_(True)
        return z, t

    def f_exact(cg=True):
        z, t = inputs()
        f = net(t, z)
        div = divergence_bf(f, z, cg)
        return z, t, f, div

    def f_hutch():
        z, t = inputs()
        f = net(t, z)
        div = divergence_approx(f, z, e, True)
        return z, t, f, div

    def vjp(fn):
        z, t, f, div = fn()
        loss = (f * a).sum() + (div * b).sum()
        return torch.autograd.grad(loss, [z, t] + params)

    return {
        "f+exact": lambda: f_exact(True),
        "f+exact-nocg": lambda: f_exact(False),
        "f+hutch": f_hutch,
        "vjp-exact": lambda: vjp(f_exact),
        "vjp-hutch": lambda: vjp(f_hutch),
    }


def time_op(op, min_time):
    for _ in range(20):  # warm-up
        op()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            op()
        el = time.perf_counter() - t0
        if el > 0.05:
            break
        reps *= 2
    samples = []
    total = 0.0
    while total < min_time or len(samples) < 5:
        t0 = time.perf_counter()
        for _ in range(reps):
            op()
        el = time.perf_counter() - t0
        samples.append(el / reps)
        total += el
    return min(samples), statistics.median(samples), reps * len(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="100,1000")
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    d = 2
    dtype = getattr(torch, args.dtype)
    net = ODENet(d).to(dtype)
    results = []
    for n in [int(s) for s in args.batches.split(",")]:
        ops = make_ops(net, n, d, gen, dtype)
        for name, op in ops.items():
            best, med, reps = time_op(op, args.min_time)
            results.append({"op": name, "batch": n, "ns_per_op_min": best * 1e9,
                            "ns_per_op_median": med * 1e9, "reps": reps})
            if not args.json:
                print(f"{name:14s} batch {n:5d}  min {best * 1e6:10.1f} us/op"
                      f"  median {med * 1e6:10.1f} us/op  ({reps} reps)", flush=True)
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": args.threads,
                          "dtype": args.dtype, "results": results}, indent=1))


if __name__ == "__main__":
    main()
