"""Answer every Slack request once: event ids, slash commands and interactions remembered in SQLite for a window.

Slack retries an event it thinks was not acknowledged, and a signed request can be replayed within the five
minutes its signature is valid. The window outlives a restart, so a retry that arrives after one is not answered
again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..backends import SeenStore

WINDOW_SECONDS = 3600.0  # Slack retries for minutes, signatures are valid for 5 minutes
log = logging.getLogger("assistant.slackbot")


class SeenRequests:
    """Keys of handled requests with the time they were first seen, persisted in SQLite."""

    def __init__(self, path: Path, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.window, self.clock = window, clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at REAL NOT NULL)")
        self._inserts = 0

    def first_time(self, key: str) -> bool:
        """Record the key; True only the first time it is seen within the window."""
        now = self.clock()
        with self._lock:
            self._conn.execute("DELETE FROM seen WHERE key = ? AND at < ?", (key, now - self.window))
            added = self._conn.execute("INSERT OR IGNORE INTO seen (key, at) VALUES (?, ?)", (key, now)).rowcount
            self._inserts += 1
            if self._inserts % 500 == 0:
                self._conn.execute("DELETE FROM seen WHERE at < ?", (now - self.window,))
        return bool(added)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()


def request_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery of a request: the event id, or the trigger id of a command or interaction."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    if body.get("type") in ("block_actions", "view_submission", "shortcut", "message_action"):
        actions = body.get("actions") or [{}]
        ident = body.get("trigger_id") or actions[0].get("action_ts")
        return f"{body['type']}:{ident}" if ident else None
    return None


def dedupe_middleware(seen: SeenStore) -> Any:
    """A global bolt middleware answering a repeated request (a Slack retry or a replay) with 200 and nothing else."""
    from slack_bolt import BoltResponse

    def dedupe(body: dict[str, Any], request: Any, next: Any) -> BoltResponse | None:
        key = request_key(body)
        if key and not seen.first_time(key):
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            log.info("%s already handled: ignoring this delivery (retry %s)", key[:80], retry)
            return BoltResponse(status=200, body="")
        next()
        return None

    return dedupe
