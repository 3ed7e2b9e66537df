"""The evaluation command's pieces: loaders, metrics, and a small end-to-end run with baselines."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.answering.candidates import TERMINAL
from assistant.evaluation import (
    EvalQuestion,
    Outcome,
    load_jsonl,
    load_squad,
    load_unanswerable,
    score,
    score_by_kind,
)
from assistant.evaluation.run import bar_chart, evaluate
from assistant.pipeline import Assistant
from assistant.settings import Settings

from ..conftest import CORPUS, make_settings

SQUAD = {
    "version": "1.0",
    "data": [
        {"title": "Астана", "paragraphs": [
            {"context": "Астана — столица Казахстана с 1997 года. Город стоит на реке Ишим. "
                        "В Астане работает международный центр искусственного интеллекта Alem.ai.",
             "qas": [{"id": "q1", "question": "На какой реке стоит Астана?", "answers": [{"text": "Ишим", "answer_start": 0}]},
                     {"id": "q2", "question": "С какого года Астана столица?", "answers": [{"text": "1997", "answer_start": 0}]}]},
        ]},
        {"title": "Омск", "paragraphs": [
            {"context": "Омск расположен на слиянии Иртыша и Оми. Население Омска превышает миллион человек.",
             "qas": [{"id": "q3", "question": "При слиянии каких рек расположен Омск?",
                      "answers": [{"text": "Иртыша и Оми", "answer_start": 0}]}]},
        ]},
    ],
}


def test_metrics_are_computed_from_outcomes() -> None:
    qs = [EvalQuestion("a?", ["Ишим"], "d1"), EvalQuestion("b?", ["1997"], "d2"), EvalQuestion("c?", ["x"], "d3")]
    outs = [Outcome(["d1", "d2"], "на реке Ишим.", True, 0.1), Outcome(["d1", "d2"], "в 1997 году", True, 0.2),
            Outcome([], "", False, 0.3)]
    m = score("s", qs, outs)
    assert (m.hit1, m.hit5, round(m.mrr10, 3)) == (1 / 3, 2 / 3, 0.5)
    assert (m.quote_contains, round(m.declined, 3)) == (2 / 3, 0.333)
    assert m.p50_ms == 200.0
    hedged = Outcome(["d3"], "x", True, 0.1, confident=False)
    rows = {r.kind: r for r in score_by_kind("s", [*qs, qs[2]], [*outs, hedged])}
    assert rows["answerable"].closest == 0.25 and rows["answerable"].declined == 0.25  # declined is not "closest"


def test_loaders(tmp_path: Path) -> None:
    squad = tmp_path / "mini.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    evalset = load_squad(squad)
    assert [a.doc_id for a in evalset.articles] == ["Астана-0", "Омск-0"]
    assert evalset.articles[1].text.startswith("Омск\n\nОмск расположен")  # stored as the loader stores a title field
    assert evalset.questions[2].doc_id == "Омск-0" and evalset.questions[2].answers == ["Иртыша и Оми"]
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(json.dumps({"question": "А когда?", "answer": "1997", "doc_id": "Астана-0",
                                 "context": ["На какой реке стоит Астана?"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    (q,) = load_jsonl(jsonl).questions
    assert q.history[0].role == "user" and q.answers == ["1997"]
    rubq = tmp_path / "rubq.json"
    rubq.write_text(json.dumps([{"question_text": "Кто написал «Войну и мир»?"}], ensure_ascii=False), encoding="utf-8")
    assert load_unanswerable(rubq) == ["Кто написал «Войну и мир»?"]


def test_evaluate_with_baselines_and_chart(tmp_path: Path, settings: Settings, assistant: Assistant) -> None:
    squad = tmp_path / "mini.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    unanswerable = tmp_path / "out.jsonl"
    unanswerable.write_text(json.dumps({"question": "Какой рецепт борща самый вкусный?"}, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    news = tmp_path / "news"
    news.mkdir()
    (news / "seed.txt").write_text((CORPUS / "000_348cd98c955992e8.txt").read_text(encoding="utf-8"), encoding="utf-8")
    report = evaluate(make_settings(tmp_path / "d"), squad, unanswerable=unanswerable, news_corpus=news,
                      embedder=assistant.embedder)
    names = [m.system for m in report.answerable]
    assert names == ["assistant (hybrid + quote scoring)", "BM25 alone", "dense alone", "plain LangChain"]
    ours = report.answerable[0]
    assert ours.n == 3 and ours.hit1 == 1.0 and ours.quote_contains == 1.0 and ours.declined == 0.0
    assert report.unanswerable[0].declined == 1.0
    assert "| assistant (hybrid + quote scoring) | 3 | 1.000 |" in report.markdown()
    bar_chart(report, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


DEMO_QA = CORPUS.parent / "eval/demo-qa/demo-qa.jsonl"
FIELDS = {"id", "doc_id", "question", "answer", "difficulty", "context", "lang"}


def body_lines(doc_id: str) -> list[str]:
    """A demo article's lines below its header lines, without the headline and the caption-like lines."""
    lines = (CORPUS / f"{doc_id}.txt").read_text(encoding="utf-8").split("\n")[2:]
    return [line for line in lines[1:] if line.strip().endswith(TERMINAL) or len(line.strip()) > 120]


def test_demo_qa_gold_spans_are_verbatim_in_the_demo_articles_bodies() -> None:
    items = [json.loads(line) for line in DEMO_QA.read_text(encoding="utf-8").splitlines()]
    assert all(set(item) == FIELDS for item in items) and len({item["id"] for item in items}) == len(items)
    for item in items:
        if item["doc_id"] is None:
            assert item["answer"] is None and item["difficulty"] is None, item["id"]
            continue
        assert any(item["answer"] in line for line in body_lines(item["doc_id"])), item["id"]
    kinds = load_jsonl(DEMO_QA).questions
    assert {k: sum(q.kind == k for q in kinds) for k in ("follow-up", "english", "unanswerable")} == \
        {"follow-up": 10, "english": 15, "unanswerable": 20}
