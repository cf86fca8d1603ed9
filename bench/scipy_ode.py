#!/usr/bin/env python3
"""Reference timings and accuracies of scipy.integrate.solve_ivp on the
problems of Odeflow's ODE benchmarks (ode/bench_test.go and
bench/odecompare), for the side-by-side table in BENCHMARKS.md.

Run:  python3 bench/scipy_ode.py            (Debian python3-scipy)
Prints one line per (problem, method, tolerance):
    problem method tol nfe error seconds_per_solve

Problems (same definitions as the Go side):
  arenstorf  restricted three-body orbit (Hairer, Nørsett & Wanner I, II.0),
             periodic with T = 17.0652165601579625588917206249; error is the
             max-norm distance of y(T) from y(0).
  lotka      x' = 1.5x - xy, y' = -3y + xy, y(0) = (1, 1), t in [0, 15];
             error is the max-norm distance from a 40-digit Taylor-series
             reference computed with mpmath.odefun (see REF_LOTKA).
"""
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

MU = 0.012277471
MUP = 1.0 - MU
ARENSTORF_Y0 = np.array([0.994, 0.0, 0.0, -2.00158510637908252240537862224])
ARENSTORF_T = 17.0652165601579625588917206249

# mpmath.odefun(F, 0, [1, 1], tol=1e-35, degree=40) at t = 15, 40 digits.
REF_LOTKA = np.array([6.34191838849216293038450304716, 0.732320971837937517944365738303])


def arenstorf(t, y):
    y1, y2, v1, v2 = y
    d1 = ((y1 + MU) ** 2 + y2 ** 2) ** 1.5
    d2 = ((y1 - MUP) ** 2 + y2 ** 2) ** 1.5
    return [
        v1,
        v2,
        y1 + 2 * v2 - MUP * (y1 + MU) / d1 - MU * (y1 - MUP) / d2,
        y2 - 2 * v1 - MUP * y2 / d1 - MU * y2 / d2,
    ]


def lotka(t, y):
    x, z = y
    return [1.5 * x - x * z, -3 * z + x * z]


PROBLEMS = {
    "arenstorf": (arenstorf, (0.0, ARENSTORF_T), ARENSTORF_Y0, ARENSTORF_Y0),
    "lotka": (lotka, (0.0, 15.0), np.array([1.0, 1.0]), REF_LOTKA),
}


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print("problem method tol nfe error seconds_per_solve")
    for name, (f, span, y0, ref) in PROBLEMS.items():
        for method in ("RK45", "DOP853"):
            for tol in (1e-6, 1e-9, 1e-12):
                best = float("inf")
                for _ in range(reps):
                    t0 = time.perf_counter()
                    sol = solve_ivp(f, span, y0, method=method, rtol=tol, atol=tol)
                    best = min(best, time.perf_counter() - t0)
                if not sol.success:
                    raise SystemExit(f"{name} {method} {tol}: {sol.message}")
                err = np.max(np.abs(sol.y[:, -1] - ref))
                print(f"{name} {method} {tol:.0e} {sol.nfev} {err:.3e} {best:.4e}")


if __name__ == "__main__":
    main()
