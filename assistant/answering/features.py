"""Features of quote candidates for the answer ranker: similarity, overlap, novelty, answer type, position."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..keyword import stem
from .analysis import WORD_RE, TextInfo, count_unit, counts_unit, detect_lang, question_type, text_info
from .candidates import ArticleSentences, Candidate

FEATURES: tuple[str, ...] = (
    "dense", "dense_gap", "dense_mean", "doc_gap", "focus", "focus_gap", "head_sim",
    "dense_z", "focus_z", "focus_lex",
    "lex", "lex_gap", "name_cov", "novelty",
    "headline", "lead", "anaphoric", "width2", "width3", "chars",
    "t_who", "t_where", "t_when", "t_count", "t_why", "t_what", "t_unit",
    "foreign", "lex_ctx", "hub",
)


@dataclass(frozen=True)
class Features:
    """One row of named features per candidate."""

    names: tuple[str, ...]
    matrix: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """A feature's values, by name."""
        return self.matrix[:, self.names.index(name)]


@dataclass(frozen=True)
class Question:
    """The question as the ranker sees it."""

    text: str
    info: TextInfo
    qtype: str
    weights: dict[str, float]  # IDF weight of each content lemma of the question
    focus: frozenset[str] = frozenset()  # lemmas of the question not in the topic (set with the top article)
    unit: str = ""  # what a how-many question counts («год» of «сколько лет»)


def focus_text(question: str, topic: TextInfo) -> str:
    """The question without the words it shares with the topic (the top article's headline) and without names:
    what is asked about the topic («Сколько заработал за 2016 год» of «…депутат, утонувший в Мёртвом море»)."""
    kept = [m.group() for m in WORD_RE.finditer(question)
            if (info := text_info(m.group())).lemmas.isdisjoint(topic.lemmas) and not info.names]
    return " ".join(kept) + "?" if kept else question


def make_question(text: str, idf: Callable[[str], float]) -> Question:
    """Analyse a question once for all its candidates."""
    info = text_info(text)
    weights = {lemma: max(idf(stem(lemma)), 0.1) for lemma in info.lemmas}
    asked = text.split("?")[0] if "?" in text else text  # a follow-up's query: the new question comes first
    return Question(text, info, question_type(asked), weights, unit=count_unit(asked))


def window_info(sents: ArticleSentences, cand: Candidate, around: int = 0) -> TextInfo:
    """The union of the candidate's sentence infos (and of ``around`` sentences either side)."""
    first, last = max(0, cand.first - around), min(len(sents.spans) - 1, cand.last + around)
    infos = [text_info(sents.text(i)) for i in range(first, last + 1)]
    return TextInfo(
        lemmas=frozenset().union(*(x.lemmas for x in infos)), names=frozenset().union(*(x.names for x in infos)),
        places=frozenset().union(*(x.places for x in infos)), orgs=frozenset().union(*(x.orgs for x in infos)),
        has_number=any(x.has_number for x in infos), has_date=any(x.has_date for x in infos),
        has_cause=any(x.has_cause for x in infos), anaphoric=infos[0].anaphoric)


def type_match(q: Question, info: TextInfo) -> dict[str, float]:
    """Whether the candidate holds new information of the type the question asks for."""
    new_names = info.names - q.info.lemmas - q.info.names
    new_places = info.places - q.info.lemmas
    found = {"who": bool(new_names or (info.orgs - q.info.lemmas)), "where": bool(new_places),
             "when": info.has_date, "count": info.has_number, "why": info.has_cause,
             "what": bool(new_names or info.has_number)}
    return {f"t_{t}": float(q.qtype == t and found[t]) for t in found}


def overlap(q: Question, info: TextInfo, only: frozenset[str] | None = None) -> float:
    """IDF-weighted share of the question's lemmas (or of ``only`` those) in the candidate."""
    weights = {k: w for k, w in q.weights.items() if only is None or k in only}
    total = sum(weights.values())
    return sum(w for lemma, w in weights.items() if lemma in info.lemmas) / total if total else 0.0


Z_PRIOR_SENTENCES = 8.0  # an article's own mean and spread count as much as this many sentences of the pool


@dataclass(frozen=True)
class Pool:
    """Mean and variance of the similarities of every retrieved sentence (all articles) to the question and focus."""

    q_mean: float
    q_var: float
    f_mean: float
    f_var: float


def pool_of(sims: dict[str, Sims]) -> Pool:
    """The pooled statistics of all articles' sentence similarities."""
    q = np.concatenate([s.question for s in sims.values()]) if sims else np.zeros(1)
    f = np.concatenate([s.focus for s in sims.values()]) if sims else np.zeros(1)
    return Pool(float(q.mean()), float(q.var()), float(f.mean()), float(f.var()))


def zscore(values: np.ndarray, x: float, prior_mean: float, prior_var: float) -> float:
    """How far ``x`` stands above the article's sentences, in standard deviations; the article's mean and spread
    are shrunk toward those of all retrieved sentences, so a one- or two-sentence post is not scored as flat."""
    w = len(values) / (len(values) + Z_PRIOR_SENTENCES)
    mean = w * float(values.mean()) + (1 - w) * prior_mean if len(values) else prior_mean
    var = w * float(values.var()) + (1 - w) * prior_var if len(values) else prior_var
    return float((x - mean) / (np.sqrt(var) + 1e-3))


@dataclass(frozen=True)
class Sims:
    """Similarities of an article's sentences: to the question, to its focus, and to the article's headline."""

    question: np.ndarray
    focus: np.ndarray
    headline: np.ndarray
    centre: np.ndarray | None = None  # to the mean of every retrieved sentence: high for generic "hub" sentences


def base_row(q: Question, sents: ArticleSentences, cand: Candidate, sim: Sims, pool: Pool) -> dict[str, float]:
    """The features that need only the candidate, its article and the sentence similarities."""
    info = window_info(sents, cand)
    sims = sim.question
    inner = sims[cand.first:cand.last + 1]
    body = [i for i, h in enumerate(sents.headline) if not h]
    q_names = q.info.names or q.info.lemmas
    return {
        "dense": float(inner.max()), "dense_mean": float(inner.mean()),
        "focus": float(sim.focus[cand.first:cand.last + 1].max()),
        "dense_z": zscore(sims, float(inner.max()), pool.q_mean, pool.q_var),
        "focus_z": zscore(sim.focus, float(sim.focus[cand.first:cand.last + 1].max()), pool.f_mean, pool.f_var),
        "focus_lex": overlap(q, info, q.focus),
        "head_sim": float(sim.headline[cand.first:cand.last + 1].max()),  # NaN (unknown) without a headline line
        "lex": overlap(q, info),
        "name_cov": len(q_names & (info.names | info.lemmas)) / len(q_names) if q_names else 0.0,
        "novelty": len(info.lemmas - q.info.lemmas) / max(1, len(info.lemmas)),
        "headline": float(any(sents.headline[cand.first:cand.last + 1])),
        "lead": float(bool(body) and cand.first == body[0]),
        "anaphoric": float(info.anaphoric),
        "width2": float(cand.last - cand.first == 1), "width3": float(cand.last - cand.first == 2),
        "chars": min(len(cand.text), 400) / 400,
        **type_match(q, info),
        "t_unit": float(bool(q.unit) and counts_unit(cand.text, q.unit)),
        "foreign": float(detect_lang(cand.text) != detect_lang(sents.article.text[:400])),  # an embedded tweet
        "lex_ctx": overlap(q, window_info(sents, cand, 1)),  # the question's words around the candidate too
        "hub": float(sim.centre[cand.first + int(np.argmax(inner))]) if sim.centre is not None else 0.0,
    }


def featurize(q: Question, cands: Sequence[Candidate], sents: dict[str, ArticleSentences],
              sims: dict[str, Sims]) -> Features:
    """The feature matrix of all candidates of one question (gaps are relative to the question's best)."""
    if not cands:
        return Features(FEATURES, np.zeros((0, len(FEATURES))))
    pool = pool_of(sims)
    rows = [base_row(q, sents[c.doc_id], c, sims[c.doc_id], pool) for c in cands]
    best_dense = max(r["dense"] for r in rows)
    best_lex = max(r["lex"] for r in rows)
    best_focus = max(r["focus"] for r in rows)
    doc_best = {d: float(s.question.max()) for d, s in sims.items() if len(s.question)}
    for r, c in zip(rows, cands, strict=True):  # the retrieval rank is left out: it depends on corpus and retriever
        r["dense_gap"] = r["dense"] - best_dense
        r["lex_gap"] = r["lex"] - best_lex
        r["focus_gap"] = r["focus"] - best_focus
        r["doc_gap"] = doc_best.get(c.doc_id, best_dense) - best_dense
    return Features(FEATURES, np.array([[r[n] for n in FEATURES] for r in rows], dtype=np.float32))


def relevance(feats: Features) -> np.ndarray:
    """How close each candidate is to the question, on an absolute scale: dense similarity + 0.12 · lemma overlap.
    The decline threshold is compared with the best of these (a ranker's scores are relative)."""
    return feats.column("dense") + 0.12 * feats.column("lex")


def standardised(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standardised feature rows; an unknown value (NaN: no headline line to compare with) becomes the mean, 0."""
    return np.nan_to_num((x - mean) / scale, nan=0.0)


def formula_score(feats: Features) -> np.ndarray:
    """Relevance + 0.03 · length share: the hand-set ranking score (and the linear ranker's prior)."""
    return np.asarray(relevance(feats) + 0.03 * feats.column("chars"))
