"""bench/tune driver: Kiln's samplers against Optuna's on the same machine in the same run.

1. Quality: Branin (2-d), Hartmann6 (6-d), Styblinski-Tang (10-d); 10 seeds x 100 trials;
   the median best value after 25, 50 and 100 trials, per sampler.
2. Overhead: ask + tell time per trial (objective excluded) around trial 1000; Kiln with
   SQLite on disk, Optuna in memory, with SQLite and with a journal file.
3. Distributed: a 100 ms objective, 1 worker vs 4 worker processes on one PostgreSQL study;
   trials per second, and a check that no trial is lost or duplicated.

Usage: python bench.py --kiln-bench target/release/examples/tune_bench [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONS = ["branin", "hartmann6", "styblinski_tang10"]
OPTIMA = {"branin": 0.397887, "hartmann6": -3.32237, "styblinski_tang10": -391.6617}
KILN_SAMPLERS = ["gp", "auto", "tpe", "cmaes", "random"]
OPTUNA_SAMPLERS = ["tpe_multivariate", "tpe", "random"]
CHECKPOINTS = (25, 50, 100)


def jsonl(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def medians(rows):
    return {k: statistics.median(r["curve"][k - 1] for r in rows) for k in CHECKPOINTS}


def quality(kiln, seeds, trials):
    table = {}
    for f in FUNCTIONS:
        for s in KILN_SAMPLERS:
            t0 = time.time()
            rows = jsonl([kiln, "quality", "--sampler", s, "--function", f, "--seeds", str(seeds), "--trials", str(trials)])
            table[(f"kiln-{s}", f)] = (medians(rows), time.time() - t0)
        for s in OPTUNA_SAMPLERS:
            t0 = time.time()
            rows = jsonl([sys.executable, os.path.join(HERE, "optuna_quality.py"), "--sampler", s, "--function", f,
                          "--seeds", str(seeds), "--trials", str(trials)])
            table[(f"optuna-{s}", f)] = (medians(rows), time.time() - t0)
    print(f"\n== quality: median best of {seeds} seeds x {trials} trials (lower is better) ==")
    names = [f"kiln-{s}" for s in KILN_SAMPLERS] + [f"optuna-{s}" for s in OPTUNA_SAMPLERS]
    for f in FUNCTIONS:
        print(f"{f} (optimum {OPTIMA[f]}):")
        for n in names:
            m, secs = table[(n, f)]
            print(f"  {n:<24} " + "  ".join(f"@{k}: {m[k]:9.4f}" for k in CHECKPOINTS) + f"   ({secs:.1f} s)")
    print("\nKiln's best sampler vs Optuna's multivariate TPE (same run):")
    verdict = True
    for f in FUNCTIONS:
        ref = table[("optuna-tpe_multivariate", f)][0]
        for k in (50, 100):
            best_name, best = min(((n, table[(n, f)][0][k]) for n in names if n.startswith("kiln-")), key=lambda x: x[1])
            gp = table[("kiln-gp", f)][0][k]
            ok = gp < ref[k]
            verdict &= ok
            print(f"  {f} @{k}: kiln-gp {gp:.4f} vs optuna {ref[k]:.4f} -> {'better' if ok else 'NOT better'}"
                  f" (best kiln sampler here: {best_name} {best:.4f})")
    print(f"  target (kiln-gp strictly better at 50 and 100 on all three): {'met' if verdict else 'NOT met'}")


def overhead(kiln):
    with tempfile.TemporaryDirectory() as d:
        k = jsonl([kiln, "overhead", "--storage", f"sqlite:///{os.path.join(d, 'k.db')}", "--sampler", "tpe",
                   "--function", "hartmann6", "--trials", "1100"])[0]
        kg = jsonl([kiln, "overhead", "--storage", f"sqlite:///{os.path.join(d, 'r.db')}", "--sampler", "random",
                    "--function", "hartmann6", "--trials", "1100"])[0]
    o = jsonl([sys.executable, os.path.join(HERE, "optuna_overhead.py"), "--function", "hartmann6"])[0]
    print("\n== overhead per trial around trial 1000 (ask + tell, objective excluded; hartmann6, TPE) ==")
    print(f"  kiln tpe, SQLite on disk:     median {k['ms_per_trial_median_950_1050']:.3f} ms, mean {k['ms_per_trial_mean_950_1050']:.3f} ms")
    print(f"  kiln random, SQLite on disk:  median {kg['ms_per_trial_median_950_1050']:.3f} ms (storage + study, no model)")
    print(f"  optuna tpe, in memory:        median {o['memory_ms_median_950_1050']:.3f} ms")
    sq = [v for key, v in o.items() if key.startswith("sqlite_")][0]
    jr = [v for key, v in o.items() if key.startswith("journal_")][0]
    print(f"  optuna tpe, SQLite on disk:   median {sq:.3f} ms")
    print(f"  optuna tpe, journal file:     median {jr:.3f} ms")
    print(f"  ratio optuna-sqlite / kiln-sqlite: {sq / k['ms_per_trial_median_950_1050']:.1f}x; "
          f"target <= 1 ms for kiln: {'met' if k['ms_per_trial_median_950_1050'] <= 1.0 else 'NOT met'}")


def psql(sql, db="test"):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAXq", "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def distributed(kiln, n_per_worker, sleep_ms):
    try:
        psql("select 1")
    except Exception as e:  # noqa: BLE001
        print(f"\n== distributed: SKIPPED, PostgreSQL at 127.0.0.1:5432 is unreachable ({e}) ==")
        return
    print(f"\n== distributed: {sleep_ms} ms objective, one PostgreSQL study ==")
    rates = {}
    for workers in (1, 4):
        db = f"kiln_tune_bench_{uuid.uuid4().hex[:8]}"
        psql(f"CREATE DATABASE {db}")
        try:
            uri = f"postgresql://postgres@127.0.0.1:5432/{db}"
            total = n_per_worker * workers
            # Create the study (and the schema) before the clock starts.
            jsonl([kiln, "worker", "--storage", uri, "--study", "bench", "--trials", "0", "--sleep-ms", "0"])
            t0 = time.time()
            procs = [subprocess.Popen([kiln, "worker", "--storage", uri, "--study", "bench", "--trials", str(total),
                                       "--sleep-ms", str(sleep_ms)], stdout=subprocess.PIPE, text=True)
                     for _ in range(workers)]
            for p in procs:
                p.wait()
                assert p.returncode == 0, "a worker failed"
            secs = time.time() - t0
            row = psql("SELECT count(*), count(DISTINCT number), sum(CASE WHEN state = 'COMPLETE' THEN 1 ELSE 0 END), "
                       "count(DISTINCT params), min(number), max(number), max(end_time) - min(start_time) "
                       "FROM study_trials", db)
            n, distinct, complete, distinct_params, lo, hi, span_ms = (int(x) for x in row.split("|"))
            lost = total - complete
            dup = n - distinct
            rates[workers] = complete / (span_ms / 1000)
            print(f"  {workers} worker(s): {complete} trials; first start to last end {span_ms / 1000:.2f} s = "
                  f"{rates[workers]:.2f} trials/s (wall time with process start-up {secs:.2f} s = {complete / secs:.2f}/s); "
                  f"numbers {lo}..{hi}, lost {lost}, duplicated numbers {dup}, distinct param sets {distinct_params}")
        finally:
            psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    speedup = rates[4] / rates[1]
    print(f"  speed-up 4 workers / 1 worker (trials/s, first start to last end): {speedup:.2f}x "
          f"(target >= 3.5x: {'met' if speedup >= 3.5 else 'NOT met'})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln-bench", required=True)
    ap.add_argument("--quick", action="store_true", help="3 seeds, fewer distributed trials (a smoke run)")
    ap.add_argument("--only", choices=["quality", "overhead", "distributed"])
    args = ap.parse_args()
    seeds = 3 if args.quick else 10
    if args.only in (None, "quality"):
        quality(args.kiln_bench, seeds, 100)
    if args.only in (None, "overhead"):
        overhead(args.kiln_bench)
    if args.only in (None, "distributed"):
        distributed(args.kiln_bench, 10 if args.quick else 40, 100)


if __name__ == "__main__":
    main()
