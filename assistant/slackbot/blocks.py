"""Block Kit rendering of answers: mrkdwn escaping, quotes with linked sources, and splitting to Slack's limits."""

from __future__ import annotations

import re
from typing import Any

from ..types import Answer, Citation

Block = dict[str, Any]

MAX_SECTION_CHARS = 3000  # a section's text object at most
MAX_BLOCKS = 50  # blocks in one message at most
MAX_FALLBACK_CHARS = 3000  # the notification text we send (Slack truncates at 40,000)

FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
SHARE = "share_answer"
FOLLOW = "follow_question"
MAX_BUTTON_VALUE = 2000  # Slack's limit for a button's value
CONTINUED = "(…)"  # the notification text of the second and later messages of a long answer

_ENTITY = re.compile(r"&(?:amp|lt|gt);")
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$", re.IGNORECASE)

TEXTS = {
    "ru": {"filters": "Фильтры: {}", "no_filters": "Фильтры: нет, поиск по всему корпусу",
           "searched": "Искали: «{}»", "no_answer": ":mag: {}", "question": "*Вопрос* от <@{}>: {}",
           "also": "Эта же история: {}", "follow": "Следить"},
    "en": {"filters": "Filters: {}", "no_filters": "Filters: none, the whole corpus was searched",
           "searched": "Searched for: “{}”", "no_answer": ":mag: {}", "question": "*Question* from <@{}>: {}",
           "also": "The same story: {}", "follow": "Follow"},
}


def texts(lang: str) -> dict[str, str]:
    """UI strings in the answer's language (Russian unless English)."""
    return TEXTS["en" if lang == "en" else "ru"]


def escape(text: str) -> str:
    """Escape mrkdwn control characters so quoted text never becomes a mention, a link or a command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str:
    """The URL if it is a plain http(s) address usable inside ``<url|label>``, else an empty string."""
    url = url.strip().replace("|", "%7C")
    return escape(url) if _SAFE_URL.match(url) else ""


def _cut_point(text: str, limit: int) -> int:
    """Where to cut ``text`` (longer than ``limit``): at a newline, else a space, never inside an entity."""
    for sep in ("\n", " "):
        at = text.rfind(sep, limit // 2, limit + 1)
        if at > 0:
            return at
    for match in _ENTITY.finditer(text, max(0, limit - 5), limit + 5):
        if match.start() < limit < match.end():
            return match.start()
    return limit


def split_text(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Split already-escaped mrkdwn into pieces of at most ``limit`` characters, at line or word breaks."""
    pieces: list[str] = []
    while len(text) > limit:
        at = _cut_point(text, limit)
        pieces.append(text[:at].rstrip())
        text = text[at:].lstrip("\n ")
    if text or not pieces:
        pieces.append(text)
    return pieces


def section(text: str, block_id: str | None = None) -> Block:
    """A mrkdwn section; ``verbatim`` stops Slack from auto-linking names and URLs in it."""
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
    if block_id:
        block["block_id"] = block_id
    return block


def citation_label(cit: Citation) -> str:
    """«[n] title — date» linked to the source URL when there is one, then the source name."""
    label = escape(f"{cit.title} — {cit.date}" if cit.date else cit.title or cit.doc_id)
    url = safe_url(cit.url)
    linked = f"<{url}|{label}>" if url else label
    source = f" · _{escape(cit.source)}_" if cit.source else ""
    return f"*[{cit.n}]* {linked}{source}"


def also_line(cit: Citation, lang: str = "ru") -> str:
    """The other sources of a syndicated story: «title — date» (linked) · source, for each."""
    items = []
    for ref in cit.also:
        label = escape(f"{ref.title} — {ref.date}" if ref.date else ref.title or ref.doc_id)
        url = safe_url(ref.url)
        items.append((f"<{url}|{label}>" if url else label) + (f" · _{escape(ref.source)}_" if ref.source else ""))
    return texts(lang)["also"].format("; ".join(items))[:MAX_SECTION_CHARS] if items else ""


def citation_blocks(cit: Citation, lang: str = "ru") -> list[Block]:
    """A citation: its label, then the quote as a block quote (split across sections when long), then where
    else the same story was published."""
    quote = "\n".join(f">{escape(line)}" for line in cit.quote.splitlines() or [""])
    pieces = split_text(f"{citation_label(cit)}\n{quote}", MAX_SECTION_CHARS - 1)
    pieces = [p if i == 0 or p.startswith(">") else ">" + p for i, p in enumerate(pieces)]
    blocks = [section(p, f"cit-{cit.n}-{i}") for i, p in enumerate(pieces)]
    if also := also_line(cit, lang):
        blocks.append({"type": "context", "block_id": f"cit-{cit.n}-also",
                       "elements": [{"type": "mrkdwn", "text": also, "verbatim": True}]})
    return blocks


def context_line(answer: Answer) -> Block:
    """The small print: which filters applied and, for a rewritten follow-up, what was searched."""
    t = texts(answer.lang)
    described = answer.filters_applied.describe(answer.lang)
    parts = [t["filters"].format(escape(described)) if described else t["no_filters"]]
    if answer.search_query and answer.search_query.strip() != answer.question.strip():
        parts.append(t["searched"].format(escape(answer.search_query)))
    text = " · ".join(parts)[:MAX_SECTION_CHARS]
    return {"type": "context", "block_id": "filters", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A button element."""
    element: Block = {"type": "button", "text": {"type": "plain_text", "text": text, "emoji": True},
                      "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def feedback_buttons(value: str) -> list[Block]:
    """The «👍 Helpful» / «👎 Not helpful» buttons, each carrying the packed answer."""
    return [button("👍 Helpful", FEEDBACK_UP, value), button("👎 Not helpful", FEEDBACK_DOWN, value)]


def share_button(value: str) -> Block:
    """The «Share in channel» button of an ephemeral /ask answer."""
    return button("Share in channel", SHARE, value, style="primary")


def follow_button(answer: Answer) -> Block:
    """The «Следить» / "Follow" button: saves the answer's question as a standing question for this channel."""
    return button(texts(answer.lang)["follow"], FOLLOW, answer.question[:MAX_BUTTON_VALUE])


def answer_blocks(answer: Answer, buttons: list[Block] | None = None, asker: str = "") -> list[Block]:
    """The whole answer: [who asked], answer text, quotes, the filters line, then the buttons."""
    blocks: list[Block] = []
    if asker:
        blocks.append(section(texts(answer.lang)["question"].format(asker, escape(answer.question)), "question"))
    text = escape(answer.text) if answer.answered else texts(answer.lang)["no_answer"].format(escape(answer.text))
    blocks += [section(p, f"answer-{i}") for i, p in enumerate(split_text(text))]
    for cit in answer.citations:
        blocks += citation_blocks(cit, answer.lang)
    blocks.append(context_line(answer))
    if buttons:
        blocks.append({"type": "actions", "block_id": "answer-actions", "elements": buttons})
    return blocks


def split_messages(blocks: list[Block], limit: int = MAX_BLOCKS) -> list[list[Block]]:
    """Group blocks into messages of at most ``limit`` blocks each, in order."""
    return [blocks[i:i + limit] for i in range(0, len(blocks), limit)] or [[]]


def fallback_text(answer: Answer) -> str:
    """The plain notification text of an answer message (escaped, shortened)."""
    pieces = split_text(escape(answer.plain_text()), MAX_FALLBACK_CHARS - 1)
    return pieces[0] + ("…" if len(pieces) > 1 else "")
