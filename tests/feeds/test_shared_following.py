"""Feeds and watches in one PostgreSQL shared by two replicas: a feed is polled once, a new answer notified once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.backends.postgres import Database
from assistant.backends.postgres_following import PgFeedStore, PgWatchStore, following_database
from assistant.feeds.fetching import Fetcher
from assistant.feeds.polling import FeedPoller, PollResult, feed_doc_id
from assistant.pipeline import Assistant
from assistant.watches import SlackNotifier, WatchHit, WatchRunner
from tests.conftest import fresh_database, make_settings
from tests.feed_site import Page, Site, Story, rss
from tests.pg_server import PgServer
from tests.slack_fake import start_fake_slack

pytestmark = pytest.mark.slow  # PostgreSQL, servers and the real model: outside `pytest -m "not slow"`

MEXICO = "Сколько человек погибли в бойне на севере Мексики?"  # answered by ria-3 only


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled model, loaded once for this module."""
    from assistant.embedding import make_embedder

    return make_embedder(make_settings(tmp_path_factory.mktemp("model")))


@pytest.fixture
def machine(pg: PgServer, tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """A fresh database with the feed and watch tables; each call is a new pool on it, as on another machine."""
    url = following_database(make_settings(tmp_path / "stores", database_url=fresh_database(pg))).url
    pools: list[Database] = []

    def connect() -> Database:
        pools.append(Database(url))
        return pools[-1]

    yield connect
    for pool in pools:
        pool.close()


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads started together; their results in order."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)  # a hang guard only
    return results


def test_two_replicas_poll_a_due_feed_once(machine: Callable[[], Database], embedder: Any, tmp_path: Path,
                                           site: Site, stories: list[Story]) -> None:
    site.routes["/shared.xml"] = Page(rss(site, stories[4:5]), "application/rss+xml")
    PgFeedStore(machine()).add(site.url("/shared.xml"), "", 900)
    helpers = [Assistant(make_settings(tmp_path / f"replica{i}"), embedder=embedder) for i in (1, 2)]
    pollers = [FeedPoller(h, PgFeedStore(machine()), Fetcher(timeout=10, host_delay=0.0), clock=lambda: 5e9)
               for h in helpers]
    try:
        done: list[list[PollResult]] = at_once(*[p.poll_due for p in pollers])
    finally:
        for h, p in zip(helpers, pollers, strict=True):
            p.fetcher.close()
            h.close()
    assert sorted(len(r) for r in done) == [0, 1]  # the other replica found it taken, or no longer due
    assert len(site.hits("/shared.xml")) == 1 and len(site.hits("/news/ria-4.html")) == 1


def test_two_runners_on_one_database_notify_once(machine: Callable[[], Database], embedder: Any, tmp_path: Path,
                                                 site: Site, stories: list[Story]) -> None:
    from slack_sdk import WebClient

    watch = PgWatchStore(machine()).add(MEXICO, "slack", "C0NEWS")
    fake, server = start_fake_slack()
    helper = Assistant(make_settings(tmp_path / "data"), embedder=embedder)
    notifier = SlackNotifier(WebClient(token="xoxb-test", base_url=fake.api_url))
    runners = [WatchRunner(helper, PgWatchStore(machine()), {"slack": notifier}) for _ in range(2)]
    feeds = PgFeedStore(machine())
    fetcher = Fetcher(timeout=10, host_delay=0.0)
    try:
        site.routes["/m.xml"] = Page(rss(site, stories[3:5]), "application/rss+xml")
        FeedPoller(helper, feeds, fetcher).poll(feeds.add(site.url("/m.xml"), "", 900))  # no runner listens yet
        new = [feed_doc_id(site.url(f"/news/ria-{i}.html")) for i in (3, 4)]
        found: list[list[WatchHit]] = at_once(*[lambda r=r: r.check(new) for r in runners])
        again = runners[1].check(new)  # the same articles once more: already asked
    finally:
        fetcher.close()
        helper.close()
        server.shutdown()
    assert sorted(len(f) for f in found) == [0, 1] and again == []
    assert len(fake.of("chat.postMessage")) == 1 and fake.of("chat.postMessage")[0].params["channel"] == "C0NEWS"
    hits = PgWatchStore(machine()).hits(watch.id)
    assert [(h.doc_ids, h.delivery) for h in hits] == [((new[0],), "sent")]


def test_migrate_copies_feeds_and_watches_with_their_history(pg: PgServer, tmp_path: Path) -> None:
    from assistant.backends import BackendError
    from assistant.backends.migrate import copy_following
    from assistant.feeds.store import SqliteFeedStore
    from assistant.watches import SqliteWatchStore

    source = make_settings(tmp_path / "embedded")
    feeds, watches = SqliteFeedStore(source.feeds_path), SqliteWatchStore(source.watches_path)
    feed = feeds.add("http://127.0.0.1:9/rss.xml", "Лента", 900)
    feeds.record_poll(feed.id, ok=False, result="failed: HTTP 500", error="HTTP 500", etag="", last_modified="",
                      next_due=2e9, now=1e9)
    feeds.mark_seen("http://127.0.0.1:9/a.html", feed.id, "feed-a", "stored")
    first, second = watches.add(MEXICO, "slack", "C0NEWS"), watches.add("Что нового?", "web", "anna")
    watches.remove(first.id)  # the ids kept have a gap
    watches.set_paused(second.id, True)
    watches.add_hit(second.id, ["d1"], {"question": "Что нового?", "citations": [{"quote": "«Цитата»"}]}, ["d1", "d2"])
    target = make_settings(tmp_path / "server", database_url=fresh_database(pg))
    assert copy_following(source, target) == (1, 1)
    pg_feeds, pg_watches = PgFeedStore(following_database(target)), PgWatchStore(following_database(target))
    assert pg_feeds.all() == feeds.all() and pg_feeds.seen("http://127.0.0.1:9/a.html") == "stored"
    assert pg_watches.all() == watches.all() and pg_watches.all()[0].paused
    assert pg_watches.hits() == watches.hits() and pg_watches.seen(second.id, ["d1", "d2", "d3"]) == {"d1", "d2"}
    assert pg_watches.add("Ещё вопрос?").id == second.id + 1  # new ids go on after the copied ones
    with pytest.raises(BackendError, match="already holds feeds or watches"):
        copy_following(source, target)
    feeds.close()
    watches.close()
