"""Artifact paths that try to escape the artifact root must be refused (4xx, never 5xx),
and nothing may be read, written or deleted outside --artifacts-destination.

Layout of a server's tmp dir (see conftest): ``base/root/artifacts`` is the artifact root, so
``../NAME`` aims at ``base/root/NAME`` and ``../../NAME`` at ``base/NAME``. Bait files with
those names are planted in both places, and the whole tmp dir outside the artifact root is
snapshotted before and compared after every test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from e2e_utils import IS_MLFLOW, raw_request, unique

ART = "/api/2.0/mlflow-artifacts/artifacts"

# (id, path template relative to ART + "/", strict)
# strict: must be 400 INVALID_PARAMETER_VALUE (what mlflow server answers).
# not strict: a backslash or a doubly-encoded dot is an ordinary file-name character on POSIX;
#   mlflow server accepts those and stores a file with that literal name *inside* the root.
#   Either a 4xx or a 2xx is fine, provided nothing happens outside the root.
PATH_VARIANTS = [
    ("dotdot", "../{name}", True),
    ("dotdot2", "../../{name}", True),
    ("enc-dotdot", "%2e%2e/{name}", True),
    ("enc-dotdot-upper", "%2E%2E/%2E%2E/{name}", True),
    ("half-enc-dotdot", ".%2e/{name}", True),
    ("inner-dotdot", "sub/../../{name}", True),
    ("inner-enc-dotdot", "sub/%2e%2e/%2e%2e/{name}", True),
    ("enc-slash", "..%2f{name}", True),
    ("enc-slash-inner", "sub%2f..%2f..%2f{name}", True),
    ("enc-slash-upper", "sub%2F..%2F..%2F{name}", True),
    ("absolute", "/{abs}", True),
    ("enc-absolute", "%2f{abs_enc}", True),
    ("backslash-enc", "..%5c{name}", False),
    ("backslash-enc-inner", "sub%5c..%5c..%5c{name}", False),
    ("backslash-raw", "..\\..\\{name}", False),
    ("double-enc-dotdot", "%252e%252e/%252e%252e/{name}", False),
]

LIST_VARIANTS = [
    ("dotdot", "..", True),
    ("dotdot2", "../..", True),
    ("dotdot-slash", "../", True),
    ("enc-dotdot", "%2e%2e", True),
    ("enc-dotdot-slash", "%2E%2E%2F%2E%2E", True),
    ("inner-dotdot", "sub/../..", True),
    ("absolute", "/etc", True),
    ("enc-absolute", "%2Fetc", True),
    ("absolute-base", "{abs_dir}", True),
    ("backslash", "..%5C..", False),
    ("double-enc", "%252e%252e", False),
]


@dataclass
class Bait:
    name: str
    content: bytes
    files: list[Path]  # planted outside the artifact root
    abs_target: Path  # an absolute path outside the root (not planted for PUT tests)


def _snapshot(server) -> dict[str, tuple[int, int]]:
    """Every file under the server's tmp dir, outside the artifact root and the store."""
    snap = {}
    for dirpath, _dirnames, filenames in os.walk(server.base_dir):
        d = Path(dirpath)
        if d == server.artifacts_dir or server.artifacts_dir in d.parents:
            continue
        for f in filenames:
            p = d / f
            if d == server.base_dir and (f.startswith("store.db") or f.startswith("server-")):
                continue  # the sqlite store and the server log change by themselves
            st = p.stat()
            snap[str(p.relative_to(server.base_dir))] = (st.st_size, st.st_mtime_ns)
    return snap


@pytest.fixture
def bait(server):
    name = unique("bait") + ".txt"
    content = f"SECRET {name} must never be served".encode()
    files = [server.artifacts_dir.parent / name, server.base_dir / name]
    for f in files:
        f.write_bytes(content)
    abs_target = server.base_dir / ("abs-" + name)
    before = _snapshot(server)
    yield Bait(name, content, files, abs_target)
    after = _snapshot(server)
    assert after == before, (
        "files outside the artifact root changed: "
        f"added={sorted(set(after) - set(before))} removed={sorted(set(before) - set(after))} "
        f"modified={sorted(k for k in before if k in after and before[k] != after[k])}"
    )
    for f in files:
        assert f.read_bytes() == content
    assert not abs_target.exists()
    for stray in (Path("/tmp") / name, Path("/") / name, Path("/tmp") / ("abs-" + name)):
        assert not stray.exists(), f"{stray} was written"


def _fill(template: str, bait: Bait, target: Path) -> str:
    abs_path = str(target).lstrip("/")
    return template.format(
        name=bait.name,
        abs=abs_path,
        abs_enc=quote(abs_path, safe=""),
        abs_dir=quote(str(target.parent), safe="/"),
    )


def _check(resp, strict: bool, bait: Bait):
    assert resp.status_code < 500, f"5xx for a client mistake: {resp}"
    assert bait.content not in resp.content, f"served a file from outside the root: {resp}"
    if strict:
        assert resp.status_code == 400, resp
        assert resp.error_code() == "INVALID_PARAMETER_VALUE", resp
    else:
        assert resp.status_code < 300 or 400 <= resp.status_code < 500, resp


@pytest.mark.parametrize("variant, template, strict", PATH_VARIANTS,
                         ids=[v[0] for v in PATH_VARIANTS])
def test_put_outside_root(server, bait, variant, template, strict):
    # Relative variants aim at the planted bait files (overwriting them would show in the
    # snapshot); absolute variants aim at a file that does not exist yet.
    path = f"{ART}/{_fill(template, bait, bait.abs_target)}"
    resp = raw_request(server.url, "PUT", path, body=b"PWNED",
                       headers={"Content-Type": "application/octet-stream"})
    _check(resp, strict, bait)


@pytest.mark.parametrize("variant, template, strict", PATH_VARIANTS,
                         ids=[v[0] for v in PATH_VARIANTS])
def test_get_outside_root(server, bait, variant, template, strict):
    path = f"{ART}/{_fill(template, bait, bait.files[1])}"
    resp = raw_request(server.url, "GET", path)
    _check(resp, strict, bait)


@pytest.mark.parametrize("variant, template, strict", PATH_VARIANTS,
                         ids=[v[0] for v in PATH_VARIANTS])
def test_delete_outside_root(server, bait, variant, template, strict):
    path = f"{ART}/{_fill(template, bait, bait.files[1])}"
    resp = raw_request(server.url, "DELETE", path)
    if IS_MLFLOW and variant in ("absolute", "enc-absolute") and resp.status_code == 308:
        # mlflow server (Flask/werkzeug) answers DELETE .../artifacts//abs/path with a 308
        # redirect that merges the slashes into a path *inside* the root; GET and PUT get a
        # 400. Kiln must answer 400 like for the other methods; for mlflow only check that
        # the redirect stays inside the artifact API.
        location = resp.headers.get("location", "")
        assert f"{ART}/" in location and ".." not in location, resp.headers
    else:
        _check(resp, strict, bait)
    for f in bait.files:
        assert f.exists(), f"{f} deleted by DELETE {path}"


@pytest.mark.parametrize("variant, query, strict", LIST_VARIANTS,
                         ids=[v[0] for v in LIST_VARIANTS])
def test_list_outside_root_proxy(server, bait, variant, query, strict):
    resp = raw_request(server.url, "GET", f"{ART}?path={_fill(query, bait, bait.files[1])}")
    _check(resp, strict, bait)
    assert bait.name.encode() not in resp.content, resp


@pytest.fixture(scope="module")
def art_run(server):
    api = f"{server.url}/api/2.0/mlflow"
    exp = requests.post(f"{api}/experiments/create", json={"name": unique("exp-paths")},
                        timeout=30).json()["experiment_id"]
    return requests.post(f"{api}/runs/create", json={"experiment_id": exp},
                         timeout=30).json()["run"]["info"]["run_id"]


@pytest.mark.parametrize("variant, query, strict", LIST_VARIANTS,
                         ids=[v[0] for v in LIST_VARIANTS])
def test_list_outside_root_run(server, bait, art_run, variant, query, strict):
    q = _fill(query, bait, bait.files[1])
    resp = raw_request(server.url, "GET",
                       f"/api/2.0/mlflow/artifacts/list?run_id={art_run}&path={q}")
    _check(resp, strict, bait)
    assert bait.name.encode() not in resp.content, resp


def test_legit_paths_still_work(server, bait):
    """Sanity check for the tests above: ordinary nested paths are accepted and stay inside."""
    base = f"{ART}/{unique('legit')}"
    resp = raw_request(server.url, "PUT", f"{base}/dir/a%20b.txt", body=b"hello")
    assert resp.status_code == 200, resp
    resp = raw_request(server.url, "GET", f"{base}/dir/a%20b.txt")
    assert resp.status_code == 200 and resp.content == b"hello", resp
    listing = raw_request(server.url, "GET", f"{ART}?path={base[len(ART) + 1:]}/dir")
    assert listing.status_code == 200, listing
    assert [f["path"] for f in listing.json()["files"]] == ["a b.txt"]
    assert (server.artifacts_dir / base[len(ART) + 1:] / "dir" / "a b.txt").read_bytes() == b"hello"
    resp = raw_request(server.url, "DELETE", f"{base}/dir/a%20b.txt")
    assert resp.status_code == 200, resp
    assert not (server.artifacts_dir / base[len(ART) + 1:] / "dir" / "a b.txt").exists()
