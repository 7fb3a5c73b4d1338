#!/usr/bin/env python3
"""Kiln vs MLflow tracking-server benchmark.

Starts `kiln server` and/or `mlflow server` (SQLite backend, fresh temp dir each,
127.0.0.1 only, one after the other so they never compete for CPU), drives each
with the identical HTTP load and prints Kiln/MLflow ratios.

Phases (identical requests for both servers):
  1. log-metric : N sequential POST /api/2.0/mlflow/runs/log-metric on one
                  keep-alive connection (p50/p99 latency, requests/s)
  2. log-batch  : M POST /api/2.0/mlflow/runs/log-batch of 1000 metrics each
                  (metrics/s, p50/p99 batch latency)
  3. populate   : --runs x (runs/create + runs/log-batch) through REST with a
                  thread pool (time-bounded; wall time reported)
     search     : K POST /api/2.0/mlflow/runs/search with
                  filter "metrics.loss < 0.5", order_by ["metrics.loss ASC"],
                  max_results 100 (p50/p99 latency); results are checked
                  against the expected top-100 losses
  4. memory     : VmRSS summed over the server's whole process tree (and PSS
                  where readable), sampled after the load; peak is sampled in
                  the background every 0.5 s during the load.

Only the Python standard library is needed (http.client keep-alive connections
with TCP_NODELAY; measured slightly faster than requests.Session against mlflow).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
API = "/api/2.0/mlflow"


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class HTTPError(Exception):
    pass


class Client:
    """One keep-alive HTTP/1.1 connection (http.client + TCP_NODELAY).

    Reconnects proactively when the connection has been idle (uvicorn closes
    idle keep-alive connections after 5 s) and once on a dropped connection.
    """

    IDLE_RECONNECT_S = 2.0

    def __init__(self, port: int, timeout: float = 120.0):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.last_used = 0.0
        self.reconnects = 0

    def _connect(self):
        self.close()
        c = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        c.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = c

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def ensure(self):
        """Make sure a fresh-enough connection exists (call outside timed code)."""
        if self.conn is None or time.monotonic() - self.last_used > self.IDLE_RECONNECT_S:
            self._connect()
            self.last_used = time.monotonic()

    def raw(self, method: str, path: str, body: bytes | None = None):
        """Send one request, return (status, body bytes)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                self.last_used = time.monotonic()
                if r.will_close:
                    self.close()
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.CannotSendRequest,
                    http.client.BadStatusLine) as e:
                self.close()
                self.reconnects += 1
                if attempt == 1:
                    raise HTTPError(f"{method} {path}: connection failed twice: {e!r}")
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, payload=None):
        body = json.dumps(payload).encode() if payload is not None else None
        status, data = self.raw(method, path, body)
        if status != 200:
            raise HTTPError(f"{method} {path} -> HTTP {status}: {data[:500]!r}")
        return json.loads(data) if data else {}


# --------------------------------------------------------------------------- #
# process-tree memory / cpu
# --------------------------------------------------------------------------- #
def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                st = f.read()
            ppid = int(st[st.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def process_tree(root: int):
    kids = _children_map()
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        if os.path.exists(f"/proc/{p}"):
            out.append(p)
        stack.extend(kids.get(p, []))
    return out


def _status_kb(pid: int, field: str):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _pss_kb(pid: int):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _cmd(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:160]
    except OSError:
        return "?"


def tree_memory(root: int, detail: bool = False):
    pids = process_tree(root)
    rss = pss = 0
    pss_ok = True
    procs = []
    for p in pids:
        r = _status_kb(p, "VmRSS") or 0
        s = _pss_kb(p)
        rss += r
        if s is None:
            pss_ok = False
        else:
            pss += s
        if detail:
            procs.append({"pid": p, "rss_kib": r, "pss_kib": s, "cmd": _cmd(p)})
    out = {"processes": len(pids), "rss_mib": round(rss / 1024, 1),
           "pss_mib": round(pss / 1024, 1) if pss_ok else None,
           "rss_mib_excl_background_jobs": round(
               sum((_status_kb(p, "VmRSS") or 0) for p in pids if not _is_background_job(p)) / 1024, 1)}
    if detail:
        out["per_process"] = procs
    return out


def _is_background_job(pid: int) -> bool:
    """mlflow server's async job runner (huey consumers); not involved in serving REST requests."""
    c = _cmd(pid)
    return "mlflow.server.jobs" in c or "huey" in c


CLK_TCK = os.sysconf("SC_CLK_TCK")


def wait_quiescent(root: int, max_s: float, window: float = 2.0, max_cores: float = 0.10) -> float:
    """Wait until the server tree uses < max_cores CPU over `window` seconds (bounded by max_s).

    mlflow server keeps importing/initialising in its workers and job-runner
    processes for a while after the port answers; measuring during that would
    penalise it unfairly.  Returns the seconds waited.
    """
    t0 = time.monotonic()
    prev = tree_cpu_s(root)
    while time.monotonic() - t0 < max_s:
        time.sleep(window)
        cur = tree_cpu_s(root)
        if (cur - prev) / window < max_cores:
            break
        prev = cur
    return time.monotonic() - t0


def tree_cpu_s(root: int) -> float:
    """utime+stime (incl. reaped children) of every live process in the tree."""
    total = 0
    for p in process_tree(root):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                st = f.read()
            fields = st[st.rindex(b")") + 2:].split()
            # fields[0] is state (field 3); utime=14, stime=15, cutime=16, cstime=17
            total += sum(int(x) for x in fields[11:15])
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


class MemSampler(threading.Thread):
    def __init__(self, root: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss_mib = 0.0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                pids = process_tree(self.root)
                rss = sum((_status_kb(p, "VmRSS") or 0) for p in pids) / 1024
                self.peak_rss_mib = max(self.peak_rss_mib, rss)
            except Exception:
                pass
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


# --------------------------------------------------------------------------- #
# server lifecycle
# --------------------------------------------------------------------------- #
LIVE_SERVERS: list["Server"] = []


class Server:
    def __init__(self, name: str, argv: list[str], port: int, workdir: Path, env=None):
        self.name, self.argv, self.port, self.workdir = name, argv, port, workdir
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.logfile = workdir / f"{name}-server.log"
        self.known_pids: set[int] = set()

    def start(self, timeout: float) -> float:
        log(f"{self.name}: starting: {' '.join(self.argv)}")
        self._log_fh = open(self.logfile, "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, cwd=self.workdir, stdout=self._log_fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        LIVE_SERVERS.append(self)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during startup;\n"
                                   + self.log_tail())
            try:
                c = Client(self.port, timeout=5)
                st, _ = c.raw("GET", f"{API}/experiments/get?experiment_id=0")
                c.close()
                if st < 500:
                    dt = time.monotonic() - t0
                    self.known_pids.update(process_tree(self.proc.pid))
                    log(f"{self.name}: ready after {dt:.1f}s (experiments/get?experiment_id=0 -> {st})")
                    return dt
            except (OSError, HTTPError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout}s;\n" + self.log_tail())

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc is None:
            return
        try:
            self.known_pids.update(process_tree(self.proc.pid))
        except Exception:
            pass
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.proc.poll()
            alive = [p for p in self.known_pids if _alive(p)]
            if self.proc.returncode is not None and not alive:
                break
            time.sleep(0.2)
        # Anything left: SIGKILL the group and every descendant we saw.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for p in list(self.known_pids):
            if _alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._log_fh.close()
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        self.proc = None
        log(f"{self.name}: stopped")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            st = f.read()
        return st[st.rindex(b")") + 2:st.rindex(b")") + 3] != b"Z"
    except (OSError, ValueError):
        return False


def _cleanup_all(*_a):
    for s in list(LIVE_SERVERS):
        try:
            s.stop()
        except Exception:
            pass


def _on_signal(signum, _frame):
    log(f"signal {signum}: stopping servers")
    _cleanup_all()
    sys.exit(128 + signum)


# --------------------------------------------------------------------------- #
# workload (deterministic, identical for both servers)
# --------------------------------------------------------------------------- #
def run_losses(n: int):
    rng = random.Random(20240611)
    return [rng.random() for _ in range(n)]


def phase_log_metric(port: int, run_id: str, n: int, time_limit: float):
    bodies = [json.dumps({"run_id": run_id, "key": "lm", "value": i * 0.5,
                          "timestamp": 1_700_000_000_000 + i, "step": i}).encode()
              for i in range(n)]
    path = f"{API}/runs/log-metric"
    c = Client(port)
    c.ensure()
    lat, errors = [], 0
    t_end = time.perf_counter() + time_limit
    t0 = time.perf_counter()
    for b in bodies:
        t = time.perf_counter()
        st, data = c.raw("POST", path, b)
        lat.append(time.perf_counter() - t)
        if st != 200:
            errors += 1
            if errors <= 3:
                log(f"  log-metric HTTP {st}: {data[:200]!r}")
        if time.perf_counter() > t_end:
            log(f"  log-metric: time limit {time_limit}s hit after {len(lat)} requests")
            break
    wall = time.perf_counter() - t0
    c.close()
    return {"requests": len(lat), "errors": errors, "wall_s": round(wall, 3),
            "req_per_s": round(len(lat) / wall, 1),
            "p50_ms": round(pct(lat, 50) * 1000, 3), "p99_ms": round(pct(lat, 99) * 1000, 3),
            "mean_ms": round(statistics.mean(lat) * 1000, 3),
            "completed": len(lat) == n, "reconnects": c.reconnects}


def phase_log_batch(port: int, run_id: str, n: int, size: int, time_limit: float):
    keys = 10
    bodies = []
    for b in range(n):
        ms = [{"key": f"bm{i % keys}", "value": (b * size + i) * 0.25,
               "timestamp": 1_700_000_000_000 + b, "step": b * (size // keys + 1) + i // keys}
              for i in range(size)]
        bodies.append(json.dumps({"run_id": run_id, "metrics": ms}).encode())
    path = f"{API}/runs/log-batch"
    c = Client(port)
    c.ensure()
    lat, errors = [], 0
    t_end = time.perf_counter() + time_limit
    t0 = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        st, data = c.raw("POST", path, body)
        lat.append(time.perf_counter() - t)
        if st != 200:
            errors += 1
            if errors <= 3:
                log(f"  log-batch HTTP {st}: {data[:200]!r}")
        if time.perf_counter() > t_end:
            log(f"  log-batch: time limit {time_limit}s hit after {len(lat)} batches")
            break
    wall = time.perf_counter() - t0
    c.close()
    ok = len(lat) - errors
    return {"batches": len(lat), "batch_size": size, "errors": errors, "wall_s": round(wall, 3),
            "metrics_per_s": round(ok * size / wall, 1),
            "p50_ms": round(pct(lat, 50) * 1000, 3), "p99_ms": round(pct(lat, 99) * 1000, 3),
            "completed": len(lat) == n, "reconnects": c.reconnects}


def verify_history(port: int, run_id: str, key: str, expected: int):
    c = Client(port)
    try:
        got, token = 0, None
        for _ in range(100):
            q = f"{API}/metrics/get-history?run_id={run_id}&metric_key={key}&max_results=25000"
            if token:
                q += f"&page_token={token}"
            r = c.call("GET", q)
            got += len(r.get("metrics", []))
            token = r.get("next_page_token")
            if not token:
                break
        return {"key": key, "expected": expected, "got": got, "ok": got == expected}
    except Exception as e:
        return {"key": key, "expected": expected, "error": str(e)[:300], "ok": False}
    finally:
        c.close()


def phase_populate(port: int, exp_id: str, losses, indices, threads: int, time_limit: float):
    local = threading.local()
    all_clients, lock = [], threading.Lock()
    deadline = time.monotonic() + time_limit
    stop = threading.Event()

    def client():
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = Client(port)
            with lock:
                all_clients.append(c)
        return c

    def one(i: int):
        if stop.is_set() or time.monotonic() > deadline:
            stop.set()
            return i, "skipped"
        c = client()
        for attempt in range(3):
            try:
                r = c.call("POST", f"{API}/runs/create",
                           {"experiment_id": exp_id, "run_name": f"run-{i:05d}",
                            "start_time": 1_700_000_000_000 + i})
                run_id = r["run"]["info"]["run_id"]
                break
            except Exception as e:
                err = e
        else:
            return i, f"create: {err}"
        payload = {"run_id": run_id,
                   "metrics": [{"key": "loss", "value": losses[i], "timestamp": 1_700_000_000_000 + i, "step": 0},
                               {"key": "acc", "value": 1.0 - losses[i], "timestamp": 1_700_000_000_000 + i, "step": 0}],
                   "params": [{"key": "lr", "value": str(0.001 * (1 + i % 10))},
                              {"key": "bs", "value": str(32 * (1 + i % 4))}]}
        for attempt in range(3):
            try:
                c.call("POST", f"{API}/runs/log-batch", payload)
                return i, None
            except Exception as e:
                err = e
        return i, f"log-batch: {err}"

    t0 = time.monotonic()
    ok_idx, errors, skipped, first_errors = [], 0, 0, []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futs = [pool.submit(one, i) for i in indices]
        done = 0
        next_report = time.monotonic() + 15
        for f in as_completed(futs):
            i, err = f.result()
            done += 1
            if err is None:
                ok_idx.append(i)
            elif err == "skipped":
                skipped += 1
            else:
                errors += 1
                if len(first_errors) < 3:
                    first_errors.append(err[:300])
                    log(f"  populate error: {err[:300]}")
            if time.monotonic() > next_report:
                log(f"  populate: {len(ok_idx)}/{len(indices)} runs after {time.monotonic() - t0:.0f}s")
                next_report += 15
    wall = time.monotonic() - t0
    for c in all_clients:
        c.close()
    if skipped:
        log(f"  populate: time limit {time_limit}s hit; {len(ok_idx)} runs populated")
    return ({"runs_requested": len(indices), "runs_populated": len(ok_idx), "errors": errors,
             "skipped_time_limit": skipped, "threads": threads, "wall_s": round(wall, 2),
             "runs_per_s": round(len(ok_idx) / wall, 1) if wall > 0 else None,
             "completed": len(ok_idx) == len(indices), "first_errors": first_errors},
            sorted(ok_idx))


def phase_search(port: int, exp_id: str, n: int, expected_losses, time_limit: float,
                 threshold: float = 0.5, max_results: int = 100):
    body = json.dumps({"experiment_ids": [exp_id], "filter": f"metrics.loss < {threshold}",
                       "order_by": ["metrics.loss ASC"], "max_results": max_results}).encode()
    path = f"{API}/runs/search"
    c = Client(port, timeout=max(120.0, time_limit))
    # 2 untimed warm-up queries (also used for the correctness check)
    c.ensure()
    st, data = c.raw("POST", path, body)
    check = {"ok": False}
    if st == 200:
        runs = json.loads(data).get("runs", [])
        got = []
        for r in runs:
            ms = {m["key"]: m["value"] for m in r.get("data", {}).get("metrics", [])}
            got.append(ms.get("loss"))
        exp = expected_losses[:max_results]
        ok = len(got) == len(exp) and all(g is not None and abs(g - e) < 1e-9 for g, e in zip(got, exp))
        check = {"ok": ok, "returned": len(got), "expected": len(exp),
                 "has_next_page_token": bool(json.loads(data).get("next_page_token"))}
        if not ok:
            check["first_got"] = got[:5]
            check["first_expected"] = exp[:5]
    else:
        check["error"] = f"HTTP {st}: {data[:300]!r}"
    c.raw("POST", path, body)
    lat, errors = [], 0
    t_end = time.perf_counter() + time_limit
    t0 = time.perf_counter()
    for _ in range(n):
        c.ensure()
        t = time.perf_counter()
        st, data = c.raw("POST", path, body)
        lat.append(time.perf_counter() - t)
        if st != 200:
            errors += 1
        if time.perf_counter() > t_end:
            log(f"  search: time limit {time_limit}s hit after {len(lat)} queries")
            break
    wall = time.perf_counter() - t0
    c.close()
    return {"queries": len(lat), "errors": errors, "wall_s": round(wall, 3),
            "p50_ms": round(pct(lat, 50) * 1000, 3), "p99_ms": round(pct(lat, 99) * 1000, 3),
            "min_ms": round(min(lat) * 1000, 3), "completed": len(lat) == n,
            "filter": f"metrics.loss < {threshold}", "order_by": ["metrics.loss ASC"],
            "max_results": max_results, "check": check}


# --------------------------------------------------------------------------- #
# one server, all phases
# --------------------------------------------------------------------------- #
def bench_server(name: str, argv_fn, args, env=None, populate_indices=None):
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix=f"kiln-bench-{name}-"))
    db = tmp / f"{name}.db"
    art = tmp / "artifacts"
    art.mkdir()
    argv = argv_fn(port, f"sqlite:///{db}", str(art))
    srv = Server(name, argv, port, tmp, env=env)
    res = {"server": name, "argv": argv, "port": port, "tmpdir": str(tmp)}
    if name == "mlflow":
        res["mlflow_workers"] = args.mlflow_workers or "default"
    t_total = time.monotonic()
    sampler = None
    try:
        res["startup_s"] = round(srv.start(args.startup_timeout), 2)
        root = srv.proc.pid
        res["settle_s"] = round(wait_quiescent(root, args.settle_timeout), 1)
        log(f"{name}: CPU-quiet after another {res['settle_s']} s")
        res["memory_idle"] = tree_memory(root)
        log(f"{name}: idle memory {res['memory_idle']}")
        sampler = MemSampler(root)
        sampler.start()
        cpu0 = tree_cpu_s(root)

        c = Client(port)
        exp_log = c.call("POST", f"{API}/experiments/create", {"name": "bench-log"})["experiment_id"]
        run_lm = c.call("POST", f"{API}/runs/create", {"experiment_id": exp_log, "run_name": "log-metric",
                                                       "start_time": 1_700_000_000_000})["run"]["info"]["run_id"]
        run_lb = c.call("POST", f"{API}/runs/create", {"experiment_id": exp_log, "run_name": "log-batch",
                                                       "start_time": 1_700_000_000_000})["run"]["info"]["run_id"]
        exp_search = c.call("POST", f"{API}/experiments/create", {"name": "bench-search"})["experiment_id"]
        c.close()

        log(f"{name}: phase 1: {args.log_metric_n} x log-metric (sequential, one connection)")
        t = tree_cpu_s(root)
        r = phase_log_metric(port, run_lm, args.log_metric_n, args.phase_timeout)
        r["server_cpu_s"] = round(tree_cpu_s(root) - t, 2)
        r["verify"] = verify_history(port, run_lm, "lm", r["requests"] - r["errors"])
        res["log_metric"] = r
        log(f"{name}:   {r['req_per_s']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"errors {r['errors']}, verify {r['verify']['ok']}")

        log(f"{name}: phase 2: {args.batch_n} x log-batch of {args.batch_size} metrics")
        t = tree_cpu_s(root)
        r = phase_log_batch(port, run_lb, args.batch_n, args.batch_size, args.phase_timeout)
        r["server_cpu_s"] = round(tree_cpu_s(root) - t, 2)
        ok_batches = r["batches"] - r["errors"]
        r["verify"] = verify_history(port, run_lb, "bm0", ok_batches * (args.batch_size // 10)) \
            if args.batch_size % 10 == 0 else None
        res["log_batch"] = r
        log(f"{name}:   {r['metrics_per_s']} metrics/s, p50 {r['p50_ms']} ms/batch, errors {r['errors']}, "
            f"verify {r['verify'] and r['verify']['ok']}")

        losses = run_losses(args.runs)
        indices = list(range(args.runs)) if populate_indices is None else populate_indices
        log(f"{name}: phase 3a: populating {len(indices)} runs ({args.populate_threads} threads, "
            f"limit {args.populate_timeout}s)")
        t = tree_cpu_s(root)
        r, ok_idx = phase_populate(port, exp_search, losses, indices, args.populate_threads,
                                   args.populate_timeout)
        res["populated_indices"] = ok_idx
        r["server_cpu_s"] = round(tree_cpu_s(root) - t, 2)
        res["populate"] = r
        log(f"{name}:   {r['runs_populated']} runs in {r['wall_s']} s ({r['runs_per_s']} runs/s), "
            f"errors {r['errors']}")

        expected = sorted(losses[i] for i in ok_idx if losses[i] < 0.5)
        log(f"{name}: phase 3b: {args.search_n} x runs/search over {len(ok_idx)} runs")
        t = tree_cpu_s(root)
        r = phase_search(port, exp_search, args.search_n, expected, args.phase_timeout)
        r["server_cpu_s"] = round(tree_cpu_s(root) - t, 2)
        r["runs_in_experiment"] = len(ok_idx)
        res["search"] = r
        log(f"{name}:   p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}, check {r['check']}")

        res["server_cpu_s_total_load"] = round(tree_cpu_s(root) - cpu0, 2)
        sampler.stop()
        time.sleep(0.5)
        res["memory_after_load"] = tree_memory(root, detail=True)
        res["memory_after_load"]["peak_rss_mib_during_load"] = round(sampler.peak_rss_mib, 1)
        log(f"{name}: memory after load: rss {res['memory_after_load']['rss_mib']} MiB "
            f"(pss {res['memory_after_load']['pss_mib']} MiB, {res['memory_after_load']['processes']} processes, "
            f"peak rss {res['memory_after_load']['peak_rss_mib_during_load']} MiB)")
        res["ok"] = True
    except Exception as e:
        res["ok"] = False
        res["error"] = f"{type(e).__name__}: {e}"
        log(f"{name}: FAILED: {res['error']}")
        traceback.print_exc()
        print(f"--- last lines of {srv.logfile} ---\n{srv.log_tail()}", flush=True)
    finally:
        if sampler is not None:
            sampler.stop()
        srv.stop()
        res["total_s"] = round(time.monotonic() - t_total, 1)
        try:
            res["db_size_mib"] = round(sum(p.stat().st_size for p in tmp.glob(f"{name}.db*")) / 2**20, 1)
        except OSError:
            pass
        if not args.keep_tmp:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"{name}: done in {res['total_s']} s")
    return res


# --------------------------------------------------------------------------- #
# report
# --------------------------------------------------------------------------- #
# (label, path, unit, better) ; better = "higher" | "lower"
ROWS = [
    ("startup time", ("startup_s",), "s", "lower"),
    ("log-metric throughput", ("log_metric", "req_per_s"), "req/s", "higher"),
    ("log-metric latency p50", ("log_metric", "p50_ms"), "ms", "lower"),
    ("log-metric latency p99", ("log_metric", "p99_ms"), "ms", "lower"),
    ("log-batch throughput", ("log_batch", "metrics_per_s"), "metrics/s", "higher"),
    ("log-batch latency p50", ("log_batch", "p50_ms"), "ms", "lower"),
    ("populate (create+log-batch)", ("populate", "runs_per_s"), "runs/s", "higher"),
    ("populate wall time", ("populate", "wall_s"), "s", "lower"),
    ("search-runs latency p50", ("search", "p50_ms"), "ms", "lower"),
    ("search-runs latency p99", ("search", "p99_ms"), "ms", "lower"),
    ("RSS idle (process tree)", ("memory_idle", "rss_mib"), "MiB", "lower"),
    ("RSS after load (process tree)", ("memory_after_load", "rss_mib"), "MiB", "lower"),
    ("  ... excl. mlflow job runner", ("memory_after_load", "rss_mib_excl_background_jobs"), "MiB", "lower"),
    ("PSS after load (process tree)", ("memory_after_load", "pss_mib"), "MiB", "lower"),
    ("peak RSS during load", ("memory_after_load", "peak_rss_mib_during_load"), "MiB", "lower"),
    ("server CPU for whole load", ("server_cpu_s_total_load",), "cpu-s", "lower"),
]


def _get(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def compute_ratios(kiln, mlflow):
    out = {}
    for label, path, unit, better in ROWS:
        k, m = _get(kiln, path), _get(mlflow, path)
        if k is None or m is None or not isinstance(k, (int, float)) or not isinstance(m, (int, float)):
            continue
        if better == "higher":
            r = (k / m) if m else None
        else:
            r = (m / k) if k else None
        out[label] = {"kiln": k, "mlflow": m, "unit": unit, "better": better,
                      "kiln_advantage_x": round(r, 2) if r is not None else None,
                      "formula": "kiln/mlflow" if better == "higher" else "mlflow/kiln"}
    return out


def print_report(results, ratios):
    names = [n for n in ("kiln", "mlflow") if n in results]
    print()
    print("=" * 100)
    print("Kiln vs MLflow tracking benchmark (SQLite, 127.0.0.1). 'kiln adv.' = how many times better kiln is:")
    print("  throughput rows: kiln/mlflow; latency, time, memory and CPU rows: mlflow/kiln. >1 means kiln is better.")
    print("=" * 100)
    head = f"{'metric':34s}{'unit':>10s}" + "".join(f"{n:>14s}" for n in names)
    if len(names) == 2:
        head += f"{'kiln adv.':>12s}  formula"
    print(head)
    print("-" * len(head))
    for label, path, unit, better in ROWS:
        vals = [_get(results[n], path) for n in names]
        line = f"{label:34s}{unit:>10s}" + "".join(f"{_fmt(v):>14s}" for v in vals)
        if len(names) == 2:
            r = ratios.get(label)
            if r and r["kiln_advantage_x"] is not None:
                line += f"{r['kiln_advantage_x']:>11.2f}x  {r['formula']}"
            else:
                line += f"{'-':>12s}"
        print(line)
    print("-" * len(head))
    for n in names:
        r = results[n]
        notes = []
        if not r.get("ok"):
            notes.append(f"FAILED: {r.get('error')}")
        for ph in ("log_metric", "log_batch", "populate", "search"):
            p = r.get(ph)
            if p is None:
                continue
            if not p.get("completed", True):
                notes.append(f"{ph} hit its time limit (incomplete)")
            if p.get("errors"):
                notes.append(f"{ph}: {p['errors']} HTTP errors")
            v = p.get("verify")
            if v is not None and not v.get("ok"):
                notes.append(f"{ph} verification failed: {v}")
        s = r.get("search")
        if s and not s["check"].get("ok"):
            notes.append(f"search result check failed: {s['check']}")
        if s:
            notes.append(f"search ran over {s['runs_in_experiment']} runs")
        print(f"{n}: " + ("; ".join(notes) if notes else "all phases completed, results verified"))
    if len(names) == 2:
        print()
        for label in ("log-metric throughput", "log-metric latency p50", "log-metric latency p99",
                      "log-batch throughput", "log-batch latency p50", "search-runs latency p50",
                      "search-runs latency p99", "RSS after load (process tree)"):
            r = ratios.get(label)
            if r:
                print(f"{label}: kiln {_fmt(r['kiln'])} {r['unit']}, mlflow {_fmt(r['mlflow'])} {r['unit']}, "
                      f"ratio {r['kiln_advantage_x']}x ({r['formula']}, {r['better']} is better)")
        mw = _get(results["mlflow"], ("mlflow_workers",))
        if not mw or str(mw) != "1":
            print("NOTE: mlflow ran with %s uvicorn workers. In multi-worker mode uvicorn leaves TCP_NODELAY off on "
                  "accepted sockets, so every small mlflow response waits ~40 ms for a delayed ACK (see README). "
                  "That stall dominates mlflow's log-metric latency; rerun with --mlflow-workers 1 for a "
                  "comparison without it." % ("its default 4" if mw in (None, "default") else mw))
        ks, ms = _get(results["kiln"], ("search", "runs_in_experiment")), \
            _get(results["mlflow"], ("search", "runs_in_experiment"))
        if ks != ms:
            print(f"WARNING: search experiments differ in size (kiln {ks}, mlflow {ms} runs); "
                  "search ratios are not like-for-like.")
    print()


# --------------------------------------------------------------------------- #
def main():
    default_mlflow = str(Path(sys.executable).parent / "mlflow")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln-bin", default=str(REPO_ROOT / "target" / "release" / "kiln"))
    ap.add_argument("--mlflow-bin", default=default_mlflow)
    ap.add_argument("--only", choices=["kiln", "mlflow", "both"], default="both")
    ap.add_argument("--runs", type=int, default=10000, help="runs in the search experiment (default 10000)")
    ap.add_argument("--json-out", default=None, help="write results JSON here")
    ap.add_argument("--log-metric-n", type=int, default=500)
    ap.add_argument("--batch-n", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--search-n", type=int, default=30)
    ap.add_argument("--populate-threads", type=int, default=8)
    ap.add_argument("--populate-timeout", type=float, default=300.0,
                    help="time limit (s) for populating the search experiment, per server")
    ap.add_argument("--phase-timeout", type=float, default=120.0,
                    help="time limit (s) for each of the log-metric, log-batch and search loops")
    ap.add_argument("--startup-timeout", type=float, default=120.0)
    ap.add_argument("--mlflow-workers", default=None,
                    help="pass --workers N to mlflow server (default: mlflow's own default, 4 uvicorn workers)")
    ap.add_argument("--order", choices=["kiln-first", "mlflow-first"], default="mlflow-first",
                    help="which server is benchmarked first (default mlflow-first, see --no-match-runs)")
    ap.add_argument("--no-match-runs", action="store_true",
                    help="by default the second server populates exactly the runs the first one managed "
                         "to populate within --populate-timeout, so search-runs compares like with like")
    ap.add_argument("--settle-timeout", type=float, default=60.0,
                    help="max seconds to wait after startup for the server tree to go CPU-idle")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the servers' temp dirs (DB, logs)")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    which = ["kiln", "mlflow"] if args.only == "both" else [args.only]
    if args.order == "mlflow-first":
        which.sort(key=lambda n: n != "mlflow")
    for n in which:
        b = args.kiln_bin if n == "kiln" else args.mlflow_bin
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            sys.exit(f"{n} binary not found or not executable: {b}")

    mlflow_version = None
    try:
        mlflow_version = subprocess.run([sys.executable, "-c", "import mlflow;print(mlflow.__version__)"],
                                        capture_output=True, text=True, timeout=60).stdout.strip() or None
    except Exception:
        pass

    meta = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "platform": platform.platform(), "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(), "python": platform.python_version(),
        "mlflow_version": mlflow_version, "kiln_bin": args.kiln_bin, "mlflow_bin": args.mlflow_bin,
        "client": "python http.client keep-alive, TCP_NODELAY",
        "params": {k: v for k, v in vars(args).items() if k not in ("json_out",)},
    }

    def kiln_argv(port, uri, art):
        return [args.kiln_bin, "server", "--host", HOST, "--port", str(port),
                "--backend-store-uri", uri, "--artifacts-destination", art]

    def mlflow_argv(port, uri, art):
        a = [args.mlflow_bin, "server", "--host", HOST, "--port", str(port),
             "--backend-store-uri", uri, "--artifacts-destination", art]
        if args.mlflow_workers:
            a += ["--workers", str(args.mlflow_workers)]
        return a

    env = dict(os.environ)
    # No outbound telemetry from either server; everything stays on 127.0.0.1.
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "true")

    results = {}
    t0 = time.monotonic()
    try:
        for n in which:
            idx = None
            if results and not args.no_match_runs:
                prev = next(iter(results.values()))
                if prev.get("populated_indices") is not None and len(prev["populated_indices"]) < args.runs:
                    idx = prev["populated_indices"]
                    log(f"{n}: matching the {len(idx)} runs the previous server populated")
            results[n] = bench_server(n, kiln_argv if n == "kiln" else mlflow_argv, args, env=env,
                                      populate_indices=idx)
    finally:
        _cleanup_all()
    meta["total_wall_s"] = round(time.monotonic() - t0, 1)
    meta["loadavg_at_end"] = os.getloadavg()

    ratios = compute_ratios(results["kiln"], results["mlflow"]) if len(results) == 2 else {}
    print_report(results, ratios)
    log(f"total wall time {meta['total_wall_s']} s")
    if args.json_out:
        slim = {n: {k: v for k, v in r.items() if k != "populated_indices"} for n, r in results.items()}
        out = {"meta": meta, "results": slim, "ratios": ratios}
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
        log(f"wrote {args.json_out}")
    sys.exit(0 if all(r.get("ok") for r in results.values()) else 1)


if __name__ == "__main__":
    main()
