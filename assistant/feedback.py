"""Feedback (thumbs up/down with an optional comment), stored durably in SQLite; shared by the web chat and Slack."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from .types import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    channel TEXT NOT NULL, user TEXT NOT NULL DEFAULT '', rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '', question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL,
    filters TEXT NOT NULL DEFAULT '{}'
);
"""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula (OWASP: CSV injection)
FIELDS = ("id", "created_at", "channel", "user", "rating", "comment", "question", "answer", "citations", "filters")


@dataclass(frozen=True)
class FeedbackRecord:
    """One stored rating of an answer."""

    id: int
    created_at: str
    channel: str  # "web", "slack", "api"
    user: str
    rating: int  # +1 helpful, -1 not helpful
    comment: str
    question: str
    answer: str
    citations: str  # JSON list of citation dicts
    filters: str  # JSON dict


def feedback_row(channel: str, user: str, rating: int, comment: str,
                 answer: Answer | dict[str, Any]) -> tuple[object, ...]:
    """The stored columns of a rating (+1 or -1): channel, user, rating, comment, question, answer, citations and
    filters as JSON (every backend stores the same row)."""
    if rating not in (-1, 1):
        raise ValueError(f"rating must be 1 or -1, got {rating!r}")
    data = answer.to_dict() if isinstance(answer, Answer) else answer
    return (channel, user, rating, comment, data.get("question", ""), data.get("answer_plain") or data.get("answer", ""),
            json.dumps(data.get("citations", []), ensure_ascii=False),
            json.dumps(data.get("filters_applied", {}), ensure_ascii=False))


class FeedbackStore:
    """Append-only feedback table in ``feedback.sqlite`` in the data dir."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.executescript(SCHEMA)

    def add(self, *, channel: str, rating: int, answer: Answer | dict[str, Any], comment: str = "",
            user: str = "") -> int:
        """Store a rating (+1 or -1) of an answer (an ``Answer`` or its ``to_dict()``); returns its id."""
        row = feedback_row(channel, user, rating, comment, answer)
        with self._lock, self._conn:
            cur = self._conn.execute(
                "INSERT INTO feedback (channel, user, rating, comment, question, answer, citations, filters) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return int(cur.lastrowid or 0)

    def set_comment(self, feedback_id: int, comment: str) -> None:
        """Attach or replace the comment of a stored rating."""
        with self._lock, self._conn:
            self._conn.execute("UPDATE feedback SET comment = ? WHERE id = ?", (comment, feedback_id))

    def all(self) -> list[FeedbackRecord]:
        """Every record, oldest first."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(FIELDS)} FROM feedback ORDER BY id").fetchall()
        return [FeedbackRecord(*row) for row in rows]

    def export(self, out: TextIO, fmt: str = "jsonl") -> int:
        """Write every record as JSONL or CSV; returns how many."""
        records = self.all()
        if fmt == "jsonl":
            for rec in records:
                data = asdict(rec) | {"citations": json.loads(rec.citations), "filters": json.loads(rec.filters)}
                out.write(json.dumps(data, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(FIELDS)
            writer.writerows([inert(getattr(rec, f)) for f in FIELDS] for rec in records)
        else:
            raise ValueError(f"unknown format {fmt!r}: use jsonl or csv")
        return len(records)

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def inert(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string opening like a formula (``=HYPERLINK(…)``, ``+``, ``-``,
    ``@``, tab, CR) gets a leading ``'``, as OWASP recommends; numbers stay numbers."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
