"""Feeds and standing questions in PostgreSQL: the same interfaces as their SQLite files, shared by every replica.

The tables are versioned on their own (``following_schema``) by the stores' migration helper, and created or upgraded
by the first process that opens them. Several replicas may poll and check at once: a feed is polled under a
transaction-level advisory lock taken without waiting (a replica that finds it taken skips the feed), a watch is
asked under one that waits, and ``watch_seen``'s primary key (watch, article) decides which runner may notify.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..feeds.store import FIELDS, Feed
from ..watches import Watch, WatchHit
from .postgres import Database, connect_error, database, ensure_schema

if TYPE_CHECKING:
    from ..settings import Settings

FEED_LOCK_NS = 0x66656564  # advisory-lock namespaces ("feed", "wtch"): (NS, feed id) one poll, (NS, watch id) one ask
WATCH_LOCK_NS = 0x77746368
SCHEMA_V1 = """
CREATE TABLE feeds (
    id bigserial PRIMARY KEY, url text NOT NULL UNIQUE, name text NOT NULL DEFAULT '', every_s integer NOT NULL,
    etag text NOT NULL DEFAULT '', last_modified text NOT NULL DEFAULT '',
    last_poll double precision NOT NULL DEFAULT 0, next_due double precision NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0, last_result text NOT NULL DEFAULT '', last_error text NOT NULL DEFAULT '',
    added_at double precision NOT NULL
);
CREATE TABLE feed_items (
    url text PRIMARY KEY, feed_id bigint NOT NULL, doc_id text NOT NULL DEFAULT '', status text NOT NULL,
    seen_at double precision NOT NULL
);
CREATE TABLE watches (
    id bigserial PRIMARY KEY, question text NOT NULL, channel text NOT NULL DEFAULT 'cli',
    target text NOT NULL DEFAULT '', paused boolean NOT NULL DEFAULT false, created_at double precision NOT NULL
);
CREATE TABLE watch_hits (
    id bigserial PRIMARY KEY, watch_id bigint NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
    doc_ids json NOT NULL, answer json NOT NULL, delivery text NOT NULL DEFAULT '',
    created_at double precision NOT NULL
);
CREATE INDEX watch_hits_watch ON watch_hits (watch_id);
CREATE TABLE watch_seen (
    watch_id bigint NOT NULL REFERENCES watches (id) ON DELETE CASCADE, doc_id text NOT NULL,
    PRIMARY KEY (watch_id, doc_id)
);
"""
MIGRATIONS = {1: SCHEMA_V1}  # version -> the SQL that upgrades the version before it to this one
_ready: set[str] = set()
_ready_lock = threading.Lock()


def following_database(settings: Settings) -> Database:
    """The process's pool for the configured database, with the feed and watch tables made sure of."""
    import psycopg

    db = database(settings)
    with _ready_lock:
        if db.url not in _ready:
            try:
                with psycopg.connect(db.url, connect_timeout=10, autocommit=True) as conn:
                    ensure_schema(conn, db.url, MIGRATIONS, "following_schema")
            except psycopg.OperationalError as exc:
                raise connect_error(db.url, exc) from None
            _ready.add(db.url)
    return db


class PgFeedStore:
    """Feeds and the item URLs handled, in PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, url: str, name: str, every_s: int) -> Feed:
        """Follow a feed (a URL already followed keeps its history; name and interval are updated)."""
        with self.db.tx() as conn:
            conn.execute("INSERT INTO feeds (url, name, every_s, added_at) VALUES (%s, %s, %s, %s) ON CONFLICT (url) "
                         "DO UPDATE SET name = excluded.name, every_s = excluded.every_s",
                         (url, name, every_s, time.time()))
        feed = self.get(url)
        assert feed is not None
        return feed

    def remove(self, ref: str) -> Feed | None:
        """Stop following a feed (by id, URL or name); its stored articles stay."""
        feed = self.get(ref)
        if feed is not None:
            with self.db.tx() as conn:
                conn.execute("DELETE FROM feeds WHERE id = %s", (feed.id,))
        return feed

    def _select(self, where: str = "", params: tuple[object, ...] = ()) -> list[Feed]:
        with self.db.tx() as conn:
            rows = conn.execute(f"SELECT {', '.join(FIELDS)} FROM feeds {where} ORDER BY id", params).fetchall()
        return [Feed(*row) for row in rows]

    def all(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        return self._select()

    def get(self, ref: str) -> Feed | None:
        """A feed by its id, URL or name."""
        found = self._select("WHERE id::text = %s OR url = %s OR (name <> '' AND name = %s)", (ref, ref, ref))
        return found[0] if found else None

    def due(self, now: float) -> list[Feed]:
        """Feeds whose next poll is due."""
        return self._select("WHERE next_due <= %s", (now,))

    def record_poll(self, feed_id: int, *, ok: bool, result: str, error: str, etag: str, last_modified: str,
                    next_due: float, now: float) -> None:
        """Store a poll's outcome (a failure counts towards the backoff; a success resets it)."""
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE feeds SET last_poll = %s, next_due = %s, last_result = %s, last_error = %s, "
                "failures = CASE WHEN %s THEN 0 ELSE failures + 1 END, "
                "etag = CASE WHEN %s THEN %s ELSE etag END, "
                "last_modified = CASE WHEN %s THEN %s ELSE last_modified END WHERE id = %s",
                (now, next_due, result, error, ok, ok, etag, ok, last_modified, feed_id))

    def seen(self, url: str) -> str | None:
        """The status an item URL was last handled with (added, stored, gone, …), or None when new."""
        with self.db.tx() as conn:
            row = conn.execute("SELECT status FROM feed_items WHERE url = %s", (url,)).fetchone()
        return str(row[0]) if row else None

    def mark_seen(self, url: str, feed_id: int, doc_id: str, status: str) -> None:
        """Remember an item URL as handled."""
        with self.db.tx() as conn:
            conn.execute("INSERT INTO feed_items (url, feed_id, doc_id, status, seen_at) VALUES (%s, %s, %s, %s, %s) "
                         "ON CONFLICT (url) DO UPDATE SET feed_id = excluded.feed_id, doc_id = excluded.doc_id, "
                         "status = excluded.status, seen_at = excluded.seen_at",
                         (url, feed_id, doc_id, status, time.time()))

    @contextmanager
    def claim(self, feed_id: int) -> Iterator[bool]:
        """Hold this feed for one poll (an advisory lock, released when the block ends): False, without waiting,
        while another process holds it."""
        with self.db.tx() as conn:
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (FEED_LOCK_NS, feed_id)).fetchone()
            yield bool(row and row[0])

    def close(self) -> None:
        """Nothing to close per store (the pool is the process's)."""


class PgWatchStore:
    """Watches, their answers and the articles each has been asked over, in PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, question: str, channel: str = "cli", target: str = "") -> Watch:
        """Save a standing question."""
        if not question.strip():
            raise ValueError("the question is empty: a watch needs a question, e.g. «Что нового о переговорах?»")
        with self.db.tx() as conn:
            row = conn.execute("INSERT INTO watches (question, channel, target, created_at) VALUES (%s, %s, %s, %s) "
                               "RETURNING id", (question.strip(), channel, target, time.time())).fetchone()
        watch = self.get(int(row[0]) if row else 0)
        assert watch is not None
        return watch

    def _select(self, where: str = "", params: tuple[object, ...] = ()) -> list[Watch]:
        with self.db.tx() as conn:
            rows = conn.execute("SELECT id, question, channel, target, paused, created_at FROM watches "
                                f"{where} ORDER BY id", params).fetchall()
        return [Watch(int(r[0]), r[1], r[2], r[3], bool(r[4]), float(r[5])) for r in rows]

    def get(self, watch_id: int) -> Watch | None:
        """A watch by id."""
        found = self._select("WHERE id = %s", (watch_id,))
        return found[0] if found else None

    def all(self) -> list[Watch]:
        """Every watch, oldest first."""
        return self._select()

    def set_paused(self, watch_id: int, paused: bool) -> Watch | None:
        """Pause or resume a watch."""
        with self.db.tx() as conn:
            conn.execute("UPDATE watches SET paused = %s WHERE id = %s", (paused, watch_id))
        return self.get(watch_id)

    def remove(self, watch_id: int) -> Watch | None:
        """Delete a watch and its history."""
        watch = self.get(watch_id)
        with self.db.tx() as conn:
            conn.execute("DELETE FROM watches WHERE id = %s", (watch_id,))
        return watch

    def seen(self, watch_id: int, doc_ids: Sequence[str]) -> set[str]:
        """Which of these articles the watch has already been asked over."""
        with self.db.tx() as conn:
            rows = conn.execute("SELECT doc_id FROM watch_seen WHERE watch_id = %s AND doc_id = ANY(%s)",
                                (watch_id, list(doc_ids))).fetchall()
        return {str(r[0]) for r in rows}

    def add_hit(self, watch_id: int, doc_ids: Sequence[str], answer: dict[str, Any], checked: Sequence[str]) -> int:
        """Mark articles as asked over and, when ``doc_ids`` is not empty, store a new answer; returns its id (or 0).
        Only the articles this call is the first to mark (``watch_seen``'s key) can make a new answer."""
        from psycopg.errors import ForeignKeyViolation
        from psycopg.types.json import Json

        try:
            with self.db.tx() as conn:
                rows = conn.execute("INSERT INTO watch_seen (watch_id, doc_id) SELECT %s, d FROM "
                                    "unnest(%s::text[]) AS d ON CONFLICT DO NOTHING RETURNING doc_id",
                                    (watch_id, list(dict.fromkeys(checked)))).fetchall()
                kept = [d for d in doc_ids if d in {str(r[0]) for r in rows}]
                if not kept:
                    return 0
                row = conn.execute("INSERT INTO watch_hits (watch_id, doc_ids, answer, created_at) "
                                   "VALUES (%s, %s, %s, %s) RETURNING id",
                                   (watch_id, Json(kept), Json(answer), time.time())).fetchone()
        except ForeignKeyViolation:  # the watch was removed (on any machine) while it was being asked
            return 0
        return int(row[0]) if row else 0

    def set_delivery(self, hit_id: int, delivery: str) -> None:
        """Record how a notification went."""
        with self.db.tx() as conn:
            conn.execute("UPDATE watch_hits SET delivery = %s WHERE id = %s", (delivery, hit_id))

    def hits(self, watch_id: int | None = None) -> list[WatchHit]:
        """New answers (of one watch, or all), newest first."""
        where, params = ("WHERE watch_id = %s", (watch_id,)) if watch_id is not None else ("", ())
        with self.db.tx() as conn:
            rows = conn.execute("SELECT id, watch_id, doc_ids, answer, delivery, created_at FROM watch_hits "
                                f"{where} ORDER BY id DESC", params).fetchall()
        return [WatchHit(int(r[0]), int(r[1]), tuple(r[2]), r[3], r[4], float(r[5])) for r in rows]

    @contextmanager
    def checking(self, watch_id: int) -> Iterator[None]:
        """Hold this watch while it is asked: a runner on another machine waits, then finds the articles asked."""
        with self.db.tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (WATCH_LOCK_NS, watch_id))
            yield

    def close(self) -> None:
        """Nothing to close per store (the pool is the process's)."""


def open_feed_store(settings: Settings) -> PgFeedStore:
    """Feeds in PostgreSQL."""
    return PgFeedStore(following_database(settings))


def open_watch_store(settings: Settings) -> PgWatchStore:
    """Watches in PostgreSQL."""
    return PgWatchStore(following_database(settings))

