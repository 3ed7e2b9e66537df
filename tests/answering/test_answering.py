"""The answering stage: question analysis, candidates, features, rankers and their weights file, citing order."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.answering.analysis import question_type, text_info
from assistant.answering.candidates import Candidate, article_sentences, windows
from assistant.answering.features import FEATURES, Features, Sims, featurize, focus_text, make_question
from assistant.answering.model_file import AnswerModelError, builtin_path, read_model
from assistant.answering.rankers import make_ranker
from assistant.answering.training.data import Group
from assistant.answering.training.fit import fit, threshold_for
from assistant.markup import clean_markup
from assistant.pipeline import Assistant
from assistant.types import Article

from ..conftest import CORPUS, SEED_QUESTION, SEED_QUOTE, make_settings

LYNCH = Article(
    doc_id="lynch", title="Режиссёр Дэвид Линч уходит из кино",
    text=("Режиссёр Дэвид Линч уходит из кино\nДэвид Линч\n"
          "Культовый американский кинорежиссёр Дэвид Линч объявил, что перестанет снимать кино.\n\n"
          "В беседе с журналистами он сказал, что его последним проектом на большом экране так и останется "
          "психологический триллер «Внутренняя империя» 2006 года.\n\n"
          "Первая полнометражка автора — «Человек-слон» — увидела свет в 1977 году."),
    date="2017-01-16", source="Викиновости")


def idf(term: str) -> float:
    """A flat IDF for tests."""
    return 1.0


@pytest.mark.parametrize(("question", "qtype"), [
    ("Почему Роналду не сыграет за Португалию?", "why"), ("из-за чего би би кингу стало плохо", "why"),
    ("Сколько врачей боролись за его жизнь?", "count"), ("How many people died?", "count"),
    ("Когда вышел фильм?", "when"), ("В каком году он родился?", "when"), ("Где училась Соня Сотомайор?", "where"),
    ("Кто сменил Петреуса?", "who"), ("Whose scarf was it?", "who"), ("Какой фильм станет последним?", "what"),
])
def test_question_types(question: str, qtype: str) -> None:
    assert question_type(question) == qtype


def test_text_info_flags() -> None:
    dated = text_info("Фильм вышел 21 мая 2017 года в Москве.")
    assert dated.has_date and dated.has_number and "москва" in dated.places
    assert text_info("Он сказал, что уйдёт.").anaphoric
    assert not text_info("Режиссёр сказал, что уйдёт.").anaphoric
    assert text_info("Матч отменили из-за дождя.").has_cause
    assert "линч" in text_info("Режиссёр Дэвид Линч уходит").names


def test_headline_and_caption_lines_are_flagged() -> None:
    sents = article_sentences(LYNCH)
    assert sents.headline[:2] == [True, True]  # the headline and the photo caption «Дэвид Линч»
    assert not any(sents.headline[2:])
    assert sents.paragraph[2] != sents.paragraph[3]
    quoting = article_sentences(Article("q", "Заголовок", "Заголовок\nПредставитель ведомства подтвердил это:\n«Да.»"))
    assert quoting.headline == [True, False, False]  # a line that introduces a quote is prose, not a caption


def test_windows_stay_in_one_paragraph_and_are_verbatim() -> None:
    text = "Первое предложение. Второе предложение.\n\nТретье в другом абзаце. Четвёртое."
    sents = article_sentences(Article("d", "t", text))
    cands = windows(sents, list(range(len(sents.spans))), 400)
    assert all(text[c.start:c.end] == c.text for c in cands)
    assert "Первое предложение. Второе предложение." in [c.text for c in cands]
    assert not any("Второе" in c.text and "Третье" in c.text for c in cands)


def lynch_features(question: str) -> tuple[list[str], Features]:
    """Candidates of the Lynch article and their features, with made-up sentence similarities."""
    sents = article_sentences(LYNCH)
    cands = windows(sents, list(range(len(sents.spans))), 400)
    sims = np.linspace(0.9, 0.8, len(sents.spans)).astype(np.float32)
    feats = featurize(make_question(question, idf), cands, {"lynch": sents}, {"lynch": Sims(sims, sims, sims)})
    return [c.text for c in cands], feats


def test_features_mark_answer_type_and_headline() -> None:
    texts, feats = lynch_features("В каком году вышел первый фильм Линча?")
    assert feats.names == FEATURES and feats.matrix.shape == (len(texts), len(FEATURES))
    when = feats.column("t_when")
    assert when[texts.index("Первая полнометражка автора — «Человек-слон» — увидела свет в 1977 году.")] == 1
    assert when[0] == 0 and feats.column("headline")[0] == 1
    assert np.isfinite(feats.matrix).all()


def test_focus_drops_the_topic_and_names() -> None:
    topic = text_info("Богатейший депутат Госдумы от ЛДПР утонул в Мёртвом море в Израиле")
    focus = focus_text("Сколько заработал за 2016 год депутат, утонувший в Мёртвом море?", topic)
    assert focus.startswith("Сколько заработал") and "депутат" not in focus and "море" not in focus.lower()

def test_anchors_match_inflected_and_derived_names_but_not_lookalikes() -> None:
    from assistant.answering.anchors import article_words, mentions, question_anchors

    words = article_words("Жюри Каннского кинофестиваля. Катастрофа в Забайкалье. Послы США и ЕСПЧ.")
    found = {a.word: mentions(words, a) for a in question_anchors("Кто в Каннах, Катаре, США, ЕС и Забайкалье?")}
    assert found == {"Каннах": True, "Катаре": False, "США": True, "ЕС": False, "Забайкалье": True}
    assert question_anchors("Какие документы были подписаны во время визита?") == ()
    assert all(mentions(article_words("Встреча с Павлом."), a) for a in question_anchors("Что сказал Павел?"))
    latin = article_words("Компания Facebook и президент Trump.")  # a name in the other script: same consonants
    assert [mentions(latin, a) for a in question_anchors("Что с Фейсбуком, Трампом и Катаром?")] == [True, True, False]
    assert [a.word for a in question_anchors("За сколько дней клип Gangnam Style набрал просмотры?")] == \
        ["Gangnam", "Style"]



@pytest.mark.parametrize(("latin", "cyrillic"), [
    ("Zuckerberg", "Цукерберг"), ("Janet", "Джанет"), ("Khodorkovsky", "Ходорковский"), ("Tsipras", "Ципрас"),
    ("Yeltsin", "Ельцин"), ("Lynch", "Линч"), ("Sobchak", "Собчак"), ("Facebook", "Фейсбук")])
def test_a_name_and_its_transliteration_sound_alike(latin: str, cyrillic: str) -> None:
    from assistant.answering.anchors import sounds

    assert sounds(latin) == sounds(cyrillic)


def test_a_name_in_the_other_script_is_a_word_capitalised_inside_a_sentence() -> None:
    from assistant.answering.anchors import article_words, mentions, question_anchors, sound_of

    words = article_words("Умер король Кигели V.\nПрезидент заявил, что Михаил Ходорковский уехал в Париж.")
    found = {a.word: mentions(words, a) for a in question_anchors("Did Khodorkovsky, the President and Kigeli get the Prize?")}
    # «Президент» only opens a sentence; Kigeli's and Prize's three consonants are too few to tell («Париж»)
    assert found == {"Khodorkovsky": True, "President": False, "Kigeli": False, "Prize": False}
    assert sound_of("kigeli") == "kgl" and sound_of("lynch's") == "lnč"  # the whole name, not its English stem


def test_an_english_question_prefers_the_russian_articles_that_name_its_names() -> None:
    from assistant.answering.anchors import name_anchored

    articles = {"lynch": Article("lynch", "Основатель Facebook", "Марк Цукерберг больше не снимет фильмов."),
                "other": Article("other", "Фильм года", "Лучшим фильмом года назван последний фильм режиссёра."),
                "times": Article("times", "Газета", "Об этом пишет The New York Times со ссылкой на источники.")}
    cands = [Candidate(d, 0, 5, a.text[:5]) for d, a in articles.items()]
    kept, note = name_anchored("Which film will remain Zuckerberg's last?", cands, articles)
    assert [c.doc_id for c in kept] == ["lynch"] and note == ""
    # no Russian article spells the name alike: transliteration is no evidence of absence, nothing is set aside
    kept, note = name_anchored("Where are the women detained over Kim Jong-nam's murder from?", cands, articles)
    assert len(kept) == 3 and note == ""
    # "New" and "York" in a Latin-script newspaper name are too short to tell: not a match
    kept, _ = name_anchored("Which painting was stolen in New York?", cands, articles)
    assert len(kept) == 3
    # a Russian question naming nobody the Russian articles name is still declined
    kept, note = name_anchored("Что снял Тарантино?", cands, articles)
    assert kept == [] and note == "ни в одной найденной статье не упоминается Тарантино"


@pytest.mark.parametrize("key", ["formula", "linear"])
def test_rankers_contract(key: str) -> None:
    ranker = make_ranker(key, "multilingual-e5-small", None)
    texts, feats = lynch_features("Какой фильм станет последним для Линча?")
    q = make_question("Какой фильм станет последним для Линча?", idf)
    scores = ranker.score(q, texts, feats)  # type: ignore[arg-type]
    assert scores.shape == (len(texts),) and np.isfinite(scores).all()
    perm = np.random.default_rng(0).permutation(len(texts))
    permuted = ranker.score(q, [texts[i] for i in perm], Features(feats.names, feats.matrix[perm]))  # type: ignore[arg-type]
    assert np.allclose(permuted, scores[perm], atol=1e-5)
    assert ranker.score(q, [], Features(FEATURES, np.zeros((0, len(FEATURES))))).shape == (0,)
    assert np.isfinite(ranker.threshold("ru-ru")) and np.isfinite(ranker.threshold("en-ru"))


def weights(tmp_path: Path, **changes: object) -> Path:
    """A copy of the bundled weights file with some fields changed."""
    raw = json.loads(builtin_path("linear-v1").read_text(encoding="utf-8"))
    raw.update(changes)
    path = tmp_path / "w.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"format": "other/v9"}, "unknown format"),
    ({"features": ["dense", "no_such_feature"]}, "no longer computed"),
    ({"embedder_model_id": "st:other"}, "trained with embeddings"),
    ({"thresholds": {"en-ru": 0.0}}, "ru-ru"),
    ({"coef": [float("nan")] * len(FEATURES)}, "finite"),
])
def test_weights_file_errors_name_the_fix(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(AnswerModelError, match=message) as err:
        read_model(weights(tmp_path, **changes), FEATURES, "multilingual-e5-small")
    assert "train" in str(err.value) and "w.json" in str(err.value)


def test_missing_weights_and_unknown_ranker_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AnswerModelError, match="not found"):
        make_ranker(f"linear:{tmp_path / 'none.json'}", "multilingual-e5-small", None)
    with pytest.raises(AnswerModelError, match="formula, linear"):
        make_ranker("bogus", "multilingual-e5-small", None)


def signal_groups(seed: int, n: int, rows: int) -> list[Group]:
    """Random candidate groups whose answer is the candidate with the highest first feature."""
    rng = np.random.default_rng(seed)
    groups = []
    for i in range(n):
        x = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
        y = np.zeros(rows, dtype=np.float32)
        y[int(np.argmax(x[:, 0]))] = 1.0
        groups.append(Group(f"q{i}", "lexical", "ru-ru", x, y, True))
    return groups


def test_fit_is_deterministic_and_learns_the_signal() -> None:
    groups = signal_groups(3, 40, 12)
    a, b = fit(groups, 0.001), fit(groups, 0.001)
    assert np.array_equal(a.coef, b.coef)
    assert a.coef[0] == max(a.coef)
    assert threshold_for([0.1, 0.5, 0.9, 1.0], [], 0.25) == pytest.approx(0.5, abs=1e-5)


def test_a_dropped_feature_gets_no_weight_but_the_correction_still_sees_it() -> None:
    from assistant.answering.correction import LEX, Correction
    from assistant.answering.training.train import make_fitter

    groups = signal_groups(3, 40, 12)  # answered by the row with the highest feature 0
    rng = np.random.default_rng(4)
    for g in groups:
        g.features[:, 1] = g.features[:, 0] + 0.3 * rng.normal(size=len(g.labels))  # a proxy of feature 0
        g.features[:, LEX] = 1.0  # the question copies its text: the correction applies in full
    n = len(FEATURES)
    correction = Correction(np.zeros(n, np.float32), np.ones(n, np.float32), 5 * np.eye(n, dtype=np.float32)[0],
                            0.0, 0.0)  # ranks by feature 0 on its own
    fitted = make_fitter(1.0, [FEATURES[0]], correction)(groups)
    assert fitted.coef[0] == 0.0
    assert abs(fitted.coef[1]) < 0.5  # the proxy is not learned again on top of the correction (2.7 if the fit
    # saw the correction without feature 0, which it never lacks when the ranker answers)


def test_training_can_fix_the_setting_the_rule_would_choose() -> None:
    from assistant.answering.training.train import choose

    groups = signal_groups(5, 24, 8)
    _, _, grid = choose([], groups, [0.0])
    assert len(grid) == 6  # three strengths, with and without the formula prior
    _, fixed, one = choose([], groups, [0.0], [1.0], [0.0])
    assert fixed == {"C": 1.0, "synthetic_weight": 0.0, "prior_weight": 0.0} and list(one) == ["C=1.0 synth=0.0 prior=0.0"]


def test_wiki_markup_is_cleaned() -> None:
    raw = ("Заголовок\nthumb|left|Подпись\nFile:Видео.webm|Прощание\nВ беседе с ''Sydney Morning Herald'' он "
           "сказал, [http://example.org/a?b=1 сообщается] в [[Москва|Москве]].")
    assert clean_markup(raw) == "Заголовок\nВ беседе с Sydney Morning Herald он сказал, сообщается в Москве."
    assert clean_markup("Обычный текст: без разметки.") == "Обычный текст: без разметки."


def test_first_citation_is_the_best_scored(assistant: Assistant) -> None:
    answer = assistant.ask(SEED_QUESTION)
    assert SEED_QUOTE in answer.citations[0].quote
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True) and [c.n for c in answer.citations] == list(range(1, len(scores) + 1))
    assert {c.title for c in answer.citations} == {answer.citations[0].title}  # no search of another story as [2]


def test_headline_is_not_quoted_when_the_body_answers(tmp_path: Path, assistant: Assistant) -> None:
    helper = Assistant(make_settings(tmp_path / "d"), embedder=assistant.embedder)
    helper.ingest_articles([LYNCH])
    answer = helper.ask("Какой фильм Линча так и останется его последней работой для большого экрана?")
    first = answer.citations[0]
    assert "Внутренняя империя" in first.quote
    assert not first.quote.startswith("Режиссёр Дэвид Линч уходит из кино")
    helper.close()


def test_short_articles_are_not_scored_as_flat_and_a_missing_headline_is_unknown() -> None:
    from assistant.answering.features import standardised, zscore

    one_line = zscore(np.array([0.95]), 0.95, prior_mean=0.80, prior_var=0.03 ** 2)
    assert one_line > 2.0  # the only sentence of a post stands out against everything retrieved, as it should
    long = np.linspace(0.70, 0.90, 40)
    assert abs(zscore(long, 0.90, 0.5, 0.01) - (0.90 - long.mean()) / long.std()) < 1.0  # long: its own spread
    x = np.array([[np.nan, 1.0]])
    assert standardised(x, np.array([0.9, 0.0]), np.array([0.1, 1.0])).tolist() == [[0.0, 1.0]]


def test_quotes_after_the_first_stay_on_the_story() -> None:
    from assistant.answering.candidates import Candidate
    from assistant.answering.citing import select

    def cand(doc: str, start: int, relevance: float, score: float) -> Candidate:
        return Candidate(doc, start, start + 10, "x" * 10, relevance=relevance, score=score)

    ranked = [cand("a", 0, 0.95, 3.0), cand("b", 0, 0.80, 2.5), cand("a", 20, 0.80, 2.0), cand("a", 40, 0.70, 1.5),
              cand("c", 0, 0.90, 1.0)]
    chosen = select(ranked, 3, 8.0, threshold=0.865)
    # another article's passage must be relevant on its own; [1]'s article may add a slightly less relevant one
    assert [(c.doc_id, c.start) for c in chosen] == [("a", 0), ("a", 20), ("c", 0)]
    assert [c.doc_id for c in select(ranked, 3, 1.2, threshold=0.865)] == ["a", "a"]  # within the margin only
    far = ranked[:1] + [cand("d", 0, 0.95, -0.5)]  # another story, relevant but far less likely than [1]
    assert [c.doc_id for c in select(far, 3, 8.0, threshold=0.865)] == ["a"]


def test_a_splitting_leftover_is_ranked_but_never_quoted() -> None:
    from assistant.answering.candidates import Candidate
    from assistant.answering.citing import select

    leftover = Candidate("a", 0, 12, "28.07.1988).", relevance=0.9, score=2.0)
    answer = Candidate("a", 20, 80, "Киллер выстрелил несколько раз из пистолета ТТ.", relevance=0.9, score=1.0)
    assert [c.text for c in select([leftover, answer], 3, 8.0, threshold=0.865)] == [answer.text]


def test_how_many_questions_look_for_the_counted_unit() -> None:
    from assistant.answering.analysis import count_unit, counts_unit

    assert (count_unit("сколько лет было искандеру?"), count_unit("Сколько человек погибло?")) == ("год", "человек")
    assert counts_unit("В ночь на 31 июля 2016 года умер 87-летний писатель.", "год")
    assert not counts_unit("Искандер родился 6 марта 1929 года в Сухуми.", "год")  # a date, not a count of years
    assert counts_unit("Автобус, в котором находился 51 человек, перевернулся.", "человек")
    assert count_unit("Кто возглавил ФТС?") == "" and count_unit("а сколько ему лет?") == "год"  # past the pronoun


SINGER = Article(
    doc_id="singer", title="Скончалась оперная певица Елена Образцова",
    text=("Скончалась оперная певица Елена Образцова\n\n"
          "В Германии на 76-м году жизни скончалась народная артистка СССР, оперная певица Елена Образцова.\n\n"
          "Певица болела, и в конце ноября врачи посоветовали ей уехать в Германию на зиму из-за климата.\n\n"
          "В связи с этим был отменён её концерт, который должен был состояться 11 декабря в Кремлёвском дворце.\n\n"
          "Образцова начала петь с пяти лет."),
    date="2015-01-12", source="Викиновости")


def test_a_quote_that_points_back_is_widened_to_what_it_points_to() -> None:
    from assistant.answering.candidates import Candidate
    from assistant.answering.context import widened

    assert text_info("В связи с этим был отменён концерт.").points_back
    assert not text_info("В связи с болезнью был отменён концерт.").points_back
    assert not text_info("Перминов, которому в этом году исполнилось 65 лет, ушёл.").points_back  # «this year»: now
    sents = article_sentences(SINGER)
    text = SINGER.text

    def one(i: int) -> Candidate:
        return Candidate("singer", sents.spans[i].start, sents.spans[i].end, sents.text(i), first=i, last=i)

    why = make_question("Почему отменили концерт Образцовой?", idf)
    wide = widened(one(3), sents, why, 400)  # «В связи с этим…»: the reason is the previous paragraph
    assert wide.text == text[sents.spans[2].start:sents.spans[3].end] and "из-за климата" in wide.text
    assert widened(one(3), sents, why, 150) == one(3)  # too long together: unchanged
    assert widened(one(2), sents, why, 400) == one(2)  # holds the reason itself, points nowhere
    assert widened(one(1), sents, why, 400) == one(1)  # never widened into the headline line
    story = Article("s", "t", "Американку задержали в аэропорту.\n\nБанки пострадали от атак.\n\nОна пыталась выехать в Пакистан.\n"
                              "Она хотела попасть в Сирию.\n\nShura Council).\n\nВ связи с этим её обвинили.")
    parts = article_sentences(story)

    def at(i: int) -> Candidate:
        return Candidate("s", parts.spans[i].start, parts.spans[i].end, parts.text(i), first=i, last=i)

    where = make_question("Где её задержали?", idf)
    assert widened(at(2), parts, where, 400) == at(2)  # a pronoun after a blank line may point further back
    assert widened(at(3), parts, where, 400).text == "Она пыталась выехать в Пакистан.\nОна хотела попасть в Сирию."
    assert widened(at(5), parts, where, 400) == at(5)  # «Shura Council).» is a splitting leftover, not a sentence
    dated = article_sentences(Article("d", "t", "Убийцей стал Паршов.\n\n28.07.1988).\n\nВ связи с этим возбуждено дело."))
    last = Candidate("d", dated.spans[-1].start, dated.spans[-1].end, dated.text(len(dated.spans) - 1),
                     first=len(dated.spans) - 1, last=len(dated.spans) - 1)
    assert dated.text(last.first - 1) == "28.07.1988)."
    assert widened(last, dated, where, 400) == last  # digits alone are a leftover too (the same test as quoting's)


def test_the_reason_in_the_next_sentence_joins_the_quote() -> None:
    from assistant.answering.candidates import Candidate
    from assistant.answering.context import widened

    article = Article("dali", "Останки Дали эксгумировали", (
        "Останки Сальвадора Дали эксгумировали накануне в Фигерасе.\n"
        "Это было сделано по требованию жительницы Жироны, которая утверждает, что является его дочерью.\n"
        "Образцы отправят в Мадрид."))
    sents = article_sentences(article)
    first = Candidate("dali", sents.spans[0].start, sents.spans[0].end, sents.text(0))
    wide = widened(first, sents, make_question("Зачем эксгумировали останки Дали?", idf), 400)
    assert wide.text.endswith("является его дочерью.") and (wide.first, wide.last) == (0, 1)
    when = widened(first, sents, make_question("Где эксгумировали останки Дали?", idf), 400)
    assert when == first  # a where-question: the sentence names the place itself


def test_a_quote_ending_with_a_colon_takes_in_what_it_announces(assistant: Assistant) -> None:
    from assistant.answering.candidates import Candidate

    article = Article("circus", "Умер Олег Попов", (
        "Умер Олег Попов\nДиректор ростовского цирка Дмитрий Резниченко сказал:\n"
        "«Он успел дать лишь два представления из пятнадцати».\n\nПрощание пройдёт в Москве."))
    sents = article_sentences(article)

    def at(i: int) -> Candidate:
        return Candidate("circus", sents.spans[i].start, sents.spans[i].end, sents.text(i), first=i, last=i)

    said, words, farewell = at(1), at(2), at(3)
    answerer, articles = assistant.answerer, {"circus": article}
    done = answerer.announced([said, farewell], articles)[0]
    assert done.text == "Директор ростовского цирка Дмитрий Резниченко сказал:\n«Он успел дать лишь два представления из пятнадцати»."
    assert article.text[done.start:done.end] == done.text and (done.first, done.last) == (1, 2)
    assert answerer.announced([farewell, said], articles) == [farewell, done]  # citation order is kept
    assert answerer.announced([said, words], articles) == [said, words]  # what it announces is quoted already
    assert answerer.announced([words], articles) == [words]  # no colon: unchanged


def test_the_answer_quotes_the_sentence_a_pronoun_leans_on(tmp_path: Path, assistant: Assistant) -> None:
    helper = Assistant(make_settings(tmp_path / "d"), embedder=assistant.embedder)
    helper.ingest_articles([SINGER])
    first = helper.ask("Почему отменили концерт Образцовой в Кремлёвском дворце?").citations[0]
    assert "из-за климата" in first.quote and "В связи с этим" in first.quote
    assert SINGER.text[first.start:first.end] == first.quote
    helper.close()


def test_a_wider_window_scored_as_well_stands_for_its_sentence() -> None:
    from assistant.answering.candidates import Candidate
    from assistant.answering.citing import select

    def cand(start: int, end: int, score: float) -> Candidate:
        return Candidate("a", start, end, "x" * (end - start), relevance=0.9, score=score)

    sentence, window, other = cand(0, 10, 3.0), cand(0, 30, 2.7), cand(50, 60, 2.8)
    chosen = select([sentence, other, window], 3, 8.0, threshold=0.865)
    assert [(c.start, c.end, c.score) for c in chosen] == [(0, 30, 3.0), (50, 60, 2.8)]  # more context, same rank
    far = cand(0, 30, 1.0)  # scored well below the sentence: a different quote, not the same claim widened
    assert [(c.start, c.end) for c in select([sentence, other, far], 3, 8.0, threshold=0.865)] == [(0, 10), (50, 60)]
    before = cand(0, 30, 2.9)  # opens with another sentence: the reader would meet that one first
    late = Candidate("a", 20, 30, "x" * 10, relevance=0.9, score=3.0)
    assert [(c.start, c.end) for c in select([late, other, before], 3, 8.0, threshold=0.865)] == [(20, 30), (50, 60)]


def test_feature_elimination_drops_only_what_cross_validation_rewards() -> None:
    from assistant.answering.training.selection import eliminate

    group = Group("q", "lexical", "ru-ru", np.ones((3, len(FEATURES)), dtype=np.float32), np.array([1.0, 0, 0]), True)
    gains = {"lead": 0.05, "chars": 0.02, "dense": -0.2}  # what leaving out each feature does to the judged score

    def judge(groups: list[Group], dropped: Sequence[str]) -> tuple[float, float]:
        assert groups == [group]
        return 0.6 + sum(gains.get(n, -0.01) for n in dropped), 0.7

    steps = eliminate([group], judge)
    assert [s.dropped for s in steps] == ["lead", "chars"] and abs(steps[-1].cv - 0.67) < 1e-9
    assert group.features.all()  # the caller's groups are not changed


def test_training_reports_each_question_set_apart() -> None:
    from assistant.answering.training.train import report, tune_split

    def group(qid: str, source: str, right_first: bool) -> Group:
        x = np.zeros((2, len(FEATURES)), dtype=np.float32)
        x[0, FEATURES.index("dense")] = 1.0  # the model below ranks the first row first
        return Group(qid, "lexical", "ru-ru", x, np.array([float(right_first), float(not right_first)]), True, source)

    ids = [f"q{i}" for i in range(60)]
    groups = [group(q, "news-qa-dev", True) for q in ids] + [group(q, "demo-qa", False) for q in ids]
    fitted = fit([group("a", "x", True), group("b", "x", True)], 1.0)
    out = report(fitted, [], groups)
    assert out["dev_tune_top1"] == 1.0 and out["dev_heldout_top1"] == 1.0
    assert out["demo_qa_tune_top1"] == 0.0 and out["demo_qa_heldout_top1"] == 0.0
    assert out["tune_top1"] == 0.5 and out["dev_tune_lexical_n"] == sum(map(tune_split, ids))


def test_an_unlikely_first_quote_is_offered_as_the_closest_not_as_the_answer(tmp_path: Path,
                                                                            assistant: Assistant) -> None:
    from assistant.answering.citing import HEDGE, LEAD

    bundled = make_ranker("linear", "multilingual-e5-small", None)
    below = bundled.model.hedge_below["ru-ru"]  # type: ignore[attr-defined]
    assert bundled.hedged(math.log(below / 2)) and not bundled.hedged(1.0)  # P below / 2 and 0.73
    assert not make_ranker("formula", "multilingual-e5-small", None).hedged(-3.0)  # not a probability: never
    older = make_ranker(f"linear:{weights(tmp_path, hedge_below=None)}", "multilingual-e5-small", None)
    assert not older.hedged(-3.0)  # a weights file without the field hedges nothing
    answer = assistant.ask(SEED_QUESTION)
    assert answer.text == LEAD["ru"] and answer.confident and answer.to_dict()["confident"] is True
    always = Assistant(make_settings(tmp_path / "d", answer_ranker=f"linear:{weights(tmp_path, hedge_below=1.0)}"),
                       embedder=assistant.embedder)
    always.ingest([CORPUS / "000_348cd98c955992e8.txt"])
    hedged = always.ask(SEED_QUESTION)
    assert hedged.text == HEDGE["ru"] and not hedged.confident and SEED_QUOTE in hedged.citations[0].quote
    assert always.ask("What documents were signed during the visit?").text == HEDGE["en"]
    always.close()


def test_an_acronym_ends_a_sentence() -> None:
    from assistant.answering.filler import filler

    assert not filler("Киллер выстрелил несколько раз из пистолета ТТ.")  # ТТ is a pistol, not «тт.» (тома)
    assert filler("Об этом пишет журнал, т.")  # a cut after the abbreviation «т.»
