"""Follow-up questions without an LLM: carry the terms of earlier turns into the search query."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .keyword import terms
from .types import Citation, Turn

ANAPHORA = re.compile(
    r"\b(это|этого|этом|этот|эта|эти|этих|тот|та|те|там|тогда|он|она|оно|они|его|её|ее|их|ему|ей|им|него|неё|"
    r"них|такой|такие|подробнее|ещё|еще|it|its|this|that|these|those|they|them|he|she|his|her|there|then|more)\b",
    re.IGNORECASE,
)
MAX_CONTENT_TERMS = 2  # a question with this many content terms or fewer leans on the conversation
ANCHOR_TIE = 0.5  # logits of the learned ranker: a quote this close to [1] answered the earlier question as well


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """Whether the question depends on earlier turns (few content words, or pronouns pointing back)."""
    if not any(t.role == "user" for t in history):
        return False
    return len(terms(question)) <= MAX_CONTENT_TERMS or bool(ANAPHORA.search(question))


def refers_back(question: str, history: Sequence[Turn]) -> bool:
    """Whether the question points back at the previous answer («А кого он сменил?», «Расскажи подробнее»)."""
    return any(t.role == "user" for t in history) and bool(ANAPHORA.search(question))


def last_question(history: Sequence[Turn]) -> tuple[str, list[Turn]]:
    """The last user question of the conversation and the turns before it."""
    for i in range(len(history) - 1, -1, -1):
        if history[i].role == "user" and history[i].content.strip():
            return history[i].content.strip(), list(history[:i])
    raise ValueError("the conversation has no user question")


def anchor_articles(previous: Sequence[Citation]) -> list[str]:
    """The articles a pointing-back follow-up is answered from: that of the previous answer's first quote, then those
    of its quotes scored within ANCHOR_TIE of it (a near tie: the user may have read either as the answer)."""
    best = previous[0].score if previous else 0.0
    return list(dict.fromkeys(c.doc_id for c in previous if c.score >= best - ANCHOR_TIE))


def carry_over(question: str, history: Sequence[Turn], turns: int = 2) -> str:
    """The search query for a follow-up: the question plus the last user questions it refers back to."""
    if not is_follow_up(question, history):
        return question
    earlier = [t.content.strip() for t in history if t.role == "user" and t.content.strip()][-turns:]
    return " ".join([question, *reversed(earlier)])
