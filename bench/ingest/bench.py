#!/usr/bin/env python3
"""Ingest benchmark: Kiln's reader + training matrix against pandas and pyarrow.

Generates a 1,000,000-row x 50-feature float64 table with a binary label,
writes it as CSV and Parquet (pyarrow's defaults), then times, each in a fresh
process and best of N:

  kiln    read(file) + table_to_matrix(50 features) + column_f64(label)
  pandas  pandas.read_csv(file)
  pyarrow pyarrow.csv.read_csv(file), pyarrow.parquet.read_table(file)

Times are measured inside each process around the read call (interpreter and
import start-up excluded). Peak memory is the process's peak RSS (getrusage
ru_maxrss for Python, VmHWM for Kiln: the same counter on Linux). Checksums of
the values are compared so that every reader is known to read the same data.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROWS_DEFAULT = 1_000_000
FEATURES = 50

ANCHOR = r"""
import json, resource, sys, time
tool, path = sys.argv[1], sys.argv[2]
# Peak RSS right after the read (before the checksums below allocate), and CPU seconds of the read.
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
if tool == "pandas_csv":
    import pandas as pd
    c0 = cpu(); t = time.perf_counter(); df = pd.read_csv(path); el = time.perf_counter() - t; peak = rss(); cpu_s = cpu() - c0
    x_sum = float(df.drop(columns=["label"]).to_numpy(dtype="float64").sum()); y_sum = float(df["label"].sum())
    rows = len(df)
elif tool == "pyarrow_csv":
    import pyarrow.csv as pc, pyarrow.compute as pcmp
    c0 = cpu(); t = time.perf_counter(); tb = pc.read_csv(path); el = time.perf_counter() - t; peak = rss(); cpu_s = cpu() - c0
    rows = tb.num_rows
    x_sum = float(sum(pcmp.sum(tb.column(n)).as_py() for n in tb.column_names if n != "label"))
    y_sum = float(pcmp.sum(tb.column("label")).as_py())
elif tool == "pyarrow_parquet":
    import pyarrow.parquet as pq, pyarrow.compute as pcmp
    c0 = cpu(); t = time.perf_counter(); tb = pq.read_table(path); el = time.perf_counter() - t; peak = rss(); cpu_s = cpu() - c0
    rows = tb.num_rows
    x_sum = float(sum(pcmp.sum(tb.column(n)).as_py() for n in tb.column_names if n != "label"))
    y_sum = float(pcmp.sum(tb.column("label")).as_py())
else:
    raise SystemExit("unknown tool " + tool)
print(json.dumps({"tool": tool, "rows": rows, "total_s": el, "cpu_s": cpu_s, "peak_rss": peak, "x_sum": x_sum, "y_sum": y_sum}))
"""


def generate(folder, rows):
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pc
    import pyarrow.parquet as pq

    csv_path = os.path.join(folder, "ingest.csv")
    pq_path = os.path.join(folder, "ingest.parquet")
    stamp = os.path.join(folder, f"ingest-{rows}.done")
    if os.path.exists(stamp):
        return csv_path, pq_path
    rng = np.random.default_rng(42)
    x = rng.standard_normal((rows, FEATURES))
    w = rng.standard_normal(FEATURES)
    y = ((x @ w + rng.standard_normal(rows)) > 0).astype(np.int64)
    cols = {f"f{j}": x[:, j] for j in range(FEATURES)}
    cols["label"] = y
    table = pa.table(cols)
    pq.write_table(table, pq_path)
    pc.write_csv(table, csv_path)
    open(stamp, "w").close()
    return csv_path, pq_path


def run_one(cmd, env):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(cmd, runs, env):
    results = [run_one(cmd, env) for _ in range(runs)]
    best = min(results, key=lambda r: r["total_s"])
    best["peak_rss_max"] = max(r["peak_rss"] for r in results)
    best["all_s"] = [round(r["total_s"], 3) for r in results]
    return best


def mb(b):
    return b / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True, help="the release-built ingest example")
    ap.add_argument("--data", required=True, help="folder for the generated files")
    ap.add_argument("--rows", type=int, default=ROWS_DEFAULT)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--taskset", default="", help="CPU list to pin every process to, e.g. 0,1")
    args = ap.parse_args()

    os.makedirs(args.data, exist_ok=True)
    t = time.perf_counter()
    csv_path, pq_path = generate(args.data, args.rows)
    print(f"data: {args.rows:,} rows x {FEATURES} features + label; "
          f"CSV {mb(os.path.getsize(csv_path)):,.0f} MB, Parquet {mb(os.path.getsize(pq_path)):,.0f} MB "
          f"(ready in {time.perf_counter() - t:.1f} s)")
    table_bytes = args.rows * (FEATURES + 1) * 8
    print(f"in-memory size of the table (f64): {mb(table_bytes):,.0f} MB")
    print(f"load average at the start: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")

    pin = ["taskset", "-c", args.taskset] if args.taskset else []
    env = dict(os.environ)
    py = [sys.executable, "-c", ANCHOR]
    cases = [
        ("csv", "kiln", pin + [args.kiln, csv_path, "--label", "label"]),
        ("csv", "pandas", pin + py + ["pandas_csv", csv_path]),
        ("csv", "pyarrow", pin + py + ["pyarrow_csv", csv_path]),
        ("parquet", "kiln", pin + [args.kiln, pq_path, "--label", "label"]),
        ("parquet", "pyarrow", pin + py + ["pyarrow_parquet", pq_path]),
    ]
    res = {}
    for fmt, tool, cmd in cases:
        r = best_of(cmd, args.runs, env)
        res[(fmt, tool)] = r
        extra = ""
        if tool == "kiln":
            extra = f" (read {r['read_s']:.3f} s + matrix/label {r['matrix_s']:.3f} s, {r['batches']} batches)"
        print(f"{fmt:8s} {tool:8s} best {r['total_s']:.3f} s of {r['all_s']}, CPU {r['cpu_s']:.2f} s, "
              f"peak RSS {mb(r['peak_rss_max']):,.0f} MB{extra}")

    # Every reader must have read the same values.
    ref = res[("parquet", "pyarrow")]
    for k, r in res.items():
        if r["rows"] != args.rows:
            sys.exit(f"{k}: read {r['rows']} rows, expected {args.rows}")
        if abs(r["y_sum"] - ref["y_sum"]) > 0.5:
            sys.exit(f"{k}: label sum {r['y_sum']} differs from {ref['y_sum']}")
        # Kiln's matrix is f32: allow its rounding in the sum of 50M values.
        if abs(r["x_sum"] - ref["x_sum"]) > 1e-3 * max(1.0, abs(ref["x_sum"])) + 50.0:
            sys.exit(f"{k}: feature sum {r['x_sum']} differs from {ref['x_sum']}")
    print("checksums agree (rows, label sum, feature sum)")

    k_csv, k_pq = res[("csv", "kiln")], res[("parquet", "kiln")]
    pa_csv, pa_pq, pd_csv = res[("csv", "pyarrow")], res[("parquet", "pyarrow")], res[("csv", "pandas")]

    def verdict(ok):
        return "met" if ok else "NOT met"

    r1 = k_csv["total_s"] / pa_csv["total_s"]
    r2 = k_pq["total_s"] / pa_pq["total_s"]
    r3 = pd_csv["total_s"] / k_csv["total_s"]
    print(f"CSV: kiln {k_csv['total_s']:.3f} s (read+matrix), pyarrow {pa_csv['total_s']:.3f} s (read), "
          f"ratio {r1:.2f}x (kiln/pyarrow, lower is better; target <= 1.0: {verdict(r1 <= 1.0)})")
    print(f"Parquet: kiln {k_pq['total_s']:.3f} s (read+matrix), pyarrow {pa_pq['total_s']:.3f} s (read), "
          f"ratio {r2:.2f}x (kiln/pyarrow, lower is better; target <= 1.0: {verdict(r2 <= 1.0)})")
    print(f"CSV: pandas {pd_csv['total_s']:.3f} s, kiln {k_csv['total_s']:.3f} s, "
          f"ratio {r3:.2f}x (pandas/kiln, higher is better; target >= 3: {verdict(r3 >= 3.0)})")
    for fmt, r in (("CSV", k_csv), ("Parquet", k_pq)):
        ratio = r["peak_rss_max"] / table_bytes
        print(f"{fmt}: kiln peak RSS {mb(r['peak_rss_max']):,.0f} MB = {ratio:.2f}x the table's "
              f"{mb(table_bytes):,.0f} MB (target < 2.0: {verdict(ratio < 2.0)})")
    # CPU seconds (user + system) of the best runs: what each reader costs, whatever
    # share of the 2 cores the machine's other load left it.
    print(f"CPU seconds: CSV kiln {k_csv['cpu_s']:.2f}, pandas {pd_csv['cpu_s']:.2f}, pyarrow {pa_csv['cpu_s']:.2f}; "
          f"Parquet kiln {k_pq['cpu_s']:.2f}, pyarrow {pa_pq['cpu_s']:.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    for fmt, tool in (("csv", "pandas"), ("csv", "pyarrow"), ("parquet", "pyarrow")):
        r = res[(fmt, tool)]
        print(f"{fmt}: {tool} peak RSS {mb(r['peak_rss_max']):,.0f} MB = {r['peak_rss_max'] / table_bytes:.2f}x the table")


if __name__ == "__main__":
    main()
