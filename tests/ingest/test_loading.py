"""Loading: every input format, metadata, and clear errors that name the file or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.loading import LoadError, load_paths, parse_date
from assistant.types import Article

from ..conftest import CORPUS


def load_one(path: Path) -> Article:
    items = list(load_paths([path]))
    assert len(items) == 1 and isinstance(items[0], Article), items
    return items[0]


def test_seed_header_shares_its_line_with_the_text() -> None:
    art = load_one(CORPUS / "000_348cd98c955992e8.txt")
    assert art.date == "2025-10-27"
    assert art.source == "Day.Az"
    assert art.title.startswith("Визит Ильхама Алиева")
    assert art.text.startswith(f"{art.title}\n\nАзербайджан является лидером своего региона.")  # headline line first
    assert "date 2025" not in art.text


def test_wikinews_headline_becomes_title(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Заголовок новости\n\nПервый абзац. Второй абзац.\n", encoding="utf-8")
    art = load_one(path)
    assert art.title == "Заголовок новости"
    assert art.date is None
    assert "Первый абзац" in art.text


def test_untitled_text_takes_its_first_sentence(tmp_path: Path) -> None:
    path = tmp_path / "untitled.txt"
    path.write_text("Президент подписал указ. Он вступит в силу завтра.", encoding="utf-8")
    assert load_one(path).title == "Президент подписал указ."


def test_yaml_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "---\ntitle: Саммит в Астане\ndate: 12 октября 2024\nsource: ТАСС\nurl: https://example.org/a\n---\n"
        "Лидеры обсудили транзит.\n",
        encoding="utf-8",
    )
    art = load_one(path)
    assert (art.title, art.date, art.source, art.url) == ("Саммит в Астане", "2024-10-12", "ТАСС", "https://example.org/a")
    assert art.text == "Саммит в Астане\n\nЛидеры обсудили транзит.\n"  # the title field as the headline line
    heading = tmp_path / "b.md"
    heading.write_text("---\ntitle: Саммит в Астане\n---\n# Саммит в Астане\n\nЛидеры обсудили транзит.\n",
                       encoding="utf-8")
    assert load_one(heading).text == "# Саммит в Астане\n\nЛидеры обсудили транзит.\n"  # its heading is the line


def test_a_title_field_becomes_the_headline_line_once(tmp_path: Path) -> None:
    from assistant.answering.candidates import article_sentences

    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"title": "Саммит в Астане", "text": "Лидеры обсудили транзит. Переговоры продолжатся."},
        {"title": "Саммит в Астане", "text": "Саммит в Астане\nЛидеры обсудили транзит."},  # already opens with it
        {"title": "Саммит в Астане", "text": "Саммит в Астане прошёл в среду."},  # a sentence, not a headline line
    ]), encoding="utf-8")
    first, second, third = [a for a in load_paths([path]) if isinstance(a, Article)]
    assert first.text == "Саммит в Астане\n\nЛидеры обсудили транзит. Переговоры продолжатся."
    assert second.text == "Саммит в Астане\nЛидеры обсудили транзит."
    assert third.text == "Саммит в Астане\n\nСаммит в Астане прошёл в среду."
    assert article_sentences(first).headline[:2] == [True, False]  # the ranker sees it as Wikinews texts' headline


def test_a_title_taken_from_the_first_sentence_is_not_a_headline_line(tmp_path: Path) -> None:
    from assistant.answering.candidates import article_sentences

    path = tmp_path / "post.txt"
    path.write_text("Президент подписал указ. Он вступит в силу завтра.\n\nВторой абзац.", encoding="utf-8")
    post = load_one(path)
    assert post.title == "Президент подписал указ." and article_sentences(post).headline[0] is False


def test_html_main_text_and_title(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    body = " ".join(["Министр заявил, что переговоры продолжатся на следующей неделе."] * 8)
    path.write_text(
        f"<html><head><title>Переговоры продолжатся</title></head><body><nav>Главная | Спорт | Погода</nav>"
        f"<article><h1>Переговоры продолжатся</h1><p>{body}</p></article><footer>© Редакция</footer></body></html>",
        encoding="utf-8",
    )
    art = load_one(path)
    assert art.title == "Переговоры продолжатся"
    assert "переговоры продолжатся на следующей неделе" in art.text
    assert "Погода" not in art.text and "© Редакция" not in art.text


def test_cp1251_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Заголовок\n\nСтарая кодировка Windows-1251 всё ещё встречается в архивах.".encode("cp1251"))
    assert "Windows-1251 всё ещё" in load_one(path).text


def test_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    lines = [
        json.dumps({"id": "n1", "title": "Первая", "text": "Текст первой.", "date": "2024-11-02", "source": "РИА"}),
        "{not json",
        json.dumps({"title": "Без текста"}),
        json.dumps({"text": "Вторая новость без заголовка.", "date": "вчера позавчера никогда"}),
        json.dumps({"text": "Третья новость.", "source": "BBC"}, ensure_ascii=False),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(load_paths([path]))
    arts = [i for i in items if isinstance(i, Article)]
    errors = [i for i in items if isinstance(i, LoadError)]
    assert [a.doc_id for a in arts][0] == "n1" and arts[0].date == "2024-11-02"
    assert len(arts) == 2 and len(errors) == 3
    assert errors[0].path.endswith("feed.jsonl:2") and "not valid JSON" in errors[0].reason
    assert errors[1].path.endswith("feed.jsonl:3") and 'field "text"' in errors[1].reason
    assert errors[2].path.endswith("feed.jsonl:4") and 'field "date"' in errors[2].reason


def test_bad_files_are_named_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Хорошая новость\n\nТекст.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("title Пусто\n", encoding="utf-8")
    (tmp_path / "bad.md").write_text("---\ntitle: [unclosed\n---\nТекст", encoding="utf-8")
    items = list(load_paths([tmp_path, tmp_path / "missing.txt"]))
    errors = {Path(i.path).name: i.reason for i in items if isinstance(i, LoadError)}
    assert {a.title for a in items if isinstance(a, Article)} == {"Хорошая новость"}
    assert "no text" in errors["empty.txt"]
    assert "YAML" in errors["bad.md"]
    assert "no such file" in errors["missing.txt"]


def test_folder_readme_is_skipped_but_loads_when_named(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# О корпусе\n\nИсточники и лицензии.", encoding="utf-8")
    (tmp_path / "news.txt").write_text("Новость\n\nТекст.", encoding="utf-8")
    assert [a.title for a in load_paths([tmp_path]) if isinstance(a, Article)] == ["Новость"]
    assert load_one(tmp_path / "README.md").title == "О корпусе"


def test_unsupported_file_named_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4")
    (err,) = list(load_paths([path]))
    assert isinstance(err, LoadError) and "unsupported file type .pdf" in err.reason


def test_doc_ids_are_stable_across_folders(tmp_path: Path) -> None:
    a = tmp_path / "one" / "corpus" / "x.txt"
    b = tmp_path / "two" / "corpus" / "x.txt"
    for p in (a, b):
        p.parent.mkdir(parents=True)
        p.write_text("Заголовок\n\nТекст.", encoding="utf-8")
    assert load_one(a).doc_id == load_one(b).doc_id


@pytest.mark.parametrize(
    ("raw", "iso"),
    [("2025-10-27", "2025-10-27"), ("27 октября 2025", "2025-10-27"), ("27.10.2025", "2025-10-27"),
     ("October 27, 2025", "2025-10-27"), ("", None)],
)
def test_parse_date(raw: str, iso: str | None) -> None:
    assert parse_date(raw) == iso
