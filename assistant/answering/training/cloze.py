"""Cloze questions over NEREL train paragraphs: the training data of the copy-gated correction (correction.py).

Each paragraph of an article outside the development set becomes a document of its own (the article's headline as
its title, stored as the loader stores a JSONL import). A question keeps a few words on either side of an annotated
entity and asks for the entity with a question word of its type: «Кто советник президента России умер?». Half of
them copy the words as they stand, half drop some words and put some in their dictionary form.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from razdel import sentenize, tokenize

from ...evaluation import EvalQuestion
from ...loading import make_article, opens_with_title
from ...types import Article
from ..analysis import MONTHS, WORD_RE, YEAR_RE, analyse_word, morphology
from .synth import Mention, read_ann

ASK = {"PERSON": "Кто", "DATE": "Когда", "CITY": "Где", "COUNTRY": "Где", "STATE_OR_PROVINCE": "Где",
       "NUMBER": "Сколько", "AGE": "Сколько лет", "MONEY": "Сколько", "ORGANIZATION": "Какая организация",
       "PENALTY": "Какое наказание", "AWARD": "Какую награду", "WORK_OF_ART": "Какое произведение",
       "EVENT": "Какое событие", "PROFESSION": "Кто по профессии"}
PREPOSITION = re.compile(r"(?:\b(?:в|во|на|из|с|со|к|ко|по|о|об|у|от|до|за|при|для)\s+)$", re.I)
MIN_PARAGRAPH = 150  # characters: shorter lines are captions, datelines and lists
PER_PARAGRAPH = 2  # questions of each style per paragraph


@dataclass(frozen=True)
class ClozeSet:
    """The paragraphs as articles and the questions about them."""

    articles: list[Article]
    questions: list[EvalQuestion]


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(offset, line) of the body lines long enough to be paragraphs (the first line is the headline)."""
    out, pos = [], 0
    for i, line in enumerate(text.split("\n")):
        if i > 0 and len(line) >= MIN_PARAGRAPH:
            out.append((pos, line))
        pos += len(line) + 1
    return out


def cloze(sentence: str, start: int, end: int, kind: str, rng: random.Random, varied: bool) -> str | None:
    """A question asking for ``sentence[start:end]`` from the words around it, or None when too few are left."""
    left = [t.text for t in tokenize(PREPOSITION.sub("", sentence[:start]))]
    right = [t.text for t in tokenize(sentence[end:])]
    words = left[-rng.randint(2, 6):] + right[:rng.randint(2, 6)] if varied else left[-5:] + right[:5]
    words = [w for w in words if re.search(r"\w", w)]
    if varied:
        words = [w for w in words if rng.random() > 0.25]
        words = [morphology().parse(w)[0].normal_form if rng.random() < 0.3 else w  # type: ignore[attr-defined]
                 for w in words]
    return f"{ASK[kind]} {' '.join(words)}?" if len(words) >= 4 else None


def paragraph_questions(para: str, offset: int, mentions: list[Mention], doc_id: str,
                        rng: random.Random) -> list[EvalQuestion]:
    """Up to PER_PARAGRAPH questions of each style about the entities of one paragraph."""
    out = []
    for varied in (False, True):
        found = []
        for sent in sentenize(para):
            for m in mentions:
                a, b = m.start - offset - sent.start, m.end - offset - sent.start
                if m.kind in ASK and a >= 0 and b <= len(sent.text) and (q := cloze(sent.text, a, b, m.kind, rng, varied)):
                    found.append(EvalQuestion(q, [m.text], doc_id, kind="cloze", qid=f"{doc_id}:{int(varied)}:{m.start}"))
        rng.shuffle(found)
        out.extend(found[:PER_PARAGRAPH])
    return out


def build(corpus: Path, annotations: Path, seed: int, limit: int, exclude: frozenset[str]) -> ClozeSet:
    """About ``limit`` questions from articles (not in ``exclude``) in a seeded order, up to six paragraphs each."""
    rng = random.Random(seed)
    anns = [a for a in sorted(annotations.glob("*.ann")) if a.stem not in exclude and (corpus / f"{a.stem}.txt").is_file()]
    rng.shuffle(anns)
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    for ann in anns:
        text = (corpus / f"{ann.stem}.txt").read_text(encoding="utf-8")
        paras = paragraphs(text)
        if len(paras) < 3:
            continue
        mentions = list(read_ann(ann)[0].values())
        title = text.split("\n", 1)[0].strip()
        for i, (offset, para) in enumerate(paras[:6]):
            doc_id = f"{ann.stem}-{i}"
            articles.append(make_article({"id": doc_id, "title": title, "source": "NEREL"}, para,
                                         corpus / f"{ann.stem}.txt"))
            questions.extend(paragraph_questions(para, offset, mentions, doc_id, rng))
        if len(questions) >= limit:
            break
    return ClozeSet(articles, questions)


CORPUS_PER_ARTICLE = 2  # cloze questions of one stored article (one of each style)


def sentence_entities(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of what a cloze question may ask for in a sentence, found without annotations: runs of
    names (PERSON), places (CITY), organisations, years and day-month dates (DATE), other numbers (NUMBER)."""
    words = list(WORD_RE.finditer(sentence))
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        word = words[i].group()
        token = analyse_word(word, i > 0 and word[:1].isupper())
        j = i + 1
        if token.name and word[:1].isupper() and i > 0:
            while j < len(words) and words[j].group()[:1].isupper() and words[j].start() - words[j - 1].end() == 1:
                j += 1
            out.append((words[i].start(), words[j - 1].end(), "PERSON"))
        elif token.geo and word[:1].isupper():
            out.append((words[i].start(), words[i].end(), "CITY"))
        elif token.org and word[:1].isupper():
            out.append((words[i].start(), words[i].end(), "ORGANIZATION"))
        elif YEAR_RE.fullmatch(word):
            out.append((words[i].start(), words[i].end(), "DATE"))
        elif word.isdigit() and j < len(words) and words[j].group().lower().startswith(MONTHS):
            out.append((words[i].start(), words[j].end(), "DATE"))
            j += 1
        elif word.isdigit():
            out.append((words[i].start(), words[i].end(), "NUMBER"))
        i = j
    return out


def answer_span(sentence: str, start: int, end: int) -> str:
    """The asked-for words with the word before them: specific enough that another sentence rarely holds it."""
    before = list(WORD_RE.finditer(sentence[:start]))
    return sentence[before[-1].start() if before else start:end]


def article_questions(article: Article, rng: random.Random) -> list[EvalQuestion]:
    """Up to CORPUS_PER_ARTICLE cloze questions (one copying the words, one varied) of a stored article's body."""
    body_start = article.text.find("\n") + 1 if opens_with_title(article.text, article.title) else 0
    found = []
    for sent in sentenize(article.text[body_start:]):
        for a, b, kind in sentence_entities(sent.text):
            found.append((sent, a, b, kind))
    rng.shuffle(found)
    out: list[EvalQuestion] = []
    for sent, a, b, kind in found:
        varied = bool(len(out) % 2)
        if (q := cloze(sent.text, a, b, kind, rng, varied)) is not None:
            start = body_start + sent.start + a
            out.append(EvalQuestion(q, [answer_span(sent.text, a, b)], article.doc_id, kind="cloze",
                                    qid=f"{article.doc_id}:{int(varied)}:{start}"))
        if len(out) >= CORPUS_PER_ARTICLE:
            break
    return out


def corpus_questions(articles: list[Article], seed: int, limit: int, exclude: frozenset[str]) -> list[EvalQuestion]:
    """About ``limit`` cloze questions over stored articles (not those in ``exclude``: the development questions'
    own articles), asked against the whole store the articles are in."""
    rng = random.Random(seed)
    order = sorted((a for a in articles if a.doc_id not in exclude), key=lambda a: a.doc_id)
    rng.shuffle(order)
    out: list[EvalQuestion] = []
    for article in order:
        out += article_questions(article, rng)
        if len(out) >= limit:
            break
    return out
