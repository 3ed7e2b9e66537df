"""A year the question names keeps the articles that name it, or the year next to it, or were published then."""

from __future__ import annotations

from assistant.answering.anchors import names_years, year_anchored
from assistant.answering.candidates import Candidate
from assistant.types import Article

OSCARS = Article("oscars", "«Оскар»", "82-летний Кристофер Пламмер стал старейшим актером, получившим «Оскара» "
                 "за 2011 год.")
GRAMMYS = Article("grammys", "Грэмми", "Бейонсе номинирована на «Грэмми» в 11 категориях.", date="2024-11-08")
ELECTION = Article("election", "Выборы", "На выборах 2008 года победил Барак Обама.")


def test_a_year_next_to_the_named_one_counts_the_event_and_its_report_may_differ_by_one() -> None:
    assert names_years(OSCARS, frozenset({"2012"}))  # the 2012 ceremony honours 2011's films
    assert names_years(GRAMMYS, frozenset({"2025"}))  # the 2025 nominations, announced in November 2024
    assert names_years(ELECTION, frozenset({"2008"}))


def test_a_year_further_away_is_not_the_event() -> None:
    assert not names_years(OSCARS, frozenset({"2013"}))
    assert not names_years(GRAMMYS, frozenset({"2022"}))
    assert not names_years(ELECTION, frozenset({"2008", "2012"}))  # every named year must be met


def test_year_anchoring_keeps_the_neighbouring_years_article_and_declines_with_a_note_otherwise() -> None:
    cands = [Candidate(a.doc_id, 0, len(a.text), a.text, first=0, last=0) for a in (OSCARS, ELECTION)]
    articles = {a.doc_id: a for a in (OSCARS, ELECTION)}
    kept, note = year_anchored("Who became the oldest actor ever to win an Oscar at the 2012 ceremony?", cands,
                               articles)
    assert [c.doc_id for c in kept] == ["oscars"] and note == ""
    none, why = year_anchored("Кто победил на выборах 2016 года?", cands, articles)
    assert none == [] and why == "ни в одной найденной статье не упоминается 2016"
