"""Raw HTTP: bad input must give a 4xx (never a 5xx) with MLflow's error_code."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from e2e_utils import only_for_kiln, raw_request, unique

API = "/api/2.0/mlflow"
JSON = {"Content-Type": "application/json"}


def _post(server, path, body, headers=JSON):
    return raw_request(server.url, "POST", API + path, body=body, headers=headers)


def _get(server, path):
    return raw_request(server.url, "GET", API + path)


def _assert_error(resp, status, error_code):
    assert resp.status_code == status, resp
    assert resp.error_code() == error_code, resp
    assert isinstance(resp.json().get("message"), str)


@pytest.fixture(scope="module")
def run_id(server):
    resp = requests.post(f"{server.url}{API}/experiments/create",
                         json={"name": unique("exp-http")}, timeout=30)
    resp.raise_for_status()
    exp_id = resp.json()["experiment_id"]
    resp = requests.post(f"{server.url}{API}/runs/create",
                         json={"experiment_id": exp_id, "start_time": 1}, timeout=30)
    resp.raise_for_status()
    return resp.json()["run"]["info"]["run_id"]


def test_health(server):
    resp = requests.get(server.url + "/health", timeout=10)
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "path, body",
    [
        ("/experiments/create", "{bad json"),
        ("/experiments/create", '{"name": "x",'),
        ("/runs/log-metric", "{'single': 'quotes'}"),
        ("/registered-models/create", "\x00\x01 not json"),
    ],
)
def test_malformed_json_body(server, path, body):
    resp = _post(server, path, body)
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_json_body_that_is_not_an_object(server):
    # MLflow answers a JSON array body with a 500 (it calls .get on the list); kiln must not.
    only_for_kiln("mlflow server returns 500 for a JSON array request body")
    for body in ("[1, 2]", '"a string"', "42"):
        resp = _post(server, "/experiments/create", body)
        _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/runs/create", {"experiment_id": {"a": 1}}),
        ("/experiments/create", {"name": 5}),
        ("/experiments/create", {"name": ["list"]}),
        ("/runs/search", {"experiment_ids": "0"}),
        ("/runs/search", {"experiment_ids": ["0"], "max_results": "ten"}),
        ("/runs/search", {"experiment_ids": ["0"], "max_results": 50001}),
        ("/runs/log-metric", {"run_id": "RUN", "key": "k", "value": "abc", "timestamp": 1}),
        ("/runs/log-metric", {"run_id": "RUN", "key": "k", "value": 1.0, "timestamp": "soon"}),
        ("/runs/log-batch", {"run_id": "RUN", "metrics": {"not": "a list"}}),
    ],
)
def test_wrong_field_type(server, run_id, path, body):
    body = json.loads(json.dumps(body).replace('"RUN"', json.dumps(run_id)))
    resp = _post(server, path, json.dumps(body))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/experiments/create", {}),
        ("POST", "/runs/log-metric", {"run_id": "RUN", "value": 1.0, "timestamp": 1}),
        ("POST", "/runs/log-metric", {"run_id": "RUN", "key": "k", "value": 1.0}),
        ("POST", "/runs/set-tag", {"run_id": "RUN", "value": "v"}),
        ("POST", "/registered-models/create", {}),
        ("GET", "/runs/get", None),
        ("GET", "/experiments/get", None),
        ("GET", "/registered-models/get", None),
        ("GET", "/metrics/get-history?run_id=RUN", None),
    ],
)
def test_missing_required_fields(server, run_id, method, path, body):
    path = path.replace("RUN", run_id)
    if method == "GET":
        resp = _get(server, path)
    else:
        payload = json.loads(json.dumps(body).replace('"RUN"', json.dumps(run_id)))
        resp = _post(server, path, json.dumps(payload))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_unknown_ids(server):
    missing = "0123456789abcdef0123456789abcdef"
    _assert_error(_get(server, f"/runs/get?run_id={missing}"), 404, "RESOURCE_DOES_NOT_EXIST")
    _assert_error(
        _post(server, "/runs/log-metric",
              json.dumps({"run_id": missing, "key": "k", "value": 1.0, "timestamp": 1})),
        404, "RESOURCE_DOES_NOT_EXIST",
    )
    _assert_error(_post(server, "/runs/delete", json.dumps({"run_id": missing})),
                  404, "RESOURCE_DOES_NOT_EXIST")
    _assert_error(_get(server, "/experiments/get?experiment_id=987654321"),
                  404, "RESOURCE_DOES_NOT_EXIST")
    _assert_error(_get(server, f"/experiments/get-by-name?experiment_name={unique('nope')}"),
                  404, "RESOURCE_DOES_NOT_EXIST")
    _assert_error(_get(server, f"/registered-models/get?name={unique('nope')}"),
                  404, "RESOURCE_DOES_NOT_EXIST")
    # A non-numeric experiment id is invalid input rather than "not found".
    resp = _get(server, "/experiments/get?experiment_id=not-a-number")
    assert 400 <= resp.status_code < 500, resp


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/no/such/route"),
        ("GET", "/api/2.0/mlflow/no-such-endpoint"),
        ("POST", "/api/2.0/mlflow/runs/no-such-action"),
        ("GET", "/api/9.9/mlflow/runs/get"),
    ],
)
def test_unknown_route_is_404(server, method, path):
    resp = raw_request(server.url, method, path, body=b"{}" if method == "POST" else None,
                       headers=JSON if method == "POST" else None)
    assert resp.status_code == 404, resp


def test_wrong_method(server):
    resp = raw_request(server.url, "GET", API + "/experiments/create")
    assert resp.status_code == 405, resp
    resp = raw_request(server.url, "DELETE", API + "/runs/get")
    assert resp.status_code == 405, resp


def test_wrong_content_type(server):
    resp = _post(server, "/experiments/create", json.dumps({"name": unique("ct")}),
                 headers={"Content-Type": "text/plain"})
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        "%%%",
        base64.b64encode(b"notjson").decode(),
        base64.b64encode(b'{"offset": "abc"}').decode(),
    ],
)
def test_malformed_page_token_search_runs(server, token):
    resp = _post(server, "/runs/search",
                 json.dumps({"experiment_ids": ["0"], "page_token": token}))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def test_malformed_page_token_other_searches(server, run_id):
    resp = _post(server, "/experiments/search",
                 json.dumps({"max_results": 10, "page_token": "garbage!!"}))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    resp = _get(server, f"/metrics/get-history?run_id={run_id}&metric_key=m"
                        "&max_results=10&page_token=zzz")
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")


def _batch_metrics(n, ts=1):
    return [{"key": f"m{i % 7}", "value": float(i), "timestamp": ts, "step": i} for i in range(n)]


def test_log_batch_limits(server, run_id):
    # Exactly at the limits: accepted.
    ok = _post(server, "/runs/log-batch",
               json.dumps({"run_id": run_id, "metrics": _batch_metrics(1000)}))
    assert ok.status_code == 200, ok
    # 1001 metrics.
    resp = _post(server, "/runs/log-batch",
                 json.dumps({"run_id": run_id, "metrics": _batch_metrics(1001)}))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    # 101 params.
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    resp = _post(server, "/runs/log-batch", json.dumps({"run_id": run_id, "params": params}))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    # 1000 metrics + 1 tag = 1001 entries in total.
    resp = _post(server, "/runs/log-batch", json.dumps({
        "run_id": run_id, "metrics": _batch_metrics(1000),
        "tags": [{"key": "t", "value": "v"}],
    }))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
    # None of the rejected params were stored.
    run = requests.get(f"{server.url}{API}/runs/get", params={"run_id": run_id}, timeout=30).json()
    stored = {p["key"] for p in run["run"]["data"].get("params", [])}
    assert not any(k.startswith("p") and k[1:].isdigit() for k in stored)


def test_metric_history_paging_raw(server, run_id):
    key = "paged"
    for chunk in range(3):
        metrics = [{"key": key, "value": float(i), "timestamp": 1000 + i, "step": i}
                   for i in range(chunk * 1000, min((chunk + 1) * 1000, 2500))]
        r = _post(server, "/runs/log-batch", json.dumps({"run_id": run_id, "metrics": metrics}))
        assert r.status_code == 200, r
    got, token, pages = [], None, 0
    while True:
        q = f"/metrics/get-history?run_id={run_id}&metric_key={key}&max_results=1000"
        if token:
            q += "&page_token=" + requests.utils.quote(token, safe="")
        resp = _get(server, q)
        assert resp.status_code == 200, resp
        body = resp.json()
        page = body.get("metrics", [])
        assert len(page) <= 1000
        got.extend((m["step"], m["value"], m["timestamp"]) for m in page)
        token = body.get("next_page_token")
        pages += 1
        if not token:
            break
        assert pages < 10
    assert pages >= 3
    assert got == [(i, float(i), 1000 + i) for i in range(2500)]


def test_error_responses_are_json(server):
    resp = _get(server, "/runs/get?run_id=0123456789abcdef0123456789abcdef")
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    assert resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_downloading_a_directory_is_400(server, run_id):
    exp = requests.get(f"{server.url}{API}/runs/get", params={"run_id": run_id}, timeout=30).json()
    root = exp["run"]["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
    put = raw_request(server.url, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{root}/d/f.txt", body=b"x")
    assert put.status_code == 200, put
    resp = raw_request(server.url, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{root}/d")
    assert resp.status_code == 400, resp
    missing = raw_request(server.url, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{root}/nope.txt")
    _assert_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")


def test_multipart_upload_is_not_offered(server):
    # Like mlflow server over a local folder: 501, and server-info says multipart is off.
    info = requests.get(f"{server.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_uploads_enabled"] is False
    resp = raw_request(server.url, "POST", "/api/2.0/mlflow-artifacts/mpu/create/0/x.bin",
                       body=json.dumps({"path": "x.bin", "num_parts": 2}), headers=JSON)
    _assert_error(resp, 501, "NOT_IMPLEMENTED")


def test_archiving_from_an_inactive_stage_is_a_client_error(server, run_id):
    # mlflow server answers this with a 500 (which the client retries for minutes); kiln with a 400.
    only_for_kiln("mlflow server returns 500 for archive_existing_versions with stage None")
    name = unique("rm-archive")
    requests.post(f"{server.url}{API}/registered-models/create", json={"name": name}, timeout=30).raise_for_status()
    requests.post(f"{server.url}{API}/model-versions/create",
                  json={"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
                  timeout=30).raise_for_status()
    resp = _post(server, "/model-versions/transition-stage",
                 json.dumps({"name": name, "version": "1", "stage": "Archived", "archive_existing_versions": True}))
    _assert_error(resp, 400, "INVALID_PARAMETER_VALUE")
