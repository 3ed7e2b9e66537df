"""The copy-gated correction of the answer ranker and its training data (cloze questions over NEREL paragraphs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.answering.correction import LEX, Correction, copy_gate
from assistant.answering.features import FEATURES
from assistant.answering.model_file import AnswerModelError, builtin_path, read_model
from assistant.answering.rankers import make_ranker
from assistant.answering.training.cloze import ASK, build, corpus_questions, sentence_entities
from assistant.answering.training.data import Group
from assistant.answering.training.fit import fit, fit_correction, top1
from assistant.loading import make_article

SIGNAL = FEATURES.index("chars")  # the feature that marks the answer in the groups below


def groups(seed: int, n: int, copies: float) -> list[Group]:
    """Candidate groups answered by the row with the highest SIGNAL; the question copies ``copies`` of its best
    candidate's words (the largest ``lex``)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x = rng.normal(size=(10, len(FEATURES))).astype(np.float32)
        x[:, LEX] = rng.uniform(0, copies, size=10)
        x[0, LEX] = copies
        y = np.zeros(10, dtype=np.float32)
        y[int(np.argmax(x[:, SIGNAL]))] = 1.0
        out.append(Group(f"q{seed}-{i}", "cloze", "ru-ru", x, y, True))
    return out


def test_the_gate_is_how_much_the_question_copies_squared() -> None:
    x = np.zeros((3, len(FEATURES)), dtype=np.float32)
    assert copy_gate(x) == 0.0 and copy_gate(x[:0]) == 0.0
    x[1, LEX] = 0.5
    assert copy_gate(x) == pytest.approx(0.25)


def test_the_correction_is_learned_where_questions_copy_and_left_out_where_they_do_not() -> None:
    news = fit(groups(1, 30, 0.0), 0.001)  # strongly regularised: the news side has barely learned SIGNAL
    both = fit_correction(news, groups(2, 150, 1.0), [1.0] * 150, 1.0)
    assert both.correction is not None and both.correction.coef[SIGNAL] == max(both.correction.coef)
    copying, paraphrased = groups(3, 60, 1.0), groups(4, 60, 0.0)
    assert top1(both, copying) > top1(news, copying) + 0.15
    for g in paraphrased:  # a gate of 0: the correction shifts every candidate alike, the order is the news model's
        assert np.array_equal(np.argsort(both.scores(g.features)), np.argsort(news.scores(g.features)))


def test_the_bundled_ranker_adds_the_correction_to_its_logits() -> None:
    ranker = make_ranker("linear", "multilingual-e5-small", None)
    correction = ranker.model.correction  # type: ignore[attr-defined]
    assert isinstance(correction, Correction) and len(correction.coef) == len(FEATURES)
    x = np.random.default_rng(0).normal(size=(6, len(FEATURES))).astype(np.float32)
    x[:, LEX] = 0.9
    raw = json.loads(builtin_path("linear-v1").read_text(encoding="utf-8"))
    plain = read_model(builtin_path("linear-v1"), FEATURES, "multilingual-e5-small")
    assert raw["correction"]["gate"] == "lex_max_squared" and plain.correction is not None
    assert not np.allclose(correction.scores(x), correction.intercept)  # it changes the order of copying questions


@pytest.mark.parametrize(("correction", "message"), [
    ({"gate": "other"}, "gate or features"),
    ({"gate": "lex_max_squared", "features": ["dense"]}, "gate or features"),
])
def test_a_correction_that_does_not_fit_the_code_is_refused(tmp_path: Path, correction: dict[str, object],
                                                            message: str) -> None:
    raw = json.loads(builtin_path("linear-v1").read_text(encoding="utf-8"))
    raw["correction"] = {**raw["correction"], **correction}
    (tmp_path / "w.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(AnswerModelError, match=message) as err:
        read_model(tmp_path / "w.json", FEATURES, "multilingual-e5-small")
    assert "train" in str(err.value) and "w.json" in str(err.value)


def test_weights_without_a_correction_still_load(tmp_path: Path) -> None:
    raw = json.loads(builtin_path("linear-v1").read_text(encoding="utf-8"))
    raw.pop("correction")
    (tmp_path / "old.json").write_text(json.dumps(raw), encoding="utf-8")
    assert read_model(tmp_path / "old.json", FEATURES, "multilingual-e5-small").correction is None


PARAGRAPHS = [
    "Советник президента России Михаил Лесин умер в Вашингтоне в ноябре 2015 года, сообщили в посольстве. "
    "Причиной смерти стали тупые травмы головы, говорится в заключении судмедэкспертов округа Колумбия.",
    "Михаил Лесин в 2004 году возглавлял Министерство печати, а затем руководил холдингом «Газпром-медиа». "
    "В последние годы он жил в США и почти не появлялся на публике в Москве и других городах.",
    "Министерство иностранных дел России заявило, что ждёт от США разъяснений обстоятельств гибели Лесина, "
    "и напомнило, что российская сторона до сих пор не получила никаких официальных документов.",
]


def nerel_like(root: Path, stem: str) -> None:
    """A NEREL-shaped article (headline line, three paragraphs) and its entity annotations."""
    (root / "txt").mkdir(exist_ok=True)
    (root / "ann").mkdir(exist_ok=True)
    text = "Умер бывший глава «Газпром-медиа» Михаил Лесин\n" + "\n".join(PARAGRAPHS)
    (root / "txt" / f"{stem}.txt").write_text(text, encoding="utf-8")
    lines = []
    for i, (kind, word) in enumerate([("CITY", "Вашингтоне"), ("DATE", "2004 году"), ("COUNTRY", "США"),
                                      ("PERSON", "Михаил Лесин")]):
        start = text.index(word, text.index("\n"))
        lines.append(f"T{i + 1}\t{kind} {start} {start + len(word)}\t{word}")
    (root / "ann" / f"{stem}.ann").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_cloze_questions_ask_for_an_entity_of_a_paragraph_with_the_words_around_it(tmp_path: Path) -> None:
    nerel_like(tmp_path, "001")
    nerel_like(tmp_path, "002")
    cloze = build(tmp_path / "txt", tmp_path / "ann", 7, 1000, frozenset({"002"}))
    assert [a.doc_id for a in cloze.articles] == ["001-0", "001-1", "001-2"]  # the dev set's article is left out
    assert cloze.articles[0].text.startswith("Умер бывший глава")  # stored as a JSONL import: the title line first
    assert cloze.questions and {q.doc_id for q in cloze.questions} <= {a.doc_id for a in cloze.articles}
    texts = {a.doc_id: a.text for a in cloze.articles}
    for q in cloze.questions:
        assert q.question.split()[0] in {w.split()[0] for w in ASK.values()} and q.question.endswith("?")
        assert q.answers[0] in texts[q.doc_id] and q.answers[0] not in q.question
    assert [q.question for q in build(tmp_path / "txt", tmp_path / "ann", 7, 1000, frozenset()).questions][:4] \
        == [q.question for q in build(tmp_path / "txt", tmp_path / "ann", 7, 1000, frozenset()).questions][:4]


def test_cloze_questions_over_a_stored_corpus_find_their_entities_without_annotations(tmp_path: Path) -> None:
    sentence = "В среду президент Владимир Путин прилетел в Казахстан, где 12 апреля подписал 15 соглашений."
    found = {sentence[a:b]: kind for a, b, kind in sentence_entities(sentence)}
    assert found == {"Владимир Путин": "PERSON", "Казахстан": "CITY", "12 апреля": "DATE", "15": "NUMBER"}
    articles = [make_article({"title": f"Новость {i}", "id": f"n{i}"}, "\n".join(PARAGRAPHS), tmp_path / "c.jsonl", i)
                for i in range(1, 6)]
    questions = corpus_questions(articles, 7, 6, frozenset({"n1"}))
    assert len(questions) == 6 and "n1" not in {q.doc_id for q in questions}  # a dev question's article left out
    texts = {a.doc_id: a.text for a in articles}
    for q in questions:
        assert q.kind == "cloze" and q.question.endswith("?") and q.answers[0] in texts[q.doc_id]
        assert not q.answers[0].startswith("Новость")  # asked about the body, never the headline line
    assert [q.question for q in corpus_questions(articles, 7, 6, frozenset())] \
        == [q.question for q in corpus_questions(articles, 7, 6, frozenset())]
