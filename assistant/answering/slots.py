"""What a question asks for (a date, a number, a person, a place, a cause) and whether quote [1] gives it.

A near miss («К какому сроку суд приговорил…?» over a story of the arrest) is close to the question in topic, so its
relevance is high; what it lacks is the asked-for detail. The quote (with the neighbour it takes in) fills the slot
only with words the question does not already contain. ``POLICY`` says per language pair what an unfilled slot would
do (``off``, ``hedge`` or ``decline``); it is chosen out of fold, leaving one development part out at a time
(``python -m assistant.evaluation.slotfit``). Out of fold it chose ``off`` for every pair and part (unfilled slots are
as common among right answers as among near misses: docs/evaluation.md), so the answerer does not call ``verdict``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POLICY: dict[str, str] = {"ru-ru": "off", "en-ru": "off"}  # chosen by slotfit; a pair not listed: off

WORD = re.compile(r"[\w-]+", re.U)
SLOT_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cause", re.compile(r"\b(почему|зачем|из-за чего|отчего|по какой причине|за что|why)\b", re.I)),
    ("number", re.compile(r"\b(сколько|скольк\w+|на сколько|какой процент|какую сумму|how many|how much|how long|"
                          r"how old|what percentage|к какому сроку|на какой срок|какой срок)\b", re.I)),
    ("time", re.compile(r"\b(когда|в каком году|какого числа|в какой день|в каком месяце|с какого года|"
                        r"в котором часу|when|what year|which year|what date|what day)\b", re.I)),
    ("person", re.compile(r"\b(кто|кого|кому|кем|чей|чья|чьё|чье|чьи|who|whom|whose)\b", re.I)),
    ("place", re.compile(r"\b(где|куда|откуда|в какой стране|в каком городе|where)\b", re.I)),
)
FILLERS: dict[str, re.Pattern[str]] = {
    "cause": re.compile(r"(из-за|потому|так как|поскольку|в связи с|по причине|причин|ради|чтобы|благодаря|"
                        r"вследствие|в результате|за то|обвин|подозрев|\bведь\b|because|due to|as a result)", re.I),
    "number": re.compile(r"(\d|\b(одн|один|два|две|двух|двум|тр[её]х|три|четыр|пят|шест|сем|восем|девят|десят|"
                         r"двадцат|тридцат|сорок|пятьдесят|сто\b|сот|тысяч|миллион|миллиард|млн|млрд|трлн|"
                         r"половин|треть|четверт|дважды|трижды|двое|трое|четверо|нескольк|десятк|сотн|дюжин|"
                         r"процент))", re.I),
    "time": re.compile(r"((?<!\d)(1[6-9]|20)\d\d(?!\d)|\b(январ|феврал|март|апрел|ма[йяе]\b|июн|июл|август|"
                       r"сентябр|октябр|ноябр|декабр|понедельник|вторник|сред[ауы]|четверг|пятниц|суббот|"
                       r"воскресень|сегодня|вчера|завтра|позавчера|утром|вечером|ночью|днем|днём|накануне|"
                       r"недел|месяц|лет назад|год назад|век|\d{1,2}:\d\d))", re.I),
}
PERSON_WORDS = re.compile(
    r"\b(министр|президент|директор|глав[аеуы]|губернатор|мэр|премьер|председател|депутат|сенатор|судь|прокурор|"
    r"адвокат|полицейск|жител|студент|врач|хирург|акт[её]р|актрис|певиц|певец|режисс|писател|журналист|активист|"
    r"сотрудник|генерал|офицер|солдат|мужчин|женщин|девушк|сын|доч|отец|мать|жен[аеуы]|муж\b|брат|сестр|внук|"
    r"компани|партия|партии|суд\b|ведомств|министерств)", re.I)
PLACE_WORDS = re.compile(r"\b(город|сел[оа]|деревн|район|област|кра[йе]|улиц|площад|здани|больниц|аэропорт|"
                         r"тюрьм|сизо|музе|стадион|театр|столиц|стран|границ|побереж|остров|провинци|штат)", re.I)
SENTENCE_START = re.compile(r"(^|[.!?…»\"]\s+|\n)$")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
DATE_NUMBER = re.compile(r"(?<!\d)((1[6-9]|20)\d\d|\d{1,2}\s+(январ|феврал|март|апрел|ма[яе]|июн|июл|август|сентябр|"
                         r"октябр|ноябр|декабр)\w*)(?!\d)", re.I)  # a date is not the count asked for
MIN_TOPIC_WORD = 4


@dataclass(frozen=True)
class SlotCheck:
    """The slot a question asks for ('' when none) and whether the quote fills it."""

    slot: str
    filled: bool


def asked_slot(question: str) -> str:
    """The kind of detail the question asks for: cause, number, time, person, place, or '' (any other question)."""
    return next((slot for slot, pattern in SLOT_QUESTIONS if pattern.search(question)), "")


def stem(word: str) -> str:
    """A crude stem for comparing a quote's words with the question's (five letters, ё folded)."""
    return word.lower().replace("ё", "е")[:5]


def new_matches(pattern: re.Pattern[str], quote: str, asked: set[str]) -> bool:
    """Whether the pattern matches a word of the quote that the question does not already contain."""
    for m in pattern.finditer(quote):
        words = WORD.findall(m.group(0)) or [m.group(0)]
        if any(stem(w) not in asked for w in words):
            return True
    return False


def new_names(quote: str, asked: set[str]) -> bool:
    """Whether the quote names someone or somewhere the question does not (a capitalised word not opening a
    sentence, or a «quoted» name)."""
    for m in WORD.finditer(quote):
        word = m.group(0)
        if word[:1].isupper() and not SENTENCE_START.search(quote[:m.start()]) and stem(word) not in asked:
            return True
    return False


def on_topic(quote: str, asked: set[str]) -> str:
    """The quote's sentences that share a word with the question, each with the sentence after it (where a reason
    or an outcome often stands); the whole quote when none does."""
    sentences = [s for s in SENTENCE_END.split(quote) if s.strip()]
    topical = [i for i, s in enumerate(sentences)
               if any(stem(w) in asked for w in WORD.findall(s) if len(w) >= MIN_TOPIC_WORD)]
    keep = sorted({j for i in topical for j in (i, i + 1) if j < len(sentences)})
    return " ".join(sentences[j] for j in keep) if keep else quote


def check(question: str, quote: str) -> SlotCheck:
    """The slot the question asks for and whether the quote's sentences on the question's topic fill it with words
    the question does not contain."""
    slot = asked_slot(question)
    if not slot:
        return SlotCheck("", True)
    asked = {stem(w) for w in WORD.findall(question)}
    quote = on_topic(quote, {a for a in asked if len(a) >= MIN_TOPIC_WORD})
    if slot == "number":
        quote = DATE_NUMBER.sub(" ", quote)
    if slot == "person":
        filled = new_names(quote, asked) or new_matches(PERSON_WORDS, quote, asked)
    elif slot == "place":
        filled = new_names(quote, asked) or new_matches(PLACE_WORDS, quote, asked)
    else:
        filled = new_matches(FILLERS[slot], quote, asked)
    return SlotCheck(slot, filled)


def verdict(question: str, quote: str, pair: str, policy: dict[str, str] | None = None) -> str:
    """What the answer does with quote [1]: ``answer``, or ``hedge``/``decline`` when the asked slot is unfilled."""
    action = (policy or POLICY).get(pair, "off")
    if action == "off" or check(question, quote).filled:
        return "answer"
    return action
