"""Standing questions: asked over each feed poll's new articles only; a confident answer is kept and sent once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.feeds.fetching import Fetcher
from assistant.feeds.polling import FeedPoller, feed_doc_id
from assistant.feeds.store import make_feed_store
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.watches import SlackNotifier, WatchRunner, alerting_answer, make_watch_store, notification_text
from tests.conftest import make_settings
from tests.feed_site import Page, Site, Story, json_feed, rss
from tests.slack_fake import start_fake_slack

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

RSS = "application/rss+xml; charset=utf-8"
MEXICO = "Сколько человек погибли в бойне на севере Мексики?"  # answered by ria-3 only
NEAR_MISSES = ["Сколько детей усыновили американцы из Гаити в 2009 году?"]  # ria-0 (the Haiti children) gives no count


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled model, loaded once for this module."""
    from assistant.embedding import make_embedder

    return make_embedder(make_settings(tmp_path_factory.mktemp("model")))


class Newsroom:
    """An empty store, a feed poller and a watch runner over it; feeds and watches in the store ``stores`` picks
    (SQLite files in the data dir, or PostgreSQL)."""

    def __init__(self, stores: Settings, embedder: Any, notifiers: dict[str, Any] | None = None) -> None:
        self.assistant = Assistant(make_settings(stores.data_dir), embedder=embedder)
        self.feeds = make_feed_store(stores)
        self.watches = make_watch_store(stores)
        self.runner = WatchRunner(self.assistant, self.watches, notifiers).attach()
        self.poller = FeedPoller(self.assistant, self.feeds, Fetcher(timeout=10, host_delay=0.0))

    def poll(self, site: Site, path: str, body: bytes, content_type: str = RSS) -> None:
        site.routes[path] = Page(body, content_type)
        result = self.poller.poll(self.feeds.add(site.url(path), "", 900))
        assert result.status == "ok", result.summary()

    def close(self) -> None:
        self.poller.fetcher.close()
        self.feeds.close()
        self.watches.close()
        self.assistant.close()


@pytest.fixture
def newsroom(backend_settings: Settings, embedder: Any) -> Iterator[Newsroom]:
    room = Newsroom(backend_settings, embedder)
    yield room
    room.close()


def test_a_watch_fires_once_for_the_new_article_that_answers_it(
        site: Site, stories: list[Story], newsroom: Newsroom) -> None:
    watch = newsroom.watches.add(MEXICO)
    newsroom.poll(site, "/w1.xml", rss(site, [stories[4], stories[9]]))  # tennis, a fire: unrelated
    assert newsroom.watches.hits(watch.id) == []
    newsroom.poll(site, "/w1.xml", rss(site, [stories[3], stories[4], stories[9]]))  # the Mexico story arrives
    hits = newsroom.watches.hits(watch.id)
    assert [h.doc_ids for h in hits] == [(feed_doc_id(site.url("/news/ria-3.html")),)]
    assert hits[0].answer["confident"] and hits[0].delivery == "stored"
    assert hits[0].answer["citations"][0]["date"] == "2010-01-23"
    newsroom.poll(site, "/w1.xml", rss(site, stories[3:6]))  # the same article again, with one more unrelated
    newsroom.poll(site, "/copy.json", json_feed(site, [stories[3]]), "application/feed+json")  # its copy elsewhere
    assert len(newsroom.watches.hits(watch.id)) == 1  # never the same article twice


def test_a_near_miss_does_not_notify(site: Site, stories: list[Story], newsroom: Newsroom) -> None:
    watches = [newsroom.watches.add(q) for q in NEAR_MISSES]
    newsroom.poll(site, "/near.xml", rss(site, [stories[0], stories[7]]))
    new = [feed_doc_id(site.url(f"/news/ria-{i}.html")) for i in (0, 7)]
    assert all(newsroom.assistant.get_article(d) for d in new)
    for watch in watches:
        answer = newsroom.assistant.ask_within(watch.question, new)
        # declined, hedged, or no quote clears the watch bar: either way nothing to notify
        assert alerting_answer(answer, new, article=newsroom.assistant.get_article).citations == [], watch.question
        assert newsroom.watches.hits(watch.id) == []


def test_a_paused_watch_is_not_asked(site: Site, stories: list[Story], newsroom: Newsroom) -> None:
    watch = newsroom.watches.add(MEXICO)
    newsroom.watches.set_paused(watch.id, True)
    newsroom.poll(site, "/p.xml", rss(site, stories[3:4]))
    assert newsroom.watches.hits(watch.id) == []


def test_a_slack_watch_posts_the_quotes_with_their_dates(
        site: Site, stories: list[Story], backend_settings: Settings, embedder: Any) -> None:
    from slack_sdk import WebClient

    fake, server = start_fake_slack()
    room = Newsroom(backend_settings, embedder,
                    {"slack": SlackNotifier(WebClient(token="xoxb-test", base_url=fake.api_url))})
    try:
        watch = room.watches.add(MEXICO, "slack", "C0NEWS")
        room.poll(site, "/s.xml", rss(site, stories[3:5]))
        posts = fake.of("chat.postMessage")
        assert len(posts) == 1 and posts[0].params["channel"] == "C0NEWS"
        text = posts[0].params["text"]
        assert MEXICO in text and "опубликовано 2010-01-23" in text and site.url("/news/ria-3.html") in text
        assert room.watches.hits(watch.id)[0].delivery == "sent"
        fake.failures["chat.postMessage"] = "channel_not_found"
        room.poll(site, "/s.xml", rss(site, stories[3:5]))  # nothing new: nothing sent
        assert len(fake.of("chat.postMessage")) == 1
    finally:
        room.close()
        server.shutdown()


def reopened(settings: Settings) -> Any:
    """The watch store as a new process opens it (for PostgreSQL: a new pool, the schema checked again)."""
    if settings.database_url.get_secret_value():
        from assistant.backends import postgres, postgres_following

        postgres._databases.pop(settings.database_url.get_secret_value()).close()
        postgres_following._ready.clear()
    return make_watch_store(settings)


def test_watches_and_their_history_survive_a_restart(backend_settings: Settings) -> None:
    store = make_watch_store(backend_settings)
    watch = store.add("Что нового о переговорах на Кипре?", "web", "anna")
    store.add_hit(watch.id, ["d1"], {"question": watch.question, "citations": [{"quote": "q", "date": "2010-01-31"}]},
                  ["d1", "d2"])
    store.close()
    again = reopened(backend_settings)
    try:
        assert again.all() == [watch]
        assert [h.doc_ids for h in again.hits(watch.id)] == [("d1",)]
        assert again.seen(watch.id, ["d1", "d2", "d3"]) == {"d1", "d2"}
        assert again.add_hit(watch.id, ["d2"], {}, ["d2", "d3"]) == 0  # d2 was asked over before: never twice
        assert again.add_hit(watch.id, ["d3", "d4"], {}, ["d4"]) > 0 and again.hits()[0].doc_ids == ("d4",)
        again.remove(watch.id)
        assert again.add_hit(watch.id, ["d5"], {}, ["d5"]) == 0  # removed while it was asked: nothing kept
        assert again.hits() == []
    finally:
        again.close()


def test_notification_text_names_each_article_and_its_date() -> None:
    from assistant.watches import Watch

    text = notification_text(Watch(1, "Что нового?"), {"citations": [
        {"n": 1, "quote": "Цитата.", "title": "Заголовок", "date": "2024-11-08", "source": "BBC", "url": "http://x/1"}]})
    assert text.splitlines() == ["Новое по вашему вопросу «Что нового?»:",
                                 "[1] «Цитата.» — Заголовок, опубликовано 2024-11-08, BBC http://x/1"]


def test_cli_adds_lists_pauses_and_removes_watches(backend_settings: Settings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """In the store ASSISTANT_DATABASE_URL picks: with PostgreSQL, nothing is written to the data dir."""
    import json

    monkeypatch.setenv("ASSISTANT_DATABASE_URL", backend_settings.database_url.get_secret_value())
    run = CliRunner().invoke
    data = ["--data-dir", str(backend_settings.data_dir)]
    assert run(main, ["watch", "add", "  ", *data]).exit_code != 0
    added = run(main, ["watch", "add", MEXICO, *data])
    assert added.exit_code == 0 and "watch 1" in added.output
    listed = json.loads(run(main, ["watch", "list", "--json", *data]).output)
    assert [(w["question"], w["answers"]) for w in listed] == [(MEXICO, [])]
    assert "paused" in run(main, ["watch", "pause", "1", *data]).output
    assert "(paused)" in run(main, ["watch", "list", *data]).output
    assert run(main, ["watch", "remove", "7", *data]).exit_code != 0
    assert run(main, ["watch", "remove", "1", *data]).exit_code == 0
    assert "no watches" in run(main, ["watch", "list", *data]).output
    in_data_dir = (backend_settings.data_dir / "watches.sqlite").exists()
    assert in_data_dir == (not backend_settings.database_url.get_secret_value())


def test_slack_news_watch_saves_lists_and_stops_a_standing_question(backend_settings: Settings) -> None:
    import logging

    from assistant.slackbot.handlers import SlackBot

    store = make_watch_store(backend_settings)
    bot = SlackBot(None, None, logging.getLogger("test"), "/news", store)  # type: ignore[arg-type]
    replies: list[str] = []

    def respond(**kwargs: Any) -> None:
        replies.append(kwargs["text"])

    command = {"channel_id": "C0NEWS", "user_id": "U1"}
    bot.on_command(command | {"text": f"watch {MEXICO}"}, respond)
    assert [(w.question, w.channel, w.target) for w in store.all()] == [(MEXICO, "slack", "C0NEWS")]
    bot.on_command(command | {"text": "watch list"}, respond)
    assert replies[-1] == f"1. «{MEXICO}»"
    bot.on_command({"channel_id": "D0DM", "user_id": "U2", "text": "следить Что нового о Кипре?"}, respond)
    assert store.all()[-1].target == "U2"  # from a DM: notified by DM
    bot.on_command(command | {"text": "watch stop 2"}, respond)
    assert "нет" in replies[-1] and len(store.all()) == 2  # another place's watch is not stopped from here
    bot.on_command(command | {"text": "watch stop 1"}, respond)
    assert [w.target for w in store.all()] == ["U2"]
    store.close()
