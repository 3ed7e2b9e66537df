"""A compact reference to an answer that fits a button's value (≤ 2000 chars), and its re-derivation."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..types import Answer, Citation, Filters

if TYPE_CHECKING:
    from ..pipeline import Assistant

MAX_VALUE_CHARS = 2000
MAX_QUESTION_CHARS = 400


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def pack_answer(answer: Answer, limit: int = MAX_VALUE_CHARS) -> str:
    """The answer as compact JSON: question, text (shortened to fit), citation spans (doc_id, start, end)."""
    data: dict[str, Any] = {
        "q": answer.question[:MAX_QUESTION_CHARS],
        "a": int(answer.answered),
        "l": answer.lang,
        "c": [[c.doc_id, c.start, c.end, round(c.score, 3)] for c in answer.citations],
        "t": "",
    }
    if not answer.filters_applied.is_empty():
        data["f"] = answer.filters_applied.to_dict()
    if answer.search_query and answer.search_query != answer.question:
        data["s"] = answer.search_query[:MAX_QUESTION_CHARS]
    while len(_dump(data)) > limit - 10 and data["c"]:
        data["c"].pop()  # pathological ids: keep the value valid rather than fail
    data["t"] = answer.text
    while len(_dump(data)) > limit:  # shorten the text by the overflow (JSON escapes make it take more room)
        over = len(_dump(data)) - limit
        data["t"] = data["t"][: max(0, len(data["t"]) - over - 2)] + "…"
    return _dump(data)


def _citation(assistant: Assistant, ref: list[Any], n: int) -> Citation:
    doc_id, start, end, score = str(ref[0]), int(ref[1]), int(ref[2]), float(ref[3])
    article = assistant.get_article(doc_id)
    if article is None:  # deleted since: keep the reference, say what we know
        return Citation(doc_id, doc_id, None, "", "", "", start, end, score, n)
    return Citation(doc_id, article.title, article.date, article.source, article.url,
                    article.text[start:end], start, end, score, n)


def unpack_answer(value: str, assistant: Assistant) -> Answer:
    """Re-derive the answer from a packed value: the quotes are re-read from the stored articles by offset."""
    data = json.loads(value)
    return Answer(
        question=str(data.get("q", "")),
        text=str(data.get("t", "")),
        citations=[_citation(assistant, ref, n) for n, ref in enumerate(data.get("c", []), start=1)],
        answered=bool(data.get("a", 1)),
        lang=str(data.get("l", "ru")),
        filters_applied=Filters.from_dict(data.get("f")),
        search_query=str(data.get("s", data.get("q", ""))),
    )
