"""Over the demo questions (eval/demo-qa/demo-qa.jsonl on corpus/): no quote is a caption, a byline, a bare
announcement or a fragment cut at an abbreviation, each judged with the article's text after it."""

from __future__ import annotations

import json
from datetime import date

from assistant.answering.filler import filler
from assistant.pipeline import Assistant
from assistant.types import Filters, Turn

from ..conftest import ROOT

DEMO_QA = ROOT / "eval" / "demo-qa" / "demo-qa.jsonl"


def test_no_demo_answer_quotes_filler(assistant: Assistant) -> None:
    items = [json.loads(line) for line in DEMO_QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = []
    for item in items:
        history = [Turn("user", item["context"])] if item.get("context") else None
        for cit in assistant.ask(item["question"], history=history).citations:
            article = assistant.get_article(cit.doc_id)
            assert article is not None and article.text[cit.start:cit.end] == cit.quote
            if filler(cit.quote, following=article.text[cit.end:cit.end + 40]):
                bad.append(f"{item['id']} [{cit.n}] {cit.quote!r}")
    assert len(items) >= 100 and not bad, "\n".join(bad)


def test_readme_filtered_example_does_not_open_with_a_caption(assistant: Assistant) -> None:
    filters = Filters(date(2016, 1, 1), date(2017, 12, 31), ("Викиновости",))
    answer = assistant.ask("Что заблокировал Роскомнадзор?", filters=filters)
    assert answer.citations, answer.text
    first = answer.citations[0]
    assert "Логотип" not in first.quote and not filler(first.quote), first.quote
