"""Run artifacts through the proxied artifact service (mlflow-artifacts:/)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlflow
import pytest
import yaml

from e2e_utils import unique


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)).replace(os.sep, "/"): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def sample_dir(tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "top.txt").write_text("top level\n")
    (src / "sub" / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (src / "sub" / "deeper" / "blob.bin").write_bytes(bytes(range(256)) * 40)  # 10 KiB binary
    (src / "sub" / "deeper" / "unicode-é.txt").write_text("héllo wörld ✓\n", encoding="utf-8")
    (src / "with space.txt").write_text("spaces in names\n")
    return src


def test_log_and_download_artifacts(client, server, sample_dir, tmp_path):
    mlflow.set_experiment(unique("exp-art"))
    single = tmp_path / "single.json"
    single.write_text('{"k": 1}')
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="one/two")
        mlflow.log_artifacts(str(sample_dir), artifact_path="tree")
        run_id = run.info.run_id

    artifact_uri = client.get_run(run_id).info.artifact_uri
    assert artifact_uri == mlflow.get_run(run_id).info.artifact_uri
    assert run_id in artifact_uri

    # list_artifacts: top level, then nested directories.
    top = {f.path: f for f in client.list_artifacts(run_id)}
    assert set(top) == {"single.json", "one", "tree"}
    assert not top["single.json"].is_dir and top["single.json"].file_size == len('{"k": 1}')
    assert top["one"].is_dir and top["tree"].is_dir

    assert [f.path for f in client.list_artifacts(run_id, "one")] == ["one/two"]
    assert [f.path for f in client.list_artifacts(run_id, "one/two")] == ["one/two/single.json"]
    tree = {f.path: f for f in client.list_artifacts(run_id, "tree")}
    assert set(tree) == {"tree/top.txt", "tree/sub", "tree/with space.txt"}
    assert tree["tree/sub"].is_dir
    sub = {f.path: f for f in client.list_artifacts(run_id, "tree/sub")}
    assert set(sub) == {"tree/sub/data.csv", "tree/sub/deeper"}
    deeper = {f.path: f for f in client.list_artifacts(run_id, "tree/sub/deeper")}
    assert set(deeper) == {"tree/sub/deeper/blob.bin", "tree/sub/deeper/unicode-é.txt"}
    assert deeper["tree/sub/deeper/blob.bin"].file_size == 256 * 40
    assert client.list_artifacts(run_id, "does/not/exist") == []

    # download_artifacts: whole directory, a sub directory, one file.
    dst = tmp_path / "dl-all"
    dst.mkdir()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="tree",
                                                dst_path=str(dst))
    assert _tree(Path(local)) == _tree(sample_dir)

    dst2 = tmp_path / "dl-file"
    dst2.mkdir()
    local_file = client.download_artifacts(run_id, "tree/sub/deeper/blob.bin", str(dst2))
    assert Path(local_file).read_bytes() == (sample_dir / "sub/deeper/blob.bin").read_bytes()

    dst3 = tmp_path / "dl-root"
    dst3.mkdir()
    local_root = Path(mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri,
                                                          dst_path=str(dst3)))
    got = _tree(local_root)
    assert got["single.json"] == single.read_bytes()
    assert got["one/two/single.json"] == single.read_bytes()
    assert got["tree/sub/deeper/unicode-é.txt"] == "héllo wörld ✓\n".encode()


def test_log_text_and_dict(client):
    mlflow.set_experiment(unique("exp-art-text"))
    payload = {"name": "kiln", "values": [1, 2.5, None, "x"], "nested": {"ok": True}}
    with mlflow.start_run() as run:
        mlflow.log_text("first line\nsecond ✓\n", "notes/readme.txt")
        mlflow.log_dict(payload, "config/params.json")
        mlflow.log_dict(payload, "config/params.yaml")
    run_id = run.info.run_id
    base = client.get_run(run_id).info.artifact_uri
    assert mlflow.artifacts.load_text(f"{base}/notes/readme.txt") == "first line\nsecond ✓\n"
    assert mlflow.artifacts.load_dict(f"{base}/config/params.json") == payload
    assert yaml.safe_load(mlflow.artifacts.load_text(f"{base}/config/params.yaml")) == payload
    files = {f.path for f in client.list_artifacts(run_id, "config")}
    assert files == {"config/params.json", "config/params.yaml"}
    # runs:/ URIs resolve through the tracking server too.
    assert json.loads(
        mlflow.artifacts.load_text(f"runs:/{run_id}/config/params.json")
    ) == payload


def test_artifacts_land_in_artifacts_destination(client, server):
    """The proxied artifact store writes below --artifacts-destination, nowhere else."""
    mlflow.set_experiment(unique("exp-art-dest"))
    marker = unique("marker")
    with mlflow.start_run() as run:
        mlflow.log_text(marker, f"{marker}/file.txt")
    matches = [p for p in server.artifacts_dir.rglob("file.txt") if p.parent.name == marker]
    assert len(matches) == 1, matches
    assert matches[0].read_text() == marker
    assert run.info.run_id in str(matches[0].relative_to(server.artifacts_dir))


def test_overwrite_artifact(client, tmp_path):
    mlflow.set_experiment(unique("exp-art-overwrite"))
    with mlflow.start_run() as run:
        mlflow.log_text("v1", "same.txt")
        mlflow.log_text("version two", "same.txt")
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/same.txt") == "version two"


def test_empty_run_has_no_artifacts(client):
    mlflow.set_experiment(unique("exp-art-empty"))
    with mlflow.start_run() as run:
        pass
    assert client.list_artifacts(run.info.run_id) == []
