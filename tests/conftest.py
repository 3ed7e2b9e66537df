"""Shared fixtures: one real Chroma store with the demo corpus ingested by the real bundled model, per session."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from assistant.pipeline import Assistant
from assistant.settings import Settings

from .pg_server import PgServer, available, start_postgres

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
SEED_QUESTION = "Какие документы были подписаны во время визита?"
SEED_QUOTE = "были подписаны ряд документов"
SEED_DATE = "2025-10-27"

E = TypeVar("E")

# Tests on the session's demo store (the demo corpus ingested by the real model) are slow: ``pytest -m "not slow"``
# leaves them out. Tests that start servers or a browser carry ``e2e``; both are marked here, not test by test.
SLOW_FIXTURES = frozenset({"assistant"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that uses the ingested demo store or is marked ``e2e``."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)


def cache_dir() -> Path:
    """Where the converted model is cached between test runs (ASSISTANT_CACHE_DIR, else the user cache)."""
    return Path(os.environ.get("ASSISTANT_CACHE_DIR") or Path.home() / ".cache" / "news-assistant")


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own data dir, the shared model cache, nothing else from the user's setup."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "cache_dir": cache_dir(),
        "embeddings": os.environ.get("ASSISTANT_EMBEDDINGS", "e5-small"),
        "llm": "",
        "chroma_url": "",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def embedder_claiming(embedder: E, model_id: str) -> E:
    """The same embedder (same weights), claiming to be another model: what a store built by it must refuse."""
    other = type("OtherModel", (type(embedder),), {"model_id": model_id})
    claimed = other.__new__(other)
    claimed.__dict__.update(embedder.__dict__)
    return claimed


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the shared demo store."""
    return make_settings(tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def assistant(settings: Settings) -> Iterator[Assistant]:
    """The assistant with the demo corpus ingested (once per session). Tests must not delete from it."""
    helper = Assistant(settings)
    report = helper.ingest([CORPUS])
    assert not report.failed, report.failed
    yield helper
    helper.close()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder (evaluation data); tests that need it skip with a reason when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: evaluation data lives beside the repository only in the project workspace")
    return SHARED


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A real PostgreSQL (Debian's postgresql-15) on loopback, started once per session in a temp folder."""
    why = available()
    if why:
        pytest.skip(why)
    server = start_postgres(free_port())
    yield server
    server.stop()


_databases = itertools.count(1)


def fresh_database(server: PgServer) -> str:
    """A new empty database in the session's cluster; its URL."""
    return server.create_db(f"t{os.getpid()}_{next(_databases)}")


BACKENDS = ["embedded", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of an empty store in each backend: SQLite files in a temp dir, or a fresh PostgreSQL database."""
    url = fresh_database(request.getfixturevalue("pg")) if request.param == "postgresql" else ""
    return make_settings(tmp_path / "data", database_url=url)
