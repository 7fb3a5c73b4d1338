"""Fills a Kiln server with the data the browser tests look at, through the real
`mlflow` client (MLFLOW_TRACKING_URI must point at the server).

Writes a JSON file (argv[1]) naming what was created: experiment ids, run ids,
the registered model. Everything is deterministic except ids and timestamps.

* experiment "ui-demo": a parent run "sweep" with three nested trials (params, metric
  histories, tags), a run "train-gbm" with a dataset input, artifacts of every kind
  (PNG, SVG, CSV, JSON, text, MLmodel of a logged model, a binary file, a file too
  large to preview) and a 100,000-point metric history; a second training run; and one
  run left RUNNING (the tests update it to check live updates);
* experiment "ui-empty": no runs;
* experiment "ui-many": 1,200 runs (virtual scrolling);
* registered model "ui-churn" with versions 1 and 2 (from the two training runs),
  alias "candidate" on version 1.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

# After the import: mlflow sets its own logger level when imported.
logging.getLogger("mlflow").setLevel(logging.WARNING)

LONG_POINTS = 100_000
MANY_RUNS = int(os.environ.get("KILN_UI_MANY_RUNS", "1200"))
BIG_TEXT_BYTES = 3 * 1024 * 1024


def png_bytes(width: int = 64, height: int = 40) -> bytes:
    """A small RGB gradient PNG, written by hand (no imaging library needed)."""
    rows = b""
    for y in range(height):
        rows += b"\x00" + bytes(
            v for x in range(width) for v in (x * 4 % 256, y * 6 % 256, 160)
        )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" viewBox="0 0 120 80">
<rect width="120" height="80" fill="#fde7dc"/><circle cx="40" cy="40" r="24" fill="#b4461f"/>
<text x="70" y="45" font-size="14">kiln</text></svg>
"""


class Echo(mlflow.pyfunc.PythonModel):
    """A trivial model: returns its input."""

    def predict(self, context, model_input, params=None):
        return model_input


def write_artifacts(folder: Path) -> None:
    (folder / "plots").mkdir(parents=True)
    (folder / "plots" / "curve.png").write_bytes(png_bytes())
    (folder / "plots" / "diagram.svg").write_text(SVG)
    (folder / "data").mkdir()
    (folder / "data" / "predictions.csv").write_text(
        "id,label,score,comment\n1,yes,0.91,\"first, with comma\"\n2,no,0.12,plain\n3,yes,0.77,\"quoted \"\"word\"\"\"\n"
    )
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 8)
    line = "epoch=1 loss=0.5 lr=0.1 this line pads the log file to make it large\n"
    (folder / "big.log").write_text(line * (BIG_TEXT_BYTES // len(line) + 1))


def trial_metrics(i: int, steps: int = 50) -> list[tuple[str, float, int]]:
    out = []
    for s in range(steps):
        out.append(("loss", round(1.0 / (1 + s * (0.05 + 0.03 * i)) + 0.01 * i, 6), s))
        out.append(("acc", round(0.5 + 0.45 * (1 - math.exp(-s / (8 + 4 * i))), 6), s))
    return out


def main(out_path: str) -> None:
    client = MlflowClient()
    state: dict = {"experiments": {}, "runs": {}}

    demo = mlflow.set_experiment("ui-demo")
    demo_id = demo.experiment_id
    state["experiments"]["demo"] = demo_id
    client.set_experiment_tag(demo_id, "team", "ui-tests")

    # A sweep: a parent run and three nested trials.
    with mlflow.start_run(run_name="sweep") as parent:
        mlflow.set_tag("kind", "sweep")
        mlflow.log_param("sampler", "tpe")
        children = []
        for i, (lr, depth, model) in enumerate([(0.1, 3, "gbm"), (0.05, 5, "gbm"), (0.2, 4, "linear")]):
            with mlflow.start_run(run_name=f"trial-{i}", nested=True) as child:
                mlflow.log_params({"lr": lr, "depth": depth, "model": model, "seed": 42})
                mlflow.set_tag("kind", "trial")
                now = int(time.time() * 1000)
                client.log_batch(
                    child.info.run_id,
                    metrics=[Metric(k, v, now + s * 1000, s) for k, v, s in trial_metrics(i)],
                )
                children.append(child.info.run_id)
        mlflow.log_metric("best_loss", 0.11)
    state["runs"]["parent"] = parent.info.run_id
    state["runs"]["children"] = children

    # Training runs: dataset input, artifacts, a logged model, a long history.
    df = pd.DataFrame({"age": [31, 45, 22, 60], "plan": ["a", "b", "a", "c"], "churned": [0, 1, 0, 1]})
    versions_from = []
    for n, name in enumerate(["train-gbm", "train-gbm-2"]):
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({"model": "gbm", "num_leaves": 31 + n, "learning_rate": 0.1})
            mlflow.log_metrics({"auc": 0.87 + n * 0.01, "logloss": 0.31 - n * 0.01})
            mlflow.set_tag("stage", "train")
            dataset = mlflow.data.from_pandas(df, source="data/churn.csv", name="churn-train", targets="churned")
            mlflow.log_input(dataset, context="training")
            info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["pandas"])
            if n == 0:
                with tempfile.TemporaryDirectory() as tmp:
                    write_artifacts(Path(tmp))
                    mlflow.log_artifacts(tmp)
                mlflow.log_dict({"model": "gbm", "params": {"num_leaves": 31, "lr": 0.1}, "features": ["age", "plan"]}, "config.json")
                mlflow.log_text("Trained on churn-train.\nAUC 0.87.\n", "notes/readme.txt")
                t0 = int(time.time() * 1000) - LONG_POINTS * 10
                batch = []
                for s in range(LONG_POINTS):
                    v = 2.0 * math.exp(-s / 20000) + 0.05 * math.sin(s / 50)
                    if s == 61_234:
                        v = 9.0  # a spike the downsampler must keep
                    batch.append(Metric("train_loss", v, t0 + s * 10, s))
                    if len(batch) == 1000:
                        client.log_batch(run.info.run_id, metrics=batch)
                        batch = []
                state["runs"]["train"] = run.info.run_id
            else:
                state["runs"]["train2"] = run.info.run_id
            versions_from.append(info.model_uri)
            state.setdefault("logged_models", []).append(info.model_id)

    model_name = "ui-churn"
    for uri in versions_from:
        mlflow.register_model(uri, model_name)
    client.set_registered_model_alias(model_name, "candidate", "1")
    client.update_registered_model(model_name, "Churn classifier used by the UI tests.")
    state["model"] = model_name

    # A run left RUNNING: the tests update it to check live updates.
    running = client.create_run(demo_id, run_name="live-run", tags={"kind": "live"})
    client.log_batch(running.info.run_id, metrics=[Metric("loss", 1.0, int(time.time() * 1000), 0)],
                     params=[Param("lr", "0.3")])
    state["runs"]["running"] = running.info.run_id

    state["experiments"]["empty"] = client.create_experiment("ui-empty")

    many = client.create_experiment("ui-many")
    state["experiments"]["many"] = many

    def one(i: int) -> str:
        r = client.create_run(many, run_name=f"many-{i:04d}", tags={"batch": str(i % 7)})
        client.log_batch(
            r.info.run_id,
            metrics=[Metric("score", (i * 37 % 1000) / 1000.0, int(time.time() * 1000), 0)],
            params=[Param("i", str(i)), Param("group", f"g{i % 5}")],
            tags=[RunTag("parity", "even" if i % 2 == 0 else "odd")],
        )
        client.set_terminated(r.info.run_id)
        return r.info.run_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(MANY_RUNS)))
    state["many_runs"] = MANY_RUNS
    state["long_points"] = LONG_POINTS

    Path(out_path).write_text(json.dumps(state, indent=2))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: fill_store.py OUT.json   (MLFLOW_TRACKING_URI names the server)")
    main(sys.argv[1])
