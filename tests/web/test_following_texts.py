"""The follow and feeds parts of the web chat speak the interface's language: one language per string, never both."""

from __future__ import annotations

import re

from assistant.feeds.store import Feed
from assistant.watches import Watch, WatchHit
from assistant.web.following_ui import TEXTS, feeds_html, ft, watch_html

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
LATIN_WORD = re.compile(r"\b(?!(?:URL|RSS|Atom|JSON|Feed|sitemap|http|https)\b)[a-z]{3,}\b", re.IGNORECASE)
FEED = Feed(3, "https://example.org/rss.xml", "Пример", 900, last_result="failed: HTTP 500", last_error="HTTP 500",
            failures=2)
HIT = WatchHit(1, 1, ("d1",), {"citations": [{"quote": "Цитата.", "title": "Заголовок", "date": None,
                                              "source": "BBC", "url": "https://example.org/1"}]}, "stored", 0.0)


def test_every_message_is_in_one_language() -> None:
    assert set(TEXTS["ru"]) == set(TEXTS["en"])
    for key, text in TEXTS["en"].items():
        assert not CYRILLIC.search(text), key
    for key, text in TEXTS["ru"].items():
        assert not LATIN_WORD.search(re.sub(r"\{\w+\}", " ", text)), key  # placeholders aside


def test_panels_follow_the_interface_language() -> None:
    english = feeds_html([FEED], "en") + watch_html(Watch(1, "Что нового?", "web", "", True), [HIT], "en")
    russian = feeds_html([FEED], "ru") + watch_html(Watch(1, "Что нового?", "web", "", True), [HIT], "ru")
    assert "Last poll" in english and "15 min" in english and "(paused)" in english and "undated" in english
    assert "failed 2× in a row" in english and "Интервал" not in english and "без даты" not in english
    assert "Последний опрос" in russian and "15 мин" in russian and "(пауза)" in russian and "без даты" in russian
    assert "Last poll" not in russian and "undated" not in russian
    assert feeds_html([], "en") == f"<div>{ft('en', 'no_feeds')}</div>"
    assert ft("en", "following", q="Q?", id=7) == "Following “Q?” (#7): new answers will appear here."
