"""Fixtures for the Kiln end-to-end compatibility suite.

The unmodified MLflow Python client talks to a real server process:

* ``KILN_E2E_SERVER`` = ``kiln`` (default) or ``mlflow`` (the reference ``mlflow server``,
  used to validate the suite itself).
* ``KILN_BIN``: the kiln binary (default ``target/debug/kiln`` under the repository root).
* ``KILN_E2E_BACKENDS``: comma-separated subset of ``sqlite,postgres`` (default: both).
* PostgreSQL is expected at 127.0.0.1:5432 (user ``postgres``, maintenance database ``test``).
  When it is absent the postgres tests are skipped, or fail when ``CI=true``.

One server is started per backend per session, on a free port, with a fresh store and a
fresh artifacts folder. Tests use unique experiment / model names so they can share it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# --- client environment -------------------------------------------------------------------
# These must be in place before the MLflow client builds its (cached) HTTP session.
# No retries: a 5xx must fail the test at once instead of retrying with back-off for minutes.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = os.environ.get("KILN_E2E_HTTP_TIMEOUT", "30")
os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
for _var in (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
    "MLFLOW_ACTIVE_MODEL_ID",
    "_MLFLOW_ACTIVE_MODEL_ID",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
):
    os.environ.pop(_var, None)

# Keep failure reports readable: no per-test INFO chatter ("View run ...", "Active model is
# cleared") from the client.
logging.getLogger("mlflow").setLevel(logging.WARNING)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_utils import SERVER  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_HOST = "127.0.0.1"
PG_PORT = 5432
STARTUP_TIMEOUT_S = float(os.environ.get("KILN_E2E_STARTUP_TIMEOUT", "60"))
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

_ALL_BACKENDS = ("sqlite", "postgres")
BACKENDS = [
    b.strip().lower()
    for b in os.environ.get("KILN_E2E_BACKENDS", ",".join(_ALL_BACKENDS)).split(",")
    if b.strip()
]
for _b in BACKENDS:
    if _b not in _ALL_BACKENDS:
        raise RuntimeError(f"KILN_E2E_BACKENDS: unknown backend {_b!r} (use sqlite,postgres)")

# The server currently in use, for the failure-report hook below.
_CURRENT_SERVER: "ServerHandle | None" = None
_SKIPPED_BACKENDS: dict[str, str] = {}


# --- helpers -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=3):
            return True
    except OSError:
        return False


def _psql(sql: str, check: bool = True) -> subprocess.CompletedProcess:
    psql = shutil.which("psql")
    if psql is None:
        raise RuntimeError("the `psql` command-line tool is needed for the postgres backend")
    return subprocess.run(
        [psql, "-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", "-d", "test",
         "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def _sqlalchemy_pg_scheme() -> str | None:
    """The SQLAlchemy URI scheme for an installed PostgreSQL driver, if any."""
    import importlib.util

    if importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2"
    if importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg"
    return None


def _tail(path: Path, lines: int = 80) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<could not read server log {path}: {e}>"
    return "\n".join(text.splitlines()[-lines:])


def _stop_process(proc: subprocess.Popen) -> None:
    """Stop the server and anything it spawned (its own process group, by id)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=15)


def reset_mlflow_state() -> None:
    """Forget the MLflow client's fluent state: active runs, experiment, logged/active model."""
    import mlflow
    from mlflow.tracking import fluent

    for _ in range(20):
        if mlflow.active_run() is None:
            break
        try:
            mlflow.end_run()
        except Exception:
            fluent._active_run_stack.set([])
    fluent._active_run_stack.set([])
    fluent._active_experiment_id = None
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(var, None)
    try:
        fluent._last_active_run_id.set(None)
        fluent._reset_last_logged_model_id()
        mlflow.clear_active_model()
    except Exception:
        pass


@dataclass
class ServerHandle:
    kind: str  # "kiln" | "mlflow"
    backend: str  # "sqlite" | "postgres"
    url: str
    base_dir: Path  # everything this server may touch lives below here
    artifacts_dir: Path
    store_uri: str
    log_path: Path
    proc: subprocess.Popen

    def log_tail(self, lines: int = 80) -> str:
        return _tail(self.log_path, lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def activate(self) -> None:
        """Point the MLflow client at this server with a clean fluent state."""
        import mlflow

        os.environ["MLFLOW_TRACKING_URI"] = self.url
        mlflow.set_tracking_uri(self.url)
        mlflow.set_registry_uri(self.url)
        reset_mlflow_state()


def _server_command(kind: str, port: int, store_uri: str, artifacts_dir: Path) -> list[str]:
    common = [
        "--host", "127.0.0.1",
        "--port", str(port),
        "--backend-store-uri", store_uri,
        "--artifacts-destination", str(artifacts_dir),
    ]
    if kind == "kiln":
        binary = Path(os.environ.get("KILN_BIN", "target/debug/kiln"))
        if not binary.is_absolute():
            binary = REPO_ROOT / binary
        if not binary.exists():
            pytest.fail(
                f"kiln binary not found at {binary}: build it (cargo build -p kiln) or set "
                "KILN_BIN; or set KILN_E2E_SERVER=mlflow to run the suite against mlflow server",
                pytrace=False,
            )
        return [str(binary), "server", *common]
    # The reference server from the same environment as this interpreter. In MLflow 3.x
    # `--serve-artifacts` is the default, so artifacts are proxied (mlflow-artifacts:/ root)
    # to --artifacts-destination, like kiln does. One worker: starts faster on small machines.
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    return [str(mlflow_bin), "server", *common, "--serve-artifacts", "--workers", "1"]


def _start_server(kind: str, backend: str, base_dir: Path, store_uri: str) -> ServerHandle:
    artifacts_dir = base_dir / "root" / "artifacts"
    artifacts_dir.mkdir(parents=True)
    workdir = base_dir / "cwd"
    workdir.mkdir()
    env = dict(os.environ)
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(var, None)
    env.setdefault("RUST_BACKTRACE", "1")

    last_error = ""
    for attempt in range(3):
        port = _free_port()
        log_path = base_dir / f"server-{attempt}.log"
        cmd = _server_command(kind, port, store_uri, artifacts_dir)
        with open(log_path, "wb") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            proc = subprocess.Popen(
                cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        handle = ServerHandle(kind, backend, url, base_dir, artifacts_dir, store_uri, log_path, proc)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    return handle
            except requests.RequestException:
                pass
            time.sleep(0.25)
        _stop_process(proc)
        last_error = (
            f"{kind} server ({backend}) did not answer GET /health within "
            f"{STARTUP_TIMEOUT_S:.0f}s (exit code {proc.returncode}); log tail:\n"
            + handle.log_tail()
        )
        if "address already in use" not in handle.log_tail().lower():
            break  # not a port race: retrying will not help
    pytest.fail(last_error, pytrace=False)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def server(request, tmp_path_factory):
    """A running server (kiln or mlflow) on a fresh store; yields a ServerHandle."""
    global _CURRENT_SERVER
    backend = request.param
    base_dir = tmp_path_factory.mktemp(f"{SERVER}-{backend}-")
    db_name = None

    if backend == "sqlite":
        store_uri = f"sqlite:///{base_dir / 'store.db'}"
    else:
        if not _postgres_reachable():
            msg = (
                f"PostgreSQL at {PG_HOST}:{PG_PORT} is absent: postgres-backend tests "
                + ("FAIL because CI=true" if IN_CI else "are SKIPPED")
                + " (start PostgreSQL, or set KILN_E2E_BACKENDS=sqlite)"
            )
            if IN_CI:
                pytest.fail(msg, pytrace=False)
            _SKIPPED_BACKENDS["postgres"] = msg
            sys.stderr.write(f"\n!!!!! {msg} !!!!!\n")
            pytest.skip(msg)
        scheme = "postgresql"
        if SERVER == "mlflow":
            # mlflow server goes through SQLAlchemy, which needs a driver (kiln does not).
            scheme = _sqlalchemy_pg_scheme()
            if scheme is None:
                msg = ("mlflow server on PostgreSQL needs psycopg2 or psycopg, neither is "
                       "installed (pip install psycopg2-binary, or set KILN_E2E_BACKENDS=sqlite)")
                _SKIPPED_BACKENDS["postgres"] = msg
                pytest.skip(msg)
        db_name = f"kiln_e2e_{uuid.uuid4().hex[:12]}"
        try:
            _psql(f"CREATE DATABASE {db_name}")
        except (subprocess.CalledProcessError, RuntimeError, subprocess.TimeoutExpired) as e:
            detail = getattr(e, "stderr", "") or str(e)
            pytest.fail(f"could not create PostgreSQL database {db_name}: {detail}", pytrace=False)
        store_uri = f"{scheme}://postgres@{PG_HOST}:{PG_PORT}/{db_name}"

    handle = None
    try:
        handle = _start_server(SERVER, backend, base_dir, store_uri)
        _CURRENT_SERVER = handle
        handle.activate()
        yield handle
    finally:
        _CURRENT_SERVER = None
        died = handle is not None and not handle.alive()
        if handle is not None:
            _stop_process(handle.proc)
        if db_name is not None:
            _psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)", check=False)
        if died:
            sys.stderr.write(
                f"\n{SERVER} server ({backend}) exited during the session "
                f"(code {handle.proc.returncode}); log tail:\n{handle.log_tail()}\n"
            )
        os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True)
def _mlflow_client(server):
    """Every test: client pointed at the server, no leftover active run / experiment."""
    server.activate()
    yield server
    reset_mlflow_state()


@pytest.fixture
def client(server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)


# --- reporting -----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _CURRENT_SERVER is not None:
        srv = _CURRENT_SERVER
        state = "running" if srv.alive() else f"EXITED with code {srv.proc.returncode}"
        report.sections.append(
            (f"{srv.kind} server log tail ({srv.backend}, {state}, {srv.log_path})",
             srv.log_tail(60))
        )
    return report


def pytest_report_header(config):
    return [f"kiln e2e: server={SERVER} backends={','.join(BACKENDS)} ci={IN_CI}"]


def pytest_terminal_summary(terminalreporter):
    for backend, msg in _SKIPPED_BACKENDS.items():
        terminalreporter.write_sep("!", f"{backend} backend not tested", red=True, bold=True)
        terminalreporter.write_line(msg, red=True, bold=True)
