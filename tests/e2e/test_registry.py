"""MLflow 3 logged models (sklearn flavour) and the model registry."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import LoggedModelStatus

from e2e_utils import raises_mlflow, unique


@pytest.fixture(scope="module")
def trained():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    X = iris.data
    y = iris.target
    model = LogisticRegression(max_iter=500).fit(X, y)
    return SimpleNamespace(model=model, X=X, y=y, preds=model.predict(X))


@pytest.fixture(scope="module")
def logged(server, trained):
    """One sklearn model logged per server (module scope: logging a model takes seconds)."""
    server.activate()
    exp = mlflow.set_experiment(unique("exp-models"))
    with mlflow.start_run() as run:
        mlflow.log_param("max_iter", 500)
        info = mlflow.sklearn.log_model(
            trained.model,
            name="model",
            input_example=trained.X.iloc[:5],
            # Explicit requirements: skips the slow requirement inference subprocess.
            pip_requirements=["scikit-learn", "pandas"],
        )
    return SimpleNamespace(exp_id=exp.experiment_id, run_id=run.info.run_id, info=info)


def _register_pair(logged, name):
    """Register the logged model twice: from runs:/ and from the models:/<model_id> URI."""
    v1 = mlflow.register_model(f"runs:/{logged.run_id}/model", name)
    v2 = mlflow.register_model(logged.info.model_uri, name)
    return v1, v2


def test_logged_model_roundtrip(client, logged, trained):
    info = logged.info
    assert info.model_id
    assert info.model_uri == f"models:/{info.model_id}"
    assert info.run_id == logged.run_id
    assert info.signature is not None
    assert [c.name for c in info.signature.inputs.inputs] == list(trained.X.columns)

    lm = client.get_logged_model(info.model_id)
    assert lm.model_id == info.model_id
    assert lm.name == "model"
    assert lm.experiment_id == logged.exp_id
    assert lm.source_run_id == logged.run_id
    assert lm.status == LoggedModelStatus.READY

    found = mlflow.search_logged_models(experiment_ids=[logged.exp_id], output_format="list")
    assert [m.model_id for m in found] == [info.model_id]

    # Load back by model id and by the run-relative URI; predictions are identical.
    sk = mlflow.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(sk.predict(trained.X), trained.preds)
    pyf = mlflow.pyfunc.load_model(f"runs:/{logged.run_id}/model")
    np.testing.assert_array_equal(np.asarray(pyf.predict(trained.X)), trained.preds)

    # The input example was stored with the model and reads back equal.
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    example = mlflow.models.Model.load(local).load_input_example(local)
    pd.testing.assert_frame_equal(
        pd.DataFrame(example).reset_index(drop=True),
        trained.X.iloc[:5].reset_index(drop=True),
        check_dtype=False,
    )

    # The run records the logged model as an output.
    run = client.get_run(logged.run_id)
    assert info.model_id in [o.model_id for o in run.outputs.model_outputs]


def test_register_model_from_run_and_model_uri(client, logged):
    name = unique("rm-register")
    v1, v2 = _register_pair(logged, name)
    assert (v1.name, v1.version) == (name, "1")
    assert (v2.name, v2.version) == (name, "2")
    for v in (v1, v2):
        mv = client.get_model_version(name, v.version)
        assert mv.run_id == logged.run_id
        assert mv.status == "READY"
        assert mv.current_stage == "None"
    # MLflow 3 resolves runs:/<id>/model to the logged model: both versions point at it.
    assert client.get_model_version(name, "1").source == logged.info.model_uri
    assert client.get_model_version(name, "2").source == logged.info.model_uri

    rm = client.get_registered_model(name)
    assert rm.name == name
    latest = {v.version for v in rm.latest_versions}
    assert "2" in latest

    # Registered versions load back and predict like the original.
    by_version = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert by_version.get_params() == mlflow.sklearn.load_model(logged.info.model_uri).get_params()


def test_stage_transitions(client, logged):
    name = unique("rm-stages")
    v1, v2 = _register_pair(logged, name)

    mv = client.transition_model_version_stage(name, "1", "Staging")
    assert mv.current_stage == "Staging"
    client.transition_model_version_stage(name, "1", "Production")
    assert client.get_model_version(name, "1").current_stage == "Production"

    # Promote v2 without archiving: both in Production.
    client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=False)
    assert client.get_model_version(name, "1").current_stage == "Production"

    # Back to staging, then promote with archive_existing_versions: v1 gets archived.
    client.transition_model_version_stage(name, "2", "Staging")
    client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert client.get_model_version(name, "1").current_stage == "Archived"
    assert client.get_model_version(name, "2").current_stage == "Production"
    prod = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in prod] == ["2"]

    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.transition_model_version_stage(name, "2", "NotAStage")


def test_aliases_and_pyfunc_load(client, logged, trained):
    name = unique("rm-alias")
    _register_pair(logged, name)

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_model_version_by_alias(name, "challenger").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}
    assert client.get_model_version(name, "1").aliases == ["champion"]

    pyf = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(np.asarray(pyf.predict(trained.X)), trained.preds)

    # Moving an alias moves it off the old version.
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_model_version(name, "1").aliases == []
    assert sorted(client.get_model_version(name, "2").aliases) == ["challenger", "champion"]

    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"champion": "2"}
    # MLflow answers an unknown alias with INVALID_PARAMETER_VALUE (not RESOURCE_DOES_NOT_EXIST).
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.get_model_version_by_alias(name, "challenger")

    # "latest" is reserved.
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_alias(name, "latest", "1")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_alias(name, "LaTeSt", "1")


def test_search_registered_models_and_versions(client, logged):
    prefix = unique("rm-search")
    names = [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    for n in names:
        client.create_registered_model(n, tags={"kind": "clf" if n != names[1] else "reg"},
                                       description=f"desc {n}")
    mlflow.register_model(f"runs:/{logged.run_id}/model", names[0])
    mlflow.register_model(logged.info.model_uri, names[0])
    mlflow.register_model(logged.info.model_uri, names[2])

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'",
                                            order_by=["name DESC"])
    assert [m.name for m in found] == list(reversed(names))
    assert found[-1].description == f"desc {names[0]}"

    exact = mlflow.search_registered_models(filter_string=f"name = '{names[1]}'")
    assert [m.name for m in exact] == [names[1]]

    tagged = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%' AND tags.kind = 'clf'"
    )
    assert {m.name for m in tagged} == {names[0], names[2]}

    page1 = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'",
                                            max_results=2, order_by=["name ASC"])
    assert len(page1) == 2 and page1.token
    page2 = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'",
                                            max_results=2, order_by=["name ASC"],
                                            page_token=page1.token)
    assert [m.name for m in list(page1) + list(page2)] == names

    versions = client.search_model_versions(f"name = '{names[0]}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert all(v.name == names[0] for v in versions)

    by_run = client.search_model_versions(
        f"run_id = '{logged.run_id}' AND name LIKE '{prefix}-%'"
    )
    assert sorted((v.name, v.version) for v in by_run) == [
        (names[0], "1"), (names[0], "2"), (names[2], "1")
    ]
    none = client.search_model_versions(f"name = '{names[1]}'")
    assert list(none) == []


def test_update_descriptions_and_tags(client, logged):
    name = unique("rm-update")
    client.create_registered_model(name)
    mlflow.register_model(logged.info.model_uri, name)
    client.update_registered_model(name, description="new description")
    client.set_registered_model_tag(name, "owner", "team-a")
    client.update_model_version(name, "1", description="v1 desc")
    client.set_model_version_tag(name, "1", "validated", "yes")

    rm = client.get_registered_model(name)
    assert rm.description == "new description"
    assert rm.tags == {"owner": "team-a"}
    mv = client.get_model_version(name, "1")
    assert mv.description == "v1 desc"
    assert mv.tags == {"validated": "yes"}

    client.delete_registered_model_tag(name, "owner")
    client.delete_model_version_tag(name, "1", "validated")
    assert client.get_registered_model(name).tags == {}
    assert client.get_model_version(name, "1").tags == {}


def test_rename_registered_model(client, logged):
    old = unique("rm-old")
    new = unique("rm-new")
    _register_pair(logged, old)
    client.set_registered_model_alias(old, "prod", "2")

    client.rename_registered_model(old, new)
    assert client.get_registered_model(new).name == new
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(old)
    versions = client.search_model_versions(f"name = '{new}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert client.get_model_version(new, "1").run_id == logged.run_id
    assert client.get_model_version_by_alias(new, "prod").version == "2"
    # New versions continue the numbering under the new name.
    v3 = mlflow.register_model(logged.info.model_uri, new)
    assert v3.version == "3"


def test_delete_model_version_and_model(client, logged):
    name = unique("rm-delete")
    _register_pair(logged, name)
    client.set_registered_model_alias(name, "gone", "1")
    client.delete_model_version(name, "1")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "1")
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["2"]
    assert "gone" not in client.get_registered_model(name).aliases
    # Version numbers are not reused after deleting the latest one.
    client.delete_model_version(name, "2")
    v = mlflow.register_model(logged.info.model_uri, name)
    assert v.version == "3"

    client.delete_registered_model(name)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)
    assert list(client.search_model_versions(f"name = '{name}'")) == []


def test_registry_errors(client, logged):
    missing = unique("rm-missing")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(missing)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(missing, "1")
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.rename_registered_model(missing, unique("rm-x"))
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_alias(missing, "champion", "1")

    name = unique("rm-dup")
    client.create_registered_model(name)
    with raises_mlflow("RESOURCE_ALREADY_EXISTS"):
        client.create_registered_model(name)
    with raises_mlflow("RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "7")
    with raises_mlflow("INVALID_PARAMETER_VALUE"):
        client.search_registered_models(filter_string="name ~~~ 'x'")
