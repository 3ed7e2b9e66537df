"""In a real browser: ask, follow the question, add a feed in the Corpus tab, poll it, see the new answer appear.

Skips like tests/test_browser.py when Chromium or playwright is absent; the screenshot the docs show
(docs/screenshot-follow.png) is rewritten only with ASSISTANT_DOC_SCREENSHOTS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.feeds.polling import feed_doc_id
from assistant.pipeline import Assistant
from assistant.web import build_app
from assistant.web.server import BackgroundServer
from tests.conftest import make_settings
from tests.feed_site import Page, Site, ria_stories, rss, start_site
from tests.web.test_browser import WAIT_MS, Watch, browser, doc_screenshot, open_chat  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
POLL_WAIT_MS = 600_000
MEXICO = "Сколько человек погибли в бойне на севере Мексики?"


@pytest.fixture(scope="module")
def site(shared_dir: Path) -> Iterator[Site]:
    site, server = start_site()
    stories = ria_stories(shared_dir)
    for story in stories:
        site.routes[f"/news/{story.slug}.html"] = Page(story.page())
    site.routes["/rss.xml"] = Page(rss(site, [stories[3], stories[4]]), "application/rss+xml")
    yield site
    server.shutdown()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on an empty store of its own (feeds polled only when asked, no per-host delay)."""
    helper = Assistant(make_settings(tmp_path_factory.mktemp("follow"), feed_host_delay=0.0))
    server = BackgroundServer(build_app(helper))
    yield server.start()
    server.stop()
    helper.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811 - the browser fixture imported above
    context = browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def test_a_followed_question_shows_the_new_answer_after_a_feed_poll(page: Any, app_url: str, site: Site) -> None:
    watch: Watch = open_chat(page, app_url)
    page.fill("#na-question textarea", MEXICO)
    page.click("#na-send")
    page.wait_for_function("document.querySelectorAll('#na-chat .message-row').length >= 2")
    page.wait_for_function("!document.querySelector('#na-chat').innerText.includes('Ищу')")
    page.click("#na-follow")
    page.wait_for_function("document.querySelector('#na-followed').innerText.includes('Новых ответов пока нет')")
    assert MEXICO in page.inner_text("#na-followed")
    page.get_by_role("tab", name="Корпус").click()
    page.locator("#na-feed-url textarea, #na-feed-url input").first.fill(site.url("/rss.xml"))
    page.locator("#na-feed-name textarea, #na-feed-name input").first.fill("РИА Новости")
    page.click("#na-feed-add")
    page.wait_for_function("document.querySelector('#na-feeds').innerText.includes('ещё не опрашивалась')")
    page.click("#na-feed-poll")  # two pages fetched, embedded and stored, the watch asked: a hang guard only
    page.wait_for_function("['already stored', 'failed'].some(w => document.querySelector('#na-feed-note')"
                           ".innerText.includes(w))", timeout=POLL_WAIT_MS)
    assert "2 new, 0 already stored" in page.inner_text("#na-feed-note"), page.inner_text("#na-feed-note")
    page.get_by_role("tab", name="Чат").click()
    page.wait_for_function("document.querySelector('#na-followed').innerText.includes('опубликовано 2010-01-23')")
    followed = page.inner_text("#na-followed")
    assert "новых ответов: 1" in followed and "Жертвами бойни" in followed
    link = page.get_attribute("#na-followed a", "href")
    assert link == site.url("/news/ria-3.html") and feed_doc_id(link)
    page.locator("#na-follow-box").screenshot(path=str(doc_screenshot("screenshot-follow.png")))
    page.locator("#na-lang").get_by_text("en", exact=True).click()  # the panels and the feeds section follow
    page.wait_for_function("document.querySelector('#na-followed').innerText.includes('published 2010-01-23')")
    assert "new answers: 1" in page.inner_text("#na-followed") and "новых" not in page.inner_text("#na-followed")
    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#na-feeds :text('Last poll')")
    assert page.locator("#na-feed-poll").inner_text().strip() == "Poll now"
    assert not watch.dialogs and not watch.external and not watch.errors
