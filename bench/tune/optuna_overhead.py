"""Optuna's sampler overhead per trial around trial 1000 (ask + tell, objective excluded).

In memory for trials 950-1050; then the study is copied into SQLite (and a journal file) and
50 more trials are timed there. Prints one JSON line.
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import optuna

from optuna_quality import FUNCTIONS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def timed_trials(study, f, bounds, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)]
        t_ask = time.perf_counter() - t0
        v = f(x)
        t1 = time.perf_counter()
        study.tell(trial, v)
        out.append((t_ask + time.perf_counter() - t1) * 1e3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--function", default="hartmann6")
    ap.add_argument("--persistent-trials", type=int, default=50)
    args = ap.parse_args()
    f, bounds = FUNCTIONS[args.function]
    sampler = optuna.samplers.TPESampler(seed=1, multivariate=True)
    mem = optuna.create_study(sampler=sampler, study_name="overhead")
    timed_trials(mem, f, bounds, 950)
    window = timed_trials(mem, f, bounds, 100)
    out = {"optuna": "tpe_multivariate", "function": args.function,
           "memory_ms_median_950_1050": statistics.median(window)}
    with tempfile.TemporaryDirectory() as d:
        for kind in ("sqlite", "journal"):
            if kind == "sqlite":
                storage = optuna.storages.RDBStorage(f"sqlite:///{os.path.join(d, 'o.db')}")
            else:
                storage = optuna.storages.JournalStorage(
                    optuna.storages.journal.JournalFileBackend(os.path.join(d, "o.log")))
            optuna.copy_study(from_study_name="overhead", from_storage=mem._storage, to_storage=storage,
                              to_study_name="overhead")
            st = optuna.load_study(study_name="overhead", storage=storage,
                                   sampler=optuna.samplers.TPESampler(seed=2, multivariate=True))
            times = timed_trials(st, f, bounds, args.persistent_trials)
            out[f"{kind}_ms_median_1050_{1050 + args.persistent_trials}"] = statistics.median(times)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
