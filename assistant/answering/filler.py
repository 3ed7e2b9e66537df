"""Lines that are no answer whatever their score: photo captions, bylines and attributions, bare announcements of
a quote («После чего Путин ответил:»), and fragments cut at an abbreviation («…род.»)."""

from __future__ import annotations

import re

TERMINAL = tuple(".!?…»\"”):;")  # prose ends so (a colon: see announcement); a caption or a logo's name does not
MAX_CAPTION_CHARS = 120  # a longer line without final punctuation is prose that lost its full stop
MAX_ANNOUNCEMENT_WORDS = 8  # «Об этом он сказал журналистам:» is an announcement; a longer clause says something
BYLINE = re.compile(
    r"^\W*(?:фото|фотограф|photo|picture|image|изображение|источник|source|автор|author|текст|text|перевод|"
    r"translation|редактор|editor|корреспондент|correspondent|видео|video|credit)\s*(?:[:—–|/]|\bby\b)",
    re.IGNORECASE)
ATTRIBUTION = re.compile(
    r"^\W*(?:об этом|такое мнение|такую точку зрения|такое заявление|такие данные|эту информацию|"
    r"эти сведения|these were|this was)\b(?:[^.!?]|\.(?=\w)){0,160}?\b(?:сообщ|заяв|сказал|рассказ|переда|пиш|написал|отмети|"
    r"говори|поделил|информир|reported|said|told|wrote|announced)\w*(?:[^.!?]|\.(?=\w)){0,160}[.!?…]?\s*$",
    re.IGNORECASE)
CLAUSE = re.compile(r",\s*(?:что|добавив|подчеркнув|отметив|пояснив|that|adding)\b", re.IGNORECASE)
SPEECH_END = re.compile(
    r"\b(?:ответил|ответила|ответили|сказал|сказала|сказали|заявил|заявила|заявили|добавил|добавила|отметил|"
    r"отметила|пояснил|пояснила|написал|написала|говорится|сообщил|сообщила|сообщается|подчеркнул|подчеркнула|"
    r"said|added|replied|wrote|stated|reads)\b[^.!?:]{0,60}:\s*$", re.IGNORECASE)
ABBREVIATED = ("род ум англ лат нем франц фр греч итал исп араб кит яп пер им ул просп пл пос обл гор проф акад доц "
               "канд ген полк св см напр ср табл гл разд прим ред изд вып т тт ст стр ок mr mrs ms dr st jr prof "
               "gen col lt sgt no vs")  # words that end a sentence only when the splitter cut after them
ABBREVIATIONS = frozenset(ABBREVIATED.split())
LAST_WORD = re.compile(r"(\w+)\.\s*$")
WORD = re.compile(r"\w+")


def caption(text: str) -> bool:
    """A short line without final punctuation: a photo caption, a logo's name, a subhead."""
    line = text.strip()
    return "\n" not in line and len(line) <= MAX_CAPTION_CHARS and not line.endswith(TERMINAL)


def byline(text: str) -> bool:
    """«Фото: Reuters», «Автор: …», or a sentence that only says who said or reported it («Об этом … сказал …»)."""
    line = text.strip()
    said_more = CLAUSE.search(line) is not None  # «…сказал он, добавив, что…» says something
    return bool(BYLINE.match(line)) or ("\n" not in line and not said_more and bool(ATTRIBUTION.match(line)))


def announcement(text: str) -> bool:
    """A quote ending by announcing what it does not take in («…ответил:»): a speech verb or a short clause last."""
    line = text.strip()
    if not line.endswith(":"):
        return False
    last = re.split(r"(?<=[.!?…])\s+", line)[-1]
    return bool(SPEECH_END.search(last)) or len(WORD.findall(last)) <= MAX_ANNOUNCEMENT_WORDS


def cut_at_abbreviation(text: str, following: str = "") -> bool:
    """A fragment the sentence splitter cut after an abbreviation («…род.», «…ул.», an initial «…А.»), or one
    opening where such a cut left off (in lower case); ``following`` (the text after it) going on in lower case on
    the same line also shows the cut."""
    line = text.strip()
    if line[:1].islower():
        return True
    match = LAST_WORD.search(line)
    if not match:
        return False
    word = match.group(1)
    initial = len(word) == 1 and word.isupper() and word.isalpha()
    nxt = following.split("\n", 1)[0].lstrip()[:1]  # the same line going on in lower case: a cut sentence
    acronym = len(word) > 1 and word.isupper()  # «пистолета ТТ.», «…СМИ.» end sentences; «т.», «ул.» do not
    return (word.lower() in ABBREVIATIONS and not acronym) or initial or nxt.islower()


def filler(text: str, following: str = "") -> bool:
    """Whether a candidate quote is no answer whatever it scores: caption, byline, bare announcement, or fragment.
    ``following`` is the text right after it in the article, when the caller has it (a lower-case continuation on
    the same line shows a sentence cut at an abbreviation)."""
    return caption(text) or byline(text) or announcement(text) or cut_at_abbreviation(text, following)
