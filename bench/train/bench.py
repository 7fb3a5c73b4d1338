"""bench/train: `kiln train` against the equivalent Python script, same data, same run.

Generates a 1,000,000-row x 50-feature binary table (CSV, seeded), then runs, one after
the other, each in a fresh process with a fresh local store:
  * kiln train (read CSV, preprocess, LightGBM 200 rounds / 31 leaves / lr 0.1, evaluate,
    log to the embedded SQLite store), and
  * baseline.py (pandas read_csv, lightgbm 4.7.0 with the same parameters, scikit-learn
    metrics, mlflow logging to a local SQLite store).
Prints wall time, peak RSS (getrusage of that process, via wait4), test AUC and the time
of each stage for both, and the ratios. Best of --repeat runs by wall time.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def generate(path: Path, rows: int, features: int, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    cols = {}
    x = rng.standard_normal((rows, features)).astype(np.float64)
    w = rng.standard_normal(features) / np.sqrt(features)
    z = x @ w + 0.5 * np.sin(2 * x[:, 0]) + 0.3 * x[:, 1] * x[:, 2] + 0.5 * rng.standard_normal(rows)
    for j in range(features):
        cols[f"f{j}"] = np.round(x[:, j], 6)
    cols["label"] = (z > 0).astype(np.int64)
    pacsv.write_csv(pa.table(cols), str(path))


def run_measured(cmd, env=None, cwd=None):
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        sys.stderr.write(e[-4000:])
        raise SystemExit(f"{cmd[0]} failed with {p.returncode}")
    return wall, ru.ru_maxrss * 1024, o


KILN_TOML = """seed = 42
[data]
source = "{data}"
target = "label"
task = "binary"

[split]
scheme = "random"
valid = 0.0
test = 0.2

[prep]
impute = "median"

[[model]]
kind = "lightgbm"
rounds = 200
num_leaves = 31
learning_rate = 0.1
max_bin = 255
min_data_in_leaf = 20
seed = 42

[select]
metric = "auc"
baselines = false

[track]
experiment = "bench-train"
"""


def kiln_once(kiln: str, data: Path, work: Path):
    cfg = work / "kiln.toml"
    cfg.write_text(KILN_TOML.format(data=data))
    cmd = [kiln, "train", str(cfg), "--json", "--tracking-uri", f"sqlite:///{work}/kiln.db",
           "--artifacts", str(work / "artifacts")]
    wall, rss, out = run_measured(cmd)
    rep = json.loads(out)
    e = rep["entries"][0]
    st = dict(rep["stages"])
    stages = {
        "read": st.get("read", 0.0),
        "preprocess": sum(st.get(k, 0.0) for k in ("check", "fingerprint", "profile", "split", "preprocess")),
        "train": e["fit_seconds"],
        "evaluate": st.get("train+evaluate", 0.0) - e["fit_seconds"],
        "log": st.get("log+register", 0.0),
        "total": wall,
    }
    auc = dict(e["test"])["auc"]
    return wall, rss, auc, stages


def python_once(py: str, data: Path, work: Path):
    env = dict(os.environ, MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", GIT_PYTHON_REFRESH="quiet")
    wall, rss, out = run_measured([py, str(HERE / "baseline.py"), str(data), f"sqlite:///{work}/mlflow.db"], env,
                                  cwd=work)  # mlflow puts logged models under ./mlruns
    rep = json.loads(out.strip().splitlines()[-1])
    rep["stages"]["total"] = wall
    return wall, rss, rep["test_auc"], rep["stages"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", default=str(HERE.parent.parent / "target/release/kiln"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--data-dir", default=os.environ.get("KILN_BENCH_DATA", "/tmp/kiln-bench-train"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    data_dir = Path(a.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    data = data_dir / f"train_{a.rows}x{a.features}.csv"
    if not data.exists():
        print(f"generating {data} ...", flush=True)
        generate(data, a.rows, a.features, 7)
    print(f"data: {data} ({data.stat().st_size / 1e6:.0f} MB), {os.cpu_count()} cores", flush=True)

    results = {}
    for name, fn, prog in [("python", python_once, a.python), ("kiln", kiln_once, a.kiln)]:
        best = None
        for i in range(a.repeat):
            with tempfile.TemporaryDirectory() as work:
                r = fn(prog, data, Path(work))
            print(f"  {name} run {i + 1}: {r[0]:.2f} s, peak {r[1] / 2**20:.0f} MiB, test AUC {r[2]:.5f}", flush=True)
            if best is None or r[0] < best[0]:
                best = r
        results[name] = {"wall_s": best[0], "peak_rss_bytes": best[1], "test_auc": best[2], "stages": best[3]}

    k, p = results["kiln"], results["python"]
    print()
    print(f"{'':12} {'wall s':>8} {'peak MiB':>9} {'test AUC':>9}  stages (s)")
    for name in ("python", "kiln"):
        r = results[name]
        st = ", ".join(f"{s} {v:.2f}" for s, v in r["stages"].items())
        print(f"{name:12} {r['wall_s']:8.2f} {r['peak_rss_bytes'] / 2**20:9.0f} {r['test_auc']:9.5f}  {st}")
    print()
    print(f"wall time: kiln {k['wall_s']:.2f} s, python {p['wall_s']:.2f} s, ratio {k['wall_s'] / p['wall_s']:.2f}x (kiln/python, target <= 0.8)")
    print(f"peak memory: kiln {k['peak_rss_bytes'] / 2**20:.0f} MiB, python {p['peak_rss_bytes'] / 2**20:.0f} MiB, "
          f"ratio {k['peak_rss_bytes'] / p['peak_rss_bytes']:.2f}x (kiln/python, target <= 0.5)")
    print(f"test AUC: kiln {k['test_auc']:.5f}, python {p['test_auc']:.5f}, difference {abs(k['test_auc'] - p['test_auc']):.5f} (target <= 0.002)")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
