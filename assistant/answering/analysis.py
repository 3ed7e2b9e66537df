"""Text analysis for answer ranking: question type, lemmas (pymorphy3), names, places, numbers, dates, cues."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    """A word list written as one string."""
    return frozenset(text.split())


WORD_RE = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LATIN = re.compile(r"[A-Za-z]")
MONTHS = ("январ", "феврал", "март", "апрел", "мая", "май", "июн", "июл", "август", "сентябр", "октябр", "ноябр",
          "декабр", "january", "february", "march", "april", "june", "july", "august", "september", "october",
          "november", "december")
YEAR_RE = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")
ANCHOR_YEAR_RE = re.compile(r"(?<![\d.,])(1[6-9]\d\d|20\d\d)(?![\d.,]\d|\d)")  # «2011», «2011г.», «2011-м»
NUMBER_RE = re.compile(r"\d")
NUMBER_WORDS = _words("""один одна два две три четыре пять шесть семь восемь девять десять одиннадцать двенадцать
пятнадцать двадцать тридцать сорок пятьдесят сто двести тысяча миллион миллиард несколько десяток дюжина
полтора""")
CAUSE_CUES = ("из-за", "поскольку", "так как", "потому", "причин", "в связи с", "вследствие", "в результате",
              "благодаря", "связи с", "из‑за", "ради", "чтобы", "объясни", "мотив", "так что", "после того как",
              "because", "due to", "заявлени", "обвинени", "подозрени", "повод", "послужил", "по требованию",
              "в ответ на", "ввиду", "вызван", "на фоне", "as a result", "in response to", "caused by")
ANAPHORA = _words("""он она оно они его её ее их ему ей им это этот эта эти этого этой этих этом тот та те того
там тогда так такой такая такие также кроме при однако но поэтому впрочем здесь тут последний последняя
последние данный данная""")
DEMONSTRATIVE = frozenset({"этот", "это", "тот", "такой", "данный"})  # «В связи с этим», «По этой причине», «До того»
OPENING_WORDS = 4  # a demonstrative this early makes the sentence point back
DEICTIC_TIME = frozenset({"год", "месяц", "неделя", "сезон", "век", "раз"})  # «в этом году» points at now, not back
STOP = _words("""и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее её мне
было вот от меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять
уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего
раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее
сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда
конечно всю между это который которая которые которое сколько почему каким какие какое каких какую каком кого кому
кем чей чья чьё чьи откуда the a an of in on at to for by with from is are was were be been what who whom whose
which when where why how many much did does do has have had it its this that as and or not""")


@dataclass(frozen=True)
class Token:
    """A word with its lemma and the name/place/organisation/number flags pymorphy3 gives it."""

    lemma: str
    name: bool = False  # first name, surname, patronymic, or a capitalised word inside a sentence
    geo: bool = False
    org: bool = False
    number: bool = False


@dataclass(frozen=True)
class TextInfo:
    """What the ranker needs to know of a sentence or a question."""

    lemmas: frozenset[str]  # content lemmas (stop words dropped)
    names: frozenset[str]  # lemmas of person-like names
    places: frozenset[str]
    orgs: frozenset[str]
    has_number: bool
    has_date: bool
    has_cause: bool
    anaphoric: bool  # starts with a word that points back («Он», «Это», «Однако»): the ranker's feature
    demonstrative: bool = False  # a demonstrative among the first words («В связи с этим», «По этой причине»)

    @property
    def points_back(self) -> bool:
        """Opens with a word that points back, or has a demonstrative among its first words."""
        return self.anaphoric or self.demonstrative


def years(text: str) -> frozenset[str]:
    """The years a text names (four digits, 1600–2099, standing alone: «в 2011 году», «2011г.»)."""
    return frozenset(ANCHOR_YEAR_RE.findall(text))


def detect_lang(text: str) -> str:
    """``ru`` when the text is mostly Cyrillic (or has no letters of either script), else ``en``."""
    cyr, lat = len(CYRILLIC.findall(text)), len(LATIN.findall(text))
    return "ru" if cyr >= lat else "en"


_MORPH: list[object] = []
_MORPH_LOCK = threading.Lock()


def morphology() -> object:
    """The pymorphy3 analyzer, built once (under a lock: building two at once breaks its grammeme tables)."""
    if not _MORPH:
        with _MORPH_LOCK:
            if not _MORPH:
                import pymorphy3

                _MORPH.append(pymorphy3.MorphAnalyzer())
    return _MORPH[0]


@lru_cache(maxsize=200_000)
def analyse_word(word: str, capitalised_inside: bool) -> Token:
    """Lemma and flags of one word (cached: words repeat across sentences and questions)."""
    low = word.lower().replace("ё", "е")
    if not CYRILLIC.search(word):
        number = low.isdigit() or low in {"one", "two", "three", "four", "five", "ten", "hundred", "thousand"}
        return Token(low, name=capitalised_inside and not number, number=number)
    parse = morphology().parse(word)[0]  # type: ignore[attr-defined]
    tag = parse.tag
    lemma = parse.normal_form.replace("ё", "е")
    name = ("Name" in tag or "Surn" in tag or "Patr" in tag) or (capitalised_inside and "Geox" not in tag
                                                                   and "Orgn" not in tag)
    return Token(lemma, name=name, geo="Geox" in tag, org="Orgn" in tag,
                 number="NUMB" in tag or "NUMR" in tag or lemma in NUMBER_WORDS)


def tokens(text: str) -> list[Token]:
    """The words of a text, analysed."""
    out = []
    for i, match in enumerate(WORD_RE.finditer(text)):
        word = match.group()
        out.append(analyse_word(word, i > 0 and word[:1].isupper()))
    return out


def opens_with_demonstrative(lemmas: list[str]) -> bool:
    """A demonstrative among the first words («В связи с этим», «Это было»), not one naming the present time."""
    for i, lemma in enumerate(lemmas[:OPENING_WORDS]):
        following = lemmas[i + 1] if i + 1 < len(lemmas) else ""
        if lemma in DEMONSTRATIVE and following not in DEICTIC_TIME:
            return True
    return False


@lru_cache(maxsize=50_000)
def text_info(text: str) -> TextInfo:
    """Lemmas, entities and cues of a sentence (cached by text)."""
    toks = tokens(text)
    low = text.lower()
    first = toks[0].lemma if toks else ""
    return TextInfo(
        lemmas=frozenset(t.lemma for t in toks if t.lemma not in STOP and len(t.lemma) > 1),
        names=frozenset(t.lemma for t in toks if t.name),
        places=frozenset(t.lemma for t in toks if t.geo),
        orgs=frozenset(t.lemma for t in toks if t.org),
        has_number=bool(NUMBER_RE.search(text)) or any(t.number for t in toks),
        has_date=bool(YEAR_RE.search(text)) or any(m in low for m in MONTHS),
        has_cause=any(c in low for c in CAUSE_CUES),
        anaphoric=first in ANAPHORA,
        demonstrative=opens_with_demonstrative([t.lemma for t in toks[:OPENING_WORDS + 1]]),
    )


QTYPE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("why", re.compile(r"\b(почему|зачем|из-за чего|за что|по какой причине|с какой целью|what caused|why)\b")),
    ("count", re.compile(r"\b(сколько|how many|how much|how old|how long|во сколько)\b")),
    ("when", re.compile(r"\b(когда|в каком году|какого числа|в какой день|в каком месяце|what year|when)\b")),
    ("where", re.compile(r"\b(где|куда|откуда|в каком городе|в какой стране|в каком месте|where)\b")),
    ("who", re.compile(r"\b(кто|кого|кому|кем|чей|чья|чьё|чье|чьи|who|whom|whose)\b")),
)
QTYPES = ("why", "count", "when", "where", "who", "what")


def question_type(question: str) -> str:
    """The kind of information asked for: why, count, when, where, who, or what (anything else)."""
    low = question.lower().replace("ё", "е")
    for qtype, pattern in QTYPE_PATTERNS:
        if pattern.search(low):
            return qtype
    return "what"


COUNT_RE = re.compile(r"\b(?:сколько|how many)((?:\s+[^\W\d_]+){1,4})")  # the next words: «сколько у него ещё детей»
AGE_RE = re.compile(r"\d+-летн", re.IGNORECASE)  # «87-летний»


def count_unit(question: str) -> str:
    """The lemma of what a how-many question counts («сколько лет» → «год», «а сколько ему лет» → «год», «сколько
    человек» → «человек»), or ''."""
    match = COUNT_RE.search(question.lower().replace("ё", "е"))
    following = match.group(1).split() if match else []
    return next((analyse_word(w, False).lemma for w in following if w not in STOP), "")


@lru_cache(maxsize=50_000)
def counts_unit(text: str, unit: str) -> bool:
    """Whether a number in the text comes with the unit within two words («погибли 12 человек»); for years, also an
    age («87-летний»)."""
    if unit == "год" and AGE_RE.search(text):
        return True
    toks = tokens(text)
    return any((t.number or t.lemma.isdigit()) and not YEAR_RE.fullmatch(t.lemma)  # «1929 года» is a date
               and any(u.lemma == unit for u in toks[i + 1:i + 3]) for i, t in enumerate(toks))
