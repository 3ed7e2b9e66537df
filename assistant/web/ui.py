"""The Gradio chat: streamed answers, highlighted sources, filters, uploads, corpus panel and feedback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..types import FileResult, Turn
from .render import (
    chat_markdown_steps,
    corpus_html,
    ingest_html,
    sources_html,
    t,
)
from .service import InputError, WebService, parse_filters, parse_history, unsupported

SEED_QUESTION = "Какие документы были подписаны во время визита?"
EXAMPLES = [
    SEED_QUESTION,
    "Почему московская антидопинговая лаборатория лишилась аккредитации?",
    "Где будет учиться дочь Барака Обамы?",
    "Что Порошенко разрешил не возвращать России?",
]
STREAM_DELAY = 0.08  # seconds between streamed parts of an answer
BROWSER_LANG_JS = "(lang) => ((navigator.language || 'ru').toLowerCase().startsWith('ru') ? 'ru' : 'en')"
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

    def corpus_panel(self, lang: str) -> str:
        """The corpus panel's HTML."""
        return corpus_html(self.service.assistant.stats(), self.service.assistant.list_docs(), lang)

    def respond(self, message: str, chat: Messages, past: AnswerList, lang: str, date_from: str, date_to: str,
                sources: list[str] | None) -> Iterator[tuple[Any, ...]]:
        """Stream an answer: a placeholder, the lead, each quote, the filters line; then the sources panel."""
        text = (message or "").strip()
        if not text:
            raise gr.Error("Введите вопрос." if lang == "ru" else "Type a question.")
        try:
            filters = parse_filters(date_from, date_to, sources)
        except InputError as exc:
            raise gr.Error(str(exc)) from None
        chat = [*chat, {"role": "user", "content": text}, {"role": "assistant", "content": t(lang, "thinking")}]
        yield chat, past, gr.skip(), ""
        try:
            answer = self.service.ask(text, history_turns(past), filters)
        except Exception as exc:  # noqa: BLE001 - show the failure in the chat, keep the session going
            chat[-1] = {"role": "assistant", "content": f"{t(lang, 'error')}: {exc}"}
            yield chat, [*past, {"question": text, "answer": str(exc), "citations": [], "error": True}], gr.skip(), ""
            return
        data = answer.to_dict()
        past = [*past, data]
        steps = chat_markdown_steps(data, answer.filters_applied.describe(lang), lang)
        for i, step in enumerate(steps):
            chat[-1] = {"role": "assistant", "content": step}
            last = i == len(steps) - 1
            yield chat, past, (sources_html(data, self.get_article, lang) if last else gr.skip()), ""
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

    def upload(self, paths: list[str] | None, lang: str,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - Gradio's progress marker
        """Save and ingest uploaded files with a progress bar; per-file results, refreshed corpus and sources."""
        if not paths:
            raise gr.Error(t(lang, "no_files"))
        bad = set(unsupported([Path(p).name for p in paths]))
        failed = [FileResult(name, "failed", reason="unsupported file type: use .txt, .md, .html or .jsonl")
                  for name in sorted(bad)]
        progress(0.0, desc=t(lang, "ingest"))
        saved = [self.service.save_upload(Path(p).name, Path(p)) for p in paths if Path(p).name not in bad]

        def report(what: str, done: int, total: int) -> None:
            if what == "articles":
                progress((done, total), desc=t(lang, "ingest"), unit="articles")

        results = failed + (self.service.ingest(saved, progress=report) if saved else [])
        return (ingest_html(results, lang, self.service.display_path), self.corpus_panel(lang),
                gr.update(choices=self.service.source_names()), None)

    def switch_lang(self, lang: str, past: AnswerList) -> tuple[Any, ...]:
        """Every label in the chosen language (outputs in ``Layout.translatable`` order)."""
        def label(key: str, placeholder: str | None = None) -> Any:
            return gr.update(label=t(lang, key), placeholder=placeholder) if placeholder else \
                gr.update(label=t(lang, key))

        def value(key: str) -> Any:
            return gr.update(value=t(lang, key))

        return (
            f"## {t(lang, 'title')}\n{t(lang, 'subtitle')}", label("chat"), label("chat"),
            label("question", placeholder=t(lang, "placeholder")), value("send"), label("filters"),
            label("date_from"), label("date_to"), label("sources_filter"),
            label("feedback", placeholder=t(lang, "feedback_placeholder")), value("send_comment"), value("clear"),
            f"### {t(lang, 'sources')}", sources_html(past[-1] if past else None, self.get_article, lang),
            label("corpus"), f"### {t(lang, 'upload')}", label("upload_files"), value("ingest"),
            f"### {t(lang, 'corpus')}", self.corpus_panel(lang), value("refresh"),
        )

    def load(self, browser_lang: str) -> tuple[Any, ...]:
        """On page load: the browser's language, the corpus panel, the source choices."""
        chosen = "en" if browser_lang == "en" else "ru"
        return chosen, self.corpus_panel(chosen), gr.update(choices=self.service.source_names())

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
            with gr.Tab(t("ru", "chat"), id="chat") as self.chat_tab, gr.Row():
                with gr.Column(scale=3):
                    self.chat_column(service)
                with gr.Column(scale=2):
                    self.sources_title = gr.Markdown(f"### {t('ru', 'sources')}")
                    self.sources_panel = gr.HTML(sources_html(None, get_article, "ru"), elem_id="na-sources")
            with gr.Tab(t("ru", "corpus"), id="corpus") as self.corpus_tab, gr.Row():
                self.corpus_columns()

    def chat_column(self, service: WebService) -> None:
        """Chat, question, examples, filters, feedback comment."""
        self.chatbot = gr.Chatbot(label=t("ru", "chat"), elem_id="na-chat", height=480, latex_delimiters=[],
                                  buttons=["copy"], layout="bubble")
        with gr.Row():
            self.question = gr.Textbox(label=t("ru", "question"), placeholder=t("ru", "placeholder"),
                                       elem_id="na-question", scale=5, lines=1, max_lines=4)
            self.send = gr.Button(t("ru", "send"), variant="primary", elem_id="na-send", scale=1, min_width=100)
        gr.Examples(EXAMPLES, inputs=[self.question], label="Примеры вопросов / Example questions")
        with gr.Accordion(t("ru", "filters"), open=False, elem_id="na-filters") as self.filters_box, gr.Row():
            self.date_from = gr.Textbox(label=t("ru", "date_from"), placeholder="2025-01-01", elem_id="na-date-from")
            self.date_to = gr.Textbox(label=t("ru", "date_to"), placeholder="2025-12-31", elem_id="na-date-to")
            self.sources = gr.Dropdown(choices=service.source_names(), value=[], multiselect=True,
                                       label=t("ru", "sources_filter"), elem_id="na-source-filter")
        with gr.Row():
            self.comment = gr.Textbox(label=t("ru", "feedback"), placeholder=t("ru", "feedback_placeholder"),
                                      elem_id="na-comment", scale=4)
            self.send_comment = gr.Button(t("ru", "send_comment"), elem_id="na-send-comment", scale=1)
        self.feedback_note = gr.Markdown(elem_id="na-feedback-note")
        self.clear = gr.Button(t("ru", "clear"), elem_id="na-clear", size="sm")

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
            self.corpus = gr.HTML(elem_id="na-corpus")
            self.refresh = gr.Button(t("ru", "refresh"), elem_id="na-refresh", size="sm")

    @property
    def translatable(self) -> list[Any]:
        """The outputs of a language switch, in ``Handlers.switch_lang`` order."""
        return [self.header, self.chat_tab, self.chatbot, self.question, self.send, self.filters_box, self.date_from,
                self.date_to, self.sources, self.comment, self.send_comment, self.clear, self.sources_title,
                self.sources_panel, self.corpus_tab, self.upload_title, self.files, self.ingest, self.corpus_title,
                self.corpus, self.refresh]


def wire(ui: Layout, h: Handlers) -> None:
    """Connect the events."""
    private: dict[str, Any] = {"api_visibility": "private"}
    ask_inputs = [ui.question, ui.chatbot, ui.answers, ui.lang, ui.date_from, ui.date_to, ui.sources]
    ask_outputs = [ui.chatbot, ui.answers, ui.sources_panel, ui.question]
    ui.question.submit(h.respond, ask_inputs, ask_outputs, api_name="chat")
    ui.send.click(h.respond, ask_inputs, ask_outputs, **private)
    ui.chatbot.select(h.show_sources, [ui.chatbot, ui.answers, ui.lang], [ui.sources_panel], **private)
    ui.clear.click(h.clear, [ui.lang], [ui.chatbot, ui.answers, ui.sources_panel, ui.feedback_id, ui.feedback_note],
                   **private)
    ui.chatbot.like(h.like, [ui.chatbot, ui.answers, ui.lang], [ui.feedback_id, ui.feedback_note], **private)
    ui.send_comment.click(h.comment, [ui.comment, ui.feedback_id, ui.lang], [ui.comment, ui.feedback_note], **private)
    ui.ingest.click(h.upload, [ui.files, ui.lang], [ui.ingest_result, ui.corpus, ui.sources, ui.files], **private)
    ui.refresh.click(h.corpus_panel, [ui.lang], [ui.corpus], **private)
    ui.lang.change(h.switch_lang, [ui.lang, ui.answers], ui.translatable, **private)


def build_ui(service: WebService) -> gr.Blocks:
    """The chat as a Gradio Blocks app (mount it with ``gr.mount_gradio_app``)."""
    handlers = Handlers(service)
    with gr.Blocks(title="News assistant", fill_width=True, analytics_enabled=False) as demo:
        ui = Layout(service, handlers.get_article)
        wire(ui, handlers)
        demo.load(handlers.load, [ui.lang], [ui.lang, ui.corpus, ui.sources], js=BROWSER_LANG_JS,
                  api_visibility="private")
        gr.api(handlers.ask, api_name="ask")
        gr.api(handlers.health, api_name="health")
    return demo
