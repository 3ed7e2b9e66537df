"""The web chat as an editor uses it, in Debian's Chromium: the whole cited article, copy citation, forgiving date
filters, corpus search and delete, a source uploaded after start usable through gradio_client; screenshots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.pipeline import Assistant
from tests.conftest import SEED_DATE, SEED_QUESTION, SEED_QUOTE
from tests.web.test_browser import (
    ARTIFACTS,
    WAIT_MS,
    ask,
    browser,
    chat_url,
    doc_screenshot,
    fill_date_from,
    open_chat,
    serve_seed_app,
    upload,
    web_settings,
)

__all__ = ["browser", "chat_url", "web_settings"]  # module-scoped fixtures shared with test_browser
pytestmark = [pytest.mark.e2e, pytest.mark.slow]
STORY = (
    "В Энске открыли новый пешеходный мост через реку Энку. Длина моста составляет сто двадцать метров, а "
    "строительство заняло два года. На церемонии открытия мэр города пообещал, что к весне рядом с мостом "
    "появится набережная с велосипедной дорожкой. Жители давно просили о переправе: до сих пор ближайший мост "
    "находился в пяти километрах от центра."
)
SYNDICATED = STORY.replace("В Энске открыли", "В городе Энске в субботу открыли").replace("Жители давно", "Горожане давно")


def new_page(browser: Any, width: int = 1400, height: int = 950, locale: str = "ru-RU") -> Any:
    """A page in a fresh context allowed to use the clipboard."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = new_page(browser)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
    page.context.close()


@pytest.fixture(scope="module")
def newsroom_url(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on its own small store (same model): the seed article; tests upload and delete here."""
    yield from serve_seed_app(assistant, tmp_path_factory.mktemp("browser-newsroom"))


def in_viewport(page: Any, selector: str) -> bool:
    """Whether the element is inside the visible part of its scrolling container and the window."""
    return bool(page.evaluate("""sel => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }""", selector))


def test_open_cited_article_and_copy_citation(page: Any, chat_url: str) -> None:
    watch = open_chat(page, chat_url)
    ask(page, SEED_QUESTION)
    page.locator("#src-1 button.na-open").click()
    hit = "#na-reader .na-reader-body mark"
    page.wait_for_selector(hit)
    assert SEED_QUOTE in page.locator(hit).inner_text()
    body = page.locator("#na-reader .na-reader-body").inner_text()
    assert len(body) > 2000 and body.index(SEED_QUOTE) > 500, "the whole article, not the paragraph"
    assert in_viewport(page, hit), "the quote is scrolled into view"
    assert SEED_DATE in page.locator("#na-reader .na-reader-head").inner_text()
    page.wait_for_timeout(300)
    page.screenshot(path=str(doc_screenshot("screenshot-article.png")))
    page.keyboard.press("Escape")
    page.wait_for_selector("#na-reader", state="hidden")

    page.locator("#src-1 button.na-copy").click()
    page.wait_for_selector("#src-1 button.na-copy:has-text('Скопировано')")
    copied = page.evaluate("navigator.clipboard.readText()")
    title = page.locator("#src-1 .na-title").inner_text()
    assert copied.startswith(f"{title} — {SEED_DATE} — Day.Az — «") and SEED_QUOTE in copied, copied
    assert not watch.dialogs and not watch.errors and not watch.external


def test_written_and_bad_dates_in_filters(page: Any, chat_url: str) -> None:
    watch = open_chat(page, chat_url)
    date_from = fill_date_from(page, "32.13.2025")
    page.fill("#na-question textarea", SEED_QUESTION)
    page.click("#na-send")
    page.wait_for_selector("#na-date-note .na-error")
    assert "32.13.2025" in page.locator("#na-date-note").inner_text()
    assert page.input_value("#na-question textarea") == SEED_QUESTION, "the question stays to be sent again"
    assert page.locator("#na-chat .message-row").count() == 0
    assert page.locator(".toast-body, .error").count() == 0, "no red error overlays"
    page.screenshot(path=str(ARTIFACTS / "bad-date.png"))

    date_from.fill("27.10.2025")
    page.click("#na-send")
    page.wait_for_selector("#na-sources mark")
    page.wait_for_selector("#na-chat :text('даты 2025-10-27')")
    assert page.locator("#na-date-note .na-error").count() == 0
    assert "27.10.2025" in page.locator("#na-date-note").inner_text()

    date_from.fill("27 октября 2025")
    page.locator("#na-date-to textarea, #na-date-to input").first.fill("Oct 28 2025")
    ask(page, SEED_QUESTION)
    page.wait_for_selector("#na-chat :text('даты 2025-10-27 — 2025-10-28')")
    assert not watch.errors


def test_corpus_search_and_delete_with_confirmation(page: Any, newsroom_url: str, tmp_path: Path) -> None:
    open_chat(page, newsroom_url)
    doomed = tmp_path / "doomed.md"
    doomed.write_text("---\ntitle: Заметка на удаление\ndate: 2025-11-05\nsource: Черновик\n---\n"
                      "Эта заметка попала в корпус по ошибке и будет удалена.\n", encoding="utf-8")
    upload(page, [doomed])
    before = int(page.get_attribute("#na-corpus .na-doc-count", "data-count"))
    page.locator("#na-corpus-search textarea, #na-corpus-search input").first.type("черновик 2025-11")
    page.wait_for_selector("#na-corpus .na-shown[data-shown='1']")
    assert "Заметка на удаление" in page.locator("#na-corpus table").inner_text()
    page.click("#na-delete-pick input")
    page.get_by_role("option", name="Заметка на удаление — 2025-11-05 — Черновик").click()
    page.click("#na-delete")
    page.wait_for_selector("#na-confirm-delete")
    assert "Заметка на удаление" in page.locator("#na-delete-note").inner_text()
    page.click("#na-cancel-delete")  # first: cancel keeps it
    page.wait_for_selector("#na-confirm-delete", state="hidden")
    assert int(page.get_attribute("#na-corpus .na-doc-count", "data-count")) == before
    page.click("#na-delete")
    page.click("#na-confirm-delete")
    page.wait_for_function(f"document.querySelector('#na-corpus .na-doc-count').dataset.count == '{before - 1}'")
    assert "удалена" in page.locator("#na-delete-note").inner_text()


def test_uploaded_source_selectable_through_gradio_client(page: Any, newsroom_url: str, tmp_path: Path) -> None:
    from gradio_client import Client

    open_chat(page, newsroom_url)
    client = Client(newsroom_url + "/", verbose=False)  # connected before the new sources exist
    header = "---\ntitle: Мост через Энку\ndate: 2025-11-08\nsource: {}\nurl: https://example.org/{}\n---\n"
    first, second = tmp_path / "bridge-a.md", tmp_path / "bridge-b.md"
    first.write_text(header.format("Энская правда", "a") + STORY, encoding="utf-8")
    second.write_text(header.format("Вестник Энска", "b") + SYNDICATED, encoding="utf-8")
    upload(page, [first, second])
    assert "near-duplicate" in page.locator("#na-ingest-result").inner_text()

    question = "Какой длины новый мост в Энске?"
    job = client.submit(question=question, sources=["Вестник Энска"], api_name="/chat")
    chat = job.result(timeout=120)[0]
    text = json.dumps(chat[-1]["content"], ensure_ascii=False)
    assert "сто двадцать метров" in text and "na-cite" not in text and "<a" not in text, text
    assert "[\\\\[1\\\\]](#src-1)" in text, "clean Markdown citations"
    data = client.predict(question=question, sources=["Энская правда"], api_name="/ask")
    assert data["citations"] and {c["source"] for c in data["citations"]} == {"Энская правда"}

    page.get_by_role("tab", name="Чат").click()
    ask(page, question)  # without a filter: the syndicated story is quoted once, both sources listed under it
    sources = page.locator("#na-sources").inner_text()
    assert "Энская правда" in sources and "Вестник Энска" in sources and "Эта же история" in sources
    quotes = page.locator("#na-sources .na-source mark")  # other sentences of the story may follow as [2], [3]
    assert sum("сто двадцать метров" in quotes.nth(i).inner_text() for i in range(quotes.count())) == 1
    chat_text = page.locator("#na-chat").inner_text()  # the quote is either member's; the other is listed under it
    assert any(f"эта же история: {s}, 2025-11-08" in chat_text for s in ("Энская правда", "Вестник Энска"))
    page.screenshot(path=str(doc_screenshot("screenshot-syndicated.png")))


def test_phone_width_screenshot(browser: Any, chat_url: str) -> None:
    page = new_page(browser, width=390, height=844)
    try:
        open_chat(page, chat_url)
        ask(page, SEED_QUESTION)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
        page.locator("#na-chat").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(doc_screenshot("screenshot-phone.png")))
        page.locator("#src-1").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(doc_screenshot("screenshot-phone-sources.png")))
    finally:
        page.context.close()


def test_english_interface_names_everything_in_english(browser: Any, chat_url: str) -> None:
    page = new_page(browser, locale="en-US")
    try:
        open_chat(page, chat_url)
        page.wait_for_selector("#na-header :text('News assistant')")
        page.wait_for_function("document.title === 'News assistant'")
        assert page.get_by_role("tab", name="Corpus").count() == 1 and page.get_by_role("tab", name="Chat").count() == 1
        page.locator("#na-filters").get_by_text("Filters").click()
        page.locator("#na-date-from textarea, #na-date-from input").first.fill("someday")
        page.fill("#na-question textarea", "Which documents were signed during the visit?")
        page.click("#na-send")
        page.wait_for_selector("#na-date-note .na-error")
        assert "“someday” is not a date" in page.locator("#na-date-note").inner_text()
        page.locator("#na-lang").get_by_text("ru", exact=True).click()
        page.wait_for_function("document.title === 'Новостной ассистент'")
        page.wait_for_selector("role=tab[name='Корпус']")
    finally:
        page.context.close()
