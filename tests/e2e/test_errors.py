"""Client-visible errors: the MlflowException error_code must match mlflow server's."""

from __future__ import annotations

import time

import mlflow
import pytest
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from e2e_utils import raises_mlflow, unique

MISSING_RUN = "0123456789abcdef0123456789abcdef"


def test_missing_run(client):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_run(MISSING_RUN)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.log_metric(MISSING_RUN, "m", 1.0)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.log_param(MISSING_RUN, "p", "v")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.set_tag(MISSING_RUN, "t", "v")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.delete_run(MISSING_RUN)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.set_terminated(MISSING_RUN)


def test_missing_experiment(client):
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_experiment("987654321")
    assert client.get_experiment_by_name(unique("exp-missing")) is None
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.create_run("987654321")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.delete_experiment("987654321")


def test_duplicate_experiment(client):
    name = unique("exp-dup")
    client.create_experiment(name)
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_experiment(name)
    # Renaming onto a taken name fails too. (mlflow server answers 400 BAD_REQUEST with the
    # database's IntegrityError here, so only "a 400-class error, name unchanged" is checked.)
    other_name = unique("exp-dup-other")
    other = client.create_experiment(other_name)
    with pytest.raises(MlflowException) as excinfo:
        client.rename_experiment(other, name)
    assert excinfo.value.get_http_status_code() == 400
    assert excinfo.value.error_code in (
        "RESOURCE_ALREADY_EXISTS", "INVALID_PARAMETER_VALUE", "BAD_REQUEST"
    )
    assert client.get_experiment(other).name == other_name


def test_bad_filter(client):
    exp_id = client.create_experiment(unique("exp-bad-filter"))
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_runs([exp_id], filter_string="metrics.acc >>> 1")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_runs([exp_id], filter_string="this is not a filter")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_experiments(filter_string="name === 'x'")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_model_versions("nonsense ~ 'x'")


@pytest.mark.parametrize("key", ["bad key!", "a/../b", "/abs", "semi;colon", "../up"])
def test_invalid_metric_and_param_keys(client, key):
    exp_id = client.create_experiment(unique("exp-bad-key"))
    run_id = client.create_run(exp_id).info.run_id
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, key, 1.0)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, key, "v")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, metrics=[Metric(key, 1.0, int(time.time() * 1000), 0)])
    data = client.get_run(run_id).data
    assert data.metrics == {} and data.params == {}


def test_valid_unusual_keys_are_accepted(client):
    exp_id = client.create_experiment(unique("exp-ok-key"))
    run_id = client.create_run(exp_id).info.run_id
    keys = ["with space", "slash/ed", "dash-ed", "dot.ted", "under_score", "UPPER123"]
    for i, k in enumerate(keys):
        client.log_metric(run_id, k, float(i))
    assert client.get_run(run_id).data.metrics == {k: float(i) for i, k in enumerate(keys)}


def test_param_value_conflict_in_batch(client):
    exp_id = client.create_experiment(unique("exp-param-conflict"))
    run_id = client.create_run(exp_id).info.run_id
    client.log_batch(run_id, params=[Param("p", "1")])
    client.log_batch(run_id, params=[Param("p", "1")])  # same value: fine
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_batch(run_id, params=[Param("p", "2")])
    assert client.get_run(run_id).data.params == {"p": "1"}


def test_missing_registered_model(client):
    missing = unique("rm-missing")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(missing)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.delete_registered_model(missing)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_latest_versions(missing)
    assert list(client.search_registered_models(filter_string=f"name = '{missing}'")) == []


def test_reserved_alias_latest(client):
    name = unique("rm-reserved")
    exp_id = client.create_experiment(unique("exp-reserved"))
    run = client.create_run(exp_id)
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    assert mv.version == "1"
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_alias(name, "latest", "1")
    assert client.get_registered_model(name).aliases == {}


def test_deleted_run_cannot_be_logged_to(client):
    exp_id = client.create_experiment(unique("exp-deleted-run"))
    run_id = client.create_run(exp_id).info.run_id
    client.delete_run(run_id)
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.log_metric(run_id, "m", 1.0)


def test_fluent_start_run_with_missing_run_id():
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        mlflow.start_run(run_id=MISSING_RUN)
    assert mlflow.active_run() is None
