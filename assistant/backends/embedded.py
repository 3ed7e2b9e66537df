"""The embedded backend (the default): SQLite files in the data dir, marker files and a file lock for writers."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..dedup import StoryIndex
    from ..embedding import Embedder
    from ..feedback import FeedbackStore
    from ..feeds.store import SqliteFeedStore
    from ..keyword import FtsKeywordIndex
    from ..sentences import SentenceStore
    from ..settings import Settings
    from ..slackbot.dedupe import SeenRequests
    from ..store import DocStore
    from ..watches import SqliteWatchStore


def open_articles(settings: Settings) -> DocStore:
    """``articles.sqlite``."""
    from ..store import DocStore

    return DocStore(settings.docstore_path)


def open_keyword(settings: Settings, articles: Any) -> FtsKeywordIndex:
    """FTS5 in ``articles.sqlite``."""
    from ..keyword import FtsKeywordIndex

    return FtsKeywordIndex(articles)


def open_sentences(settings: Settings, embedder: Embedder) -> SentenceStore:
    """``sentences.sqlite``."""
    from ..sentences import SentenceStore

    return SentenceStore(settings.sentences_path, embedder)


def open_stories(settings: Settings) -> StoryIndex:
    """``stories.sqlite``."""
    from ..dedup import StoryIndex

    return StoryIndex(settings.stories_path, settings.dedup_threshold)


def open_feedback(settings: Settings) -> FeedbackStore:
    """``feedback.sqlite``."""
    from ..feedback import FeedbackStore

    return FeedbackStore(settings.feedback_path)


def open_seen(settings: Settings) -> SeenRequests:
    """``slack_seen.sqlite``."""
    from ..slackbot.dedupe import SeenRequests

    return SeenRequests(settings.data_dir / "slack_seen.sqlite")


def open_feed_store(settings: Settings) -> SqliteFeedStore:
    """``feeds.sqlite``."""
    from ..feeds.store import SqliteFeedStore

    return SqliteFeedStore(settings.feeds_path)


def open_watch_store(settings: Settings) -> SqliteWatchStore:
    """``watches.sqlite``."""
    from ..watches import SqliteWatchStore

    return SqliteWatchStore(settings.watches_path)


def open_write_guard(settings: Settings) -> WriteMarker:
    """Marker files ``ingest.<pid>.pending`` and the lock file ``ingest.lock`` in the data dir."""
    return WriteMarker(settings.data_dir / "ingest.pending")


class WriteMarker:
    """One marker file per writing process (``ingest.<pid>.pending``): a marker whose process is gone means a crash
    mid-write, and no writer removes another's. Writers share a file lock that a repair takes exclusively."""

    def __init__(self, path: Path) -> None:
        self.path = path  # the single marker of older versions, still honoured
        self.own = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
        self.lock = threading.RLock()
        self._depth = 0
        self._shared: int | None = None

    def set(self) -> None:
        """A write begins: mark it and hold the writers' lock shared."""
        self.lock.acquire()
        self._depth += 1
        if self._depth == 1:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._shared = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._shared, fcntl.LOCK_SH)
            self.own = self.path.with_name(f"{self.path.stem}.{os.getpid()}{self.path.suffix}")
            self.own.write_text(str(os.getpid()), encoding="ascii")

    def clear(self) -> None:
        """The write finished: remove this process's marker only."""
        if self._depth == 1:
            self.own.unlink(missing_ok=True)
            if self._shared is not None:
                os.close(self._shared)  # releases the shared lock
                self._shared = None
        self._depth = max(0, self._depth - 1)
        self.lock.release()

    def markers(self) -> list[Path]:
        """Every writer's marker in the data dir (and the older single one)."""
        if not self.path.parent.is_dir():
            return []
        found = sorted(self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}"))
        return [self.path, *found] if self.path.exists() else found

    def crashed(self) -> bool:
        """Whether a marker names a process that is gone (or this one, outside a write of its own)."""
        return any(self._dead(p) for p in self.markers())

    def _dead(self, marker: Path) -> bool:
        try:
            pid = int(marker.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True
        if pid == os.getpid():
            return self._depth == 0
        return pid == 0 or not process_alive(pid)

    @contextmanager
    def repairing(self) -> Iterator[bool]:
        """The writers' lock taken exclusively, without waiting: False while another writer holds it."""
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                yield self._depth == 0
            finally:
                os.close(fd)

    def forget_crashed(self) -> None:
        """Remove the markers of processes that are gone."""
        for marker in self.markers():
            if self._dead(marker):
                marker.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
