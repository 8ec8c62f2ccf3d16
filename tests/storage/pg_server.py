"""A real PostgreSQL server for the tests, started from Debian's packages into a temp folder.

Why real: upserts, transactions, pooled connections and several writers at once are exactly
what a mock would get wrong. One server per pytest session (shared by tests/storage and
tests/executors through `shared_server`), one fresh database per test. As root, `initdb` and
`postgres` refuse to run, so they run as the ``postgres`` user (`runuser`); otherwise as the
current user. Tests skip, saying why, only when the binaries are absent.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

_SERVER: PostgresServer | None = None
_FAILED: str | None = None


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` holding initdb and pg_ctl (or $EVOFORGE_PG_BINDIR)."""
    env = os.environ.get("EVOFORGE_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                          key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for d in reversed(candidates):
        if d and (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start on 127.0.0.1:PORT (trust auth, no fsync: a throwaway test server)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="evoforge-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "evoforge"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root, but runuser is missing to drop to the postgres user")
            shutil.chown(self.root, "postgres", "postgres")
            self._prefix = [runuser, "-u", "postgres", "--"]

    def _run(self, *argv: str, timeout: float = 120) -> None:
        cmd = [*self._prefix, *argv]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")

    def start(self) -> PostgresServer:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        opts = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")
        return self

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def shared_server(config: pytest.Config) -> PostgresServer:
    """The session's one server, started on first use and stopped when pytest ends.
    Skips the calling test when PostgreSQL or psycopg is absent; fails if it will not start."""
    global _SERVER, _FAILED
    if _SERVER is not None:
        return _SERVER
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                    "(apt-get install postgresql, or set EVOFORGE_PG_BINDIR)")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'evoforge[postgres]'")
    pytest.importorskip("sqlalchemy", reason="sqlalchemy is not installed: pip install 'evoforge[postgres]'")
    if _FAILED:
        pytest.fail(_FAILED)
    server = PostgresServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        log = server.root / "server.log"
        _FAILED = f"could not start PostgreSQL from {bindir}: {exc}" + (
            f"\n{log.read_text(errors='replace')[-2000:]}" if log.is_file() else "")
        server.stop()
        pytest.fail(_FAILED)
    _SERVER = server
    config.add_cleanup(_stop)
    return server


def _stop() -> None:
    global _SERVER
    if _SERVER is not None:
        _SERVER.stop()
        _SERVER = None


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> PostgresServer:
    """A running PostgreSQL server for the whole session."""
    return shared_server(request.config)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a fresh, empty database on the session's server (one per test)."""
    return postgres_server.create_database()
