"""The Gradio chat: streamed answers, highlighted sources, filters, uploads, corpus panel and feedback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..types import DocInfo, FileResult, Filters, Turn
from .following_ui import FeedsBox, FollowBox, load_following, wire_following
from .render import (
    chat_markdown_steps,
    corpus_html,
    esc,
    ingest_html,
    md_esc,
    sources_html,
    t,
)
from .service import InputError, WebService, parse_date, parse_filters, parse_history, unsupported

SEED_QUESTION = "Какие документы были подписаны во время визита?"
EXAMPLES = {
    "ru": [
        SEED_QUESTION,
        "Почему московская антидопинговая лаборатория лишилась аккредитации?",
        "Где будет учиться дочь Барака Обамы?",
        "Что Порошенко разрешил не возвращать России?",
    ],
    "en": [
        "What documents were signed during the visit?",
        "Why did the Moscow anti-doping laboratory lose its accreditation?",
        "Where will Barack Obama's daughter study?",
        "Why was Amazon blocked in Russia?",
    ],
}
STREAM_DELAY = 0.08  # seconds between streamed parts of an answer
TAB_TITLE_JS = "document.title = (lang === 'en' ? 'News assistant' : 'Новостной ассистент');"
BROWSER_LANG_JS = ("(lang) => { lang = (navigator.language || 'ru').toLowerCase().startsWith('ru') ? 'ru' : 'en'; "
                   + TAB_TITLE_JS + " return lang; }")
SWITCH_LANG_JS = "(lang, past) => { " + TAB_TITLE_JS + " return [lang, past]; }"
# After an answer: the chat box and the page scroll so that the question just asked is at the top, the answer's
# start ([1]) right under it (not the bottom of a long answer).
SHOW_ANSWER_START_JS = """() => {
  const rows = document.querySelectorAll('#na-chat .message-row.user-row');
  const row = rows[rows.length - 1];
  if (!row) return;
  let box = row.parentElement;
  while (box && box.scrollHeight <= box.clientHeight + 1 && box.id !== 'na-chat') box = box.parentElement;
  if (box && box.scrollHeight > box.clientHeight + 1) {
    box.scrollTop += row.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
  }
  const top = row.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight / 3) window.scrollBy(0, top - 12);
}"""
MAX_DELETE_CHOICES = 200
FILE_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".ndjson"]

Messages = list[dict[str, Any]]
AnswerList = list[dict[str, Any]]


def history_turns(answers: AnswerList) -> list[Turn]:
    """Earlier turns of this chat (question, then the answer's text) for follow-up questions."""
    turns: list[Turn] = []
    for data in answers:
        if data.get("error"):
            continue
        turns.append(Turn(role="user", content=str(data.get("question", ""))))
        turns.append(Turn(role="assistant", content=str(data.get("answer", ""))))
    return turns


def answer_index(chat: Messages, message_index: int) -> int:
    """Which answer (0-based) the assistant message at ``message_index`` of the chat shows."""
    return sum(1 for m in chat[:message_index] if m.get("role") == "assistant")


def as_index(index: Any) -> int:
    """A chat event's message index (an int, or the first element of a pair)."""
    return int(index[0] if isinstance(index, list | tuple) else index)


def check_dates(date_from: str, date_to: str, lang: str) -> tuple[Filters | None, str]:
    """The date filters, or None and a message (in the interface's language) to show next to the fields."""
    values = {"date_from": (date_from or "").strip(), "date_to": (date_to or "").strip()}
    parsed = {}
    for name, value in values.items():
        try:
            parsed[name] = parse_date(value, name)
        except InputError:
            return None, f'<span class="na-error">⚠ {esc(t(lang, "bad_date").format(value=value))}</span>'
    lo, hi = parsed["date_from"], parsed["date_to"]
    if lo and hi and lo > hi:
        return None, f'<span class="na-error">⚠ {esc(t(lang, "bad_range").format(lo=lo, hi=hi))}</span>'
    shown = " — ".join(d.strftime("%d.%m.%Y") if d else "…" for d in (lo, hi)) if lo or hi else ""
    return Filters(date_from=lo, date_to=hi), (f"✓ {shown}" if shown else "")


def doc_choice(doc: DocInfo) -> tuple[str, str]:
    """A corpus article as a dropdown choice: «title — date — source» and its id."""
    return " — ".join(x for x in (doc.title, doc.date or "", doc.source) if x), doc.doc_id


def system_font_theme() -> gr.themes.Base:
    """Gradio's default look with system fonts: nothing is fetched from outside the app."""
    return gr.themes.Default(
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


class Handlers:
    """The chat's event handlers over one ``WebService`` (each returns what its outputs expect)."""

    def __init__(self, service: WebService) -> None:
        self.service = service
        self.get_article = service.assistant.get_article

    def corpus_panel(self, lang: str, query: str = "") -> str:
        """The corpus panel's HTML (the articles matching ``query`` when given)."""
        return corpus_html(self.service.assistant.stats(), self.service.find_docs(query), lang, query or "")

    def search_corpus(self, query: str, lang: str) -> tuple[Any, ...]:
        """Filter the corpus panel and the articles offered for deletion."""
        choices = [doc_choice(d) for d in self.service.find_docs(query, MAX_DELETE_CHOICES)]
        return self.corpus_panel(lang, query), gr.update(choices=choices, value=None)

    def ask_delete(self, doc_id: str | None, lang: str) -> tuple[Any, ...]:
        """First step of a deletion: ask for confirmation."""
        docs = [d for d in self.service.find_docs() if d.doc_id == doc_id] if doc_id else []
        if not docs:
            return gr.update(visible=False), t(lang, "pick_first")
        return gr.update(visible=True), t(lang, "confirm_delete").format(title=md_esc(docs[0].title))

    def confirm_delete(self, doc_id: str | None, query: str, lang: str) -> tuple[Any, ...]:
        """Delete the chosen article (``Assistant.delete``) and refresh the panel, the choices and the sources."""
        try:
            doc = self.service.delete(doc_id or "")
            note = t(lang, "deleted").format(title=md_esc(doc.title))
        except InputError:
            note = t(lang, "pick_first")
        panel, pick = self.search_corpus(query, lang)
        return gr.update(visible=False), note, panel, pick, gr.update(choices=self.service.source_names())

    def check_dates(self, date_from: str, date_to: str, lang: str) -> str:
        """The note next to the date fields: how the dates were read, or what is wrong."""
        return check_dates(date_from, date_to, lang)[1]

    def respond(self, question: str, chat: Messages, past: AnswerList, lang: str, date_from: str = "",
                date_to: str = "", sources: list[str] | None = None) -> Iterator[tuple[Any, ...]]:
        """Stream an answer: a placeholder, the lead, each quote, the filters line; then the sources panel.
        A bad date is answered next to its field; the chat and the question stay as they were."""
        text = (question or "").strip()
        if not text:
            gr.Warning(t(lang, "type_question"))
            yield chat, past, gr.skip(), gr.skip(), gr.skip()
            return
        dates, note = check_dates(date_from, date_to, lang)
        if dates is None:
            yield chat, past, gr.skip(), gr.skip(), note
            return
        filters = Filters(dates.date_from, dates.date_to, parse_filters(sources=sources).sources)
        chat = [*chat, {"role": "user", "content": text}, {"role": "assistant", "content": t(lang, "thinking")}]
        yield chat, past, gr.skip(), "", note
        try:
            answer = self.service.ask(text, history_turns(past), filters)
        except Exception as exc:  # noqa: BLE001 - show the failure in the chat, keep the session going
            chat[-1] = {"role": "assistant", "content": f"{t(lang, 'error')}: {md_esc(exc)}"}
            failed = {"question": text, "answer": str(exc), "citations": [], "error": True}
            yield chat, [*past, failed], gr.skip(), "", note
            return
        data = answer.to_dict()
        past = [*past, data]
        steps = chat_markdown_steps(data, answer.filters_applied.describe(lang), lang)
        for i, step in enumerate(steps):
            chat[-1] = {"role": "assistant", "content": step}
            last = i == len(steps) - 1
            yield chat, past, (sources_html(data, self.get_article, lang) if last else gr.skip()), "", note
            if not last:
                time.sleep(STREAM_DELAY)

    def show_sources(self, chat: Messages, past: AnswerList, lang: str, evt: gr.SelectData) -> Any:
        """Clicking an earlier answer shows its sources."""
        index = as_index(evt.index)
        i = answer_index(chat, index)
        if chat[index].get("role") != "assistant" or i >= len(past):
            return gr.skip()
        return sources_html(past[i], self.get_article, lang)

    def clear(self, lang: str) -> tuple[Any, ...]:
        """An empty chat."""
        return [], [], sources_html(None, self.get_article, lang), 0, ""

    def like(self, chat: Messages, past: AnswerList, lang: str, evt: gr.LikeData,
             request: gr.Request) -> tuple[Any, str]:
        """Store a thumbs up/down with the question, answer and citations; remember its id for a comment."""
        if evt.liked not in (True, False):
            return gr.skip(), ""
        i = answer_index(chat, as_index(evt.index))
        if i >= len(past) or past[i].get("error"):
            return gr.skip(), ""
        fid = self.service.feedback.add(channel="web", rating=1 if evt.liked else -1, answer=past[i],
                                        user=getattr(request, "username", None) or "")
        return fid, t(lang, "thanks")

    def comment(self, text: str, feedback_id: int, lang: str) -> tuple[str, str]:
        """Attach a comment to the last rating."""
        if not feedback_id:
            return text, t(lang, "rate_first")
        self.service.feedback.set_comment(int(feedback_id), (text or "").strip())
        return "", t(lang, "comment_saved")

    def upload(self, paths: list[str] | None, lang: str, query: str = "",
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - Gradio's progress marker
        """Save and ingest uploaded files with a progress bar; per-file results, refreshed corpus and sources."""
        if not paths:
            gr.Warning(t(lang, "no_files"))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        bad = set(unsupported([Path(p).name for p in paths]))
        failed = [FileResult(name, "failed", reason="unsupported file type: use .txt, .md, .html or .jsonl")
                  for name in sorted(bad)]
        progress(0.0, desc=t(lang, "ingest"))
        saved = [self.service.save_upload(Path(p).name, Path(p)) for p in paths if Path(p).name not in bad]

        def report(what: str, done: int, total: int) -> None:
            if what == "articles":
                progress((done, total), desc=t(lang, "ingest"), unit="articles")

        results = failed + (self.service.ingest(saved, progress=report) if saved else [])
        panel, pick = self.search_corpus(query, lang)
        return (ingest_html(results, lang, self.service.display_path), panel,
                gr.update(choices=self.service.source_names()), None, pick)

    def switch_lang(self, lang: str, past: AnswerList) -> tuple[Any, ...]:
        """Every label in the chosen language (outputs in ``Layout.translatable`` order)."""
        def label(key: str, placeholder: str | None = None) -> Any:
            return gr.update(label=t(lang, key), placeholder=placeholder) if placeholder else \
                gr.update(label=t(lang, key))

        def value(key: str) -> Any:
            return gr.update(value=t(lang, key))

        return (
            f"## {t(lang, 'title')}\n{t(lang, 'subtitle')}", label("chat"), gr.skip(),
            label("question", placeholder=t(lang, "placeholder")), value("send"), label("filters"),
            label("date_from", placeholder=t(lang, "date_placeholder")),
            label("date_to", placeholder=t(lang, "date_placeholder")), label("sources_filter"),
            label("feedback", placeholder=t(lang, "feedback_placeholder")), value("send_comment"), value("clear"),
            f"### {t(lang, 'sources')}", sources_html(past[-1] if past else None, self.get_article, lang),
            label("corpus"), f"### {t(lang, 'upload')}", label("upload_files"), value("ingest"),
            f"### {t(lang, 'corpus')}", self.corpus_panel(lang), value("refresh"),
            label("search_corpus", placeholder=t(lang, "search_placeholder")), label("delete_pick"), value("delete"),
            value("confirm_yes"), value("cancel"), label("lang"),
            gr.update(samples=[[q] for q in EXAMPLES[lang]], label=t(lang, "examples")),
            label("followed"), value("follow"),
        )

    def pick_example(self, index: int | None, lang: str) -> Any:
        """Clicking an example question puts it in the question field (in the interface's language)."""
        examples = EXAMPLES["en" if lang == "en" else "ru"]
        return examples[index] if index is not None and 0 <= index < len(examples) else gr.skip()

    def load(self, browser_lang: str) -> tuple[Any, ...]:
        """On page load: the browser's language, the corpus panel, the source and deletion choices."""
        chosen = "en" if browser_lang == "en" else "ru"
        panel, pick = self.search_corpus("", chosen)
        return chosen, panel, gr.update(choices=self.service.source_names()), pick

    def ask(self, question: str, date_from: str = "", date_to: str = "", sources: list[str] | None = None,
            history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer a question from the corpus; returns the answer with its citations (Answer.to_dict())."""
        try:
            filters = parse_filters(date_from, date_to, sources)
            return self.service.ask(question, parse_history(history), filters).to_dict()
        except InputError as exc:
            raise gr.Error(str(exc)) from None

    def health(self) -> dict[str, Any]:
        """Status, documents, chunks and model."""
        return self.service.health()


class Layout:
    """The components, built inside a ``gr.Blocks`` context."""

    def __init__(self, service: WebService, get_article: Any) -> None:
        self.answers = gr.State([])
        self.feedback_id = gr.State(0)
        with gr.Row(equal_height=False):
            self.header = gr.Markdown(f"## {t('ru', 'title')}\n{t('ru', 'subtitle')}", elem_id="na-header")
            self.lang = gr.Radio(["ru", "en"], value="ru", label=t("ru", "lang"), elem_id="na-lang", scale=0,
                                 min_width=200)
        with gr.Tabs():
            with gr.Tab(t("ru", "chat"), id="chat") as self.chat_tab, gr.Row(elem_id="na-main"):
                with gr.Column(scale=3, elem_id="na-left"):
                    self.chat_column(service)
                with gr.Column(scale=2, elem_id="na-right"):
                    self.sources_title = gr.Markdown(f"### {t('ru', 'sources')}", elem_id="na-sources-title")
                    self.sources_panel = gr.HTML(sources_html(None, get_article, "ru"), label="sources",
                                                 elem_id="na-sources")
            with gr.Tab(t("ru", "corpus"), id="corpus") as self.corpus_tab, gr.Row():
                self.corpus_columns()

    def chat_column(self, service: WebService) -> None:
        """Chat, question, examples, filters, feedback comment."""
        self.chatbot = gr.Chatbot(label="chat", show_label=False, elem_id="na-chat", height=None, min_height=120,
                                  max_height=560, autoscroll=False, latex_delimiters=[], buttons=["copy"],
                                  layout="bubble")
        with gr.Row(elem_id="na-ask-row"):
            self.question = gr.Textbox(label=t("ru", "question"), placeholder=t("ru", "placeholder"),
                                       elem_id="na-question", scale=5, lines=1, max_lines=4)
            self.send = gr.Button(t("ru", "send"), variant="primary", elem_id="na-send", scale=1, min_width=100)
        self.examples = gr.Dataset(components=[self.question], samples=[[q] for q in EXAMPLES["ru"]], type="index",
                                   label=t("ru", "examples"), elem_id="na-examples")
        with gr.Accordion(t("ru", "filters"), open=False, elem_id="na-filters") as self.filters_box:
            with gr.Row():
                self.date_from = gr.Textbox("", label=t("ru", "date_from"), placeholder=t("ru", "date_placeholder"),
                                            elem_id="na-date-from")
                self.date_to = gr.Textbox("", label=t("ru", "date_to"), placeholder=t("ru", "date_placeholder"),
                                          elem_id="na-date-to")
                self.sources = gr.Dropdown(choices=service.source_names(), value=[], multiselect=True,
                                           allow_custom_value=True, label=t("ru", "sources_filter"),
                                           elem_id="na-source-filter")
            self.date_note = gr.HTML(label="date_note", elem_id="na-date-note")
        with gr.Row(elem_id="na-feedback-row", equal_height=False):
            self.comment = gr.Textbox(label=t("ru", "feedback"), placeholder=t("ru", "feedback_placeholder"),
                                      elem_id="na-comment", scale=4)
            self.send_comment = gr.Button(t("ru", "send_comment"), elem_id="na-send-comment", scale=1, min_width=120,
                                          size="md")
            self.clear = gr.Button(t("ru", "clear"), elem_id="na-clear", scale=1, min_width=120, size="md")
        self.feedback_note = gr.Markdown(elem_id="na-feedback-note")
        self.follow_box = FollowBox()

    def corpus_columns(self) -> None:
        """Upload with per-file results; the corpus panel."""
        with gr.Column(scale=2):
            self.upload_title = gr.Markdown(f"### {t('ru', 'upload')}")
            self.files = gr.File(label=t("ru", "upload_files"), file_count="multiple", file_types=FILE_TYPES,
                                 type="filepath", elem_id="na-files")
            self.ingest = gr.Button(t("ru", "ingest"), variant="primary", elem_id="na-ingest")
            self.ingest_result = gr.HTML(elem_id="na-ingest-result")
        with gr.Column(scale=3):
            self.corpus_title = gr.Markdown(f"### {t('ru', 'corpus')}")
            self.search = gr.Textbox(label=t("ru", "search_corpus"), placeholder=t("ru", "search_placeholder"),
                                     elem_id="na-corpus-search")
            self.corpus = gr.HTML(elem_id="na-corpus")
            with gr.Row(equal_height=True):
                self.delete_pick = gr.Dropdown(choices=[], value=None, label=t("ru", "delete_pick"),
                                               elem_id="na-delete-pick", scale=4)
                self.delete = gr.Button(t("ru", "delete"), elem_id="na-delete", scale=1, min_width=120, size="md")
                self.refresh = gr.Button(t("ru", "refresh"), elem_id="na-refresh", scale=1, min_width=120, size="md")
            with gr.Row(visible=False, elem_id="na-confirm") as self.confirm_row:
                self.confirm = gr.Button(t("ru", "confirm_yes"), elem_id="na-confirm-delete", variant="stop")
                self.cancel = gr.Button(t("ru", "cancel"), elem_id="na-cancel-delete")
            self.delete_note = gr.Markdown(elem_id="na-delete-note")
            self.feeds_box = FeedsBox()

    @property
    def translatable(self) -> list[Any]:
        """The outputs of a language switch, in ``Handlers.switch_lang`` order."""
        return [self.header, self.chat_tab, self.chatbot, self.question, self.send, self.filters_box, self.date_from,
                self.date_to, self.sources, self.comment, self.send_comment, self.clear, self.sources_title,
                self.sources_panel, self.corpus_tab, self.upload_title, self.files, self.ingest, self.corpus_title,
                self.corpus, self.refresh, self.search, self.delete_pick, self.delete, self.confirm, self.cancel,
                self.lang, self.examples, self.follow_box.box, self.follow_box.follow]


def wire(ui: Layout, h: Handlers) -> None:
    """Connect the events."""
    private: dict[str, Any] = {"api_visibility": "private"}
    ask_inputs = [ui.question, ui.chatbot, ui.answers, ui.lang, ui.date_from, ui.date_to, ui.sources]
    ask_outputs = [ui.chatbot, ui.answers, ui.sources_panel, ui.question, ui.date_note]
    ui.question.submit(h.respond, ask_inputs, ask_outputs, api_name="chat").then(
        None, js=SHOW_ANSWER_START_JS, **private)
    ui.send.click(h.respond, ask_inputs, ask_outputs, **private).then(None, js=SHOW_ANSWER_START_JS, **private)
    ui.examples.click(h.pick_example, [ui.examples, ui.lang], [ui.question], **private)
    for field in (ui.date_from, ui.date_to):
        field.blur(h.check_dates, [ui.date_from, ui.date_to, ui.lang], [ui.date_note], **private)
        field.submit(h.check_dates, [ui.date_from, ui.date_to, ui.lang], [ui.date_note], **private)
    ui.chatbot.select(h.show_sources, [ui.chatbot, ui.answers, ui.lang], [ui.sources_panel], **private)
    ui.clear.click(h.clear, [ui.lang], [ui.chatbot, ui.answers, ui.sources_panel, ui.feedback_id, ui.feedback_note],
                   **private)
    ui.chatbot.like(h.like, [ui.chatbot, ui.answers, ui.lang], [ui.feedback_id, ui.feedback_note], **private)
    ui.send_comment.click(h.comment, [ui.comment, ui.feedback_id, ui.lang], [ui.comment, ui.feedback_note], **private)
    ui.ingest.click(h.upload, [ui.files, ui.lang, ui.search],
                    [ui.ingest_result, ui.corpus, ui.sources, ui.files, ui.delete_pick], **private)
    ui.refresh.click(h.search_corpus, [ui.search, ui.lang], [ui.corpus, ui.delete_pick], **private)
    ui.search.input(h.search_corpus, [ui.search, ui.lang], [ui.corpus, ui.delete_pick], trigger_mode="always_last",
                    **private)
    ui.delete.click(h.ask_delete, [ui.delete_pick, ui.lang], [ui.confirm_row, ui.delete_note], **private)
    ui.cancel.click(lambda: (gr.update(visible=False), ""), None, [ui.confirm_row, ui.delete_note], **private)
    ui.confirm.click(h.confirm_delete, [ui.delete_pick, ui.search, ui.lang],
                     [ui.confirm_row, ui.delete_note, ui.corpus, ui.delete_pick, ui.sources], **private)
    ui.lang.change(h.switch_lang, [ui.lang, ui.answers], ui.translatable, js=SWITCH_LANG_JS, **private)


def build_ui(service: WebService) -> gr.Blocks:
    """The chat as a Gradio Blocks app (mount it with ``gr.mount_gradio_app``)."""
    handlers = Handlers(service)
    with gr.Blocks(title="Новостной ассистент · News assistant", fill_width=True, analytics_enabled=False) as demo:
        ui = Layout(service, handlers.get_article)
        wire(ui, handlers)
        wire_following(ui.follow_box, ui.feeds_box, ui.answers, ui.lang, service)
        load_following(demo, ui.follow_box, ui.feeds_box, ui.lang, service)
        demo.load(handlers.load, [ui.lang], [ui.lang, ui.corpus, ui.sources, ui.delete_pick], js=BROWSER_LANG_JS,
                  api_visibility="private")
        gr.api(handlers.ask, api_name="ask")
        gr.api(handlers.health, api_name="health")
    return demo
