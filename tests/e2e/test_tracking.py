"""Experiments, runs, params, metrics, tags, datasets: through the fluent API and MlflowClient."""

from __future__ import annotations

import math
import sys
import time

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType

from e2e_utils import raises_mlflow, unique

FLOAT_MAX = sys.float_info.max


def test_set_experiment_creates_and_reuses(client):
    name = unique("exp-set")
    exp = mlflow.set_experiment(name)
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    # Setting it again returns the same experiment instead of creating a new one.
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    fetched = client.get_experiment(exp.experiment_id)
    assert fetched.name == name
    assert client.get_experiment_by_name(name).experiment_id == exp.experiment_id
    # Experiment ids are distinct for distinct experiments.
    other = mlflow.set_experiment(unique("exp-set-other"))
    assert other.experiment_id != exp.experiment_id


def test_create_experiment_with_tags_and_set_tag(client):
    name = unique("exp-tags")
    exp_id = client.create_experiment(name, tags={"owner": "alice", "purpose": "e2e"})
    client.set_experiment_tag(exp_id, "stage", "dev")
    exp = client.get_experiment(exp_id)
    assert exp.tags["owner"] == "alice"
    assert exp.tags["purpose"] == "e2e"
    assert exp.tags["stage"] == "dev"
    new_name = unique("exp-renamed")
    client.rename_experiment(exp_id, new_name)
    assert client.get_experiment(exp_id).name == new_name
    assert client.get_experiment_by_name(name) is None


def test_run_params_metrics_tags_roundtrip(client):
    exp = mlflow.set_experiment(unique("exp-run"))
    t0 = int(time.time() * 1000)
    with mlflow.start_run(run_name="my-run") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"optimizer": "adam", "layers": 3, "note": "a b/c"})
        mlflow.log_metric("loss", 1.5)
        mlflow.log_metric("loss", 0.75, step=1)
        mlflow.log_metric("loss", 0.25, step=2)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=5)
        mlflow.set_tag("team", "core")
        mlflow.set_tags({"env": "test", "version": "1.2"})
        run_id = run.info.run_id
    t1 = int(time.time() * 1000)

    r = client.get_run(run_id)
    assert r.info.run_id == run_id
    assert r.info.experiment_id == exp.experiment_id
    assert r.info.run_name == "my-run"
    assert r.data.tags["mlflow.runName"] == "my-run"
    assert r.info.status == "FINISHED"
    assert r.info.lifecycle_stage == "active"
    assert t0 - 5000 <= r.info.start_time <= r.info.end_time <= t1 + 5000
    # Params are stored as strings.
    assert r.data.params == {"alpha": "0.5", "optimizer": "adam", "layers": "3", "note": "a b/c"}
    # data.metrics holds the value at the highest step.
    assert r.data.metrics == {"loss": 0.25, "acc": 0.9, "f1": 0.8}
    assert r.data.tags["team"] == "core"
    assert r.data.tags["env"] == "test"
    assert r.data.tags["version"] == "1.2"

    hist = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in sorted(hist, key=lambda m: m.step)] == [
        (0, 1.5), (1, 0.75), (2, 0.25)
    ]
    assert all(m.key == "loss" for m in hist)
    acc = client.get_metric_history(run_id, "acc")
    assert [(m.step, m.value) for m in acc] == [(5, 0.9)]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_latest_metric_is_max_step_not_last_logged(client):
    mlflow.set_experiment(unique("exp-latest"))
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 10.0, step=10)
        mlflow.log_metric("m", 1.0, step=1)  # logged later, but at a smaller step
    assert client.get_run(run.info.run_id).data.metrics["m"] == 10.0


def test_run_status_and_end_time(client):
    exp = mlflow.set_experiment(unique("exp-status"))
    run = client.create_run(exp.experiment_id, run_name="manual")
    assert run.info.status == "RUNNING"
    assert run.info.end_time is None
    assert client.get_run(run.info.run_id).info.status == "RUNNING"
    client.set_terminated(run.info.run_id, status="FAILED")
    r = client.get_run(run.info.run_id)
    assert r.info.status == "FAILED"
    assert r.info.end_time is not None and r.info.end_time >= r.info.start_time

    # A run that raises inside the context manager is marked FAILED.
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as failing:
            raise RuntimeError("boom")
    assert client.get_run(failing.info.run_id).info.status == "FAILED"


def test_nested_runs(client):
    exp = mlflow.set_experiment(unique("exp-nested"))
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-1", nested=True) as child1:
            mlflow.log_param("which", "1")
            with mlflow.start_run(run_name="grandchild", nested=True) as grandchild:
                mlflow.log_param("which", "gc")
        with mlflow.start_run(run_name="child-2", nested=True) as child2:
            mlflow.log_param("which", "2")
        assert mlflow.active_run().info.run_id == parent.info.run_id

    pid = parent.info.run_id
    assert client.get_run(child1.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(child2.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert (client.get_run(grandchild.info.run_id).data.tags["mlflow.parentRunId"]
            == child1.info.run_id)
    assert "mlflow.parentRunId" not in client.get_run(pid).data.tags

    children = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{pid}'",
        output_format="list",
    )
    assert {r.info.run_id for r in children} == {child1.info.run_id, child2.info.run_id}
    assert {r.info.run_name for r in children} == {"child-1", "child-2"}

    everything = mlflow.search_runs(experiment_ids=[exp.experiment_id], output_format="list")
    assert {r.info.run_id for r in everything} == {
        pid, child1.info.run_id, child2.info.run_id, grandchild.info.run_id
    }


def test_nan_and_inf_metrics_roundtrip(client):
    mlflow.set_experiment(unique("exp-nan"))
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pinf", float("inf"))
        mlflow.log_metric("ninf", float("-inf"))
        mlflow.log_metrics({"series": 1.0}, step=0)
        mlflow.log_metrics({"series": float("nan")}, step=1)
        mlflow.log_metrics({"series": float("inf")}, step=2)
        mlflow.log_metrics({"series": -2.5}, step=3)
    metrics = client.get_run(run.info.run_id).data.metrics

    def is_pos_inf(v):
        # MLflow's SQL stores clamp +/-inf to +/-DBL_MAX; a true inf is equally acceptable.
        return v == math.inf or v == FLOAT_MAX

    def is_neg_inf(v):
        return v == -math.inf or v == -FLOAT_MAX

    assert math.isnan(metrics["nan"])
    assert is_pos_inf(metrics["pinf"])
    assert is_neg_inf(metrics["ninf"])
    assert metrics["series"] == -2.5

    hist = sorted(client.get_metric_history(run.info.run_id, "series"), key=lambda m: m.step)
    assert [m.step for m in hist] == [0, 1, 2, 3]
    assert hist[0].value == 1.0
    assert math.isnan(hist[1].value)
    assert is_pos_inf(hist[2].value)
    assert hist[3].value == -2.5
    (nan_hist,) = client.get_metric_history(run.info.run_id, "nan")
    assert math.isnan(nan_hist.value)


def test_metric_history_pagination(client):
    """2500 points, logged with log_batch, read back in order over several pages."""
    exp = mlflow.set_experiment(unique("exp-history"))
    run = client.create_run(exp.experiment_id)
    run_id = run.info.run_id
    n = 2500
    base_ts = int(time.time() * 1000)
    logged = [(base_ts + i, i, i * 0.5 - 100.0) for i in range(n)]
    for start in range(0, n, 1000):  # 1000 metrics is the per-request limit
        client.log_batch(
            run_id,
            metrics=[Metric("hist", v, ts, step) for ts, step, v in logged[start:start + 1000]],
            synchronous=True,
        )
    client.set_terminated(run_id)

    # MlflowClient pages through the whole history.
    hist = client.get_metric_history(run_id, "hist")
    assert len(hist) == n
    assert [(m.timestamp, m.step, m.value) for m in hist] == logged

    # Explicit paging through the client's REST store: 1000 per page -> 3 pages.
    store = client._tracking_client.store
    pages, token = [], None
    while True:
        page = store.get_metric_history(run_id, "hist", max_results=1000, page_token=token)
        pages.append(list(page))
        token = page.token
        if not token:
            break
        assert len(pages) < 10, "paging does not terminate"
    assert [len(p) for p in pages] == [1000, 1000, 500] or [len(p) for p in pages] == [
        1000, 1000, 500, 0
    ]
    flat = [(m.timestamp, m.step, m.value) for p in pages for m in p]
    assert flat == logged

    assert client.get_run(run_id).data.metrics["hist"] == logged[-1][2]


def test_log_batch_params_tags_metrics(client):
    exp = mlflow.set_experiment(unique("exp-batch"))
    run_id = client.create_run(exp.experiment_id).info.run_id
    ts = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("m1", 1.0, ts, 0), Metric("m1", 2.0, ts + 1, 1), Metric("m2", -3.0, ts, 0)],
        params=[Param("p1", "v1"), Param("p2", "v2")],
        tags=[RunTag("t1", "x"), RunTag("t2", "y")],
    )
    r = client.get_run(run_id)
    assert r.data.metrics == {"m1": 2.0, "m2": -3.0}
    assert r.data.params == {"p1": "v1", "p2": "v2"}
    assert r.data.tags["t1"] == "x" and r.data.tags["t2"] == "y"
    # Tags are mutable, and can be deleted.
    client.set_tag(run_id, "t1", "changed")
    client.delete_tag(run_id, "t2")
    tags = client.get_run(run_id).data.tags
    assert tags["t1"] == "changed"
    assert "t2" not in tags


def test_params_are_immutable(client):
    mlflow.set_experiment(unique("exp-param-immutable"))
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")  # same value again is fine
        with raises_mlflow("INVALID_PARAMETER_VALUE"):
            mlflow.log_param("lr", "0.2")
        with raises_mlflow("INVALID_PARAMETER_VALUE"):
            mlflow.log_params({"lr": "0.3"})
    assert client.get_run(run.info.run_id).data.params["lr"] == "0.1"


def test_delete_and_restore_run(client):
    exp = mlflow.set_experiment(unique("exp-del-run"))
    with mlflow.start_run() as keep:
        mlflow.log_metric("x", 1)
    with mlflow.start_run() as gone:
        mlflow.log_metric("x", 2)
    gone_id = gone.info.run_id

    client.delete_run(gone_id)
    assert client.get_run(gone_id).info.lifecycle_stage == "deleted"

    def ids(view):
        return {r.info.run_id for r in client.search_runs([exp.experiment_id], run_view_type=view)}

    assert ids(ViewType.ACTIVE_ONLY) == {keep.info.run_id}
    assert ids(ViewType.DELETED_ONLY) == {gone_id}
    assert ids(ViewType.ALL) == {keep.info.run_id, gone_id}

    client.restore_run(gone_id)
    assert client.get_run(gone_id).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == {keep.info.run_id, gone_id}
    assert ids(ViewType.DELETED_ONLY) == set()


def test_delete_and_restore_experiment(client):
    name = unique("exp-del")
    exp_id = client.create_experiment(name)
    run_ids = set()
    for i in range(2):
        with mlflow.start_run(experiment_id=exp_id) as r:
            mlflow.log_metric("i", i)
            run_ids.add(r.info.run_id)

    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    # Deleted experiments are not in the active listing, but are in the deleted one.
    active = {e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)}
    deleted = {e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)}
    assert exp_id not in active
    assert exp_id in deleted
    # Its runs are not found by an active-only search.
    found = client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert [r.info.run_id for r in found] == []
    # The name stays taken while the experiment is deleted.
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    found = client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY)
    assert {r.info.run_id for r in found} == run_ids
    assert client.get_experiment_by_name(name).experiment_id == exp_id


def test_search_experiments_filter_and_order(client):
    prefix = unique("srch-exp")
    ids = {}
    for suffix, team in [("a", "red"), ("b", "blue"), ("c", "red")]:
        ids[suffix] = client.create_experiment(f"{prefix}-{suffix}", tags={"team": team})

    by_name = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'",
                                        order_by=["name DESC"])
    assert [e.name for e in by_name] == [f"{prefix}-c", f"{prefix}-b", f"{prefix}-a"]

    red = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%' AND tags.team = 'red'"
    )
    assert {e.experiment_id for e in red} == {ids["a"], ids["c"]}

    exact = mlflow.search_experiments(filter_string=f"name = '{prefix}-b'")
    assert [e.experiment_id for e in exact] == [ids["b"]]

    # Pagination over experiments.
    page1 = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", max_results=2,
                                      order_by=["name ASC"])
    assert len(page1) == 2 and page1.token
    page2 = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", max_results=2,
                                      order_by=["name ASC"], page_token=page1.token)
    assert [e.name for e in list(page1) + list(page2)] == [
        f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    ]


def test_log_input_dataset(client):
    mlflow.set_experiment(unique("exp-dataset"))
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(df, source="https://example.com/data/train.csv", name="train-set",
                                      targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})

    r = client.get_run(run.info.run_id)
    inputs = r.inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert ds.name == "train-set"
    assert ds.digest == dataset.digest
    assert ds.source_type == dataset.source._get_source_type()
    assert ds.schema == dataset.to_dict()["schema"]
    assert ds.profile == dataset.to_dict()["profile"]
    tags = {t.key: t.value for t in inputs[0].tags}
    assert tags["mlflow.data.context"] == "training"
    assert tags["split"] == "train"

    # Loading the dataset source back from the run works.
    source = mlflow.data.get_source(inputs[0])
    assert source.to_dict() == dataset.source.to_dict()
    assert source.to_dict()["url"] == "https://example.com/data/train.csv"


def test_run_status_filters_active_run_after_end(client):
    # start_run / end_run leave no active run behind.
    mlflow.set_experiment(unique("exp-end"))
    run = mlflow.start_run()
    assert mlflow.active_run().info.run_id == run.info.run_id
    mlflow.end_run(status=RunStatus.to_string(RunStatus.KILLED))
    assert mlflow.active_run() is None
    assert client.get_run(run.info.run_id).info.status == "KILLED"
    assert mlflow.last_active_run().info.run_id == run.info.run_id
