"""Polling: each due feed fetched (conditionally), its new items' pages fetched and extracted, then ingested."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..types import Article
from .fetching import Fetched, Fetcher, FetchError, host_of
from .parsing import FeedError, FeedItem, parse_feed

if TYPE_CHECKING:
    from ..pipeline import Assistant
    from .store import Feed, FeedStore

log = logging.getLogger("assistant.feeds")
MAX_BACKOFF_S = 24 * 3600
MAX_ITEMS = 200  # items taken from one poll of one feed (the newest first, as feeds list them)
MAX_SITEMAPS = 10  # child sitemaps read from a sitemap index
HANDLED = {"stored", "duplicate", "gone"}  # item states never fetched again


@dataclass
class PollResult:
    """What one poll of one feed did."""

    url: str
    name: str
    status: str  # ok, not_modified, failed, busy (polled by another process right now, or no longer due)
    added: list[str] = field(default_factory=list)  # doc ids stored
    skipped: int = 0  # items already stored (same URL or same text)
    failures: list[str] = field(default_factory=list)  # items that could not be read, each with why
    error: str = ""  # why the whole feed failed

    def summary(self) -> str:
        """One line for ``feeds list`` and the corpus tab."""
        if self.status == "failed":
            return f"failed: {self.error}"
        if self.status == "not_modified":
            return "not modified (304)"
        if self.status == "busy":
            return "being polled by another process"
        line = f"{len(self.added)} new, {self.skipped} already stored"
        return f"{line}, {len(self.failures)} failed ({'; '.join(self.failures[:3])})" if self.failures else line

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {"url": self.url, "name": self.name, "status": self.status, "added": self.added,
                "skipped": self.skipped, "failures": self.failures, "error": self.error, "summary": self.summary()}


def feed_doc_id(url: str) -> str:
    """The stored article id of an item: the same URL is the same article, whichever feed lists it."""
    return "feed-" + hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:16]


class FeedPoller:
    """Polls feeds into one assistant; one broken feed never stops the others."""

    def __init__(self, assistant: Assistant, store: FeedStore, fetcher: Fetcher,
                 clock: Callable[[], float] = time.time) -> None:
        self.assistant = assistant
        self.store = store
        self.fetcher = fetcher
        self.clock = clock
        self._lock = threading.Lock()  # one poll at a time (the scheduler's and a "poll now" button)

    def poll_due(self) -> list[PollResult]:
        """Poll every feed whose time has come (and that no other process is polling or has just polled)."""
        polled = [self.poll(feed, only_due=True) for feed in self.store.due(self.clock())]
        return [r for r in polled if r.status != "busy"]

    def poll_all(self) -> list[PollResult]:
        """Poll every feed now."""
        return [self.poll(feed) for feed in self.store.all()]

    def poll(self, feed: Feed, only_due: bool = False) -> PollResult:
        """Fetch, parse and ingest one feed, recording the outcome (errors become the result, never raised); held
        in the store so that replicas sharing it poll a feed once ("busy" when another one holds it)."""
        with self._lock, self.store.claim(feed.id) as ours:
            current = next((f for f in self.store.all() if f.id == feed.id), None) if ours else None  # as stored now
            if current is None or (only_due and current.next_due > self.clock()):
                return PollResult(feed.url, feed.name, "busy")
            feed = current
            fetched: Fetched | None = None
            try:
                fetched = self.fetcher.get(feed.url, feed.etag, feed.last_modified)
                result = self._ingest_feed(feed, fetched)
            except (FetchError, FeedError) as exc:
                result = PollResult(feed.url, feed.name, "failed", error=str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug or odd input fails this feed alone
                log.exception("polling %s failed", feed.url)
                result = PollResult(feed.url, feed.name, "failed", error=f"{exc.__class__.__name__}: {exc}")
            self._record(feed, result, fetched)
            return result

    def _ingest_feed(self, feed: Feed, fetched: Fetched) -> PollResult:
        if fetched.not_modified:
            return PollResult(feed.url, feed.name, "not_modified")
        parsed = parse_feed(fetched.body, feed.url)
        items = list(parsed.items)
        for child in parsed.sitemaps[:MAX_SITEMAPS]:  # a sitemap index: the sitemaps it lists
            items.extend(parse_feed(self.fetcher.get(child).body, child).items)
        return self._ingest_items(feed, items[:MAX_ITEMS], parsed.title)

    def _ingest_items(self, feed: Feed, items: list[FeedItem], feed_title: str) -> PollResult:
        result = PollResult(feed.url, feed.name, "ok")
        articles: list[Article] = []
        for item in {i.url: i for i in reversed(items)}.values():  # one per URL (the first listed wins)
            if self.store.seen(item.url) in HANDLED or self.assistant.docstore.get(feed_doc_id(item.url)):
                result.skipped += 1
                continue
            try:
                articles.append(self._article(item, feed, feed_title))
            except FetchError as exc:
                result.failures.append(str(exc))
                if exc.gone:  # a page that is gone stays gone: not fetched on every poll
                    self.store.mark_seen(item.url, feed.id, "", "gone")
            except ValueError as exc:
                result.failures.append(f"{item.url}: {exc}")
        for stored in self.assistant.ingest_articles(articles):
            if stored.status in ("added", "updated"):
                result.added.append(stored.doc_id)
                self.store.mark_seen(stored.path, feed.id, stored.doc_id, "stored")
            elif stored.status in ("duplicate", "unchanged"):
                result.skipped += 1
                self.store.mark_seen(stored.path, feed.id, stored.doc_id, "duplicate")
            else:
                result.failures.append(f"{stored.path}: {stored.reason}")
        return result

    def _article(self, item: FeedItem, feed: Feed, feed_title: str) -> Article:
        """The item as an article: the feed's full text when it carries one, else its page's extracted text."""
        from ..loading import make_article, parse_html

        source = feed.name or item.source or feed_title or host_of(item.url)
        doc_id = feed_doc_id(item.url)
        meta = {"title": item.title, "date": item.date, "source": source, "url": item.url, "id": doc_id}
        if item.text.strip():
            article = make_article(meta, item.text, Path("feed"))
        else:
            page = self.fetcher.get(item.url)
            html = page.body.decode(charset_of(page.content_type), "replace")
            found = parse_html(html, Path("page.html"))
            article = replace(found, doc_id=doc_id, title=item.title or found.title,
                              date=item.date or found.date, source=source, url=item.url)
        if len(article.text) > self.assistant.settings.max_article_chars:
            raise ValueError(f"the article has {len(article.text)} characters, over ASSISTANT_MAX_ARTICLE_CHARS")
        return replace(article, path=item.url)

    def _record(self, feed: Feed, result: PollResult, fetched: Fetched | None) -> None:
        """Store the outcome, new validators, and when to poll next (backing off after failures)."""
        now = self.clock()
        ok = result.status != "failed"
        wait = feed.every_s if ok else min(MAX_BACKOFF_S, feed.every_s * 2 ** feed.failures)
        fresh = fetched is not None and not fetched.not_modified
        self.store.record_poll(feed.id, ok=ok, result=result.summary(), error=result.error,
                               etag=fetched.etag if fetched and fresh else feed.etag,
                               last_modified=fetched.last_modified if fetched and fresh else feed.last_modified,
                               next_due=now + wait, now=now)


def charset_of(content_type: str) -> str:
    """The charset named in a Content-Type header (UTF-8 when none or unknown)."""
    import codecs

    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                break
    return "utf-8"


class FeedScheduler:
    """A background thread polling due feeds every ``tick`` seconds (started at the edge: serve, feeds run)."""

    def __init__(self, poller: FeedPoller, tick: float = 30.0) -> None:
        self.poller = poller
        self.tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-poller", daemon=True)

    def start(self) -> FeedScheduler:
        """Start polling."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for result in self.poller.poll_due():
                    log.info("feed %s: %s", result.url, result.summary())
            except Exception:  # noqa: BLE001 - the loop goes on; the next tick tries again
                log.exception("feed polling failed")
            self._stop.wait(self.tick)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the poll under way (if any)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
