"""Synthetic training questions from NEREL's entity and relation annotations (train split only)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from ...evaluation import EvalQuestion
from ..analysis import morphology

# relation → (entity types of the asked-about argument, templates); "{a}" nominative, "{a_gent}" genitive, …
# The answer is Arg2 unless the relation is listed in ASK_ARG1.
TEMPLATES: dict[str, list[str]] = {
    "WORKS_AS": ["Кем работает {a}?", "Какую должность занимает {a}?", "Кто такой {a}?", "What is {a}'s job?"],
    "WORKPLACE": ["Где работает {a}?", "В какой организации работает {a}?", "На кого работает {a}?",
                  "Where does {a} work?"],
    "AGE_IS": ["Сколько лет {a_datv}?", "Какого возраста {a}?", "How old is {a}?"],
    "AGE_DIED_AT": ["В каком возрасте умер {a}?", "Сколько лет было {a_datv}?"],
    "POINT_IN_TIME": ["Когда {a}?", "Когда это произошло: {a}?", "When did the {a} happen?"],
    "HAS_CAUSE": ["Почему {a}?", "Из-за чего {a}?", "По какой причине {a}?", "Why {a}?"],
    "AWARDED_WITH": ["Какую награду получил {a}?", "Чем наградили {a_accs}?", "What award did {a} get?"],
    "CONVICTED_OF": ["За что осудили {a_accs}?", "В чём обвиняют {a_accs}?", "What was {a} accused of?"],
    "PENALIZED_AS": ["К чему приговорили {a_accs}?", "Какое наказание получил {a}?"],
    "TAKES_PLACE_IN": ["Где {a}?", "Где произошло {a}?", "Where did {a} take place?"],
    "HEADQUARTERED_IN": ["Где находится {a}?", "Where is {a} based?"],
    "PLACE_OF_BIRTH": ["Где родился {a}?", "Откуда родом {a}?"],
    "PLACE_OF_DEATH": ["Где умер {a}?", "Где погиб {a}?"],
    "DATE_OF_BIRTH": ["Когда родился {a}?"],
    "DATE_OF_DEATH": ["Когда умер {a}?", "When did {a} die?"],
    "ORIGINS_FROM": ["Откуда {a}?", "Из какой страны {a}?"],
    "MEDICAL_CONDITION": ["Чем болен {a}?", "Что со здоровьем у {a_gent}?"],
    "SPOUSE": ["Кто супруг {a_gent}?", "На ком женат {a}?"],
    "FOUNDED_BY": ["Кто основал {a_accs}?", "Who founded {a}?"],
    "SCHOOLS_ATTENDED": ["Где учился {a}?"],
    "PARENT_OF": ["Кто родители {a_gent}?"],
    "OWNER_OF": ["Кому принадлежит {a}?"],
}
ASK_ARG1 = {"PARENT_OF", "OWNER_OF"}  # the question names Arg2 and asks for Arg1
EVENT_ANCHORED = {"POINT_IN_TIME", "HAS_CAUSE", "TAKES_PLACE_IN"}
ORG_ANCHORED = {"HEADQUARTERED_IN", "FOUNDED_BY", "OWNER_OF"}


def anchor_fits(rel: str, kind: str) -> bool:
    """Whether the named entity is of the type the relation's templates are written for."""
    if rel in EVENT_ANCHORED:
        return kind == "EVENT"
    if rel in ORG_ANCHORED:
        return kind in {"ORGANIZATION", "FACILITY", "WORK_OF_ART", "PRODUCT"}
    return kind == "PERSON"
ENTITY_RE = re.compile(r"^(T\d+)\t(\S+) (\d+) (\d+)(?:;\d+ \d+)*\t(.*)$")
RELATION_RE = re.compile(r"^R\d+\t(\S+) Arg1:(T\d+) Arg2:(T\d+)")


@dataclass(frozen=True)
class Mention:
    """An annotated entity mention."""

    kind: str
    start: int
    end: int
    text: str


def read_ann(path: Path) -> tuple[dict[str, Mention], list[tuple[str, str, str]]]:
    """Entities by id and (relation, arg1, arg2) triples of one .ann file."""
    entities, relations = {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := ENTITY_RE.match(line):
            entities[m.group(1)] = Mention(m.group(2), int(m.group(3)), int(m.group(4)), m.group(5))
        elif r := RELATION_RE.match(line):
            relations.append((r.group(1), r.group(2), r.group(3)))
    return entities, relations


def inflect(phrase: str, case: str) -> str:
    """The phrase with each word put in the case (names and nouns; anything pymorphy3 can't inflect stays)."""
    out = []
    for word in phrase.split():
        parse = morphology().parse(word)[0]  # type: ignore[attr-defined]
        normal = parse.normal_form
        form = morphology().parse(normal)[0].inflect({case}) if case != "nomn" else None  # type: ignore[attr-defined]
        new = form.word if form is not None else normal
        if "Name" not in parse.tag and "Surn" not in parse.tag and "Patr" not in parse.tag and "Geox" not in parse.tag:
            new = word if case == "nomn" else new
        out.append(new[:1].upper() + new[1:] if word[:1].isupper() else new)
    return " ".join(out)


def render(template: str, anchor: Mention, rng: random.Random) -> str:
    """Fill a template with the anchor (sometimes only the surname, as people ask)."""
    phrase = anchor.text
    if anchor.kind == "PERSON" and " " in phrase and rng.random() < 0.3:
        phrase = phrase.split()[-1]
    if "{a_" in template:
        case = template.split("{a_")[1].split("}")[0]
        return template.replace("{a_" + case + "}", inflect(phrase, case))
    return template.replace("{a}", inflect(phrase, "nomn") if anchor.kind == "PERSON" else phrase)


def article_questions(text: str, ann: Path, rng: random.Random, per_article: int) -> list[EvalQuestion]:
    """Questions about one article whose answers stand in its body (not only in the headline)."""
    entities, relations = read_ann(ann)
    headline_end = text.find("\n")
    out = []
    for rel, arg1, arg2 in relations:
        if rel not in TEMPLATES or arg1 not in entities or arg2 not in entities:
            continue
        anchor, answer = (entities[arg2], entities[arg1]) if rel in ASK_ARG1 else (entities[arg1], entities[arg2])
        if not anchor_fits(rel, anchor.kind) or answer.start < headline_end or len(answer.text) < 2 \
                or answer.text.lower() in anchor.text.lower():
            continue
        if answer.text in text[:max(headline_end, 0)]:
            continue
        question = render(rng.choice(TEMPLATES[rel]), anchor, rng)
        out.append(EvalQuestion(question, [answer.text], ann.stem, kind=f"synth:{rel}",
                                qid=f"{ann.stem}:{rel}:{arg1}:{arg2}"))
    rng.shuffle(out)
    return out[:per_article]


def synthesize(corpus: Path, annotations: Path, seed: int, per_article: int = 4,
               exclude: frozenset[str] = frozenset()) -> list[EvalQuestion]:
    """Questions for every annotated article not in ``exclude`` (e.g. the development set's articles)."""
    rng = random.Random(seed)
    out: list[EvalQuestion] = []
    for ann in sorted(annotations.glob("*.ann")):
        txt = corpus / f"{ann.stem}.txt"
        if ann.stem in exclude or not txt.is_file():
            continue
        out.extend(article_questions(txt.read_text(encoding="utf-8"), ann, rng, per_article))
    return out
