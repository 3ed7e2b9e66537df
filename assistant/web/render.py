"""HTML and Markdown fragments of the web chat. Every piece of article text or metadata goes through ``esc``."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..loading import headline_end
from ..types import Article, DocInfo, FileResult, Stats

CONTEXT_CHARS = 360  # article text shown on each side of a quote, at most, inside its paragraph
MAX_ARTICLE_CHARS = 200_000  # the reader panel shows an article up to this length (longer: cut after the quote)
MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$!])")
MD_LINKISH = re.compile(r"(?i)(?<=[a-z])://|\bwww\.|@")  # autolinks: a scheme's «://», «www.», an e-mail's «@»
MD_LINE_START = re.compile(r"(?m)^([ \t]*(?:\d+)?)([-+=>]|\.(?=\s|$))")  # rules, setext headings, lists, quotes

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Новостной ассистент",
        "subtitle": "Ответы цитируют статьи дословно; номера [1], [2] ведут к источникам (справа или ниже).",
        "chat": "Чат",
        "question": "Вопрос",
        "placeholder": "Спросите о новостях в корпусе…",
        "send": "Спросить",
        "clear": "Очистить",
        "followed": "Вопросы, за которыми вы следите",
        "follow": "Следить за вопросом",
        "examples": "Примеры вопросов",
        "filters": "Фильтры",
        "date_from": "С даты",
        "date_to": "По дату",
        "date_placeholder": "ДД.ММ.ГГГГ",
        "sources_filter": "Источник",
        "sources": "Источники",
        "no_sources": "Здесь появятся цитаты из статей с выделенным фрагментом.",
        "upload": "Загрузка статей",
        "upload_files": "Файлы (.txt, .md, .html, .jsonl)",
        "ingest": "Добавить в корпус",
        "corpus": "Корпус",
        "refresh": "Обновить",
        "feedback": "Комментарий к последней оценке",
        "feedback_placeholder": "Оцените ответ кнопками «нравится» / «не нравится» под ним, затем поясните здесь",
        "send_comment": "Отправить комментарий",
        "thanks": "Спасибо за оценку!",
        "comment_saved": "Комментарий сохранён.",
        "rate_first": "Сначала оцените ответ кнопкой «нравится» или «не нравится».",
        "lang": "Язык",
        "filters_applied": "Применённые фильтры",
        "note": "Примечание",
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
        "th_detail": "Подробности",
        "status_added": "добавлен",
        "status_updated": "обновлён",
        "status_unchanged": "без изменений",
        "status_failed": "ошибка",
        "status_removed": "удалён",
        "status_duplicate": "дубликат",
        "no_files": "Выберите файлы для загрузки.",
        "bad_date": "«{value}» — не дата. Пишите 2025-10-27, 27.10.2025 или «27 октября 2025».",
        "bad_range": "Начальная дата {lo} позже конечной {hi}.",
        "error": "Ошибка",
        "open": "открыть",
        "open_article": "Открыть статью",
        "original": "Оригинал",
        "copy_citation": "Копировать цитату",
        "copied": "Скопировано",
        "close": "Закрыть",
        "also": "Эта же история",
        "type_question": "Введите вопрос.",
        "search_corpus": "Поиск по заголовку, источнику или дате",
        "search_placeholder": "например: Day.Az 2025-10",
        "shown": "показано",
        "of": "из",
        "delete_pick": "Статья для удаления",
        "delete": "Удалить…",
        "confirm_delete": "Удалить «{title}» из корпуса? Это нельзя отменить.",
        "confirm_yes": "Да, удалить",
        "cancel": "Отмена",
        "deleted": "Статья «{title}» удалена.",
        "pick_first": "Сначала выберите статью.",
        "tab_title": "Новостной ассистент",
    },
    "en": {
        "title": "News assistant",
        "subtitle": "Answers quote the articles verbatim; the numbers [1], [2] lead to the sources (right or below).",
        "chat": "Chat",
        "question": "Question",
        "placeholder": "Ask about the news in the corpus…",
        "send": "Ask",
        "clear": "Clear",
        "followed": "Followed questions",
        "follow": "Follow this question",
        "examples": "Example questions",
        "filters": "Filters",
        "date_from": "From date",
        "date_to": "To date",
        "date_placeholder": "YYYY-MM-DD",
        "sources_filter": "Source",
        "sources": "Sources",
        "no_sources": "Quotes from the articles, with the passage highlighted, appear here.",
        "upload": "Upload articles",
        "upload_files": "Files (.txt, .md, .html, .jsonl)",
        "ingest": "Add to the corpus",
        "corpus": "Corpus",
        "refresh": "Refresh",
        "feedback": "Comment on your last rating",
        "feedback_placeholder": "Rate an answer with the like / dislike buttons under it, then explain here",
        "send_comment": "Send comment",
        "thanks": "Thank you for the rating!",
        "comment_saved": "Comment saved.",
        "rate_first": "Rate an answer with the like or dislike button first.",
        "lang": "Language",
        "filters_applied": "Filters applied",
        "note": "Note",
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
        "th_detail": "Details",
        "status_added": "added",
        "status_updated": "updated",
        "status_unchanged": "unchanged",
        "status_failed": "failed",
        "status_removed": "removed",
        "status_duplicate": "duplicate",
        "no_files": "Choose files to upload.",
        "bad_date": "“{value}” is not a date. Write 2025-10-27, 27.10.2025 or Oct 27 2025.",
        "bad_range": "The start date {lo} is after the end date {hi}.",
        "error": "Error",
        "open": "open",
        "open_article": "Open article",
        "original": "Original",
        "copy_citation": "Copy citation",
        "copied": "Copied",
        "close": "Close",
        "also": "The same story",
        "type_question": "Type a question.",
        "search_corpus": "Search by title, source or date",
        "search_placeholder": "e.g. Day.Az 2025-10",
        "shown": "shown",
        "of": "of",
        "delete_pick": "Article to delete",
        "delete": "Delete…",
        "confirm_delete": "Delete “{title}” from the corpus? This cannot be undone.",
        "confirm_yes": "Yes, delete",
        "cancel": "Cancel",
        "deleted": "Deleted “{title}”.",
        "pick_first": "Choose an article first.",
        "tab_title": "News assistant",
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
    """Escape text for the chat's Markdown: HTML-escaped, Markdown/LaTeX characters backslashed, and nothing left
    that Markdown would turn into a link, an image, a rule, a heading or a list (quoted text stays text)."""
    text = MD_SPECIAL.sub(r"\\\1", html.escape("" if value is None else str(value), quote=False))
    text = MD_LINKISH.sub(lambda m: {"://": "\\://", "@": "\\@"}.get(m.group(0), m.group(0)[:3] + "\\."), text)
    return MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


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


def article_html(text: str, start: int, end: int, title: str = "", others: Sequence[tuple[int, int]] = ()) -> str:
    """The whole article, escaped, with the quote (and ``others`` of the same answer) in ``<mark class="na-hit">``
    (for the reader panel). The panel shows the title above it, so a headline line repeating the title is left out,
    unless a quote is in it."""
    spans = sorted([(start, end), *others])
    last = max(hi for _, hi in spans)
    text = text[:MAX_ARTICLE_CHARS] if last <= MAX_ARTICLE_CHARS else text
    lo = headline_end(text, title)
    lo = lo if lo <= spans[0][0] else 0
    out, pos = [], lo
    for a, b in spans:
        other = "" if (a, b) == (start, end) else " na-other"  # the reader scrolls to the card's best quote
        a = max(a, pos)
        out.append(f'{esc(text[pos:a])}<mark class="na-hit{other}">{esc(text[a:b])}</mark>')
        pos = max(pos, b)
    return "".join(out) + esc(text[pos:])


def also_html(citation: dict[str, Any], lang: str) -> str:
    """The other sources of a syndicated story: title — date · source (linked), for each."""
    items = []
    for ref in citation.get("also") or []:
        label = esc(ref.get("source") or ref.get("title") or "")
        url = safe_url(str(ref.get("url") or ""))
        if url:
            label = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{label}</a>'
        items.append(f'<li>{label}, {esc(ref.get("date") or t(lang, "no_date"))} — {esc(ref.get("title") or "")}</li>')
    return f'<div class="na-also">{esc(t(lang, "also"))}:<ul>{"".join(items)}</ul></div>' if items else ""


def copy_button(citation: dict[str, Any], lang: str) -> str:
    """«Copy citation»: «title — date — source — «quote» — url» of one quote."""
    return (f'<button type="button" class="na-copy" data-citation="{esc(citation.get("citation") or "")}" '
            f'data-done="{esc(t(lang, "copied"))}">{esc(t(lang, "copy_citation"))}</button>')


def card_actions(n: int, url: str, lang: str, readable: bool) -> str:
    """The buttons under an article's card: open the whole article, the original."""
    buttons = []
    if readable:
        buttons.append(f'<button type="button" class="na-open" data-n="{n}">{esc(t(lang, "open_article"))}</button>')
    if url:
        buttons.append(f'<a class="na-original" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
                       f'{esc(t(lang, "original"))} ↗</a>')
    return f'<div class="na-actions">{"".join(buttons)}</div>' if buttons else ""


def is_readable(citation: dict[str, Any], article: Article | None) -> bool:
    """Whether the stored article still holds the quote where the citation says (else the quote is shown alone)."""
    start, end = int(citation.get("start", 0)), int(citation.get("end", 0))
    return article is not None and article.text[start:end] == citation.get("quote")


def quote_block(citation: dict[str, Any], article: Article | None, lang: str, anchor: str) -> str:
    """One quote of a card: its number, the highlighted passage, the story's other sources, «copy citation»."""
    n = int(citation.get("n") or 0)
    start, end = int(citation.get("start", 0)), int(citation.get("end", 0))
    if article is not None and is_readable(citation, article):
        passage = highlighted_passage(article.text, start, end)
    else:  # the article changed or is gone: show the quote alone
        passage = f"<mark>{esc(citation.get('quote', ''))}</mark>"
    return (f'<div class="na-quote"{anchor} data-n="{n}"><span class="na-num">[{n}]</span><div class="na-quote-body">'
            f'<blockquote class="na-passage">{passage}</blockquote>{also_html(citation, lang)}'
            f'<div class="na-actions">{copy_button(citation, lang)}</div></div></div>')


def source_card(citations: list[dict[str, Any]], article: Article | None, lang: str, prefix: str = "src") -> str:
    """One article's card: its title, date and source (linked when there is a URL) once, then each of its quotes
    (in score order) with its number, and (in a ``<template>``) the whole article for the reader panel with every
    quote highlighted. The card bears the first quote's anchor, each further quote its own."""
    first = citations[0]
    n = int(first.get("n") or 0)
    url = safe_url(str(first.get("url") or ""))
    source = esc(first.get("source") or "")
    if url:
        source = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{source or esc(t(lang, "open"))}</a>'
    date = esc(first.get("date") or t(lang, "no_date"))
    readable = [c for c in citations if is_readable(c, article)]
    whole = ""
    if article is not None and readable:
        (start, end), *others = [(int(c.get("start", 0)), int(c.get("end", 0))) for c in readable]
        whole = (f'<template class="na-article" data-close="{esc(t(lang, "close"))}">'
                 f'{article_html(article.text, start, end, article.title, others)}</template>')
    numbers = " ".join(f'<span class="na-num">[{int(c.get("n") or 0)}]</span>' for c in citations)
    quotes = "".join(quote_block(c, article, lang, "" if i == 0 else f' id="{prefix}-{int(c.get("n") or 0)}"')
                     for i, c in enumerate(citations))
    return (
        f'<div class="na-source" id="{prefix}-{n}" data-n="{n}" data-doc="{esc(first.get("doc_id") or "")}">'
        f'<div class="na-source-head">{numbers} <span class="na-title">{esc(first.get("title") or "")}</span></div>'
        f'<div class="na-meta"><span class="na-date">{date}</span>{" · " + source if source else ""}</div>'
        f"{quotes}{card_actions(n, url, lang, bool(whole))}{whole}</div>"
    )


def by_article(citations: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The citations grouped by article, in the order of each article's best quote ([1]'s article first)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for citation in citations:
        groups.setdefault(str(citation.get("doc_id", "")), []).append(citation)
    return list(groups.values())


def sources_html(answer: dict[str, Any] | None, get_article: Callable[[str], Article | None], lang: str) -> str:
    """The sources panel for one answer (its ``to_dict()``): one card per article, or a hint when there is none."""
    if not answer or not answer.get("citations"):
        note = esc(answer.get("answer", "")) if answer else esc(t(lang, "no_sources"))
        return f'<div class="na-sources na-empty">{note}</div>'
    cards = [source_card(group, get_article(str(group[0].get("doc_id", ""))), lang)
             for group in by_article(answer["citations"])]
    return '<div class="na-sources">' + "".join(cards) + "</div>"


def chat_lead(answer: dict[str, Any]) -> str:
    """The answer's text (the lead, the LLM's answer, or the no-answer reply), Markdown-escaped."""
    return md_esc(str(answer.get("answer", "")))


def chat_quote_line(citation: dict[str, Any], lang: str = "ru") -> str:
    """One cited quote for the chat, in plain Markdown: a number linking to its source card, then the quote (and
    the other sources of a syndicated story)."""
    n = int(citation.get("n") or 0)
    line = f"[\\[{n}\\]](#src-{n}) «{md_esc(balanced(str(citation.get('quote', ''))))}»"
    others = "; ".join(f"{ref.get('source') or ref.get('title')}, {ref.get('date') or t(lang, 'no_date')}"
                       for ref in citation.get("also") or [])
    return f"{line} _({md_esc(t(lang, 'also').lower())}: {md_esc(others)})_" if others else line


def balanced(quote: str) -> str:
    """A quote with its quotation marks paired, for display: a quote that starts or ends inside a quotation
    («"В ходе визита…») gets the missing mark at its other end."""
    opens, closes = quote.count("«"), quote.count("»")
    quote = quote + "»" * (opens - closes) if opens > closes else "«" * (closes - opens) + quote
    if quote.count('"') % 2:
        quote = quote + '"' if quote.lstrip().startswith('"') else '"' + quote
    return quote


def filters_line(description: str, lang: str) -> str:
    """The line saying which filters were applied; none when nothing was filtered."""
    return f"_{md_esc(t(lang, 'filters_applied'))}: {md_esc(description)}_" if description else ""


def chat_markdown_steps(answer: dict[str, Any], description: str, lang: str) -> list[str]:
    """The answer's Markdown as it grows while streaming: lead, then each quote, then the filters line (if any)."""
    parts = [chat_lead(answer)]
    steps = [parts[0]]
    for citation in answer.get("citations", []):
        parts.append(chat_quote_line(citation, lang))
        steps.append("\n\n".join(parts))
    if line := filters_line(description, lang):
        parts.append(line)
    parts.extend(f"_{md_esc(t(lang, 'note'))}: {md_esc(note)}_" for note in answer.get("notes") or [])
    steps.append("\n\n".join(parts))
    return steps


def corpus_html(stats: Stats, docs: Sequence[DocInfo], lang: str, query: str = "") -> str:
    """Counts, then a table of the stored documents (newest first; those matching the search when there is one)."""
    rows = []
    for doc in sorted(docs, key=lambda d: (d.date or "", d.title), reverse=True):
        title = esc(doc.title)
        url = safe_url(doc.url)
        if url:
            title = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        rows.append(f'<tr><td>{title}</td><td class="na-nowrap">{esc(doc.date or "")}</td><td>{esc(doc.source)}</td>'
                    f'<td class="na-chunks">{doc.chunks}</td></tr>')
    head = (f"<tr><th>{esc(t(lang, 'th_title'))}</th><th>{esc(t(lang, 'th_date'))}</th>"
            f'<th>{esc(t(lang, "th_source"))}</th><th class="na-chunks">{esc(t(lang, "th_chunks"))}</th></tr>')
    shown = (f' · <span class="na-shown" data-shown="{len(docs)}">{esc(t(lang, "shown"))} {len(docs)} '
             f'{esc(t(lang, "of"))} {stats.documents}: «{esc(query)}»</span>') if query.strip() else ""
    counts = (f'<div class="na-counts"><b class="na-doc-count" data-count="{stats.documents}">{stats.documents}</b> '
              f"{esc(t(lang, 'documents'))} · <b>{stats.chunks}</b> {esc(t(lang, 'chunks'))} · "
              f"{esc(t(lang, 'model'))}: {esc(stats.model)}{shown}</div>")
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
    head = (f"<tr><th>{esc(t(lang, 'th_file'))}</th><th>{esc(t(lang, 'th_status'))}</th>"
            f"<th>{esc(t(lang, 'th_detail'))}</th></tr>")
    return f'<table class="na-table na-ingest"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


CSS = """
.gradio-container { max-width: none !important; }
#na-header { padding-top: 4px; }
#na-feedback-row, #na-ask-row { align-items: flex-end; }
#na-feedback-row button, #na-send { align-self: flex-end; max-height: 48px; }
#na-header h2 { margin: 0 0 2px; }
#na-header p { margin: 0; opacity: 0.8; }
.na-sources { display: flex; flex-direction: column; gap: 10px; }
.na-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  background: var(--background-fill-secondary); scroll-margin-top: 12px; transition: box-shadow .3s; }
.na-source.na-flash, .na-quote.na-flash { box-shadow: 0 0 0 3px var(--color-accent); border-radius: 6px; }
.na-source-head { font-weight: 600; }
.na-num { color: var(--color-accent); margin-right: 4px; }
.na-quote { display: flex; gap: 6px; align-items: flex-start; margin-top: 6px; scroll-margin-top: 12px; }
.na-quote + .na-quote { border-top: 1px dashed var(--border-color-primary); padding-top: 8px; }
.na-quote > .na-num { flex: none; font-weight: 600; line-height: 1.45; }
.na-quote-body { flex: 1; min-width: 0; }
.na-quote-body .na-actions { margin-top: 4px; }
.na-meta { font-size: 0.9em; opacity: 0.8; margin: 2px 0 6px; }
.na-passage { margin: 0; padding-left: 10px; border-left: 3px solid var(--color-accent); white-space: pre-wrap;
  line-height: 1.45; }
.na-passage mark, .na-reader-body mark { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
.na-also { font-size: 0.88em; margin-top: 6px; opacity: 0.9; }
.na-also ul { margin: 2px 0 0 18px; padding: 0; }
.na-actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; align-items: center; }
.na-actions button, .na-actions a { font-size: 0.85em; line-height: 1.4; padding: 3px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  color: var(--body-text-color); text-decoration: none; }
.na-actions button:hover, .na-actions a:hover { border-color: var(--color-accent); }
.na-empty { opacity: 0.75; font-style: italic; padding: 6px; }
.na-table-wrap { max-height: 420px; overflow: auto; }
.na-corpus .na-table, .na-ingest.na-table { width: 100%; border-collapse: collapse; font-size: 0.9em; border: none; }
.na-table th, .na-table td { border: none !important; border-bottom: 1px solid var(--border-color-primary) !important;
  padding: 3px 6px; text-align: left; vertical-align: top; background: none; }
.na-table th { font-weight: 600; }
.na-table .na-nowrap { white-space: nowrap; }
.na-counts { margin-bottom: 6px; }
.na-status-failed td { color: var(--error-text-color, #b91c1c); }
.na-status-duplicate td { opacity: 0.8; }
#na-date-note p, #na-delete-note p { margin: 2px 0; }
#na-date-note .na-error { color: var(--error-text-color, #b91c1c); font-weight: 600; }
#na-reader { position: fixed; inset: 0; z-index: 1000; background: rgba(0, 0, 0, 0.45); display: flex;
  justify-content: flex-end; }
#na-reader[hidden] { display: none; }
.na-reader-box { background: var(--background-fill-primary, #fff); color: var(--body-text-color, #111);
  width: min(760px, 100%); height: 100%; display: flex; flex-direction: column; box-shadow: -4px 0 24px #0004; }
.na-reader-top { display: flex; gap: 8px; align-items: flex-start; justify-content: space-between;
  padding: 14px 18px 8px; border-bottom: 1px solid var(--border-color-primary, #ddd); }
.na-reader-top .na-meta { margin: 0; }
.na-reader-close { font-size: 1.1em; padding: 2px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary, #ccc); background: transparent; color: inherit; }
.na-reader-body { padding: 14px 18px 40px; overflow: auto; white-space: pre-wrap; line-height: 1.55; }
"""

# Phone-width rules (Gradio scopes media queries of ``css`` to its content, not the page margins).
# Clicking a citation number in the chat scrolls to its source card and flashes it (no navigation);
# «Open article» shows the whole stored article in a side panel with the quote highlighted and scrolled into view;
# «Copy citation» copies «title — date — source — «quote» — url».
JS_HEAD = """
<style>
@media (max-width: 640px) {
  .gradio-container .main.fillable { padding-left: 8px !important; padding-right: 8px !important; }
  #na-header h2 { font-size: 1.3em; }
  #na-header p { display: none; }
  /* the sources right under the question, before the examples, filters and feedback */
  #na-main { flex-direction: column !important; }
  #na-left, #na-right { display: contents !important; }
  #na-main #na-chat { order: 1; }
  #na-main #na-ask-row { order: 2; }
  #na-main #na-sources-title { order: 3; }
  #na-main #na-sources { order: 4; }
  #na-main #na-examples { order: 5; }
  #na-main #na-filters { order: 6; }
  #na-main #na-feedback-row { order: 7; }
  #na-main #na-feedback-note { order: 8; }
  .na-corpus .na-chunks { display: none; }
  .na-corpus .na-table { font-size: 0.85em; }
}
</style>
<script>
(function () {
  function reader() {
    var box = document.getElementById('na-reader');
    if (box) return box;
    box = document.createElement('div');
    box.id = 'na-reader';
    box.hidden = true;
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.innerHTML = '<div class="na-reader-box"><div class="na-reader-top"><div class="na-reader-head"></div>' +
      '<button type="button" class="na-reader-close" aria-label="close">✕</button></div>' +
      '<div class="na-reader-body"></div></div>';
    box.addEventListener('click', function (e) { if (e.target === box) box.hidden = true; });
    (document.querySelector('gradio-app') || document.body).appendChild(box);
    return box;
  }
  function openArticle(card) {
    var article = card.querySelector('.na-article');
    if (!article) return;
    var box = reader();
    box.querySelector('.na-reader-head').innerHTML =
      card.querySelector('.na-source-head').outerHTML + card.querySelector('.na-meta').outerHTML;
    box.querySelector('.na-reader-close').title = article.getAttribute('data-close') || '';
    box.querySelector('.na-reader-body').innerHTML = article.innerHTML;
    box.hidden = false;
    var hit = box.querySelector('.na-reader-body mark.na-hit:not(.na-other)');
    if (hit) hit.scrollIntoView({block: 'center'});
  }
  function copyText(text, done) {
    function fallback() {
      var area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand('copy'); } finally { area.remove(); }
      done();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else { fallback(); }
  }
  document.addEventListener('keydown', function (e) {
    var box = document.getElementById('na-reader');
    if (e.key === 'Escape' && box) box.hidden = true;
  });
  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest('.na-reader-close')) { reader().hidden = true; return; }
    var open = target.closest('button.na-open');
    if (open) { openArticle(open.closest('.na-source')); return; }
    var copy = target.closest('button.na-copy');
    if (copy) {
      var label = copy.textContent;
      copyText(copy.getAttribute('data-citation') || '', function () {
        copy.textContent = '✓ ' + (copy.getAttribute('data-done') || 'Copied');
        copy.classList.add('na-copied');
        setTimeout(function () { copy.textContent = label; copy.classList.remove('na-copied'); }, 2000);
      });
      return;
    }
    var link = target.closest('a.na-cite, a[href^="#src-"]');
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
})();
</script>
"""
