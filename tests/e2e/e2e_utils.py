"""Shared helpers for the Kiln end-to-end suite (imported by conftest.py and the test modules)."""

from __future__ import annotations

import http.client
import json
import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

# Which server is under test: "kiln" (default) or "mlflow" (the reference implementation,
# used to validate the suite itself).
SERVER = os.environ.get("KILN_E2E_SERVER", "kiln").strip().lower()
if SERVER not in ("kiln", "mlflow"):
    raise RuntimeError(f"KILN_E2E_SERVER must be 'kiln' or 'mlflow', got {SERVER!r}")

IS_MLFLOW = SERVER == "mlflow"


def unique(prefix: str) -> str:
    """A name that is unique across tests, backends and repeated runs against one server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def only_for_kiln(reason: str) -> None:
    """Skip the current check when the reference server is MLflow.

    Used only where MLflow itself answers a client mistake with a 5xx (or similar defect),
    which Kiln must not copy. ``reason`` names MLflow's behaviour.
    """
    if IS_MLFLOW:
        pytest.skip(f"not asserted against mlflow server: {reason}")


@contextmanager
def raises_mlflow(error_code: str):
    """Expect an ``MlflowException`` carrying ``error_code`` (e.g. "RESOURCE_DOES_NOT_EXIST")."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as excinfo:
        yield excinfo
    assert excinfo.value.error_code == error_code, (
        f"expected error_code {error_code}, got {excinfo.value.error_code}: {excinfo.value}"
    )


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status_code = status
        self.headers = headers
        self.content = body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)

    def error_code(self):
        """The ``error_code`` of a JSON error body, or None when the body is not such JSON."""
        try:
            body = self.json()
        except ValueError:
            return None
        return body.get("error_code") if isinstance(body, dict) else None

    def __repr__(self) -> str:
        return f"<RawResponse {self.status_code} {self.text[:300]!r}>"


def raw_request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> RawResponse:
    """Send ``path`` exactly as given (no dot-segment normalisation, no re-quoting).

    ``requests``/``urllib3`` normalise ``/a/../b`` to ``/b`` before sending, which would hide
    path-traversal attempts from the server, so traversal tests use ``http.client`` directly.
    """
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()
