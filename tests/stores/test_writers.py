"""Writers on several processes (and machines): each marks its own write, so a writer that dies mid-write is seen
however the others finish, and the next ingest (or ``assistant check --repair``) repairs what it left, in both
backends (marker files and a file lock; rows and advisory locks in PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import backends
from assistant.settings import Settings

from ..conftest import CORPUS, cache_dir

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

SEED_FILE = "000_348cd98c955992e8.txt"
HANG_GUARD = 120.0

# A writer that marks a write, stores chunk vectors of an article the article store never gets (what a SIGKILL between
# the Chroma write and the article store's leaves), says so, and waits to be told to die.
HALF_WRITER = """
import os, signal, sys
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Article, Chunk
helper = Assistant(Settings())
helper.marker.set()
ghost = Article("ghost", "Призрак", "Статья, которую никто не сохранил.", None, "test")
helper.vectors.add_many([(ghost, [Chunk("ghost", 0, 0, 34, ghost.text)])])
print("written", flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)
"""

GUARD_ONLY = """
import os, signal, sys
from assistant import backends
from assistant.settings import Settings
guard = backends.open_write_guard(Settings())
guard.set()
print("set", flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)
"""


def env_of(settings: Settings) -> dict[str, str]:
    """The environment of a process using these settings' stores."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_DATA_DIR=str(settings.data_dir), ASSISTANT_CACHE_DIR=str(cache_dir()),
               ASSISTANT_DATABASE_URL=settings.database_url.get_secret_value(), PYTHONPATH=str(Path.cwd()))
    return env


def start(code: str, settings: Settings, ready: str) -> subprocess.Popen[str]:
    """A Python process running ``code``, once it has printed ``ready``."""
    proc = subprocess.Popen([sys.executable, "-c", code], env=env_of(settings), text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == ready, (line, proc.stderr.read() if proc.stderr else "")
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    """Let the process SIGKILL itself, and reap it."""
    assert proc.stdin is not None
    proc.stdin.write("die\n")
    proc.stdin.flush()
    assert proc.wait(timeout=HANG_GUARD) == -signal.SIGKILL


def until(condition: object, what: str) -> None:
    """Wait for a condition another process brings about (a hang guard, not a timing)."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess on these settings' stores."""
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env_of(settings), capture_output=True,
                          text=True, timeout=600)


def test_a_dead_writers_mark_outlives_another_writers_end(backend_settings: Settings) -> None:
    guard = backends.open_write_guard(backend_settings)
    other = start(GUARD_ONLY, backend_settings, "set")
    guard.set()  # two writers at once
    with guard.repairing() as alone:
        assert not alone  # a repair never runs under a live writer
    guard.clear()
    assert not guard.crashed()  # the other writer is alive: its write is under way, not crashed
    with guard.repairing() as alone:
        assert not alone
    kill(other)
    until(guard.crashed, "the killed writer's mark was not seen as crashed")
    with guard.repairing() as alone:
        assert alone
        guard.forget_crashed()
    assert not guard.crashed()


def test_concurrent_ingests_keep_crash_detection(backend_settings: Settings, tmp_path: Path) -> None:
    """A writer killed mid-write while another ingest runs and ends: the next ingest still repairs."""
    first = cli(["ingest", str(CORPUS / SEED_FILE)], backend_settings)
    assert first.returncode == 0, first.stderr
    half = start(HALF_WRITER, backend_settings, "written")
    (tmp_path / "one.txt").write_text("Первая статья о погоде в Омске.", encoding="utf-8")
    during = cli(["ingest", str(tmp_path / "one.txt")], backend_settings)  # ends while the other writer is mid-write
    assert during.returncode == 0, during.stderr
    kill(half)
    broken = cli(["check"], backend_settings)
    assert broken.returncode == 1 and "1 orphan" in broken.stdout, broken.stdout + broken.stderr
    (tmp_path / "two.txt").write_text("Вторая статья о снеге в Новосибирске.", encoding="utf-8")
    after = cli(["ingest", str(tmp_path / "two.txt")], backend_settings)
    assert after.returncode == 0, after.stderr
    fine = cli(["check"], backend_settings)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "article store: 3 articles" in fine.stdout


def test_check_repair_after_a_killed_worker(backend_settings: Settings) -> None:
    half = start(HALF_WRITER, backend_settings, "written")
    deferred = cli(["check", "--repair"], backend_settings)  # the writer is alive: its half write is not a crash's
    assert "another writer is active" in deferred.stdout, deferred.stdout + deferred.stderr
    kill(half)
    repaired = cli(["check", "--repair"], backend_settings)
    assert repaired.returncode == 0 and "1 removed" in repaired.stdout, repaired.stdout + repaired.stderr
    assert cli(["check"], backend_settings).returncode == 0


@pytest.fixture(autouse=True)
def _no_stray_markers(backend_settings: Settings) -> None:
    """Each test starts from an empty data dir (and database)."""
    assert not list(backend_settings.data_dir.glob("ingest.*.pending"))
