"""Ask-and-tell studies from Python: the REST endpoints under /api/2.0/kiln/studies driven with
`requests`, and the `kiln study` / `kiln tune --objective-cmd` commands with a Python objective.

Kiln-only (mlflow server has no studies); run on every backend of the suite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from e2e_utils import IS_MLFLOW, unique

pytestmark = pytest.mark.skipif(IS_MLFLOW, reason="studies are a Kiln API (mlflow server has none)")

REPO_ROOT = Path(__file__).resolve().parents[2]
SPACE = {
    "x": {"float": [-5.0, 10.0]},
    "y": {"float": [0.0, 15.0]},
    "kind": {"choices": ["a", "b"]},
    "depth": {"int": [1, 8], "when": {"kind": "a"}},
}


def branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def api(server, path: str, method: str = "post", **body):
    url = f"{server.url}/api/2.0/kiln/studies/{path}"
    if method == "get":
        return requests.get(url, params=body, timeout=30)
    return requests.post(url, json=body, timeout=30)


def ok(resp) -> dict:
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text}"
    return resp.json()


def error(resp, status: int, code: str) -> str:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body = resp.json()
    assert body["error_code"] == code, body
    assert body["message"], body
    return body["message"]


def kiln_bin() -> str:
    return os.environ.get("KILN_BIN", str(REPO_ROOT / "target" / "debug" / "kiln"))


def test_ask_and_tell_over_rest(server):
    name = unique("rest-study")
    study = ok(api(server, "create", name=name, direction="minimize", sampler="tpe", seed=3, space=SPACE))["study"]
    assert study["name"] == name and study["directions"] == ["minimize"]
    assert study["parent_run_id"]
    for _ in range(15):
        trial = ok(api(server, "ask", study=name))["trial"]
        p = trial["params"]
        assert -5 <= p["x"] <= 10 and 0 <= p["y"] <= 15
        assert ("depth" in p) == (p["kind"] == "a"), p
        ok(api(server, "report", study=name, number=trial["number"], step=0, value=branin(p["x"], p["y"]) + 1))
        told = ok(api(server, "tell", study=name, number=trial["number"], value=branin(p["x"], p["y"])))["trial"]
        assert told["state"] == "COMPLETE"
    best = ok(api(server, "best", "get", study=name))["trial"]
    trials = ok(api(server, "trials", "get", study=name))["trials"]
    assert len(trials) == 15
    assert best["values"][0] == min(t["values"][0] for t in trials)
    got = ok(api(server, "get", "get", study=name))["study"]
    assert got["n_complete"] == 15
    imp = ok(api(server, "importances", "get", study=name))["importances"]
    assert {i["param"] for i in imp} >= {"x", "y"}
    assert abs(sum(i["importance"] for i in imp) - 1.0) < 1e-6

    # Each trial is a child run of the study's run, visible to the MLflow API.
    run = requests.get(f"{server.url}/api/2.0/mlflow/runs/get", params={"run_id": best["run_id"]}, timeout=30).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.parentRunId"] == study["parent_run_id"]
    assert run["info"]["status"] == "FINISHED"
    assert {p["key"] for p in run["data"]["params"]} >= {"x", "y", "kind"}


def test_prune_fail_nan_and_enqueue(server):
    name = unique("rest-prune")
    ok(api(server, "create", name=name, pruner={"kind": "median", "n_startup_trials": 2}, space=SPACE))
    # Two complete trials with low curves, then a high one is pruned.
    for level in (1.0, 2.0):
        t = ok(api(server, "ask", study=name))["trial"]
        for step in range(3):
            ok(api(server, "report", study=name, number=t["number"], step=step, value=level))
        ok(api(server, "tell", study=name, number=t["number"], value=level))
    t = ok(api(server, "ask", study=name))["trial"]
    assert ok(api(server, "report", study=name, number=t["number"], step=0, value=50.0))["should_prune"] is True
    assert ok(api(server, "should-prune", "get", study=name, number=t["number"]))["should_prune"] is True
    assert ok(api(server, "tell", study=name, number=t["number"], state="PRUNED"))["trial"]["state"] == "PRUNED"
    # NaN fails the trial (a defined outcome), with the reason.
    t = ok(api(server, "ask", study=name))["trial"]
    failed = ok(api(server, "tell", study=name, number=t["number"], value="NaN"))["trial"]
    assert failed["state"] == "FAIL" and "NaN" in failed["fail_reason"]
    t = ok(api(server, "ask", study=name))["trial"]
    failed = ok(api(server, "tell", study=name, number=t["number"], state="FAIL", reason="OOM"))["trial"]
    assert failed["fail_reason"] == "OOM"
    # An enqueued point is asked first, with its values.
    n = ok(api(server, "enqueue", study=name, params={"x": 1.0, "y": 2.0, "kind": "b"}))["number"]
    t = ok(api(server, "ask", study=name))["trial"]
    assert t["number"] == n and t["params"] == {"x": 1.0, "y": 2.0, "kind": "b"}
    # A budget is a hard cap.
    count = len(ok(api(server, "trials", "get", study=name))["trials"])
    error(api(server, "ask", study=name, budget=count), 400, "INVALID_STATE")


def test_bad_requests_are_4xx_with_a_message(server):
    name = unique("rest-bad")
    ok(api(server, "create", name=name, space={"x": {"float": [0, 1]}}))
    cases = [
        (api(server, "create", name=name, space={"x": {"float": [0, 1]}}), 400, "RESOURCE_ALREADY_EXISTS"),
        (api(server, "create", name=unique("b"), space={"x": {"float": [2, 1]}}), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b"), space={"x": {"float": [0, 1], "log": True}}), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b"), space={"c": {"choices": []}}), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b"), space={}), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b")), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b"), space={"x": {"float": [0, 1]}}, sampler="magic"), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b"), space={"x": {"float": [0, 1]}}, direction="up"), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "create", name=unique("b"), space={"x": {"float": [0, 1]}}, directions=["minimize", "maximize"], sampler="gp"), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "ask", study=unique("missing")), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api(server, "ask"), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "tell", study=name, number=99, value=1.0), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api(server, "tell", study=name, number=-1, value=1.0), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "tell", study=name, number="x", value=1.0), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "best", "get", study=name), 404, "RESOURCE_DOES_NOT_EXIST"),
        (api(server, "trials", "get", study=name, state="DONE"), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "enqueue", study=name, params={"x": 5.0}), 400, "INVALID_PARAMETER_VALUE"),
        (api(server, "importances", "get", study=name), 400, "INVALID_PARAMETER_VALUE"),
    ]
    for resp, status, code in cases:
        error(resp, status, code)
    t = ok(api(server, "ask", study=name))["trial"]
    error(api(server, "tell", study=name, number=t["number"], values=[1.0, 2.0]), 400, "INVALID_PARAMETER_VALUE")
    error(api(server, "tell", study=name, number=t["number"]), 400, "INVALID_PARAMETER_VALUE")
    error(api(server, "tell", study=name, number=t["number"], state="PRUNED", value=1.0), 400, "INVALID_PARAMETER_VALUE")
    error(api(server, "report", study=name, number=t["number"], step=-1, value=1.0), 400, "INVALID_PARAMETER_VALUE")
    error(api(server, "report", study=name, number=t["number"], step=1, value="NaN"), 400, "INVALID_PARAMETER_VALUE")
    ok(api(server, "tell", study=name, number=t["number"], value=0.5))
    msg = error(api(server, "tell", study=name, number=t["number"], value=0.4), 400, "INVALID_STATE")
    assert "COMPLETE" in msg
    error(api(server, "report", study=name, number=t["number"], step=1, value=1.0), 400, "INVALID_STATE")
    # Malformed JSON bodies.
    resp = requests.post(f"{server.url}/api/2.0/kiln/studies/ask", data="{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= resp.status_code < 500, resp.text


def test_multi_objective_pareto(server):
    name = unique("rest-mo")
    ok(api(server, "create", name=name, directions=["minimize", "minimize"], metrics=["error", "latency"],
           sampler={"kind": "nsga2", "population_size": 6}, seed=1, space={"x": {"float": [0, 1]}}))
    for _ in range(18):
        t = ok(api(server, "ask", study=name))["trial"]
        x = t["params"]["x"]
        ok(api(server, "tell", study=name, number=t["number"], values=[x, (1 - x) ** 2]))
    front = ok(api(server, "pareto", "get", study=name))["trials"]
    assert len(front) >= 2
    for a in front:
        for b in front:
            assert not (a["values"][0] < b["values"][0] and a["values"][1] < b["values"][1])
    assert "best_trials" in ok(api(server, "best", "get", study=name))


def run_kiln(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([kiln_bin(), *args], capture_output=True, text=True, timeout=600, **kw)


def test_kiln_study_cli_with_a_python_objective(server, tmp_path):
    store = server.store_uri
    space = tmp_path / "space.toml"
    space.write_text('x = { float = [-5, 10] }\ny = { float = [0, 15] }\n')
    name = unique("cli-study")
    r = run_kiln("study", "create", name, "--space", str(space), "--sampler", "gp", "--seed", "2", "--storage", store)
    assert r.returncode == 0, r.stderr
    for _ in range(12):
        r = run_kiln("study", "ask", "--study", name, "--storage", store, "--json")
        assert r.returncode == 0, r.stderr
        trial = json.loads(r.stdout)
        value = branin(trial["params"]["x"], trial["params"]["y"])
        r = run_kiln("study", "tell", "--study", name, "--trial", str(trial["number"]), "--value", repr(value), "--storage", store)
        assert r.returncode == 0, r.stderr
    r = run_kiln("study", "best", "--study", name, "--storage", store, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["values"][0] < 10.0
    r = run_kiln("study", "trials", "--study", name, "--storage", store)
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 13, r.stdout
    r = run_kiln("study", "tell", "--study", name, "--trial", "0", "--value", "1", "--storage", store)
    assert r.returncode != 0 and "COMPLETE" in r.stderr
    r = run_kiln("study", "create", unique("bad"), "--space", str(tmp_path / "missing.toml"), "--storage", store)
    assert r.returncode != 0 and "missing.toml" in r.stderr


def test_kiln_tune_objective_cmd(server, tmp_path):
    store = server.store_uri
    space = tmp_path / "space.toml"
    space.write_text('x = { float = [-5, 10] }\ny = { float = [0, 15] }\nkind = { choices = ["fast", "slow"] }\n')
    objective = tmp_path / "objective.py"
    objective.write_text(
        "import json, math, os, sys\n"
        "p = json.loads(sys.stdin.read())\n"
        "assert float(os.environ['KILN_PARAM_X']) == p['x']\n"
        "b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)\n"
        "v = (p['y'] - b * p['x'] ** 2 + c * p['x'] - 6) ** 2 + 10 * (1 - t) * math.cos(p['x']) + 10\n"
        "for step in range(3):\n"
        "    print(f'kiln:report {step} {v + 3 - step}', flush=True)\n"
        "print('some log line')\n"
        "print(v + (0 if p['kind'] == 'fast' else 5))\n"
    )
    name = unique("cli-tune")
    r = run_kiln("tune", "--objective-cmd", f"{sys.executable} {objective}", "--space", str(space), "--trials", "16",
                 "--n-jobs", "2", "--storage", store, "--study", name, "--sampler", "tpe", "--seed", "5",
                 "--artifacts-destination", str(server.artifacts_dir), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n_trials"] == 16 and out["complete"] + out["failed"] + out["pruned"] == 16
    assert out["best_trials"][0]["values"][0] < 60
    assert any(a.endswith("/plots/history.svg") for a in out["artifacts"])
    # The study resumes: a second invocation only adds up to the new total.
    r = run_kiln("tune", "--objective-cmd", f"{sys.executable} {objective}", "--space", str(space), "--trials", "18",
                 "--storage", store, "--study", name, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n_trials"] == 18
    # A failing command is recorded as FAIL with the reason, and tuning goes on.
    bad = unique("cli-bad")
    r = run_kiln("tune", "--objective-cmd", "echo not-a-number", "--space", str(space), "--trials", "2",
                 "--storage", store, "--study", bad, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["failed"] == 2
    r = run_kiln("study", "trials", "--study", bad, "--storage", store, "--json")
    assert all("not a number" in t["fail_reason"] for t in json.loads(r.stdout))
    r = run_kiln("tune", "--objective-cmd", "true", "--trials", "2", "--storage", store, "--study", unique("x"))
    assert r.returncode != 0 and "--space" in r.stderr
