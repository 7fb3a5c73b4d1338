"""`kiln train` tracking over REST: the runs, metrics, artifacts and the registered
version it logs must be what the unmodified mlflow client reads back, on a `kiln server`
(each backend) and on a real `mlflow server`."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import REPO_ROOT, _start_server, _stop_process
from e2e_utils import IS_MLFLOW, unique

KILN_BIN = Path(os.environ.get("KILN_BIN", "target/debug/kiln"))
if not KILN_BIN.is_absolute():
    KILN_BIN = REPO_ROOT / KILN_BIN


def write_data(path: Path, rows: int = 400) -> None:
    rnd = random.Random(5)
    lines = ["id,x1,x2,color,y"]
    for i in range(rows):
        x1, x2 = rnd.uniform(-2, 2), rnd.uniform(-2, 2)
        color = rnd.choice(["red", "green", "blue"])
        z = x1 + 0.5 * x2 + (0.7 if color == "red" else 0.0) + rnd.gauss(0, 0.3)
        lines.append(f"{i},{x1:.4f},{x2:.4f},{color},{'yes' if z > 0.2 else 'no'}")
    path.write_text("\n".join(lines) + "\n")


CONFIG = """seed = 1
[data]
source = "data.csv"
target = "y"
task = "binary"
drop = ["id"]

[split]
valid = 0.2
test = 0.2

[[model]]
kind = "lightgbm"
rounds = 30
num_leaves = 7
min_data_in_leaf = 5

[[model]]
kind = "logistic"

[track]
register = "{model}"
alias = "champion"
"""


def kiln(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    return subprocess.run(
        [str(KILN_BIN), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def check_training_landed(url: str, tmp_path: Path) -> None:
    write_data(tmp_path / "data.csv")
    model = unique("train-model")
    experiment = unique("train-exp")
    (tmp_path / "kiln.toml").write_text(CONFIG.format(model=model))
    out = kiln("train", "kiln.toml", "--tracking-uri", url, "--experiment", experiment, "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "Registered " + model + " version 1 as @champion" in out.stdout, out.stdout

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("kiln.role") == "train"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["kiln.data.fingerprint"]
    assert parent.data.params["model.0.kind"] == "lightgbm"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    # lightgbm, logistic and three baselines.
    assert sorted(r.data.tags["kiln.candidate"] for r in children) == sorted(
        ["lightgbm", "logistic", "baseline:majority", "baseline:stratified", "baseline:rule"]
    )
    lgb = next(r for r in children if r.data.tags["kiln.candidate"] == "lightgbm")
    assert 0.5 < lgb.data.metrics["valid_auc"] <= 1.0
    assert "test_auc" in lgb.data.metrics
    history = client.get_metric_history(lgb.info.run_id, "valid_logloss")
    assert len(history) == 30 and [m.step for m in history] == list(range(1, 31))
    files = {f.path for f in client.list_artifacts(lgb.info.run_id, "model")}
    assert {"model/kiln-model.json", "model/MLmodel"} <= files
    plots = {f.path for f in client.list_artifacts(lgb.info.run_id, "plots")}
    assert "plots/roc.svg" in plots and "plots/learning_curves.svg" in plots
    local = client.download_artifacts(lgb.info.run_id, "model/kiln-model.json", str(tmp_path))
    assert '"format":"kiln-model"' in Path(local).read_text()

    mv = client.get_model_version_by_alias(model, "champion")
    assert mv.version == "1"
    assert mv.run_id == parent.data.tags["kiln.winner_run_id"]

    scored = kiln("predict", f"models:/{model}@champion", "data.csv", "--tracking-uri", url, cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    lines = scored.stdout.strip().splitlines()
    assert lines[0] == "prediction,probability_no,probability_yes"
    assert len(lines) == 401


def test_train_logs_to_the_server(server, tmp_path):
    check_training_landed(server.url, tmp_path)


def test_train_refuses_a_bad_config_before_logging_anything(server, tmp_path):
    write_data(tmp_path / "data.csv")
    experiment = unique("bad-train")
    (tmp_path / "kiln.toml").write_text(CONFIG.format(model="x").replace("num_leaves = 7", "num_leafs = 7"))
    out = kiln("train", "kiln.toml", "--tracking-uri", server.url, "--experiment", experiment, cwd=tmp_path)
    assert out.returncode != 0
    assert "kiln.toml, line 15" in out.stderr and "unknown hyperparameter 'num_leafs'" in out.stderr, out.stderr
    assert "panicked" not in out.stderr
    assert MlflowClient(server.url).get_experiment_by_name(experiment) is None


def test_train_logs_to_a_real_mlflow_server(server, tmp_path_factory, tmp_path):
    if IS_MLFLOW or server.backend != "sqlite":
        pytest.skip("runs once, beside the kiln server on SQLite (the suite's server is mlflow already otherwise)")
    base = tmp_path_factory.mktemp("mlflow-ref-")
    handle = _start_server("mlflow", "sqlite", base, f"sqlite:///{base / 'mlflow.db'}")
    try:
        check_training_landed(handle.url, tmp_path)
    finally:
        _stop_process(handle.proc)
