"""The chat's rendering without a browser: one card per article, filler never quoted, quoted text stays text (web
Markdown and Slack mrkdwn), the filters line only when filtered, paired quotation marks, notes in the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assistant.answering.candidates import Candidate
from assistant.answering.citing import select
from assistant.answering.filler import filler
from assistant.cli import format_answer
from assistant.slackbot.blocks import answer_blocks
from assistant.types import Answer, Article, Citation, Filters
from assistant.web.render import balanced, chat_markdown_steps, md_esc, sources_html

HOSTILE = ["<https://evil.example/phish|Войдите>", "![](http://127.0.0.1:9999/pixel.png)", "\n---\n",
           "[жми](javascript:alert(1))", "www.evil.example", "admin@evil.example", "# Заголовок", "> цитата"]


@pytest.mark.parametrize("text", [
    "Логотип Amazon Web Services",  # an image caption
    "Фото: Reuters.",
    "Об этом в беседе с Day.Az сказал докторант Академии государственного управления Иван Петров.",
    "После чего Путин ответил:",  # announces what is not taken in
    "Михаил Горбачёв, род.",  # cut at an abbreviation
    "Это сказал его заместитель А.",  # cut at an initial
    "и далее о санкциях против России.",  # what such a cut leaves
])
def test_filler_is_recognised(text: str) -> None:
    assert filler(text)


@pytest.mark.parametrize("text", [
    "В ходе визита между Азербайджаном и Казахстаном были подписаны ряд документов.",
    "Об этом сообщил министр, добавив, что санкции продлят до 2026 года.",
    "Как сообщает ТАСС, в Москве прошёл митинг в поддержку закона.",
    "Путин ответил, что Россия не будет вмешиваться в выборы.",
    "Лаборатория лишилась аккредитации из-за несоответствия международным стандартам.",
])
def test_prose_is_not_filler(text: str) -> None:
    assert not filler(text)


def test_an_announced_sentence_taken_in_is_not_bare() -> None:
    assert filler("Путин ответил:") and not filler("Путин ответил: «Мы согласны».")
    assert not filler("В документе перечислены меры поддержки малого бизнеса, которые вводятся с 1 января 2026 "
                      "года в трёх регионах страны, и сроки их действия:")  # a long clause says something itself
    assert not filler("Он сказал это в 1990 г.", following=" В Москве тогда шёл снег.")
    assert filler("Он сказал это в 1990 г.", following=" в Москве")  # the splitter cut after «г.»
    assert filler("Он родился в 1950 г. в Москве, сын Ивана, род.", following=" 1920")
    assert not filler("Автобус перевернулся.", following="\n12 человек погибли.")  # a new line, not a cut


def cand(doc: str, start: int, text: str, score: float) -> Candidate:
    return Candidate(doc, start, start + len(text), text, relevance=1.0, score=score)


def test_select_passes_over_a_caption_with_the_best_score() -> None:
    caption = cand("a", 0, "Логотип Amazon Web Services", 5.0)
    answer = cand("a", 40, "Роскомнадзор заблокировал сайт Amazon Web Services из-за азартных игр.", 4.0)
    byline = cand("a", 200, "Об этом сообщает ТАСС.", 3.9)
    assert [c.text for c in select([caption, answer, byline], 3, 5.0, 0.5)] == [answer.text]


def citation(n: int, doc: str, quote: str, start: int = 0) -> dict[str, Any]:
    return Citation(doc_id=doc, title=f"Статья {doc}", date="2025-10-27", source="Day.Az", url="", quote=quote,
                    start=start, end=start + len(quote), score=1.0, n=n).to_dict()


def test_one_card_per_article_in_order_of_its_best_quote() -> None:
    text_a = "Первое предложение статьи. Второе предложение статьи. Третье предложение."
    articles = {"a": Article("a", "Статья a", text_a), "b": Article("b", "Статья b", "Другая статья о том же.")}
    answer = {"citations": [citation(1, "a", "Второе предложение статьи.", 27), citation(2, "b", "Другая статья о том же."),
                            citation(3, "a", "Первое предложение статьи.", 0)]}
    html = sources_html(answer, articles.get, "ru")
    assert html.count('class="na-source"') == 2 and html.count('class="na-title">Статья a<') == 1
    assert html.index('id="src-1"') < html.index('id="src-2"') and 'id="src-3"' in html
    card_a = html[html.index('id="src-1"'):html.index('id="src-2"')]
    assert 'id="src-3"' in card_a and card_a.index("[1]") < card_a.index("[3]")
    assert card_a.count('<mark class="na-hit">') == 1 and card_a.count('<mark class="na-hit na-other">') == 1


def test_filters_line_only_when_filtered() -> None:
    answer = {"answer": "Вот что говорится в источниках:", "citations": [citation(1, "a", "Цитата из статьи.")]}
    assert "фильтры" not in chat_markdown_steps(answer, "", "ru")[-1].lower()
    assert "даты 2025-10-01" in chat_markdown_steps(answer, "даты 2025-10-01 — 2025-10-31", "ru")[-1]


def test_quote_marks_are_paired() -> None:
    assert balanced('"В ходе визита были подписаны документы.') == '"В ходе визита были подписаны документы."'
    assert balanced("документы», сказал он.") == "«документы», сказал он."
    assert balanced("«Мы согласны», — сказал он.") == "«Мы согласны», — сказал он."


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_of_quoted_text_has_no_link_image_rule_or_block(text: str) -> None:
    from markdown_it import MarkdownIt

    escaped = md_esc(f"Текст {text} текст")
    html = MarkdownIt("commonmark").render(escaped)  # bare-URL autolinks: see test_browser_layout (the real chat)
    assert not re.search(r"<(a|img|hr|h\d|blockquote|ul|ol)\b", html), html
    assert not re.search(r"[a-z]://|www\.|\w@", escaped)  # what GFM would autolink


def test_slack_quotes_cannot_link_or_mention() -> None:
    quote = "Пишите <https://evil.example/phish|сюда> & <!channel> <@U123>"
    cit = Citation("a", "Т", None, "S", "", quote, 0, len(quote), 1.0, n=1)
    text = str(answer_blocks(Answer("?", "ответ <http://x|y>", [cit])))
    assert "<https" not in text and "<!channel>" not in text and "<@U123>" not in text and "<http://x" not in text
    assert "&lt;https://evil.example/phish|сюда&gt; &amp; &lt;!channel&gt;" in text


def test_cli_prints_the_answers_notes() -> None:
    answer = Answer("Что подписали?", "Вот что говорится в источниках:",
                    notes=["генеративный ответ недоступен: connection refused"], filters_applied=Filters())
    out = format_answer(answer)
    assert "Примечание: генеративный ответ недоступен: connection refused" in out


def test_slack_without_tokens_names_both_modes(tmp_path: Path) -> None:
    from assistant.slackbot import check_settings
    from tests.conftest import make_settings

    bare = make_settings(tmp_path, slack_bot_token="", slack_app_token="", slack_signing_secret="")
    with pytest.raises(SystemExit) as stop:
        check_settings(bare, None)
    message = str(stop.value)
    assert all(name in message for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")), message
