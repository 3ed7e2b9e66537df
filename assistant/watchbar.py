"""The watch bar: which quotes of a confident answer over new articles are good enough to alert an editor with.

A standing question is a stricter consumer than a question asked on screen: a hedged answer there is still useful,
but an alert costs attention. A quote alerts when the answer is confident (the same decline and hedge rules as any
answer) and the quote itself clears the bar: with its article's title it carries the question's content words (by
lemma; a name of several words counts once; what the question asks for, «какую сумму», «сколько человек», is not
looked for), and for a how-many question it gives a figure. ``WATCH_BAR`` was chosen out of fold over the Telegram
replay (``python bench/feeds_replay.py``, leaving one standing question out at a time; docs/feeds.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .answering.analysis import STOP, WORD_RE, analyse_word, question_type, text_info, tokens

STEM = 5  # a question word is carried when a text word shares its lemma or its first five letters
AFTER = 400
SENTENCE_END = re.compile(r"(?<=[.!?…])\s|\n")
VAGUE = frozenset({"несколько", "много", "немного", "немало", "десяток", "сотня", "тысяча", "дюжина"})
DATE = re.compile(r"(?<!\d)((1[6-9]|20)\d\d|\d{1,2}\s+(январ|феврал|март|апрел|ма[яе]|июн|июл|август|сентябр|"
                  r"октябр|ноябр|декабр)\w*)(?!\d)", re.I)  # a date is not the count asked for


@dataclass(frozen=True)
class WatchBar:
    """How much of the question a quote must carry to alert, and whether a how-many question needs a figure."""

    min_coverage: float = 0.0
    figure: bool = False  # a how-many question's quote must give a figure

    def passes(self, question: str, quote: str, title: str = "", after: str = "") -> bool:
        """Whether this quote of a confident answer alerts the watch: its words with its article's title and the
        sentence after it (which often names what the quote tells of) carry the question; its figure is its own."""
        if self.figure and not gives_figure(question, f"{title}\n{quote}"):
            return False
        return coverage(question, f"{title}\n{quote}\n{after}") >= self.min_coverage


ASKED_HEAD = re.compile(r"\b(?:как(?:ой|ая|ое|ие|ого|ую|ом|им|ими|их)|сколько|скольких|чей|чья|чьё|чьи)\s+"
                        r"([^\W\d_]+)", re.I)  # «какую сумму», «сколько человек»: what the answer gives, not names


@lru_cache(maxsize=4096)
def key_terms(question: str) -> tuple[frozenset[str], ...]:
    """The question's content words, each a set of lemmas any of which carries it: a name of several words (Джо
    Байден, Южной Корее) is one term; stop words, the wh-word and the noun it asks about («какую сумму») are left out."""
    asked = {m.group(1).lower() for m in ASKED_HEAD.finditer(question)}
    terms: list[set[str]] = []
    joined = False
    for i, match in enumerate(WORD_RE.finditer(question)):
        word = match.group()
        token = analyse_word(word, i > 0 and word[:1].isupper())
        capital = i > 0 and word[:1].isupper()
        if word.lower() in asked or token.lemma in STOP or len(token.lemma) < 2 or token.lemma.startswith("каков"):
            joined = False
            continue
        if capital and joined:
            terms[-1].add(token.lemma)
        else:
            terms.append({token.lemma})
        joined = capital
    return tuple(frozenset(t) for t in terms)


def coverage(question: str, text: str) -> float:
    """The share of the question's content words the text carries (by lemma, or by a shared five-letter stem)."""
    asked = key_terms(question)
    if not asked:
        return 1.0
    found = text_info(text).lemmas | text_info(text).names
    stems = {w[:STEM] for w in found if len(w) >= STEM}
    carried = [t for t in asked if any(a in found or (len(a) >= STEM and a[:STEM] in stems) for a in t)]
    return len(carried) / len(asked)


def next_sentence(text: str, end: int) -> str:
    """The sentence that follows position ``end`` of a text (at most ``AFTER`` characters)."""
    rest = text[end:end + AFTER].lstrip()
    match = SENTENCE_END.search(rest)
    return rest[:match.start()] if match else rest


def gives_figure(question: str, text: str) -> bool:
    """For a how-many question, whether the text gives a figure (digits or a numeral; not a date, not a vague
    «несколько»/«сотни»); any other question passes."""
    if question_type(question) != "count":
        return True
    return any((t.number or any(ch.isdigit() for ch in t.lemma)) and t.lemma not in VAGUE
               for t in tokens(DATE.sub(" ", text)))


WATCH_BAR = WatchBar(min_coverage=0.8, figure=True)  # chosen by bench/feeds_replay.py
