"""The web chat in a real browser: Playwright driving Debian's Chromium (apt-get install chromium), headless.

Skips with a reason when /usr/bin/chromium or playwright is absent, except in CI (CI=true), where it fails.
Screenshots go to tests/artifacts/. The ones the docs show (docs/screenshot-*.png) are rewritten only when
ASSISTANT_DOC_SCREENSHOTS=1, so a test run leaves the working tree as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.feedback import FeedbackStore
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.web import build_app
from assistant.web.server import BackgroundServer
from tests.conftest import CORPUS, ROOT, SEED_DATE, SEED_QUESTION, SEED_QUOTE, make_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "tests" / "artifacts"


def doc_screenshot(name: str) -> Path:
    """Where a screenshot the docs show goes: docs/ when ASSISTANT_DOC_SCREENSHOTS=1, else tests/artifacts/."""
    folder = ROOT / "docs" if os.environ.get("ASSISTANT_DOC_SCREENSHOTS") == "1" else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


WAIT_MS = 90_000
XSS_ARTICLE = """title Музей котов <img src=x onerror="window.__pwned=1;alert('img')"> открыт
date 2025-11-03
source Тест <script>alert('src')</script>
В деревне Простоквашино открылся музей котов <script>window.__pwned=1;alert('xss')</script> при сельской библиотеке.
Экспозиция музея <img src=x onerror="window.__pwned=1;alert('img')"> включает двести портретов котов.
"""


def unavailable(reason: str) -> None:
    """Skip on a developer's machine, fail in CI (where the browser must be installed)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run must `apt-get install -y chromium` and pip install playwright)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is absent: apt-get install -y chromium (Debian's package; no playwright install)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install playwright")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shared store's settings with their own data dir for the app's feedback and uploads."""
    return settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("browser-web")})


@pytest.fixture(scope="module")
def chat_url(assistant: Assistant, web_settings: Settings) -> Iterator[str]:
    """The app on the shared demo store."""
    server = BackgroundServer(build_app(assistant, web_settings))
    yield server.start()
    server.stop()


def serve_seed_app(assistant: Assistant, data_dir: Path) -> Iterator[str]:
    """The app on its own small store (same model) holding the seed article: its URL while it serves."""
    helper = Assistant(make_settings(data_dir), embedder=assistant.embedder)
    assert not helper.ingest([CORPUS / "000_348cd98c955992e8.txt"]).failed
    server = BackgroundServer(build_app(helper, helper.settings))
    yield server.start()
    server.stop()
    helper.close()


@pytest.fixture(scope="module")
def upload_url(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a separate small store (same model), for uploads."""
    yield from serve_seed_app(assistant, tmp_path_factory.mktemp("browser-upload"))


class Watch:
    """What a page did that it must not: dialogs (alert), requests leaving the machine, page errors."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        url = request.url
        if not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            self.external.append(url)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    locale = getattr(request, "param", "ru-RU")
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
    context.close()


def open_chat(page: Any, url: str) -> Watch:
    watch = Watch(page)
    page.goto(url + "/")
    page.wait_for_selector("#na-question textarea")
    return watch


def open_corpus(page: Any) -> int:
    """Open the Corpus tab (rendered when first shown); returns the document count it shows."""
    page.get_by_role("tab", name="Корпус").click()
    page.wait_for_selector("#na-corpus .na-doc-count")
    return int(page.get_attribute("#na-corpus .na-doc-count", "data-count"))


def ask(page: Any, question: str) -> None:
    page.fill("#na-question textarea", question)
    page.click("#na-send")
    page.wait_for_selector("#na-sources mark")
    page.wait_for_function("document.querySelectorAll('#na-chat .message-row').length >= 2")


def fill_date_from(page: Any, value: str) -> Any:
    """Open the filters and type a start date; the field is read back, since the accordion may render its fields
    again as it opens (a value typed then was lost once in CI). Returns the field."""
    page.locator("#na-filters").get_by_text("Фильтры").click()
    field = page.locator("#na-date-from textarea, #na-date-from input").first
    field.wait_for(state="visible")
    for _ in range(5):
        field.fill(value)
        page.wait_for_timeout(200)
        if field.input_value() == value:
            return field
    raise AssertionError(f"the date field holds {field.input_value()!r}, not {value!r}")


def upload(page: Any, paths: list[Path]) -> None:
    """Choose files in the Corpus tab, wait for them to be uploaded, add them to the corpus."""
    open_corpus(page)
    page.set_input_files("#na-files input[type=file]", [str(p) for p in paths])
    names = [p.name for p in paths]
    shown = "names => names.every(n => document.querySelector('#na-files').innerText.replace(/\\n/g, '').includes(n))"
    page.wait_for_function(shown, arg=names)  # the File component shows a name's stem and suffix on separate lines
    page.click("#na-ingest")
    page.wait_for_selector("#na-ingest-result table")


def test_seed_question_shows_highlighted_source(page: Any, chat_url: str, web_settings: Settings) -> None:
    watch = open_chat(page, chat_url)
    ask(page, SEED_QUESTION)
    mark = page.locator("#na-sources #src-1 mark")
    assert SEED_QUOTE in mark.inner_text()
    assert page.locator("#na-sources #src-1 .na-date").inner_text() == SEED_DATE
    assert "Визит Ильхама Алиева" in page.locator("#na-sources #src-1 .na-title").inner_text()
    chat_text = page.locator("#na-chat").inner_text()
    assert "[1]" in chat_text and SEED_QUOTE in chat_text and "Применённые фильтры" in chat_text

    # clicking the citation number brings its source card into view and flashes it
    page.locator("#na-chat a[href='#src-1']").first.click()
    page.wait_for_selector("#src-1.na-flash")
    page.wait_for_timeout(1600)  # let the flash fade for the screenshot
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-seed-question.png"))
    page.screenshot(path=str(doc_screenshot("screenshot-chat.png")))
    assert not watch.dialogs and not watch.errors, (watch.dialogs, watch.errors)
    assert not watch.external, f"the page reached outside the machine: {watch.external}"

    # thumbs up, then a comment: stored with the question, answer and citations
    page.locator("#na-chat button[aria-label='Нравится']").last.click()
    page.wait_for_selector("#na-feedback-note :text('Спасибо')")
    store = FeedbackStore(web_settings.feedback_path)
    try:
        [record] = store.all()
        assert record.rating == 1 and record.channel == "web" and record.question == SEED_QUESTION
        assert SEED_QUOTE in record.answer and SEED_QUOTE in record.citations
        page.fill("#na-comment textarea", "точная цитата")
        page.click("#na-send-comment")
        page.wait_for_selector("#na-feedback-note :text('Комментарий сохранён')")
        assert store.all()[-1].comment == "точная цитата"
    finally:
        store.close()


def test_filters_are_stated_in_the_answer(page: Any, chat_url: str) -> None:
    open_chat(page, chat_url)
    fill_date_from(page, "2025-01-01")
    ask(page, SEED_QUESTION)
    page.wait_for_selector("#na-chat :text('даты 2025-01-01')")
    assert page.locator("#na-sources #src-1 .na-date").inner_text() >= "2025-01-01"


@pytest.mark.parametrize("page", ["en-US"], indirect=True)
def test_language_follows_browser_and_switch(page: Any, chat_url: str) -> None:
    open_chat(page, chat_url)
    page.wait_for_selector("#na-header :text('News assistant')")
    assert page.locator("#na-send").inner_text().strip() == "Ask"
    page.locator("#na-lang").get_by_text("ru", exact=True).click()
    page.wait_for_selector("#na-header :text('Новостной ассистент')")
    assert page.locator("#na-send").inner_text().strip() == "Спросить"


def test_upload_is_counted_in_corpus_panel(page: Any, upload_url: str, tmp_path: Path) -> None:
    watch = open_chat(page, upload_url)
    before = open_corpus(page)
    article = tmp_path / "bridge.md"
    article.write_text("---\ntitle: Новый мост в Энске\ndate: 2025-11-02\nsource: Энская правда\n---\n"
                       "В Энске открыли пешеходный мост через реку Энку длиной 120 метров.\n", encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n", encoding="utf-8")
    upload(page, [article, broken])
    result = page.locator("#na-ingest-result")
    assert "bridge.md" in result.inner_text() and "добавлен" in result.inner_text()
    assert "broken.jsonl:1" in result.inner_text() and "ошибка" in result.inner_text()
    page.wait_for_function(f"document.querySelector('#na-corpus .na-doc-count').dataset.count == '{before + 1}'")
    assert "Новый мост в Энске" in page.locator("#na-corpus").inner_text()
    page.screenshot(path=str(ARTIFACTS / "upload.png"))
    assert not watch.dialogs and not watch.errors


def test_markup_in_articles_is_shown_as_text(page: Any, upload_url: str, tmp_path: Path) -> None:
    watch = open_chat(page, upload_url)
    article = tmp_path / "xss_article.txt"
    article.write_text(XSS_ARTICLE, encoding="utf-8")
    upload(page, [article])
    assert "xss_article.txt" in page.locator("#na-ingest-result").inner_text()
    corpus = page.locator("#na-corpus").inner_text()
    assert "<img src=x onerror=" in corpus and "<script>alert('src')</script>" in corpus

    page.get_by_role("tab", name="Чат").click()
    ask(page, "Что открылось в деревне Простоквашино?")
    sources = page.locator("#na-sources").inner_text()
    assert "<script>window.__pwned=1;alert('xss')</script>" in sources
    assert "<img src=x onerror=" in sources
    assert "<script>" in page.locator("#na-chat").inner_text()
    assert page.locator("#na-sources img, #na-sources script, #na-corpus img, #na-corpus script").count() == 0
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "markup-as-text.png"))
    assert page.evaluate("window.__pwned") is None
    assert not watch.dialogs, f"article markup ran in the page: {watch.dialogs}"
