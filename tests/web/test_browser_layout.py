"""The chat's layout in a real browser at 1440×900 (desktop) and 390×844 (phone), Russian and English: the answer's
start in view when it arrives, sources right under the answer on a phone, one card per article, no emoji-dependent
text, a corpus table that fits a phone, and quoted text that never becomes a link, an image or a rule.

Screenshots for the docs (docs/screenshot-*.png) are rewritten only when ASSISTANT_DOC_SCREENSHOTS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assistant.pipeline import Assistant
from assistant.web import build_app
from assistant.web.server import BackgroundServer
from tests.conftest import CORPUS, SEED_QUESTION, make_settings
from tests.web.test_browser import WAIT_MS, Watch, browser, chat_url, doc_screenshot, web_settings  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
EMOJI = r"/[\u{1F300}-\u{1FAFF}\u{2600}-\u{26FF}\u{2700}-\u{27BF}]/u"
HOSTILE_ARTICLE = """title Фишинг в Энске: мэрия предупреждает
date 2025-11-04
source Тестовая лента
Мэрия Энска предупредила жителей о поддельных письмах. В письмах просят нажать <https://evil.example/phish|Войдите в личный кабинет> и ![](http://127.0.0.1:9/pixel.png) для подтверждения.
---
Жителям Энска мошенники советуют открыть адрес www.evil.example, написать на admin@evil.example и перейти по ссылке https://evil.example/login из письма.
"""
# Where the question just asked, [1] and the first source card stand (px from the viewport's top), once all are there;
# the question and [1] count as shown only inside the part of the chat box scrolled into view (not clipped by it).
GEOMETRY_JS = """() => {
  const rows = document.querySelectorAll('#na-chat .message-row.user-row');
  const user = rows[rows.length - 1];
  const cite = [...document.querySelectorAll("#na-chat a[href='#src-1']")].pop();
  const card = document.querySelector('#na-sources .na-source');
  if (!user || !cite || !card) return null;
  let clip = user.parentElement;
  while (clip && clip.id !== 'na-chat' && !(clip.scrollHeight > clip.clientHeight + 1 &&
         /auto|scroll/.test(getComputedStyle(clip).overflowY))) clip = clip.parentElement;
  const c = clip.getBoundingClientRect();
  const box = (e, clipped) => {  // a part hidden by the chat box's scrolling counts as off screen
    const r = e.getBoundingClientRect();
    const hidden = clipped && (r.top < c.top - 1 || r.bottom > c.bottom + 1);
    return {top: hidden ? -1 : r.top, bottom: hidden ? 1e9 : r.bottom};
  };
  return {user: box(user, true), cite: box(cite, true), card: box(card, false), height: window.innerHeight};
}"""


def in_view(geometry: dict[str, Any], name: str) -> bool:
    """Whether an element lies wholly inside the viewport."""
    return geometry[name]["top"] >= 0 and geometry[name]["bottom"] <= geometry["height"]


def new_page(browser: Any, viewport: dict[str, int], locale: str = "ru-RU") -> Any:  # noqa: F811
    context = browser.new_context(locale=locale, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


def open_app(page: Any, url: str) -> Watch:
    watch = Watch(page)
    page.goto(url + "/")
    page.wait_for_selector("#na-question textarea")
    return watch


def ask_and_wait(page: Any, question: str) -> dict[str, Any]:
    """Ask; wait until the answer, its sources and the scroll to its start are done; the geometry then."""
    page.fill("#na-question textarea", question)
    page.click("#na-send")
    page.wait_for_selector("#na-sources .na-source")
    done = ("() => { const g = (" + GEOMETRY_JS + ")(); return g && g.user.top >= 0 && g.cite.bottom <= g.height "
            "&& !document.querySelector('#na-chat .pending, #na-send[disabled]'); }")
    page.wait_for_function(done)
    return page.evaluate(GEOMETRY_JS)


def one_card_per_article(page: Any) -> None:
    docs = page.eval_on_selector_all("#na-sources .na-source", "cards => cards.map(c => c.dataset.doc)")
    titles = page.eval_on_selector_all("#na-sources .na-title", "ts => ts.map(t => t.textContent)")
    numbers = page.eval_on_selector_all("#na-sources .na-quote > .na-num", "ns => ns.map(n => n.textContent)")
    assert len(docs) == len(set(docs)) and len(titles) == len(set(titles)), (docs, titles)
    assert numbers[:1] == ["[1]"] and len(numbers) == len(set(numbers)) >= len(docs)


def no_emoji(page: Any) -> None:
    texts = page.evaluate("() => [document.body.innerText, ...[...document.querySelectorAll('[placeholder]')]"
                          ".map(e => e.placeholder)].join('\\n')")
    assert not page.evaluate(f"t => {EMOJI}.test(t)", texts), "text that needs an emoji font"


def test_desktop_answer_start_in_view_one_card_per_article(browser: Any, chat_url: str) -> None:  # noqa: F811
    page = new_page(browser, DESKTOP)
    watch = open_app(page, chat_url)
    assert page.locator("#na-question textarea").bounding_box()["y"] < DESKTOP["height"] - 60
    no_emoji(page)
    ask_and_wait(page, "Почему московская антидопинговая лаборатория лишилась аккредитации?")
    geometry = ask_and_wait(page, SEED_QUESTION)  # a second answer: the chat must not sit at the bottom
    assert in_view(geometry, "user") and in_view(geometry, "cite"), geometry
    one_card_per_article(page)
    assert "фильтры" not in page.locator("#na-chat").inner_text().lower()  # none applied: no line about them
    page.screenshot(path=str(doc_screenshot("screenshot-chat.png")))
    assert not watch.errors and not watch.external, (watch.errors, watch.external)
    page.context.close()


def test_phone_sources_right_under_the_answer(browser: Any, chat_url: str) -> None:  # noqa: F811
    page = new_page(browser, PHONE)
    watch = open_app(page, chat_url)
    box = page.locator("#na-question textarea").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], f"the question field is below the fold: {box}"
    page.screenshot(path=str(doc_screenshot("screenshot-phone-start.png")))
    geometry = ask_and_wait(page, SEED_QUESTION)
    assert in_view(geometry, "user") and in_view(geometry, "cite"), geometry
    assert geometry["card"]["top"] - geometry["user"]["top"] <= PHONE["height"], geometry
    one_card_per_article(page)
    page.screenshot(path=str(doc_screenshot("screenshot-phone.png")))
    page.evaluate("document.querySelector('#na-sources-title').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(doc_screenshot("screenshot-phone-sources.png")))

    page.get_by_role("tab", name="Корпус").click()
    page.wait_for_selector("#na-corpus .na-doc-count")
    wrapped = page.evaluate("""() => [...document.querySelectorAll('#na-corpus td.na-nowrap')].filter(td => {
        const text = document.createRange();
        text.selectNodeContents(td);
        return td.textContent && text.getClientRects().length > 1;  // one box per line of the date
      }).map(td => td.textContent)""")
    table = page.locator("#na-corpus table").bounding_box()
    assert not wrapped and table["x"] + table["width"] <= PHONE["width"], (wrapped, table)
    assert not watch.errors
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_english_interface_is_english(browser: Any, chat_url: str, viewport: dict[str, int]) -> None:  # noqa: F811
    page = new_page(browser, viewport, "en-US")
    open_app(page, chat_url)
    page.wait_for_selector("#na-examples :text('What documents were signed during the visit?')")
    labels = page.evaluate("() => [...document.querySelectorAll('label, button, th, [placeholder], h2, h3')]"
                           ".map(e => e.placeholder || e.innerText).join(' | ')")
    assert not any("а" <= ch.lower() <= "я" for ch in labels.replace("Язык", "")), labels
    no_emoji(page)
    page.locator("#na-examples").get_by_text("What documents were signed during the visit?").click()
    page.wait_for_function("document.querySelector('#na-question textarea').value === "
                           "'What documents were signed during the visit?'")
    geometry = ask_and_wait(page, "What documents were signed during the visit?")
    assert in_view(geometry, "user") and in_view(geometry, "cite"), geometry
    name = "screenshot-chat-en.png" if viewport == DESKTOP else "screenshot-phone-en.png"
    page.screenshot(path=str(doc_screenshot(name)))
    page.context.close()


@pytest.fixture(scope="module")
def hostile_url(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on its own store holding the seed article and an article full of links and Markdown."""
    folder = tmp_path_factory.mktemp("hostile-articles")
    (folder / "phish.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    helper = Assistant(make_settings(tmp_path_factory.mktemp("hostile-data")), embedder=assistant.embedder)
    assert not helper.ingest([CORPUS / "000_348cd98c955992e8.txt", folder / "phish.txt"]).failed
    server = BackgroundServer(build_app(helper, helper.settings))
    yield server.start()
    server.stop()
    helper.close()


@pytest.mark.parametrize("question", ["Что просят нажать в поддельных письмах?",
                                      "Что мошенники советуют жителям Энска?"])
def test_quoted_links_and_markup_stay_text(browser: Any, hostile_url: str, question: str) -> None:  # noqa: F811
    page = new_page(browser, DESKTOP)
    watch = open_app(page, hostile_url)
    ask_and_wait(page, question)
    chat = page.locator("#na-chat")
    text = chat.inner_text()
    assert "evil.example" in text, text
    hrefs = page.eval_on_selector_all("#na-chat a, #na-sources a", "as => as.map(a => a.getAttribute('href'))")
    assert all(h and h.startswith("#src-") for h in hrefs), hrefs
    assert page.locator("#na-chat img, #na-chat hr, #na-sources img, #na-sources hr").count() == 0
    assert not [u for u in watch.external if "evil" in u or ":9/" in u]
    page.context.close()
