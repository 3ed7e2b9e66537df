"""Standing questions ("watches"): asked again over each batch of new articles; a confident answer notifies once."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .watchbar import WATCH_BAR, WatchBar, next_sentence

if TYPE_CHECKING:
    from .pipeline import Assistant
    from .settings import Settings
    from .types import Answer, Article, Citation, FileResult

log = logging.getLogger("assistant.watches")
SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, question TEXT NOT NULL, channel TEXT NOT NULL DEFAULT 'cli',
    target TEXT NOT NULL DEFAULT '', paused INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_hits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
    doc_ids TEXT NOT NULL, answer TEXT NOT NULL, delivery TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_seen (
    watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE, doc_id TEXT NOT NULL,
    PRIMARY KEY (watch_id, doc_id)
);
"""
MAX_ARTICLES_PER_ASK = 40  # new articles scored together for one watch (a larger batch is asked in parts)


@dataclass(frozen=True)
class Watch:
    """A standing question and where its notifications go."""

    id: int
    question: str
    channel: str = "cli"  # cli, web, slack
    target: str = ""  # a Slack channel or user id (a DM), or the web user
    paused: bool = False
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"id": self.id, "question": self.question, "channel": self.channel, "target": self.target,
                "paused": self.paused, "created_at": self.created_at}


@dataclass(frozen=True)
class WatchHit:
    """A new answer a watch had: the new articles it quotes and the answer itself (``Answer.to_dict()``)."""

    id: int
    watch_id: int
    doc_ids: tuple[str, ...]
    answer: dict[str, Any] = field(default_factory=dict)
    delivery: str = ""  # "sent", "stored" (no notifier for the channel) or why sending failed
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"id": self.id, "watch_id": self.watch_id, "doc_ids": list(self.doc_ids), "answer": self.answer,
                "delivery": self.delivery, "created_at": self.created_at}


class WatchStore(Protocol):
    """What watches need from a store (SQLite here; PostgreSQL in ``backends/postgres_following.py``).

    ``add_hit`` keeps a new answer only for articles it is the first to mark as asked over (a unique key of watch and
    article), so that two runners given the same article notify once."""

    def add(self, question: str, channel: str = "cli", target: str = "") -> Watch: ...
    def get(self, watch_id: int) -> Watch | None: ...
    def all(self) -> list[Watch]: ...
    def set_paused(self, watch_id: int, paused: bool) -> Watch | None: ...
    def remove(self, watch_id: int) -> Watch | None: ...
    def seen(self, watch_id: int, doc_ids: Sequence[str]) -> set[str]: ...
    def add_hit(self, watch_id: int, doc_ids: Sequence[str], answer: dict[str, Any], checked: Sequence[str]) -> int: ...
    def set_delivery(self, hit_id: int, delivery: str) -> None: ...
    def hits(self, watch_id: int | None = None) -> list[WatchHit]: ...
    def checking(self, watch_id: int) -> AbstractContextManager[None]:
        """Hold this watch while it is asked (another runner, on any machine, waits for it)."""
    def close(self) -> None: ...


class SqliteWatchStore:
    """Watches, their answers and the articles each has been asked over, in ``watches.sqlite``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.executescript(SCHEMA)

    def add(self, question: str, channel: str = "cli", target: str = "") -> Watch:
        """Save a standing question."""
        if not question.strip():
            raise ValueError("the question is empty: a watch needs a question, e.g. «Что нового о переговорах?»")
        with self._lock, self._conn:
            cur = self._conn.execute("INSERT INTO watches (question, channel, target, created_at) VALUES (?, ?, ?, ?)",
                                     (question.strip(), channel, target, time.time()))
        watch = self.get(int(cur.lastrowid or 0))
        assert watch is not None
        return watch

    def _select(self, where: str = "", params: tuple[object, ...] = ()) -> list[Watch]:
        with self._lock:
            rows = self._conn.execute("SELECT id, question, channel, target, paused, created_at FROM watches "
                                      f"{where} ORDER BY id", params).fetchall()
        return [Watch(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def get(self, watch_id: int) -> Watch | None:
        """A watch by id."""
        found = self._select("WHERE id = ?", (watch_id,))
        return found[0] if found else None

    def all(self) -> list[Watch]:
        """Every watch, oldest first."""
        return self._select()

    def set_paused(self, watch_id: int, paused: bool) -> Watch | None:
        """Pause or resume a watch (a paused one is not asked; articles added meanwhile are not asked later)."""
        with self._lock, self._conn:
            self._conn.execute("UPDATE watches SET paused = ? WHERE id = ?", (int(paused), watch_id))
        return self.get(watch_id)

    def remove(self, watch_id: int) -> Watch | None:
        """Delete a watch and its history."""
        watch = self.get(watch_id)
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM watches WHERE id = ?", (watch_id,))
        return watch

    def seen(self, watch_id: int, doc_ids: Sequence[str]) -> set[str]:
        """Which of these articles the watch has already been asked over."""
        with self._lock:
            rows = self._conn.execute("SELECT doc_id FROM watch_seen WHERE watch_id = ?", (watch_id,)).fetchall()
        return {r[0] for r in rows} & set(doc_ids)

    def add_hit(self, watch_id: int, doc_ids: Sequence[str], answer: dict[str, Any], checked: Sequence[str]) -> int:
        """Mark articles as asked over and, when ``doc_ids`` is not empty, store a new answer; returns its id (or 0).
        An article another runner marked first is left out of the answer's articles (never the same article twice)."""
        try:
            with self._lock, self._conn:
                fresh = {d for d in dict.fromkeys(checked) if self._conn.execute(
                    "INSERT OR IGNORE INTO watch_seen (watch_id, doc_id) VALUES (?, ?)", (watch_id, d)).rowcount}
                kept = [d for d in doc_ids if d in fresh]
                if not kept:
                    return 0
                cur = self._conn.execute(
                    "INSERT INTO watch_hits (watch_id, doc_ids, answer, created_at) VALUES (?, ?, ?, ?)",
                    (watch_id, json.dumps(kept), json.dumps(answer, ensure_ascii=False), time.time()))
        except sqlite3.IntegrityError:  # the watch was removed while it was being asked
            return 0
        return int(cur.lastrowid or 0)

    def set_delivery(self, hit_id: int, delivery: str) -> None:
        """Record how a notification went."""
        with self._lock, self._conn:
            self._conn.execute("UPDATE watch_hits SET delivery = ? WHERE id = ?", (delivery, hit_id))

    def hits(self, watch_id: int | None = None) -> list[WatchHit]:
        """New answers (of one watch, or all), newest first."""
        where, params = ("WHERE watch_id = ?", (watch_id,)) if watch_id is not None else ("", ())
        with self._lock:
            rows = self._conn.execute("SELECT id, watch_id, doc_ids, answer, delivery, created_at FROM watch_hits "
                                      f"{where} ORDER BY id DESC", params).fetchall()
        return [WatchHit(r[0], r[1], tuple(json.loads(r[2])), json.loads(r[3]), r[4], r[5]) for r in rows]

    @contextmanager
    def checking(self, watch_id: int) -> Iterator[None]:
        """Nothing to wait for: a data dir belongs to one process (its runner asks one watch at a time)."""
        yield

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def make_watch_store(settings: Settings) -> WatchStore:
    """The watch store where ``ASSISTANT_DATABASE_URL`` puts every store (``embedded``: ``watches.sqlite`` in the data
    dir; ``postgresql``: the shared database), through the backends' factory."""
    from .backends import following_backend

    store: WatchStore = following_backend(settings).open_watch_store(settings)
    return store


class Notifier(Protocol):
    """Delivers a watch's new answer (Slack here; the web chat reads the stored hits)."""

    def notify(self, watch: Watch, answer: dict[str, Any]) -> None: ...


def notification_text(watch: Watch, answer: dict[str, Any]) -> str:
    """The message: the question, then each quote with its article's title, publication date, source and link."""
    lines = [f"Новое по вашему вопросу «{watch.question}»:"]
    for c in answer.get("citations", []):
        where = ", ".join(p for p in (c.get("title"), f"опубликовано {c['date']}" if c.get("date") else "",
                                      c.get("source")) if p)
        lines.append(f"[{c.get('n')}] «{c.get('quote')}» — {where}" + (f" {c['url']}" if c.get("url") else ""))
    return "\n".join(lines)


class SlackNotifier:
    """Posts a watch's new answer to the Slack channel or user (a DM) it was set up from (chat.postMessage)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def notify(self, watch: Watch, answer: dict[str, Any]) -> None:
        """Send the message; Slack errors propagate (the hit records them)."""
        text = notification_text(watch, answer)
        self.client.chat_postMessage(channel=watch.target, text=text, unfurl_links=False,
                                     blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}])


class WatchRunner:
    """The ingest listener: each active watch asked over the new articles it has not seen; confident answers kept."""

    def __init__(self, assistant: Assistant, store: WatchStore, notifiers: dict[str, Notifier] | None = None) -> None:
        self.assistant = assistant
        self.store = store
        self.notifiers = notifiers or {}
        self._lock = threading.Lock()

    def attach(self) -> WatchRunner:
        """Listen to the assistant's ingests."""
        self.assistant.ingest_listeners.append(self)
        return self

    def detach(self) -> None:
        """Stop listening."""
        if self in self.assistant.ingest_listeners:
            self.assistant.ingest_listeners.remove(self)

    def __call__(self, results: list[FileResult]) -> None:
        self.check([r.doc_id for r in results if r.status in ("added", "updated")])

    def check(self, doc_ids: Sequence[str]) -> list[WatchHit]:
        """Ask every active watch over these articles; returns the new answers (each notified once)."""
        found = []
        with self._lock:
            for watch in self.store.all():
                if not watch.paused:
                    with self.store.checking(watch.id):  # runners on other machines wait: each article asked once
                        found.extend(self._check_watch(watch, doc_ids))
        return found

    def _check_watch(self, watch: Watch, doc_ids: Sequence[str]) -> list[WatchHit]:
        seen = self.store.seen(watch.id, doc_ids)
        fresh = [d for d in dict.fromkeys(doc_ids) if d not in seen]
        hits: list[WatchHit] = []
        for start in range(0, len(fresh), MAX_ARTICLES_PER_ASK):
            part = fresh[start:start + MAX_ARTICLES_PER_ASK]
            answer = alerting_answer(self.assistant.ask_within(watch.question, part), part, WATCH_BAR,
                                     self.assistant.get_article)
            quoted = list(dict.fromkeys(c.doc_id for c in answer.citations))
            hit_id = self.store.add_hit(watch.id, quoted, answer.to_dict(), part)
            if hit_id:
                self._deliver(watch, hit_id, answer.to_dict())
                hits.extend(h for h in self.store.hits(watch.id) if h.id == hit_id)
        return hits

    def _deliver(self, watch: Watch, hit_id: int, answer: dict[str, Any]) -> None:
        notifier = self.notifiers.get(watch.channel)
        if notifier is None:
            self.store.set_delivery(hit_id, "stored")
            return
        try:
            notifier.notify(watch, answer)
            self.store.set_delivery(hit_id, "sent")
        except Exception as exc:  # noqa: BLE001 - the answer is kept; the failure is shown with it
            log.warning("watch %s: notification failed: %s", watch.id, exc)
            self.store.set_delivery(hit_id, f"failed: {exc}")


def alerting_answer(answer: Answer, doc_ids: Sequence[str], bar: WatchBar = WATCH_BAR,
                    article: Callable[[str], Article | None] = lambda doc_id: None) -> Answer:
    """The answer with only the quotes that alert the watch: quotes of the new articles that clear the watch bar
    (read with the sentence after each, from ``article``), renumbered; none for a declined or hedged answer."""
    keep: list[Citation] = []
    if answer.answered and answer.confident:
        allowed = set(doc_ids)
        keep = [c for c in answer.citations if c.doc_id in allowed
                and bar.passes(answer.question, c.quote, c.title, sentence_after(article(c.doc_id), c.end))]
    return replace(answer, citations=[replace(c, n=n) for n, c in enumerate(keep, start=1)])


def sentence_after(article: Article | None, end: int) -> str:
    """The sentence after a quote ending at ``end`` ('' without the article)."""
    return next_sentence(article.text, end) if article else ""


def answering_articles(answer: Answer, doc_ids: Sequence[str], bar: WatchBar = WATCH_BAR,
                       article: Callable[[str], Article | None] = lambda doc_id: None) -> list[str]:
    """The new articles whose quotes alert the watch (none for a declined or hedged answer)."""
    return list(dict.fromkeys(c.doc_id for c in alerting_answer(answer, doc_ids, bar, article).citations))
