"""The web app's HTTP API (/api/*) and its Gradio API (gradio_client), on a real server on a loopback port."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.web import build_app
from assistant.web.render import article_html, esc, highlighted_passage, md_esc, paragraph_bounds, safe_url
from assistant.web.server import BackgroundServer
from assistant.web.service import InputError, parse_filters, parse_history, safe_filename
from tests.conftest import CORPUS, SEED_DATE, SEED_QUESTION, SEED_QUOTE, make_settings

pytestmark = pytest.mark.e2e
SEED_FILE = CORPUS / "000_348cd98c955992e8.txt"


@pytest.fixture(scope="module")
def base_url(assistant: Assistant, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the shared demo store (its feedback and uploads in a data dir of its own)."""
    web_settings = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("api-web")})
    server = BackgroundServer(build_app(assistant, web_settings))
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def small(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """A separate store (same model) holding the seed article and two Wikinews articles, for upload tests."""
    helper = Assistant(make_settings(tmp_path_factory.mktemp("web-upload")), embedder=assistant.embedder)
    report = helper.ingest([SEED_FILE, *sorted(CORPUS.glob("wikinews_1*.txt"))[:2]])
    assert not report.failed
    yield helper
    helper.close()


@pytest.fixture(scope="module")
def small_url(small: Assistant) -> Iterator[str]:
    server = BackgroundServer(build_app(small, small.settings))
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


# ---- /api/health and /api/ask ------------------------------------------------------------------------------------


def test_health(http: httpx.Client, assistant: Assistant) -> None:
    data = http.get("/api/health").json()
    stats = assistant.stats()
    assert data["status"] == "ok"
    assert data["documents"] == stats.documents > 100
    assert data["chunks"] == stats.chunks
    assert "multilingual-e5-small" in data["model"]


def test_ask_seed_question(http: httpx.Client, assistant: Assistant) -> None:
    resp = http.post("/api/ask", json={"question": SEED_QUESTION})
    assert resp.status_code == 200
    data = resp.json()
    assert data["answered"] is True
    assert SEED_QUOTE in data["citations"][0]["quote"] and SEED_QUOTE in data["answer_plain"]
    first = data["citations"][0]
    assert first["n"] == 1 and first["date"] == SEED_DATE and SEED_QUOTE in first["quote"]
    article = assistant.get_article(first["doc_id"])
    assert article is not None and article.text[first["start"]:first["end"]] == first["quote"]
    assert data["filters_applied"] == {"date_from": None, "date_to": None, "sources": []}


def test_ask_with_filters_and_history(http: httpx.Client) -> None:
    body = {"question": SEED_QUESTION, "filters": {"sources": ["Day.Az"], "date_from": "2025-01-01"},
            "history": [{"role": "user", "content": "Расскажи о визите Алиева"},
                        {"role": "assistant", "content": "Вот что говорится в источниках: …"}]}
    data = http.post("/api/ask", json=body).json()
    assert data["filters_applied"] == {"date_from": "2025-01-01", "date_to": None, "sources": ["Day.Az"]}
    assert "Day.Az" in data["filters_description"] and "2025-01-01" in data["filters_description"]
    assert data["citations"] and all(c["source"] == "Day.Az" for c in data["citations"])
    older = http.post("/api/ask", json={"question": SEED_QUESTION, "filters": {"date_to": "2020-01-01"}}).json()
    assert all(c["date"] <= "2020-01-01" for c in older["citations"] if c["date"])
    assert all(SEED_QUOTE not in c["quote"] for c in older["citations"])


@pytest.mark.parametrize(("body", "fragment"), [
    ({"question": "   "}, "question"),
    ({}, "question"),
    ({"question": 5}, "question"),
    ({"question": "q", "filters": {"date_from": "32.10.2025"}}, "YYYY-MM-DD"),
    ({"question": "q", "filters": {"date_from": "2025-02-30"}}, "date_from"),
    ({"question": "q", "filters": {"date_from": "2025-05-01", "date_to": "2025-01-01"}}, "after"),
    ({"question": "q", "filters": "Day.Az"}, "filters"),
    ({"question": "q", "history": "hi"}, "history"),
    ({"question": "q", "history": [{"role": "bot", "content": "x"}]}, "history[0]"),
    (["q"], "JSON object"),
])
def test_ask_bad_input_is_400(http: httpx.Client, body: object, fragment: str) -> None:
    resp = http.post("/api/ask", json=body)
    assert resp.status_code == 400
    assert fragment in resp.json()["error"]


def test_ask_not_json_is_400(http: httpx.Client) -> None:
    resp = http.post("/api/ask", content=b"question=hi", headers={"content-type": "text/plain"})
    assert resp.status_code == 415 and "JSON" in resp.json()["error"]  # not JSON by its type: refused unread
    resp = http.post("/api/ask", content=b"question=hi", headers={"content-type": "application/json"})
    assert resp.status_code == 400 and "JSON" in resp.json()["error"]


# ---- gradio_client -----------------------------------------------------------------------------------------------


def test_gradio_client_ask(base_url: str) -> None:
    from gradio_client import Client

    client = Client(base_url + "/", verbose=False)
    data = client.predict(question=SEED_QUESTION, date_from="", date_to="", sources=["Day.Az"], api_name="/ask")
    assert data["answered"] and SEED_QUOTE in data["citations"][0]["quote"]
    assert data["filters_applied"]["sources"] == ["Day.Az"]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="YYYY-MM-DD"):
        client.predict(question=SEED_QUESTION, date_from="31.02.2025", api_name="/ask")


def test_gradio_client_chat_streams(base_url: str) -> None:
    from gradio_client import Client

    client = Client(base_url + "/", verbose=False)
    job = client.submit(SEED_QUESTION, [], "ru", "", "", [], api_name="/chat")
    final = job.result(timeout=120)
    updates = job.outputs()
    assert len(updates) >= 3  # placeholder, lead, each quote, filters line
    chat = final[0]
    assert chat[0]["role"] == "user"
    text = json.dumps(chat[-1]["content"], ensure_ascii=False)
    assert "(#src-1)" in text and SEED_QUOTE in text and "<a" not in text  # Markdown
    assert "фильтры" not in text  # none applied: no line about them


# ---- /api/ingest (separate store) --------------------------------------------------------------------------------


def test_ingest_files(small_url: str, small: Assistant, tmp_path: Path) -> None:
    before = small.stats().documents
    note = tmp_path / "note.md"
    note.write_text("---\ntitle: Заметка о мосте\ndate: 2025-11-02\nsource: Тестовая газета\n---\n"
                    "В городе Энске открыли новый пешеходный мост через реку Энку.\n", encoding="utf-8")
    lines = tmp_path / "batch.jsonl"
    lines.write_text(json.dumps({"title": "Новость из JSONL", "text": "В Энске прошёл фестиваль воздушных змеев."},
                                ensure_ascii=False) + "\nnot json\n", encoding="utf-8")
    with httpx.Client(base_url=small_url, timeout=120) as http:
        files = [("files", (note.name, note.read_bytes(), "text/markdown")),
                 ("files", (lines.name, lines.read_bytes(), "application/jsonl"))]
        data = http.post("/api/ingest", files=files).json()
        by_file = {r["file"]: r for r in data["results"]}
        assert by_file["note.md"]["status"] == "added" and by_file["note.md"]["title"] == "Заметка о мосте"
        assert by_file["batch.jsonl:1"]["status"] == "added"
        assert by_file["batch.jsonl:2"]["status"] == "failed" and "JSON" in by_file["batch.jsonl:2"]["reason"]
        assert data["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "failed": 1}
        assert data["documents"] == before + 2 == http.get("/api/health").json()["documents"]

        again = http.post("/api/ingest", files=[("files", (note.name, note.read_bytes(), "text/markdown"))]).json()
        assert [r["status"] for r in again["results"]] == ["unchanged"]
        changed = note.read_bytes() + "Мост длиной 120 метров.\n".encode()
        updated = http.post("/api/ingest", files=[("files", (note.name, changed, "text/markdown"))]).json()
        assert [r["status"] for r in updated["results"]] == ["updated"]
        assert http.get("/api/health").json()["documents"] == before + 2

        answer = http.post("/api/ask", json={"question": "Что открыли в Энске?"}).json()
        assert any("пешеходный мост" in c["quote"] for c in answer["citations"])


def test_ingest_bad_input_is_400(small_url: str) -> None:
    with httpx.Client(base_url=small_url, timeout=60) as http:
        resp = http.post("/api/ingest", files=[("files", ("report.pdf", b"%PDF-1.4", "application/pdf")),
                                               ("files", ("ok.txt", "Текст.".encode(), "text/plain"))])
        assert resp.status_code == 400
        assert "unsupported file type" in resp.json()["error"] and resp.json()["files"] == ["report.pdf"]
        assert http.post("/api/ingest", data={"x": "1"}).status_code == 400
        assert http.post("/api/ingest", json={"files": []}).status_code == 400


def test_upload_names_are_sanitised(small: Assistant, tmp_path: Path) -> None:
    assert safe_filename("../../etc/passwd.txt") == "passwd.txt"
    assert safe_filename("C:\\Users\\a\\статья 1.md") == "статья 1.md"
    assert safe_filename("<x>.txt") == "_x_.txt"


# ---- auth --------------------------------------------------------------------------------------------------------


def test_auth_protects_api_and_gradio(small: Assistant) -> None:
    from gradio_client import Client

    settings = small.settings.model_copy(update={"auth": SecretStr("alice:secret,bob:pw2")})
    with BackgroundServer(build_app(small, settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        assert http.get("/api/health").status_code == 401
        assert http.get("/api/health", auth=("alice", "wrong")).status_code == 401
        assert http.post("/api/ask", json={"question": SEED_QUESTION}).status_code == 401
        assert http.get("/api/health", auth=("bob", "pw2")).json()["status"] == "ok"
        resp = http.post("/api/ask", json={"question": SEED_QUESTION}, auth=("alice", "secret"))
        assert resp.status_code == 200 and resp.json()["answered"]
        client = Client(url + "/", auth=("alice", "secret"), verbose=False)
        assert client.predict(api_name="/health")["status"] == "ok"
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises different errors across versions
            Client(url + "/", verbose=False).predict(api_name="/health")


# ---- pure helpers --------------------------------------------------------------------------------------------------


def test_escaping_helpers() -> None:
    assert esc('<script>alert("x")</script>') == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert esc("${value} {{x}}") == "&#36;&#123;value&#125; &#123;&#123;x&#125;&#125;"
    assert md_esc("<img src=x onerror=alert(1)> *a* [l](u)") == \
        r"&lt;img src=x onerror=alert(1)&gt; \*a\* \[l\](u)"
    assert safe_url("javascript:alert(1)") == "" and safe_url("https://day.az/x") == "https://day.az/x"


def test_highlighted_passage_is_escaped_and_cut_to_its_paragraph() -> None:
    text = "Первый абзац.\nДо <b>цитаты</b> и <img src=x onerror=alert(1)> сама цитата. После.\nТретий абзац."
    start = text.index("сама цитата")
    end = start + len("сама цитата.")
    out = highlighted_passage(text, start, end)
    assert out.startswith("До &lt;b&gt;цитаты&lt;/b&gt;") and "<img" not in out
    assert "<mark>сама цитата.</mark> После." in out and "Первый" not in out and "Третий" not in out
    long = "слово " * 200 + "ЦИТАТА." + " слово" * 200
    lo, hi = paragraph_bounds(long, long.index("ЦИТАТА"), long.index("ЦИТАТА") + 7)
    assert lo > 0 and hi < len(long) and hi - lo < 800
    assert highlighted_passage(long, long.index("ЦИТАТА"), long.index("ЦИТАТА") + 7).startswith("… ")


def test_reader_panel_leaves_out_a_headline_that_repeats_the_title() -> None:
    text = "Саммит в Астане\n\nЛидеры подписали <b>договор</b>. Он вступит в силу в мае."
    start = text.index("Он вступит")
    out = article_html(text, start, len(text), "Саммит в Астане")
    assert out.startswith("Лидеры подписали &lt;b&gt;") and '<mark class="na-hit">Он вступит' in out
    assert article_html(text, start, len(text), "Другой заголовок").startswith("Саммит в Астане\n\n")
    assert article_html(text, 0, 15, "Саммит в Астане").startswith('<mark class="na-hit">Саммит в Астане</mark>')
    untitled = "Лидеры подписали договор. Он вступит в силу в мае."
    assert article_html(untitled, 0, 5, "Лидеры подписали договор.").startswith('<mark class="na-hit">')


def test_parse_helpers() -> None:
    f = parse_filters("2025-01-01", "", ["Day.Az", ""])
    assert f.date_from is not None and f.date_to is None and f.sources == ("Day.Az",)
    assert parse_filters(None, None, "Day.Az").sources == ("Day.Az",)
    assert parse_filters("27.10.2025", "Oct 28 2025").to_dict()["date_to"] == "2025-10-28"  # forgiving dates
    assert parse_filters("27 октября 2025").date_from == parse_filters("2025/10/27").date_from
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_filters("someday")
    assert [t.role for t in parse_history([{"role": "user", "content": "a"}])] == ["user"]
    with pytest.raises(InputError):
        parse_history([{"role": "user"}])


def test_demo_ingest_on_start(assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.web import ingest_demo_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED_FILE, corpus)
    helper = Assistant(make_settings(tmp_path / "data", demo_corpus=corpus), embedder=assistant.embedder)
    try:
        ingest_demo_corpus(helper, helper.settings.demo_corpus)
        assert helper.stats().documents == 1
        out = capsys.readouterr().out
        assert "ingesting the demo corpus" in out and "1/1" in out and "added 1" in out
        ingest_demo_corpus(helper, helper.settings.demo_corpus)  # not empty: nothing happens
        assert capsys.readouterr().out == ""
    finally:
        helper.close()
