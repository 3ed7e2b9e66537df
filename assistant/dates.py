"""Dates named in a question, and dates typed in a filter field or an article's date field (2025-10-27, 27.10.2025,
«27 октября 2025»).

A date in a question usually describes the event («выборы 2008 года», "in 1986"): it is evidence, not a filter
(``read_dates``). It filters by publication date only when the question asks about publication time («что писали
вчера», «новости за октябрь 2025», "news from last week"); a filter the user sets always applies."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .types import Filters

RU_MONTH_STEMS = ("январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр", "октябр", "ноябр",
                  "декабр")
EN_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
RU_MONTH_RE = r"(январ[яеь]|феврал[яеь]|марта?|марте|апрел[яеь]|ма[яе]|май|июн[яеь]|июл[яеь]|августа?|августе|сентябр[яеь]|октябр[яеь]|ноябр[яеь]|декабр[яеь])"
EN_MONTH_RE = r"(" + "|".join(EN_MONTHS) + r")"
YEAR_RE = r"((?:19|20)\d{2})"
ISO_PREFIX_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
ACCEPTED_FORMATS = "YYYY-MM-DD (2025-10-27), 27.10.2025 or a written date (27 октября 2025, Oct 27 2025)"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("day_month_year_ru", re.compile(rf"\b(\d{{1,2}})\s+{RU_MONTH_RE}\s+{YEAR_RE}(?:\s*(?:года|г\.))?", re.I)),
    ("month_year_ru", re.compile(rf"\b(?:в\s+)?{RU_MONTH_RE}\s+{YEAR_RE}(?:\s*(?:года|г\.))?", re.I)),
    ("month_year_en", re.compile(rf"\b(?:in\s+)?{EN_MONTH_RE}\s+{YEAR_RE}\b", re.I)),
    ("year_ru", re.compile(rf"\b(?:в\s+)?{YEAR_RE}\s*(?:году|года|г\.)", re.I)),
    ("year_en", re.compile(rf"\bin\s+{YEAR_RE}\b", re.I)),
    ("relative", re.compile(r"\b(сегодня|вчера|позавчера|на\s+этой\s+неделе|на\s+прошлой\s+неделе|в\s+этом\s+месяце|"
                            r"в\s+прошлом\s+месяце|в\s+этом\s+году|в\s+прошлом\s+году|today|yesterday|this\s+week|"
                            r"last\s+week|this\s+month|last\s+month|this\s+year|last\s+year)\b", re.I)),
]


PUBLICATION_RE = re.compile(
    r"\b(писал\w*|написал\w*|опубликова\w*|публикова\w*|публикаци\w*|новост\w*|стать[яиеюё]\w*|статей|"
    r"материал\w*|заметк\w*|посты|постов|постах|сообщени\w*|выпуск\w*|вышл[аио]|news|articles?|stories|posts|"
    r"published|publications?|wrote|written|reports?|coverage)\b", re.I)
DAY_PATTERNS = (  # a day named without a year: «28 ноября», «в ночь на 28 ноября», "November 30", "30 November"
    (re.compile(rf"\b(\d{{1,2}})\s+{RU_MONTH_RE}(?!\s+{YEAR_RE})", re.I), 1, 2),
    (re.compile(rf"\b{EN_MONTH_RE}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!,?\s+{YEAR_RE})", re.I), 2, 1),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{EN_MONTH_RE}\b(?!,?\s+{YEAR_RE})", re.I), 1, 2),
)


@dataclass(frozen=True)
class Day:
    """A day a question names, with or without its year."""

    month: int
    day: int
    year: int | None = None

    def matches(self, iso: str | None) -> bool:
        """Whether an ISO date is this day (any year when the question gave none)."""
        if not iso or len(iso) < 10:
            return False
        same = iso[5:10] == f"{self.month:02d}-{self.day:02d}"
        return same and (self.year is None or iso[:4] == str(self.year))


@dataclass(frozen=True)
class DateMention:
    """A date range named in a question and the words that named it."""

    date_from: date
    date_to: date
    phrase: str


def ru_month(word: str) -> int:
    """Month number of a Russian month word in any case («октябрь», «октября», «октябре»)."""
    word = word.lower()
    for number, stem in enumerate(RU_MONTH_STEMS, start=1):
        if word.startswith(stem) and (stem != "ма" or word in ("май", "мая", "мае")):
            return number
    raise ValueError(word)


def month_range(year: int, month: int) -> tuple[date, date]:
    """First and last day of a month."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def relative_range(phrase: str, today: date) -> tuple[date, date]:
    """The range a relative phrase («вчера», "last week") means, counted from today."""
    p = " ".join(phrase.lower().split())
    if p in ("сегодня", "today"):
        return today, today
    if p in ("вчера", "yesterday"):
        return today - timedelta(days=1), today - timedelta(days=1)
    if p == "позавчера":
        return today - timedelta(days=2), today - timedelta(days=2)
    monday = today - timedelta(days=today.weekday())
    if p in ("на этой неделе", "this week"):
        return monday, today
    if p in ("на прошлой неделе", "last week"):
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if p in ("в этом месяце", "this month"):
        return today.replace(day=1), today
    if p in ("в прошлом месяце", "last month"):
        last = today.replace(day=1) - timedelta(days=1)
        return month_range(last.year, last.month)
    if p in ("в этом году", "this year"):
        return date(today.year, 1, 1), today
    return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)  # в прошлом году / last year


def find_date(question: str, today: date) -> DateMention | None:
    """The first date or date range named in the question."""
    for kind, pattern in PATTERNS:
        m = pattern.search(question)
        if not m:
            continue
        try:
            lo, hi = _range(kind, m, today)
        except ValueError:
            continue
        return DateMention(lo, hi, m.group(0))
    return None


def _range(kind: str, m: re.Match[str], today: date) -> tuple[date, date]:
    if kind == "iso":
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return day, day
    if kind == "day_month_year_ru":
        day = date(int(m.group(3)), ru_month(m.group(2)), int(m.group(1)))
        return day, day
    if kind == "month_year_ru":
        return month_range(int(m.group(2)), ru_month(m.group(1)))
    if kind == "month_year_en":
        return month_range(int(m.group(2)), EN_MONTHS[m.group(1).lower()])
    if kind in ("year_ru", "year_en"):
        year = int(m.group(1))
        return date(year, 1, 1), date(year, 12, 31)
    return relative_range(m.group(1), today)


def asks_publication_time(question: str, mention: DateMention) -> bool:
    """Whether the date names when articles were published («что писали вчера», «новости за октябрь 2025», "news
    from last week") rather than when the event happened («выборы 2008 года»)."""
    relative = PATTERNS[-1][1].fullmatch(mention.phrase.strip()) is not None
    return relative or PUBLICATION_RE.search(question) is not None


def named_days(question: str) -> list[Day]:
    """The days a question names («28 ноября», «12 апреля 2019 года», "November 30"), with their year if given."""
    days = []
    for kind, pattern in PATTERNS[:2]:
        if kind == "iso" or kind == "day_month_year_ru":
            for m in pattern.finditer(question):
                try:
                    found = _range(kind, m, date.today())[0]
                except ValueError:
                    continue
                days.append(Day(found.month, found.day, found.year))
    for pattern, day_group, month_group in DAY_PATTERNS:
        for m in pattern.finditer(question):
            word = m.group(month_group)
            month = EN_MONTHS.get(word.lower()) or _ru_month_or_zero(word)
            if month and 1 <= int(m.group(day_group)) <= calendar.monthrange(2024, month)[1]:
                days.append(Day(month, int(m.group(day_group))))
    return list(dict.fromkeys(days))


def _ru_month_or_zero(word: str) -> int:
    try:
        return ru_month(word)
    except ValueError:
        return 0


def filters_from_question(question: str, given: Filters, today: date) -> tuple[Filters, str]:
    """Filters with the question's publication date added (explicit dates win) and the question without the date
    phrase; a date that describes the event leaves both unchanged."""
    if given.date_from or given.date_to:
        return given, question
    mention = find_date(question, today)
    if mention is None or not asks_publication_time(question, mention):
        return given, question
    rest = re.sub(r"\s+([?!.,])", r"\1", " ".join(question.replace(mention.phrase, " ").split()))
    return Filters(date_from=mention.date_from, date_to=mention.date_to, sources=given.sources), rest


def parse_date(value: Any, field_name: str = "date", require: tuple[str, ...] = ()) -> str | None:
    """ISO ``YYYY-MM-DD`` from a date, an ISO string or a written date (Russian or English); None if empty."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    iso = ISO_PREFIX_RE.match(text)
    if iso:
        try:
            return date.fromisoformat(iso.group(1)).isoformat()
        except ValueError:
            pass
    import dateparser

    parsed = dateparser.parse(text, languages=["ru", "en"],
                              settings={"DATE_ORDER": "DMY", "REQUIRE_PARTS": list(require)})
    if parsed is None:
        raise ValueError(f'field "{field_name}": cannot read {text!r} as a date; use YYYY-MM-DD')
    return parsed.date().isoformat()


def parse_user_date(text: str | None, field: str) -> date | None:
    """A date a user typed (a filter); None if empty; a ValueError naming ``field`` if it is not a date."""
    if text is None or not text.strip():
        return None
    try:
        iso = parse_date(text.strip(), field, require=("day", "month", "year"))  # "1" is no date, not the 1st
    except ValueError:
        raise ValueError(f"{field}: {text.strip()!r} is not a date; use {ACCEPTED_FORMATS}") from None
    return date.fromisoformat(iso) if iso else None
