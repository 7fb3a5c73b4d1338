"""search_runs: filters, ordering, output formats, pagination."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
from mlflow.entities import ViewType

from e2e_utils import raises_mlflow, unique

# name, acc, loss, optimizer, lr, team, status
RUNS = [
    ("r-0", 0.10, 5.0, "adam", "0.1", "ml-core", "FINISHED"),
    ("r-1", 0.55, 3.0, "sgd", "0.01", "ml-vision", "FINISHED"),
    ("r-2", 0.70, 2.0, "adam", "0.001", "data", "FAILED"),
    ("r-3", 0.95, 1.0, "rmsprop", "0.1", "ml-core", "FINISHED"),
    ("r-4", None, 4.0, "sgd", "0.5", "infra", "KILLED"),
]


@pytest.fixture(scope="module")
def populated(server):
    server.activate()
    exp = mlflow.set_experiment(unique("exp-search"))
    ids = {}
    for name, acc, loss, opt, lr, team, status in RUNS:
        with mlflow.start_run(run_name=name) as run:
            if acc is not None:
                mlflow.log_metric("acc", acc)
            mlflow.log_metric("loss", loss)
            mlflow.log_params({"optimizer": opt, "lr": lr})
            mlflow.set_tag("team", team)
            ids[name] = run.info.run_id
        if status != "FINISHED":
            mlflow.MlflowClient().set_terminated(run.info.run_id, status=status)
        time.sleep(0.01)  # distinct start times (millisecond resolution) for ordering tests
    return SimpleNamespace(exp_id=exp.experiment_id, ids=ids)


def _names(populated, filter_string="", order_by=None, **kw):
    runs = mlflow.search_runs(
        experiment_ids=[populated.exp_id],
        filter_string=filter_string,
        order_by=order_by,
        output_format="list",
        **kw,
    )
    return [r.info.run_name for r in runs]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.acc > 0.5", {"r-1", "r-2", "r-3"}),
        ("metrics.acc >= 0.7 AND metrics.loss < 2.5", {"r-2", "r-3"}),
        ("metrics.loss <= 2", {"r-2", "r-3"}),
        ("metrics.acc != 0.55", {"r-0", "r-2", "r-3"}),
        ("params.optimizer = 'adam'", {"r-0", "r-2"}),
        ("params.optimizer != 'adam'", {"r-1", "r-3", "r-4"}),
        ("params.lr = '0.1' AND params.optimizer = 'rmsprop'", {"r-3"}),
        ("tags.team LIKE 'ml-%'", {"r-0", "r-1", "r-3"}),
        ("tags.team ILIKE 'ML-C%'", {"r-0", "r-3"}),
        ("tags.team = 'infra'", {"r-4"}),
        ("attributes.status = 'FAILED'", {"r-2"}),
        ("attributes.status != 'FINISHED'", {"r-2", "r-4"}),
        ("status = 'KILLED'", {"r-4"}),
        ("run_name = 'r-2'", {"r-2"}),
        ("attributes.run_name LIKE 'r-%'", {"r-0", "r-1", "r-2", "r-3", "r-4"}),
        ("tags.`mlflow.runName` = 'r-1'", {"r-1"}),
        ("params.optimizer = 'nope'", set()),
    ],
)
def test_search_filters(populated, filter_string, expected):
    assert set(_names(populated, filter_string)) == expected


def test_search_run_id_in(populated):
    ids = populated.ids
    f = f"attributes.run_id IN ('{ids['r-1']}', '{ids['r-3']}')"
    assert set(_names(populated, f)) == {"r-1", "r-3"}
    f = f"attributes.run_id NOT IN ('{ids['r-1']}', '{ids['r-3']}')"
    assert set(_names(populated, f)) == {"r-0", "r-2", "r-4"}


def test_search_order_by(populated):
    # Runs without the metric sort last in both directions in MLflow; only compare those with it.
    by_acc_desc = _names(populated, "metrics.acc > 0", order_by=["metrics.acc DESC"])
    assert by_acc_desc == ["r-3", "r-2", "r-1", "r-0"]
    by_loss_asc = _names(populated, order_by=["metrics.loss ASC"])
    assert by_loss_asc == ["r-3", "r-2", "r-1", "r-4", "r-0"]
    by_name = _names(populated, order_by=["attributes.run_name DESC"])
    assert by_name == ["r-4", "r-3", "r-2", "r-1", "r-0"]
    by_param = _names(populated, order_by=["params.optimizer ASC", "metrics.loss DESC"])
    assert by_param == ["r-0", "r-2", "r-3", "r-4", "r-1"]
    started = _names(populated, order_by=["attributes.start_time ASC"])
    assert started == ["r-0", "r-1", "r-2", "r-3", "r-4"]
    # A run missing the order-by metric goes last.
    assert _names(populated, order_by=["metrics.acc ASC"])[-1] == "r-4"


def test_search_pandas_output(populated):
    df = mlflow.search_runs(
        experiment_ids=[populated.exp_id],
        filter_string="params.optimizer = 'adam'",
        order_by=["metrics.acc DESC"],
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df["tags.mlflow.runName"]) == ["r-2", "r-0"]
    assert list(df["run_id"]) == [populated.ids["r-2"], populated.ids["r-0"]]
    assert list(df["metrics.acc"]) == [0.70, 0.10]
    assert list(df["params.lr"]) == ["0.001", "0.1"]
    assert list(df["tags.team"]) == ["data", "ml-core"]
    assert list(df["status"]) == ["FAILED", "FINISHED"]
    assert (df["experiment_id"] == populated.exp_id).all()
    for col in ("start_time", "end_time", "artifact_uri"):
        assert col in df.columns

    all_df = mlflow.search_runs(experiment_ids=[populated.exp_id])
    assert len(all_df) == len(RUNS)
    missing = all_df.loc[all_df["tags.mlflow.runName"] == "r-4", "metrics.acc"].iloc[0]
    assert missing is None or math.isnan(missing)


def test_search_by_experiment_name(populated, client):
    name = client.get_experiment(populated.exp_id).name
    runs = mlflow.search_runs(experiment_names=[name], output_format="list")
    assert {r.info.run_id for r in runs} == set(populated.ids.values())


def test_search_pagination(populated, client):
    seen = []
    token = None
    pages = 0
    while True:
        page = client.search_runs([populated.exp_id], max_results=2, page_token=token,
                                  order_by=["metrics.loss ASC"])
        pages += 1
        assert len(page) <= 2
        seen.extend(r.info.run_name for r in page)
        token = page.token
        if not token:
            break
        assert pages < 10
    assert seen == ["r-3", "r-2", "r-1", "r-4", "r-0"]
    # mlflow.search_runs with max_results caps the result.
    assert len(_names(populated, max_results=3)) == 3


def test_search_multiple_experiments_and_view_type(populated, client):
    other = client.create_experiment(unique("exp-search-other"))
    with mlflow.start_run(experiment_id=other, run_name="other-run") as r:
        mlflow.log_metric("acc", 0.99)
    both = mlflow.search_runs(experiment_ids=[populated.exp_id, other],
                              filter_string="metrics.acc > 0.9", output_format="list")
    assert {x.info.run_name for x in both} == {"r-3", "other-run"}
    client.delete_run(r.info.run_id)
    active = mlflow.search_runs(experiment_ids=[other], output_format="list")
    assert active == []
    deleted = mlflow.search_runs(experiment_ids=[other], output_format="list",
                                 run_view_type=ViewType.DELETED_ONLY)
    assert [x.info.run_id for x in deleted] == [r.info.run_id]


@pytest.mark.parametrize(
    "bad_filter",
    [
        "metrics.acc >>> 1",
        "params.optimizer = adam",  # unquoted string
        "foo.bar = 'x'",  # unknown entity type
        "metrics.acc > 'abc'",  # metric compared with a string
        "params.optimizer IN ('adam', 'sgd')",  # IN is only allowed for run_id
    ],
)
def test_search_bad_filter(populated, bad_filter):
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        mlflow.search_runs(experiment_ids=[populated.exp_id], filter_string=bad_filter)


def test_search_bad_order_by(populated):
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        mlflow.search_runs(experiment_ids=[populated.exp_id], order_by=["metrics.acc SIDEWAYS"])
