"""Every API route, fed malformed input, answers 4xx with a JSON error, never 5xx.

The mlflow client retries 5xx for minutes, so a server error on a client mistake
turns a typo into a hang. This sweeps each route Kiln serves with a fixed set of
wrong shapes: wrong types for every field the route reads, missing fields,
unknown ids, empty bodies and bodies that are not objects.
"""

from __future__ import annotations

import json

import pytest

from e2e_utils import only_for_kiln, raw_request

API = "/api/2.0/mlflow"
JSON = {"Content-Type": "application/json"}

# (method, path, the fields the route reads)
ROUTES = [
    ("POST", "/experiments/create", ["name", "artifact_location", "tags"]),
    ("GET", "/experiments/get", ["experiment_id"]),
    ("GET", "/experiments/get-by-name", ["experiment_name"]),
    ("POST", "/experiments/delete", ["experiment_id"]),
    ("POST", "/experiments/restore", ["experiment_id"]),
    ("POST", "/experiments/update", ["experiment_id", "new_name"]),
    ("POST", "/experiments/set-experiment-tag", ["experiment_id", "key", "value"]),
    ("POST", "/experiments/search", ["max_results", "filter", "order_by", "view_type", "page_token"]),
    ("POST", "/runs/create", ["experiment_id", "user_id", "start_time", "run_name", "tags"]),
    ("POST", "/runs/update", ["run_id", "status", "end_time", "run_name"]),
    ("POST", "/runs/delete", ["run_id"]),
    ("POST", "/runs/restore", ["run_id"]),
    ("GET", "/runs/get", ["run_id"]),
    ("POST", "/runs/log-metric", ["run_id", "key", "value", "timestamp", "step"]),
    ("POST", "/runs/log-parameter", ["run_id", "key", "value"]),
    ("POST", "/runs/set-tag", ["run_id", "key", "value"]),
    ("POST", "/runs/delete-tag", ["run_id", "key"]),
    ("POST", "/runs/log-batch", ["run_id", "metrics", "params", "tags"]),
    ("POST", "/runs/log-inputs", ["run_id", "datasets", "models"]),
    ("POST", "/runs/outputs", ["run_id", "models"]),
    ("POST", "/runs/search", ["experiment_ids", "filter", "max_results", "order_by", "page_token", "run_view_type"]),
    ("GET", "/metrics/get-history", ["run_id", "metric_key", "max_results", "page_token"]),
    ("GET", "/artifacts/list", ["run_id", "path"]),
    ("POST", "/logged-models", ["experiment_id", "name", "params", "tags"]),
    ("POST", "/logged-models/search", ["experiment_ids", "filter", "order_by", "datasets", "max_results"]),
    ("POST", "/registered-models/create", ["name", "tags", "description"]),
    ("POST", "/registered-models/rename", ["name", "new_name"]),
    ("PATCH", "/registered-models/update", ["name", "description"]),
    ("DELETE", "/registered-models/delete", ["name"]),
    ("GET", "/registered-models/get", ["name"]),
    ("GET", "/registered-models/search", ["filter", "max_results", "order_by", "page_token"]),
    ("POST", "/registered-models/get-latest-versions", ["name", "stages"]),
    ("POST", "/registered-models/set-tag", ["name", "key", "value"]),
    ("POST", "/registered-models/alias", ["name", "alias", "version"]),
    ("DELETE", "/registered-models/alias", ["name", "alias"]),
    ("GET", "/registered-models/alias", ["name", "alias"]),
    ("POST", "/model-versions/create", ["name", "source", "run_id", "tags", "model_id"]),
    ("PATCH", "/model-versions/update", ["name", "version", "description"]),
    ("DELETE", "/model-versions/delete", ["name", "version"]),
    ("GET", "/model-versions/get", ["name", "version"]),
    ("GET", "/model-versions/search", ["filter", "max_results", "order_by"]),
    ("GET", "/model-versions/get-download-uri", ["name", "version"]),
    ("POST", "/model-versions/transition-stage", ["name", "version", "stage", "archive_existing_versions"]),
    ("POST", "/model-versions/set-tag", ["name", "version", "key", "value"]),
]

# Values of the wrong shape for any field.
WRONG = [{"a": 1}, [1, {"b": None}], 1e308, -1, True, "", "\u0000", "x" * 70000, "../../etc", "NaN"]


def _bodies(fields):
    yield "{}"
    yield "[]"
    yield "null"
    yield "{"
    for f in fields:
        for w in WRONG:
            yield json.dumps({f: w})
    # every field wrong at once, and unknown ids everywhere
    yield json.dumps({f: {"nested": [1]} for f in fields})
    yield json.dumps({f: "does-not-exist" for f in fields})


def _query(fields, value):
    from urllib.parse import quote
    return "&".join(f"{f}={quote(str(value))}" for f in fields)


@pytest.mark.parametrize("method, path, fields", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_never_answers_5xx_to_bad_input(server, method, path, fields):
    only_for_kiln("mlflow server answers several of these shapes with a 500")
    failures = []
    if method == "GET":
        for value in ["", "abc", "-1", "99999999999999999999", "%00", "..%2F..", "{}"]:
            url = f"{API}{path}?{_query(fields, value)}"
            resp = raw_request(server.url, "GET", url)
            if resp.status_code >= 500:
                failures.append((url, resp.status_code, resp.text[:200]))
    else:
        for body in _bodies(fields):
            resp = raw_request(server.url, method, API + path, body=body, headers=JSON)
            if resp.status_code >= 500:
                failures.append((body[:120], resp.status_code, resp.text[:200]))
            elif resp.status_code >= 400:
                assert isinstance(resp.json().get("error_code"), str), (body[:120], resp.text[:200])
    assert not failures, failures


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_logged_model_paths_never_answer_5xx(server, method):
    only_for_kiln("path-parameter sweep of Kiln's logged-model routes")
    failures = []
    for model_id in ["%00", "..", "m-does-not-exist", "x" * 3000, "%2e%2e%2f", "m-%ff"]:
        for suffix in ["", "/tags", "/tags/some-key", "/params"]:
            m = "POST" if suffix == "/params" else ("PATCH" if suffix == "/tags" else method)
            body = json.dumps({"status": "LOGGED_MODEL_READY", "tags": [{"key": "k", "value": "v"}],
                               "params": [{"key": "p", "value": "1"}]})
            resp = raw_request(server.url, m, f"{API}/logged-models/{model_id}{suffix}", body=body, headers=JSON)
            if resp.status_code >= 500:
                failures.append((m, model_id[:20], suffix, resp.status_code, resp.text[:200]))
    assert not failures, failures
