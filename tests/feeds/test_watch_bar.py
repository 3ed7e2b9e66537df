"""The watch bar over real Telegram news posts: a watch fires for the post that answers it, not for the near misses
on the same story that the answerer alone would quote confidently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.feeds.fetching import Fetcher
from assistant.feeds.polling import FeedPoller, feed_doc_id
from assistant.feeds.store import SqliteFeedStore
from assistant.pipeline import Assistant
from assistant.watchbar import WATCH_BAR, WatchBar, coverage, gives_figure, key_terms, next_sentence
from assistant.watches import SqliteWatchStore, WatchRunner, answering_articles
from tests.conftest import make_settings
from tests.feed_site import Page, Site

pytestmark = pytest.mark.slow  # a loopback server and the real model

TBILISI = "Сколько человек пострадали на акциях протеста в Тбилиси?"
CHANNELS = {"bbc": "1001003921752_messages.json", "ria": "1001101170442_messages.json"}
NEAR_MISSES = ["ria:270998", "bbc:73496"]  # one correspondent hurt; «несколько пострадавших»: no count of the injured
ANSWER = "bbc:73602"  # «Минздрав Грузии: 44 человека пострадали на акции протеста в Тбилиси»


@pytest.fixture(scope="module")
def posts(shared_dir: Path) -> dict[str, dict[str, str]]:
    """The few Telegram posts these tests use (channel:message_id → text and date), from ../shared."""
    wanted = {*NEAR_MISSES, ANSWER}
    found = {}
    for channel, name in CHANNELS.items():
        for row in json.loads((shared_dir / "eval-data" / "telegram-news-posts" / name).read_text(encoding="utf-8")):
            key = f"{channel}:{row['message_id']}"
            if key in wanted:
                found[key] = {"text": row["text"].replace("**", ""), "date": row["date"]}
    assert set(found) == wanted
    return found


def feed(site: Site, posts: dict[str, dict[str, str]], keys: list[str]) -> bytes:
    """A JSON Feed of the posts, each with its full text (as the replay serves them)."""
    items = [{"id": k, "url": site.url("/t/" + k.replace(":", "/")), "title": posts[k]["text"].split("\n")[0][:150],
              "content_text": posts[k]["text"], "date_published": posts[k]["date"]} for k in keys]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Telegram", "items": items},
                      ensure_ascii=False).encode()


@pytest.fixture
def room(tmp_path: Path, site: Site) -> Iterator[tuple[Assistant, SqliteWatchStore, FeedPoller]]:
    """An empty store with a watch runner and a feed poller."""
    assistant = Assistant(make_settings(tmp_path / "data"))
    watches = SqliteWatchStore(tmp_path / "data" / "watches.sqlite")
    feeds = SqliteFeedStore(tmp_path / "data" / "feeds.sqlite")
    WatchRunner(assistant, watches).attach()
    poller = FeedPoller(assistant, feeds, Fetcher(timeout=10, host_delay=0.0))
    yield assistant, watches, poller
    poller.fetcher.close()
    feeds.close()
    watches.close()
    assistant.close()


def test_the_watch_fires_for_the_post_with_the_count_not_for_the_near_misses(
        site: Site, posts: dict[str, dict[str, str]], room: Any) -> None:
    assistant, watches, poller = room
    watch = watches.add(TBILISI)
    feed_url = site.url("/telegram.json")
    source = poller.store.add(feed_url, "Telegram", 900)
    site.routes["/telegram.json"] = Page(feed(site, posts, NEAR_MISSES), "application/feed+json")
    assert poller.poll(source).status == "ok"
    near = [feed_doc_id(site.url("/t/" + k.replace(":", "/"))) for k in NEAR_MISSES]
    answer = assistant.ask_within(TBILISI, near)
    assert answer.answered and answer.confident  # the answerer alone would have alerted on a near miss
    assert answering_articles(answer, near, WatchBar()) and not answering_articles(answer, near, WATCH_BAR,
                                                                                  assistant.get_article)
    assert watches.hits(watch.id) == []  # the watch bar kept the editor's attention

    site.routes["/telegram.json"] = Page(feed(site, posts, [ANSWER, *NEAR_MISSES]), "application/feed+json")
    assert poller.poll(source).status == "ok"
    hits = watches.hits(watch.id)
    assert [h.doc_ids for h in hits] == [(feed_doc_id(site.url("/t/bbc/73602")),)]
    assert all(c["n"] == n for n, c in enumerate(hits[0].answer["citations"], start=1))
    assert hits[0].answer["citations"][0]["title"].startswith("Минздрав Грузии: 44 человека пострадали")


def test_key_terms_leave_out_what_is_asked_and_join_a_name() -> None:
    assert key_terms("На какую сумму США готовят пакет военной помощи Украине?") == tuple(
        frozenset({w}) for w in ("сша", "готовить", "пакет", "военный", "помощь", "украина"))
    assert frozenset({"джо", "байден"}) in key_terms("Кого помиловал Джо Байден?")
    assert frozenset({"человек"}) not in key_terms(TBILISI)  # «сколько человек»: the count, not a word to find


def test_coverage_and_figure_over_real_quotes() -> None:
    quote = "Более 50 полицейских пострадали на акциях протеста оппозиции в Тбилиси"
    assert coverage(TBILISI, quote) == 1.0 and gives_figure(TBILISI, quote)
    assert coverage(TBILISI, "Протесты в Тбилиси продолжаются, акция у парламента.") == 0.75  # no «пострадать»
    assert not gives_figure(TBILISI, "Телекомпания сообщает о нескольких пострадавших сотрудниках 28 ноября.")
    assert gives_figure("Кого помиловал Джо Байден?", "Байден помиловал сына")  # not a how-many question
    assert coverage("Кого помиловал Джо Байден?", "Байден помиловал своего сына Хантера") == 1.0
    assert WATCH_BAR.min_coverage > 0 and WATCH_BAR.figure


def test_the_sentence_after_a_quote_carries_what_it_tells_of() -> None:
    text = ("Группа вооруженных людей расстреляла 13 человек на вечеринке. По данным следствия, возраст погибших "
            "составил от 15 до 20 лет. Мотивы неизвестны.")
    quote = "Группа вооруженных людей расстреляла 13 человек на вечеринке."
    after = next_sentence(text, len(quote))
    assert after == "По данным следствия, возраст погибших составил от 15 до 20 лет."
    question = "Сколько человек погибли на вечеринке?"
    assert not WATCH_BAR.passes(question, quote) and WATCH_BAR.passes(question, quote, "", after)
