"""Optuna's samplers on the same test functions as `tune_bench quality`.

Prints one JSON line per (sampler, function, seed) with the best value after each trial.
"""
import argparse
import json
import math
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(x):
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))) for i in range(4))


def styblinski_tang(x):
    return 0.5 * sum(v**4 - 16 * v * v + 5 * v for v in x)


FUNCTIONS = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)]),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6),
    "styblinski_tang10": (styblinski_tang, [(-5.0, 5.0)] * 10),
}


def make_sampler(name, seed):
    if name == "tpe_multivariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SystemExit(f"unknown sampler {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sampler", default="tpe_multivariate")
    ap.add_argument("--function", default="branin")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    f, bounds = FUNCTIONS[args.function]
    for seed in range(args.seeds):
        study = optuna.create_study(sampler=make_sampler(args.sampler, seed))
        start = time.perf_counter()

        def objective(trial):
            return f([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)])

        study.optimize(objective, n_trials=args.trials)
        best, curve = math.inf, []
        for t in study.trials:
            best = min(best, t.value)
            curve.append(best)
        print(json.dumps({"optuna": args.sampler, "function": args.function, "seed": seed, "curve": curve,
                          "seconds": time.perf_counter() - start}), flush=True)


if __name__ == "__main__":
    main()
