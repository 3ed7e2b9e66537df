"""What a question is about, which an article must name to answer it: the years it names, and its names.

A story about another country, person or event does not answer the question, however close its wording
(«сколько погибших после землетрясения в Непале?» is not answered by a road accident in Transbaikalia).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..dates import RU_MONTH_STEMS, Day, named_days
from ..keyword import stem
from ..types import Article
from .analysis import CYRILLIC, LATIN, STOP, WORD_RE, analyse_word, detect_lang, years
from .candidates import Candidate

MIN_STEM = 4  # a shorter stem would match too many words as a prefix («Катар» must not match «катастрофа»)
ENDINGS = "аеёиоуыэюяйь"  # a lemma's final vowel is an ending: «Канны» → «Канн», which begins «Каннского»
SHORT = 3  # abbreviations this short (США, ЕС, РЖД) must appear as whole words


MIN_SOUNDS = 4  # a consonant skeleton shorter than this matches too much across scripts ("Prize": «Париж»)
# Sibilants are one sound, "s": transliteration swaps them («Цукерберг» / Zuckerberg, «Джанет» / Janet)
CYRILLIC_SOUNDS = str.maketrans({"б": "b", "в": "v", "г": "g", "д": "d", "ж": "s", "з": "s", "к": "k", "л": "l",
                                 "м": "m", "н": "n", "п": "p", "р": "r", "с": "s", "т": "t", "ф": "f", "х": "h",
                                 "ц": "s", "ч": "č", "ш": "s", "щ": "s"})
LATIN_SOUNDS = (("sch", "s"), ("kh", "h"), ("ch", "č"), ("ph", "f"), ("th", "t"), ("ck", "k"), ("qu", "kv"),
                ("x", "ks"), ("w", "v"), ("q", "k"), ("c", "k"), ("j", "s"), ("z", "s"))
CONSONANTS = "bvgdklmnprstfč"  # h is left out (Harry is «Гарри», Khodorkovsky «Ходорковский»); ts is s (Tsipras)


def fold(word: str) -> str:
    """A word lower-cased, ё as е."""
    return word.lower().replace("ё", "е")


@lru_cache(maxsize=200_000)
def sounds(word: str) -> str:
    """The consonant skeleton of a word in either script, so that a name matches its transliteration
    («Фейсбук» and "Facebook" are both fsbk, «Трамп» and "Trump" trmp, «Ходорковский» and "Khodorkovsky"
    drkvsk)."""
    low = fold(word)
    if LATIN.search(low):
        low = re.sub(r"c(?=[eiy])", "s", low)
        for latin, sound in LATIN_SOUNDS:
            low = low.replace(latin, sound)
    else:
        low = low.replace("дж", "ж").translate(CYRILLIC_SOUNDS)
    skeleton = "".join(ch for ch in low if ch in CONSONANTS).replace("ts", "s")
    return "".join(ch for i, ch in enumerate(skeleton) if i == 0 or ch != skeleton[i - 1])


@dataclass(frozen=True)
class Anchor:
    """A name the question is about, as typed, with its lemma and stem."""

    word: str
    lemma: str
    stems: tuple[str, ...]  # prefixes an inflected or derived form begins with (the Snowball stem, the lemma's root)
    sound: str = ""  # the stem's consonant skeleton, matched against words of the other script


def question_anchors(question: str) -> tuple[Anchor, ...]:
    """The question's names: persons, places and organisations (pymorphy3's tags or a capital letter inside the
    sentence), and Latin-script words in a Cyrillic question (brands, titles: Amazon, Gangnam Style)."""
    cyrillic = bool(CYRILLIC.search(question))
    out = []
    for i, match in enumerate(WORD_RE.finditer(question)):
        word = match.group()
        token = analyse_word(word, i > 0 and word[:1].isupper())
        if token.lemma in STOP or len(word) < 2 or token.number:
            continue
        if token.name or token.geo or token.org or (cyrillic and LATIN.search(word)):
            low = fold(word)
            stems = (stem(low), token.lemma.rstrip(ENDINGS))
            out.append(Anchor(word, token.lemma, tuple(dict.fromkeys(s for s in stems if len(s) >= MIN_STEM)),
                              sound_of(low)))
    return tuple(out)


def sound_of(low: str) -> str:
    """A question word's skeleton: of its Russian stem (endings add consonants: «Трампом»), of a Latin word less
    a possessive (the English stemmer would cut names: "Kigeli" → "kige")."""
    return sounds(low.removesuffix("'s")) if LATIN.search(low) else sounds(stem(low))


@dataclass(frozen=True)
class Words:
    """An article's lower-cased words, and those it capitalises inside a sentence somewhere (its names)."""

    all: frozenset[str]
    capitalised: frozenset[str]


OPENERS = " \t«\"'(—–-"  # what may stand between a sentence's end and its first word


def sentence_initial(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence or a line (its capital says nothing about it being a name)."""
    before = text[max(0, start - 6):start].rstrip(OPENERS)
    return not before or before[-1] in ".!?…\n"


@lru_cache(maxsize=4096)
def article_words(text: str) -> Words:
    """An article's words (cached by text: the same articles come back for many questions)."""
    found = list(WORD_RE.finditer(text))
    names = (m.group() for m in found if m.group()[:1].isupper() and not sentence_initial(text, m.start()))
    return Words(frozenset(fold(m.group()) for m in found), frozenset(map(fold, names)))


def mentions(words: Words, anchor: Anchor) -> bool:
    """Whether the article names the anchor: the word itself, a word the anchor's stem begins («Каннах» →
    «Каннского», «Непале» → «Непал»), a word with the same lemma («Павлом» → «Павел»), or a word of the other
    script capitalised inside a sentence with the same consonants («Фейсбуком» → "Facebook"; "Court" is not
    «короткий», "President" not a sentence opening «Президент…»); an abbreviation of up to three letters only as
    itself. Only words that could be forms of the name are lemmatised, so a long new article costs little."""
    low = fold(anchor.word)
    if len(low) <= SHORT or low in words.all:
        return low in words.all
    if anchor.stems and any(w.startswith(anchor.stems) for w in words.all):
        return True
    if any(w[:2] == anchor.lemma[:2] and analyse_word(w, False).lemma == anchor.lemma for w in words.all):
        return True
    latin = bool(LATIN.search(low))
    other = (w for w in words.capitalised if bool(LATIN.search(w)) != latin)  # a name spelled in the other script
    return len(anchor.sound) >= MIN_SOUNDS and any(sounds(w).startswith(anchor.sound) for w in other)


def full_text(article: Article) -> str:
    """What an article says: its title and its text."""
    return f"{article.title}\n{article.text}"


def names_any(article: Article, anchors: tuple[Anchor, ...], lang: str) -> bool:
    """Whether the article names at least one of the anchors; in an article of another language than the question's
    ``lang``, only a name with a long enough consonant skeleton counts ("New" and "York" of a Latin-script «New York
    Times» do not make an article about New York)."""
    text = full_text(article)
    if foreign(article, lang):
        anchors = tuple(a for a in anchors if len(a.sound) >= MIN_SOUNDS)
    words = article_words(text)
    return any(mentions(words, a) for a in anchors)


def foreign(article: Article, lang: str) -> bool:
    """Whether the article is in another language than the question's ``lang``."""
    return detect_lang(full_text(article)[:400]) != lang


YEAR_SLACK = 1  # an event's year and its report's may differ by one (the 2012 Oscars honour 2011's films; the 2025
# Grammy nominations are announced in November 2024)


def names_years(article: Article, wanted: frozenset[str]) -> bool:
    """Whether the article names each of these years, or one next to it (in its title or text, or by its date)."""
    text = full_text(article)
    return all(any(re.search(rf"(?<!\d){near}(?!\d)", text) or (article.date or "").startswith(near)
                   for near in map(str, range(int(y) - YEAR_SLACK, int(y) + YEAR_SLACK + 1))) for y in wanted)


def kept_if(cands: list[Candidate], articles: dict[str, Article], answers: Callable[[Article], bool],
            note: str) -> tuple[list[Candidate], str]:
    """The candidates of the articles that may answer; when none is left, the note saying why."""
    meets = {d: answers(articles[d]) for d in {c.doc_id for c in cands}}
    kept = [c for c in cands if meets[c.doc_id]]
    return kept, "" if kept else note


def name_anchored(query: str, cands: list[Candidate], articles: dict[str, Article]) -> tuple[list[Candidate], str]:
    """Only candidates of articles naming at least one of the question's names (a story about someone or somewhere
    else does not answer); when none is left, a note saying which names no article found mentions.

    An article in another language than the question's is matched by its spelling or across scripts («Цукерберга» for
    "Zuckerberg") but is not set aside when no article names them: transliteration differs too much (Kim Jong-nam is
    «Ким Чен Нам») for a missing name to mean a missing story.
    """
    anchors = question_anchors(query)
    if not anchors:
        return cands, ""
    lang = detect_lang(query)
    named, note = kept_if(cands, articles, lambda a: names_any(a, anchors, lang),
                          not_mentioned(query, [a.word for a in anchors]))
    if named:
        return named, ""
    return kept_if(cands, articles, lambda a: foreign(a, lang), note)


def year_anchored(query: str, cands: list[Candidate], articles: dict[str, Article]) -> tuple[list[Candidate], str]:
    """Only candidates of articles naming the years the question names, in their text or by their date (another
    year's story does not answer); when none is left, a note saying which years no article found mentions. A day the
    question names is preferred the same way, but never empties the candidates (``day_preferred``)."""
    cands = day_preferred(query, cands, articles)
    wanted = years(query)
    if not wanted:
        return cands, ""
    return kept_if(cands, articles, lambda a: names_years(a, wanted), not_mentioned(query, sorted(wanted)))


def day_preferred(query: str, cands: list[Candidate], articles: dict[str, Article]) -> list[Candidate]:
    """The candidates of articles published on a day the question names or naming it («в ночь на 28 ноября»); all
    of them when no article does (a day is evidence, not a filter)."""
    days = named_days(query)
    if not days:
        return cands
    meets = {d: any(names_day(articles[d], day) for day in days) for d in {c.doc_id for c in cands}}
    return [c for c in cands if meets[c.doc_id]] or cands


def names_day(article: Article, day: Day) -> bool:
    """Whether the article was published on the day or names it in its text («28 ноября», "November 28")."""
    if day.matches(article.date):
        return True
    month_en = calendar.month_name[day.month]
    pattern = rf"(?<!\d){day.day}\s+({RU_MONTH_STEMS[day.month - 1]}\w*|{month_en})|{month_en}\s+{day.day}(?!\d)"
    return re.search(pattern, full_text(article), re.I) is not None


def not_mentioned(query: str, what: list[str]) -> str:
    """The note of a decline: no article found names this (in the question's language)."""
    shown = ", ".join(dict.fromkeys(what))
    return f"ни в одной найденной статье не упоминается {shown}" if detect_lang(query) == "ru" else \
        f"no article found mentions {shown}"
