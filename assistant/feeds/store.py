"""Where feeds, their validators, last results and seen items live: a small interface, SQLite or PostgreSQL behind it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '',
    every_s INTEGER NOT NULL, etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
    last_poll REAL NOT NULL DEFAULT 0, next_due REAL NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
    last_result TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '', added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_items (
    url TEXT PRIMARY KEY, feed_id INTEGER NOT NULL, doc_id TEXT NOT NULL DEFAULT '', status TEXT NOT NULL,
    seen_at REAL NOT NULL
);
"""
FIELDS = ("id", "url", "name", "every_s", "etag", "last_modified", "last_poll", "next_due", "failures",
          "last_result", "last_error", "added_at")


@dataclass(frozen=True)
class Feed:
    """A followed feed and how its last poll went."""

    id: int
    url: str
    name: str
    every_s: int
    etag: str = ""
    last_modified: str = ""
    last_poll: float = 0.0
    next_due: float = 0.0
    failures: int = 0  # polls failed in a row (the wait before the next doubles with each)
    last_result: str = ""
    last_error: str = ""
    added_at: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (``feeds list --json``, the API)."""
        return {k: getattr(self, k) for k in FIELDS}


class FeedStore(Protocol):
    """What the poller needs from a store of feeds (SQLite here; PostgreSQL in ``backends/postgres_following.py``)."""

    def add(self, url: str, name: str, every_s: int) -> Feed: ...
    def remove(self, ref: str) -> Feed | None: ...
    def all(self) -> list[Feed]: ...
    def get(self, ref: str) -> Feed | None: ...
    def due(self, now: float) -> list[Feed]: ...
    def record_poll(self, feed_id: int, *, ok: bool, result: str, error: str, etag: str, last_modified: str,
                    next_due: float, now: float) -> None: ...
    def seen(self, url: str) -> str | None: ...
    def mark_seen(self, url: str, feed_id: int, doc_id: str, status: str) -> None: ...
    def claim(self, feed_id: int) -> AbstractContextManager[bool]:
        """Hold this feed for one poll: False while another process (replica, worker) polls it."""
    def close(self) -> None: ...


class SqliteFeedStore:
    """Feeds and seen item URLs in ``feeds.sqlite`` in the data dir."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.executescript(SCHEMA)

    def add(self, url: str, name: str, every_s: int) -> Feed:
        """Follow a feed (a URL already followed keeps its history; name and interval are updated)."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO feeds (url, name, every_s, added_at) VALUES (?, ?, ?, ?) ON CONFLICT(url) DO UPDATE "
                "SET name = excluded.name, every_s = excluded.every_s", (url, name, every_s, time.time()))
        feed = self.get(url)
        assert feed is not None
        return feed

    def remove(self, ref: str) -> Feed | None:
        """Stop following a feed (by id, URL or name); its stored articles stay."""
        feed = self.get(ref)
        if feed is not None:
            with self._lock, self._conn:
                self._conn.execute("DELETE FROM feeds WHERE id = ?", (feed.id,))
        return feed

    def _select(self, where: str = "", params: tuple[object, ...] = ()) -> list[Feed]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(FIELDS)} FROM feeds {where} ORDER BY id", params).fetchall()
        return [Feed(*row) for row in rows]

    def all(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        return self._select()

    def get(self, ref: str) -> Feed | None:
        """A feed by its id, URL or name."""
        found = self._select("WHERE CAST(id AS TEXT) = ? OR url = ? OR (name != '' AND name = ?)", (ref, ref, ref))
        return found[0] if found else None

    def due(self, now: float) -> list[Feed]:
        """Feeds whose next poll is due."""
        return self._select("WHERE next_due <= ?", (now,))

    def record_poll(self, feed_id: int, *, ok: bool, result: str, error: str, etag: str, last_modified: str,
                    next_due: float, now: float) -> None:
        """Store a poll's outcome (a failure counts towards the backoff; a success resets it)."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE feeds SET last_poll = ?, next_due = ?, last_result = ?, last_error = ?, "
                "failures = CASE WHEN ? THEN 0 ELSE failures + 1 END, "
                "etag = CASE WHEN ? THEN ? ELSE etag END, last_modified = CASE WHEN ? THEN ? ELSE last_modified END "
                "WHERE id = ?", (now, next_due, result, error, ok, ok, etag, ok, last_modified, feed_id))

    def seen(self, url: str) -> str | None:
        """The status an item URL was last handled with (added, stored, gone, …), or None when new."""
        with self._lock:
            row = self._conn.execute("SELECT status FROM feed_items WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def mark_seen(self, url: str, feed_id: int, doc_id: str, status: str) -> None:
        """Remember an item URL as handled."""
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO feed_items (url, feed_id, doc_id, status, seen_at) "
                               "VALUES (?, ?, ?, ?, ?)", (url, feed_id, doc_id, status, time.time()))

    @contextmanager
    def claim(self, feed_id: int) -> Iterator[bool]:
        """Always ours: a data dir belongs to one process (the poller's own lock keeps its polls apart)."""
        yield True

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def make_feed_store(settings: Settings) -> FeedStore:
    """The feed store where ``ASSISTANT_DATABASE_URL`` puts every store (``embedded``: ``feeds.sqlite`` in the data
    dir; ``postgresql``: the shared database), through the backends' factory."""
    from ..backends import following_backend

    store: FeedStore = following_backend(settings).open_feed_store(settings)
    return store
