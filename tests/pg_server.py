"""A throw-away PostgreSQL cluster (Debian's postgresql-15) and a ``chroma run`` server on loopback, for tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def _pg_bin() -> Path:
    """Debian's newest installed PostgreSQL (``PG_BIN`` overrides)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return Path(os.environ.get("PG_BIN") or (found[-1].parent if found else "/usr/lib/postgresql/15/bin"))


PG_BIN = _pg_bin()


def as_postgres(args: list[str]) -> list[str]:
    """The command as the ``postgres`` user when run as root (initdb refuses root), else as is."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PgServer:
    """A cluster in its own folder, listening on 127.0.0.1 only; ``stop`` removes everything."""

    root: Path
    port: int

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database."""
        return self.url_of("postgres")

    def url_of(self, db: str) -> str:
        """The URL of a database in the cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_db(self, name: str) -> str:
        """A fresh database; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                                    "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def available() -> str:
    """Why PostgreSQL cannot be started here ('' when it can)."""
    if not (PG_BIN / "initdb").exists():
        return f"{PG_BIN}/initdb is absent: apt-get install postgresql (scripts/test does)"
    return ""


def start_postgres(port: int) -> PgServer:
    """initdb (trust auth, C locale) and start a server on 127.0.0.1:port; its socket and log stay in its folder."""
    root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    os.chmod(root, 0o755)
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                "--locale=C", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                                "-t", "120", "start"]), check=True, capture_output=True, timeout=180)
    return PgServer(root, port)


@dataclass
class ChromaServer:
    """``chroma run`` on loopback."""

    proc: subprocess.Popen[bytes]
    root: Path
    port: int

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop it and remove its folder."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_chroma(port: int, timeout: float = 120) -> ChromaServer:
    """A Chroma server with its data in a temp folder; waits for its heartbeat (a hang guard, not a timing)."""
    root = Path(tempfile.mkdtemp(prefix="assistant-chroma-"))
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(root), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                return ChromaServer(proc, root, port)
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma run did not answer its heartbeat")


def free_port_pair() -> tuple[int, int]:
    """Two free TCP ports on 127.0.0.1."""
    import socket

    with socket.socket() as one, socket.socket() as two:
        one.bind(("127.0.0.1", 0))
        two.bind(("127.0.0.1", 0))
        return int(one.getsockname()[1]), int(two.getsockname()[1])
