"""Feeds against a local news site on loopback: RSS, Atom, a Google News sitemap, JSON Feed, and every failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.feeds.fetching import Fetcher
from assistant.feeds.parsing import FeedError, parse_feed
from assistant.feeds.polling import FeedPoller, PollResult, feed_doc_id
from assistant.feeds.store import make_feed_store
from assistant.pipeline import Assistant
from assistant.settings import Settings
from tests.conftest import make_settings
from tests.feed_site import (
    Page,
    Site,
    Story,
    atom,
    black_hole,
    json_feed,
    news_sitemap,
    rss,
)

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

RSS = "application/rss+xml; charset=utf-8"


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled model, loaded once for this module."""
    from assistant.embedding import make_embedder

    return make_embedder(make_settings(tmp_path_factory.mktemp("model")))


@pytest.fixture
def helper(embedder: Any, tmp_path: Path) -> Iterator[Assistant]:
    """An empty store of its own."""
    helper = Assistant(make_settings(tmp_path / "data"), embedder=embedder)
    yield helper
    helper.close()


@pytest.fixture
def poller(helper: Assistant, backend_settings: Settings) -> Iterator[FeedPoller]:
    """A poller into ``helper`` whose feed store is ``feeds.sqlite`` in its data dir, or a PostgreSQL database."""
    clock = {"now": 1_000_000.0}
    store = make_feed_store(backend_settings)
    poller = FeedPoller(helper, store, Fetcher(timeout=2.0, max_bytes=5 * 2**20, host_delay=0.0),
                        clock=lambda: clock["now"])
    poller.clock_state = clock  # type: ignore[attr-defined]
    yield poller
    poller.fetcher.close()
    store.close()


def poll_one(poller: FeedPoller, url: str, name: str = "", every_s: int = 900) -> PollResult:
    feed = poller.store.add(url, name, every_s)
    return poller.poll(feed)


def test_every_kind_of_feed_brings_articles_with_their_titles_dates_sources_and_urls(
        site: Site, stories: list[Story], poller: FeedPoller, helper: Assistant) -> None:
    site.routes["/rss"] = Page(rss(site, stories[0:3]), RSS)
    site.routes["/atom"] = Page(atom(site, stories[3:5]), "application/atom+xml")
    site.routes["/sitemap.xml"] = Page(news_sitemap(site, stories[5:7]), "application/xml")
    site.routes["/feed.json"] = Page(json_feed(site, stories[7:9]), "application/feed+json")
    results = {url: poll_one(poller, site.url(url)) for url in ("/rss", "/atom", "/sitemap.xml", "/feed.json")}
    assert [len(r.added) for r in results.values()] == [3, 2, 2, 2], {u: r.summary() for u, r in results.items()}
    first = helper.get_article(feed_doc_id(site.url("/news/ria-0.html")))
    assert first is not None
    assert (first.title, first.date, first.source) == (stories[0].title, "2010-01-20", "РИА Новости")
    assert first.url == site.url("/news/ria-0.html")
    assert "33 детей" in first.text and "Все права защищены" not in first.text  # the page's text, not its frame
    atom_one = helper.get_article(feed_doc_id(site.url("/a/ria-3")))
    assert atom_one is not None and (atom_one.source, atom_one.date) == ("Лента Атом", "2010-01-23")
    mapped = helper.get_article(feed_doc_id(site.url("/news/ria-5.html")))
    assert mapped is not None and (mapped.source, mapped.date) == ("Новости Сайтмап", "2010-01-25")
    assert not site.hits("/a/ria-3")  # Atom and JSON Feed carried the full text: their pages were not fetched
    answer = helper.ask("Сколько человек погибли в бойне на севере Мексики?")
    assert answer.answered and answer.citations[0].doc_id == feed_doc_id(site.url("/a/ria-3"))


def test_conditional_requests_get_304_and_repeated_items_are_skipped(
        site: Site, stories: list[Story], poller: FeedPoller) -> None:
    site.routes["/etag.xml"] = Page(rss(site, stories[0:2]), RSS, etag='"v1"')
    first = poll_one(poller, site.url("/etag.xml"))
    assert len(first.added) == 2
    fetched = len(site.hits("/news/ria-0.html"))
    again = poller.poll(poller.store.get(site.url("/etag.xml")))  # type: ignore[arg-type]
    assert again.status == "not_modified" and site.hits("/etag.xml")[-1].get("If-None-Match") == '"v1"'
    site.routes["/etag.xml"] = Page(rss(site, stories[0:3]), RSS, etag='"v2"')  # two old items, one new
    third = poller.poll(poller.store.get(site.url("/etag.xml")))  # type: ignore[arg-type]
    assert (len(third.added), third.skipped) == (1, 2)
    assert len(site.hits("/news/ria-0.html")) == fetched  # an item already stored is never fetched again
    assert poller.store.get(site.url("/etag.xml")).last_result == "1 new, 2 already stored"  # type: ignore[union-attr]


def test_failing_feeds_each_say_why_and_the_others_go_on(
        site: Site, stories: list[Story], poller: FeedPoller, helper: Assistant) -> None:
    hole = black_hole()
    try:
        site.routes["/broken"] = Page(b"internal error", "text/plain", 500)
        site.routes["/malformed"] = Page(b"<html><body>This is not a feed <rss", "text/html")
        site.routes["/gone.xml"] = Page(rss(site, stories[0:1]) .replace(b"/news/ria-0.html", b"/news/deleted.html"),
                                        RSS)
        site.routes["/good.xml"] = Page(rss(site, stories[1:2]), RSS)
        urls = [site.url("/broken"), f"http://127.0.0.1:{hole.getsockname()[1]}/rss", site.url("/huge"),
                site.url("/malformed"), site.url("/gone.xml"), site.url("/good.xml")]
        for url in urls:
            poller.store.add(url, "", 900)
        results = {r.url: r for r in poller.poll_all()}
    finally:
        hole.close()
    assert "HTTP 500" in results[urls[0]].error
    assert "timeout" in results[urls[1]].error
    assert "cap" in results[urls[2]].error and "ASSISTANT_FEED_MAX_MB" in results[urls[2]].error
    assert "not a feed" in results[urls[3]].error
    gone = results[urls[4]]
    assert gone.status == "ok" and not gone.added and "HTTP 404" in gone.failures[0]
    assert len(results[urls[5]].added) == 1  # the good feed went on
    listed = {f.url: f for f in poller.store.all()}
    assert listed[urls[0]].last_result.startswith("failed: HTTP 500") and listed[urls[0]].failures == 1
    assert helper.stats().documents == 1
    fetched = len(site.hits("/news/deleted.html"))  # the site serves every test of the module: count from here
    poller.clock_state["now"] += 1000  # type: ignore[attr-defined]
    poller.poll(listed[urls[4]])
    assert len(site.hits("/news/deleted.html")) == fetched  # a page that is gone is not fetched on every poll


def test_a_failing_feed_backs_off(site: Site, poller: FeedPoller) -> None:
    site.routes["/down"] = Page(b"", "text/plain", 503)
    feed = poller.store.add(site.url("/down"), "", 600)
    waits = []
    for _ in range(3):
        poller.poll(poller.store.get(feed.url))  # type: ignore[arg-type]
        stored = poller.store.get(feed.url)
        assert stored is not None
        waits.append(stored.next_due - stored.last_poll)
    assert waits == [600, 1200, 2400]
    assert poller.store.due(poller.clock_state["now"] + 601) == []  # type: ignore[attr-defined]


def test_the_same_story_in_two_feeds_is_stored_once(
        site: Site, stories: list[Story], poller: FeedPoller, helper: Assistant) -> None:
    site.routes["/one.xml"] = Page(rss(site, stories[6:9], title="Один"), RSS)
    site.routes["/two.xml"] = Page(rss(site, stories[8:9], title="Два"), RSS)  # the same URL as in the first
    site.routes["/copy.json"] = Page(json_feed(site, stories[6:7]), "application/feed+json")  # same text, new URL
    assert len(poll_one(poller, site.url("/one.xml")).added) == 3
    second = poll_one(poller, site.url("/two.xml"))
    assert (second.added, second.skipped) == ([], 1)
    copy = poll_one(poller, site.url("/copy.json"))
    assert not copy.added, copy.summary()
    assert helper.stats().documents == 3


def test_robots_txt_is_respected(site: Site, stories: list[Story], poller: FeedPoller) -> None:
    site.routes["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    site.routes["/private/feed.xml"] = Page(rss(site, stories[:1]), RSS)
    try:
        poller.fetcher._robots.clear()
        result = poll_one(poller, site.url("/private/feed.xml"))
    finally:
        del site.routes["/robots.txt"]
        poller.fetcher._robots.clear()
    assert result.status == "failed" and "robots.txt" in result.error
    assert not site.hits("/private/feed.xml")


def test_a_malformed_document_names_what_is_wrong() -> None:
    with pytest.raises(FeedError, match="not a feed"):
        parse_feed(b"just text", "http://x/feed")
    with pytest.raises(FeedError, match="not a JSON Feed"):
        parse_feed(b'{"items": []}', "http://x/feed.json")
    with pytest.raises(FeedError, match="not well-formed"):
        parse_feed(b"<urlset><url><loc>http://x/a</loc></url>", "http://x/sitemap.xml")


def test_cli_adds_lists_polls_and_removes_feeds(site: Site, stories: list[Story], backend_settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """In the store ASSISTANT_DATABASE_URL picks: with PostgreSQL, the feeds are not in the data dir."""
    site.routes["/cli.xml"] = Page(rss(site, stories[4:5]), RSS)
    data = backend_settings.data_dir
    for key, value in make_settings(data).model_dump(include={"cache_dir", "embeddings"}).items():
        monkeypatch.setenv(f"ASSISTANT_{key.upper()}", str(value))
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", backend_settings.database_url.get_secret_value())
    monkeypatch.setenv("ASSISTANT_FEED_HOST_DELAY", "0")
    run = CliRunner().invoke
    bad = run(main, ["feeds", "add", site.url("/cli.xml"), "--every", "5x", "--data-dir", str(data)])
    assert bad.exit_code != 0 and "15m" in bad.output
    added = run(main, ["feeds", "add", site.url("/cli.xml"), "--name", "Теннис", "--every", "2h",
                       "--data-dir", str(data)])
    assert added.exit_code == 0 and "every 120 min" in added.output
    polled = run(main, ["feeds", "poll", "--data-dir", str(data)])
    assert polled.exit_code == 0, polled.output
    assert "1 new, 0 already stored" in polled.output
    listed = run(main, ["feeds", "list", "--data-dir", str(data)])
    assert "Теннис" in listed.output and "last poll: 1 new" in listed.output
    assert run(main, ["feeds", "remove", "Теннис", "--data-dir", str(data)]).exit_code == 0
    assert "no feeds" in run(main, ["feeds", "list", "--data-dir", str(data)]).output
    assert (data / "feeds.sqlite").exists() == (not backend_settings.database_url.get_secret_value())


def test_the_scheduler_polls_due_feeds_in_the_background(site: Site, stories: list[Story],
                                                        poller: FeedPoller) -> None:
    from assistant.feeds.polling import FeedScheduler

    site.routes["/sched.xml"] = Page(rss(site, stories[9:10]), RSS)
    poller.store.add(site.url("/sched.xml"), "", 900)
    scheduler = FeedScheduler(poller, tick=0.05).start()
    try:
        deadline = time.monotonic() + 60  # a hang guard only
        while not (poller.store.get(site.url("/sched.xml")) or Any).last_result and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert poller.store.get(site.url("/sched.xml")).last_result == "1 new, 0 already stored"  # type: ignore[union-attr]
