"""Artifacts in an S3 bucket (`kiln server --artifacts-destination s3://bucket/prefix`),
and `kiln data` reading sources from one.

The bucket is served by moto's S3 server on 127.0.0.1 (a local stand-in for S3;
nothing leaves the machine). Needs a kiln binary built with `--features cloud`,
named by KILN_BIN_CLOUD (scripts/test.sh builds it); without one the test is
skipped, except under CI=true where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import IN_CI, _free_port, _stop_process, reset_mlflow_state
from e2e_utils import SERVER, raw_request

BIN = os.environ.get("KILN_BIN_CLOUD", "")


def _wait(url: str, proc: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def s3_kiln(tmp_path_factory):
    if SERVER != "kiln":
        pytest.skip("S3 artifact destination is a kiln-server test")
    if not BIN or not Path(BIN).exists():
        msg = f"KILN_BIN_CLOUD ({BIN!r}) is not a kiln built with --features cloud"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    import boto3

    tmp = tmp_path_factory.mktemp("s3")
    moto_port, kiln_port = _free_port(), _free_port()
    moto_log = tmp / "moto.log"
    moto_bin = Path(sys.executable).with_name("moto_server")
    moto = subprocess.Popen([str(moto_bin), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=moto_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    kiln = None
    try:
        endpoint = f"http://127.0.0.1:{moto_port}"
        _wait(endpoint, moto, moto_log, "moto_server")
        env = dict(os.environ, AWS_ENDPOINT=endpoint, AWS_ALLOW_HTTP="true", AWS_ACCESS_KEY_ID="test",
                   AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
        bucket = f"kiln-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        kiln_log = tmp / "kiln.log"
        kiln = subprocess.Popen(
            [BIN, "server", "--host", "127.0.0.1", "--port", str(kiln_port),
             "--backend-store-uri", f"sqlite:///{tmp / 'kiln.db'}",
             "--artifacts-destination", f"s3://{bucket}/artifacts"],
            env=env, stdout=kiln_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{kiln_port}"
        _wait(url + "/health", kiln, kiln_log, "kiln server")
        yield url, s3, bucket, tmp
    finally:
        if kiln is not None:
            _stop_process(kiln)
        _stop_process(moto)


def test_artifacts_round_trip_through_s3(s3_kiln, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    url, s3, bucket, tmp = s3_kiln
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    reset_mlflow_state()
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(f"s3-{uuid.uuid4().hex[:8]}")
    src = tmp / "report.txt"
    src.write_text("kiln on s3\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(src), artifact_path="reports")
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "conf.json")
    run_id = run.info.run_id
    client = MlflowClient(tracking_uri=url)
    top = {f.path: f.is_dir for f in client.list_artifacts(run_id)}
    assert top == {"conf.json": False, "notes": True, "reports": True}
    nested = client.list_artifacts(run_id, "reports")
    assert [(f.path, f.file_size) for f in nested] == [("reports/report.txt", len("kiln on s3\n"))]
    out = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes", dst_path=str(tmp / "dl")))
    assert (out / "hello.txt").read_text() == "hello"

    # The objects really are in the bucket, under the destination prefix.
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="artifacts/").get("Contents", [])}
    exp_id = run.info.experiment_id
    assert f"artifacts/{exp_id}/{run_id}/artifacts/reports/report.txt" in keys, keys
    assert f"artifacts/{exp_id}/{run_id}/artifacts/conf.json" in keys, keys

    # Paths that try to leave the prefix are refused before they reach the bucket.
    bad = raw_request(url, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/../../escape.txt", body=b"x")
    assert bad.status_code == 400, bad.text
    keys_after = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert all(k.startswith("artifacts/") for k in keys_after), keys_after

    # Delete through the proxy removes the objects.
    resp = raw_request(url, "DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/notes")
    assert resp.status_code == 200, resp.text
    left = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"artifacts/{exp_id}/{run_id}/artifacts/notes/")
            .get("Contents", [])}
    assert not left, left


def test_data_sources_read_from_s3(s3_kiln, tmp_path):
    """`kiln data` reads an s3:// prefix and an s3:// glob through object_store: the
    same rows and the same fingerprint as the local copy of the files; a missing key
    is a clear error naming the URI, not a panic."""
    _, s3, _, _ = s3_kiln
    bucket = f"kiln-data-{uuid.uuid4().hex[:8]}"  # its own bucket: the artifact test checks every key of the server's
    s3.create_bucket(Bucket=bucket)
    local = tmp_path / "parts"
    local.mkdir()
    parts = {
        "p1.csv": "id,x,label\n1,0.5,a\n2,1.5,b\n",
        "p2.csv": "id,x,label\n3,-2.25,a\n",
        "p3.csv": "id,x,label\n4,7,b\n5,,a\n",
    }
    for name, body in parts.items():
        (local / name).write_text(body)
        s3.put_object(Bucket=bucket, Key=f"data/{name}", Body=body.encode())
    s3.put_object(Bucket=bucket, Key="data/notes.txt", Body=b"not a table")  # not a data file: skipped in a folder
    env = dict(os.environ, AWS_ENDPOINT=s3.meta.endpoint_url, AWS_ALLOW_HTTP="true", AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")

    def fingerprint(source: str) -> dict:
        p = subprocess.run([BIN, "data", "fingerprint", source, "--json"], env=env, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    want = fingerprint(str(local))
    assert want["rows"] == 5
    for source in (f"s3://{bucket}/data/", f"s3://{bucket}/data/*.csv"):
        got = fingerprint(source)
        assert got["rows"] == 5, (source, got)
        assert got["columns"] == want["columns"]
        assert got["fingerprint"] == want["fingerprint"], source

    p = subprocess.run([BIN, "data", "fingerprint", f"s3://{bucket}/nowhere/missing.csv"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert f"s3://{bucket}/nowhere/missing.csv" in p.stderr, p.stderr
    assert "panicked" not in p.stderr
