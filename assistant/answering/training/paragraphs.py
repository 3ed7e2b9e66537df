"""Plain-paragraph training questions: NEREL train paragraphs as texts without a headline line, asked about in
the paragraph's own words (reading-comprehension style, as XQuAD asks; XQuAD itself is never used)."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from razdel import sentenize, tokenize

from ...evaluation import EvalQuestion
from ...types import Article
from ..analysis import morphology
from .data import Group, collect
from .synth import Mention, read_ann

if TYPE_CHECKING:
    from ...pipeline import Assistant

WH = {"PERSON": "Кто", "DATE": "Когда", "CITY": "Где", "COUNTRY": "Где", "STATE_OR_PROVINCE": "Где",
      "NUMBER": "Сколько", "AGE": "Сколько лет", "MONEY": "Сколько", "ORGANIZATION": "Какая организация",
      "PENALTY": "Какое наказание", "AWARD": "Какую награду", "WORK_OF_ART": "Какое произведение",
      "EVENT": "Какое событие", "PROFESSION": "Кто по профессии"}
PREPOSITION = re.compile(r"\b(?:в|во|на|из|с|со|к|ко|по|о|об|у|от|до|за|при|для)\s+$", re.I)
MIN_PARAGRAPH = 150  # characters: shorter lines are captions, subheads or datelines
MIN_PARAGRAPHS = 3  # an article with fewer gives no neighbours to confuse the answer with
PER_PARAGRAPH = 2


@dataclass(frozen=True)
class PlainSet:
    """Paragraphs as articles without a headline line, and questions about them."""

    articles: list[Article]
    questions: list[EvalQuestion]


def paragraphs(text: str) -> list[tuple[int, str]]:
    """The body lines long enough to be paragraphs, with their offsets (the headline line is left out)."""
    out, pos = [], 0
    for i, line in enumerate(text.split("\n")):
        if i > 0 and len(line) >= MIN_PARAGRAPH:
            out.append((pos, line))
        pos += len(line) + 1
    return out


def words_around(sentence: str, start: int, end: int, rng: random.Random) -> list[str]:
    """A few words either side of the asked-for entity; half the time some dropped and some in their dictionary
    form, as a reader rephrases."""
    left = [t.text for t in tokenize(PREPOSITION.sub("", sentence[:start]))][-rng.randint(2, 6):]
    right = [t.text for t in tokenize(sentence[end:])][:rng.randint(2, 6)]
    words = [w for w in left + right if re.search(r"\w", w)]
    if rng.random() < 0.5:
        words = [w for w in words if rng.random() > 0.25]
        words = [morphology().parse(w)[0].normal_form if rng.random() < 0.3 else w  # type: ignore[attr-defined]
                 for w in words]
    return words


def paragraph_questions(doc_id: str, offset: int, para: str, entities: list[Mention],
                        rng: random.Random) -> list[EvalQuestion]:
    """Questions whose answer is an annotated entity of the paragraph, worded from its sentence."""
    out = []
    for sent in sentenize(para):
        for e in entities:
            a, b = e.start - offset - sent.start, e.end - offset - sent.start
            if e.kind not in WH or a < 0 or b > len(sent.text):
                continue
            words = words_around(sent.text, a, b, rng)
            if len(words) >= 3:
                out.append(EvalQuestion(f"{WH[e.kind]} {' '.join(words)}?", [e.text], doc_id, kind="plain",
                                        qid=f"{doc_id}:{e.start}"))
    rng.shuffle(out)
    return out[:PER_PARAGRAPH]


def plain_set(corpus: Path, annotations: Path, seed: int, limit: int,
              exclude: frozenset[str] = frozenset()) -> PlainSet:
    """About ``limit`` questions over the paragraphs of annotated articles not in ``exclude`` (the dev set's)."""
    rng = random.Random(seed)
    anns = [a for a in sorted(annotations.glob("*.ann")) if a.stem not in exclude and (corpus / f"{a.stem}.txt").is_file()]
    rng.shuffle(anns)
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    for ann in anns:
        text = (corpus / f"{ann.stem}.txt").read_text(encoding="utf-8")
        paras = paragraphs(text)
        if len(paras) < MIN_PARAGRAPHS:
            continue
        entities = list(read_ann(ann)[0].values())
        title = text.split("\n", 1)[0].strip()
        for i, (offset, para) in enumerate(paras[:6]):
            doc_id = f"{ann.stem}-p{i}"
            articles.append(Article(doc_id=doc_id, title=title, text=para, source="NEREL paragraphs",
                                    path=f"{corpus / ann.stem}.txt#{doc_id}"))
            questions.extend(paragraph_questions(doc_id, offset, para, entities, rng))
        if len(questions) >= limit:
            break
    return PlainSet(articles, questions)


def held_out(group: Group) -> bool:
    """A quarter of the plain questions, by article (all paragraphs of one article on one side), is held out."""
    article = group.qid.split("-p", 1)[0]
    return int(hashlib.sha1(article.encode()).hexdigest(), 16) % 4 == 0


def plain_groups(assistant: Assistant, shared: Path, store: Path, seed: int, limit: int,
                 exclude: frozenset[str]) -> list[Group]:
    """The plain questions' candidate groups, collected like ``assistant`` over the paragraphs (ingested into
    ``store`` once)."""
    from ...pipeline import Assistant as AssistantClass

    nerel = shared / "eval-data/nerel-wikinews"
    plain = plain_set(nerel / "train", nerel / "annotations/train", seed, limit, exclude)
    reader = AssistantClass(assistant.settings.model_copy(update={"data_dir": store}), embedder=assistant.embedder)
    reader.ingest_articles(plain.articles)
    return [g for g in collect(reader, plain.questions, source="plain") if len(g.labels)]
