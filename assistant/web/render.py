"""HTML and Markdown fragments of the web chat. Every piece of article text or metadata goes through ``esc``."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..types import Article, DocInfo, FileResult, Stats

CONTEXT_CHARS = 360  # article text shown on each side of a quote, at most, inside its paragraph
MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Новостной ассистент",
        "subtitle": "Ответы цитируют статьи дословно; номера [1], [2] ведут к источникам справа.",
        "chat": "Чат",
        "question": "Вопрос",
        "placeholder": "Спросите о новостях в корпусе…",
        "send": "Спросить",
        "clear": "Очистить",
        "examples": "Примеры вопросов",
        "filters": "Фильтры",
        "date_from": "С даты (ГГГГ-ММ-ДД)",
        "date_to": "По дату (ГГГГ-ММ-ДД)",
        "sources_filter": "Источник",
        "sources": "Источники",
        "no_sources": "Здесь появятся цитаты из статей с выделенным фрагментом.",
        "upload": "Загрузка статей",
        "upload_files": "Файлы (.txt, .md, .html, .jsonl)",
        "ingest": "Добавить в корпус",
        "corpus": "Корпус",
        "refresh": "Обновить",
        "feedback": "Комментарий к последней оценке",
        "feedback_placeholder": "Оцените ответ 👍/👎 в чате, затем можно пояснить здесь",
        "send_comment": "Отправить комментарий",
        "thanks": "Спасибо за оценку!",
        "comment_saved": "Комментарий сохранён.",
        "rate_first": "Сначала оцените ответ 👍 или 👎.",
        "lang": "Язык / Language",
        "filters_applied": "Применённые фильтры",
        "no_filters": "без фильтров",
        "thinking": "Ищу в источниках…",
        "no_date": "без даты",
        "documents": "документов",
        "chunks": "фрагментов",
        "model": "модель",
        "th_title": "Заголовок",
        "th_date": "Дата",
        "th_source": "Источник",
        "th_chunks": "Фрагм.",
        "th_file": "Файл",
        "th_status": "Результат",
        "status_added": "добавлен",
        "status_updated": "обновлён",
        "status_unchanged": "без изменений",
        "status_failed": "ошибка",
        "status_removed": "удалён",
        "no_files": "Выберите файлы для загрузки.",
        "bad_date": "Дата должна быть в формате ГГГГ-ММ-ДД",
        "error": "Ошибка",
        "open": "открыть",
    },
    "en": {
        "title": "News assistant",
        "subtitle": "Answers quote the articles verbatim; the numbers [1], [2] lead to the sources on the right.",
        "chat": "Chat",
        "question": "Question",
        "placeholder": "Ask about the news in the corpus…",
        "send": "Ask",
        "clear": "Clear",
        "examples": "Example questions",
        "filters": "Filters",
        "date_from": "From date (YYYY-MM-DD)",
        "date_to": "To date (YYYY-MM-DD)",
        "sources_filter": "Source",
        "sources": "Sources",
        "no_sources": "Quotes from the articles, with the passage highlighted, appear here.",
        "upload": "Upload articles",
        "upload_files": "Files (.txt, .md, .html, .jsonl)",
        "ingest": "Add to the corpus",
        "corpus": "Corpus",
        "refresh": "Refresh",
        "feedback": "Comment on your last rating",
        "feedback_placeholder": "Rate an answer 👍/👎 in the chat, then you may explain here",
        "send_comment": "Send comment",
        "thanks": "Thank you for the rating!",
        "comment_saved": "Comment saved.",
        "rate_first": "Rate an answer with 👍 or 👎 first.",
        "lang": "Язык / Language",
        "filters_applied": "Filters applied",
        "no_filters": "no filters",
        "thinking": "Searching the sources…",
        "no_date": "no date",
        "documents": "documents",
        "chunks": "chunks",
        "model": "model",
        "th_title": "Title",
        "th_date": "Date",
        "th_source": "Source",
        "th_chunks": "Chunks",
        "th_file": "File",
        "th_status": "Result",
        "status_added": "added",
        "status_updated": "updated",
        "status_unchanged": "unchanged",
        "status_failed": "failed",
        "status_removed": "removed",
        "no_files": "Choose files to upload.",
        "bad_date": "Dates are YYYY-MM-DD",
        "error": "Error",
        "open": "open",
    },
}


def t(lang: str, key: str) -> str:
    """A UI text in the language (Russian unless ``en``)."""
    return TEXTS["en" if lang == "en" else "ru"][key]


def esc(value: object) -> str:
    """HTML-escape a value for any place in a rendered fragment (braces and dollars too: templates never see them)."""
    text = html.escape("" if value is None else str(value), quote=True)
    return text.replace("{", "&#123;").replace("}", "&#125;").replace("$", "&#36;")


def md_esc(value: object) -> str:
    """Escape text for the chat's Markdown: HTML-escaped, and Markdown/LaTeX characters backslashed."""
    return MD_SPECIAL.sub(r"\\\1", html.escape("" if value is None else str(value), quote=False))


def safe_url(url: str) -> str:
    """The URL if it is http(s), else empty (no javascript: links)."""
    return url if re.match(r"https?://", url or "", re.IGNORECASE) else ""


def paragraph_bounds(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> tuple[int, int]:
    """The paragraph around ``text[start:end]`` (line breaks bound it), cut to ``context`` chars each side at spaces."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi < 0 else hi
    if start - lo > context:
        cut = text.find(" ", start - context, start)
        lo = cut + 1 if cut >= 0 else start - context
    if hi - end > context:
        cut = text.rfind(" ", end, end + context)
        hi = cut if cut > end else end + context
    return lo, hi


def highlighted_passage(text: str, start: int, end: int) -> str:
    """HTML: the quote in ``<mark>`` inside its (escaped) paragraph, with ellipses where the paragraph was cut."""
    lo, hi = paragraph_bounds(text, start, end)
    para_lo = text.rfind("\n", 0, start) + 1
    para_hi = text.find("\n", end)
    para_hi = len(text) if para_hi < 0 else para_hi
    before = ("… " if lo > para_lo else "") + esc(text[lo:start])
    after = esc(text[end:hi]) + (" …" if hi < para_hi else "")
    return f"{before}<mark>{esc(text[start:end])}</mark>{after}"


def source_card(citation: dict[str, Any], article: Article | None, lang: str, prefix: str = "src") -> str:
    """One source: number, title, date, source (linked when there is a URL), the highlighted passage."""
    n = int(citation.get("n") or 0)
    url = safe_url(str(citation.get("url") or ""))
    source = esc(citation.get("source") or "")
    if url:
        source = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{source or esc(t(lang, "open"))}</a>'
    date = esc(citation.get("date") or t(lang, "no_date"))
    start, end = int(citation.get("start", 0)), int(citation.get("end", 0))
    if article is not None and article.text[start:end] == citation.get("quote"):
        passage = highlighted_passage(article.text, start, end)
    else:  # the article changed or is gone: show the quote alone
        passage = f"<mark>{esc(citation.get('quote', ''))}</mark>"
    return (
        f'<div class="na-source" id="{prefix}-{n}" data-n="{n}">'
        f'<div class="na-source-head"><span class="na-num">[{n}]</span> '
        f'<span class="na-title">{esc(citation.get("title") or "")}</span></div>'
        f'<div class="na-meta"><span class="na-date">{date}</span>'
        f'{" · " + source if source else ""}</div>'
        f'<blockquote class="na-passage">{passage}</blockquote></div>'
    )


def sources_html(answer: dict[str, Any] | None, get_article: Callable[[str], Article | None], lang: str) -> str:
    """The sources panel for one answer (its ``to_dict()``), or a hint when there is none yet."""
    if not answer or not answer.get("citations"):
        note = esc(answer.get("answer", "")) if answer else esc(t(lang, "no_sources"))
        return f'<div class="na-sources na-empty">{note}</div>'
    cards = []
    for citation in answer["citations"]:
        cards.append(source_card(citation, get_article(str(citation.get("doc_id", ""))), lang))
    return '<div class="na-sources">' + "".join(cards) + "</div>"


def chat_lead(answer: dict[str, Any]) -> str:
    """The answer's text (the lead, the LLM's answer, or the no-answer reply), Markdown-escaped."""
    return md_esc(str(answer.get("answer", "")))


def chat_quote_line(citation: dict[str, Any]) -> str:
    """One cited quote for the chat: a clickable number leading to its source card, then the quote."""
    n = int(citation.get("n") or 0)
    return f'<a class="na-cite" href="#src-{n}" data-n="{n}">[{n}]</a> «{md_esc(citation.get("quote", ""))}»'


def filters_line(description: str, lang: str) -> str:
    """The line saying which filters were applied (or none)."""
    return f"_{md_esc(t(lang, 'filters_applied'))}: {md_esc(description or t(lang, 'no_filters'))}_"


def chat_markdown_steps(answer: dict[str, Any], description: str, lang: str) -> list[str]:
    """The answer's Markdown as it grows while streaming: lead, then each quote, then the filters line."""
    parts = [chat_lead(answer)]
    steps = [parts[0]]
    for citation in answer.get("citations", []):
        parts.append(chat_quote_line(citation))
        steps.append("\n\n".join(parts))
    parts.append(filters_line(description, lang))
    steps.append("\n\n".join(parts))
    return steps


def corpus_html(stats: Stats, docs: Sequence[DocInfo], lang: str) -> str:
    """Counts, then a table of the stored documents (newest first)."""
    rows = []
    for doc in sorted(docs, key=lambda d: (d.date or "", d.title), reverse=True):
        title = esc(doc.title)
        url = safe_url(doc.url)
        if url:
            title = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        rows.append(f"<tr><td>{title}</td><td>{esc(doc.date or '')}</td><td>{esc(doc.source)}</td>"
                    f"<td>{doc.chunks}</td></tr>")
    head = (f"<tr><th>{esc(t(lang, 'th_title'))}</th><th>{esc(t(lang, 'th_date'))}</th>"
            f"<th>{esc(t(lang, 'th_source'))}</th><th>{esc(t(lang, 'th_chunks'))}</th></tr>")
    counts = (f'<div class="na-counts"><b class="na-doc-count" data-count="{stats.documents}">{stats.documents}</b> '
              f"{esc(t(lang, 'documents'))} · <b>{stats.chunks}</b> {esc(t(lang, 'chunks'))} · "
              f"{esc(t(lang, 'model'))}: {esc(stats.model)}</div>")
    return (f'<div class="na-corpus">{counts}<div class="na-table-wrap"><table class="na-table">'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div></div>")


def ingest_html(results: Sequence[FileResult], lang: str, display: Callable[[str], str] = str) -> str:
    """Per-file results of an upload: file, added / updated / unchanged / failed (with the reason)."""
    rows = []
    for r in results:
        status = esc(t(lang, f"status_{r.status}"))
        detail = esc(r.reason) if r.reason else esc(r.title)
        rows.append(f'<tr class="na-status-{esc(r.status)}"><td>{esc(display(r.path))}</td>'
                    f"<td><b>{status}</b></td><td>{detail}</td></tr>")
    head = f"<tr><th>{esc(t(lang, 'th_file'))}</th><th>{esc(t(lang, 'th_status'))}</th><th></th></tr>"
    return f'<table class="na-table na-ingest"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


CSS = """
.na-sources { display: flex; flex-direction: column; gap: 10px; }
.na-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  background: var(--background-fill-secondary); scroll-margin-top: 12px; transition: box-shadow .3s; }
.na-source.na-flash { box-shadow: 0 0 0 3px var(--color-accent); }
.na-source-head { font-weight: 600; }
.na-num { color: var(--color-accent); margin-right: 4px; }
.na-meta { font-size: 0.9em; opacity: 0.8; margin: 2px 0 6px; }
.na-passage { margin: 0; padding-left: 10px; border-left: 3px solid var(--color-accent); white-space: pre-wrap;
  line-height: 1.45; }
.na-passage mark { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
.na-empty { opacity: 0.75; font-style: italic; padding: 6px; }
.na-table-wrap { max-height: 420px; overflow: auto; }
.na-table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.na-table th, .na-table td { border-bottom: 1px solid var(--border-color-primary); padding: 3px 6px;
  text-align: left; vertical-align: top; }
.na-counts { margin-bottom: 6px; }
.na-status-failed td { color: var(--error-text-color, #b91c1c); }
a.na-cite { font-weight: 600; text-decoration: none; cursor: pointer; }
"""

# Clicking a citation number in the chat scrolls to its source card and flashes it (no navigation).
JS_HEAD = """
<script>
document.addEventListener('click', function (event) {
  var link = event.target.closest && event.target.closest('a.na-cite, a[href^="#src-"]');
  if (!link) return;
  var n = link.getAttribute('data-n') || (link.getAttribute('href') || '').replace('#src-', '');
  var card = document.getElementById('src-' + n);
  event.preventDefault();
  event.stopPropagation();
  if (!card) return;
  card.scrollIntoView({behavior: 'smooth', block: 'center'});
  card.classList.add('na-flash');
  setTimeout(function () { card.classList.remove('na-flash'); }, 1500);
}, true);
</script>
"""
