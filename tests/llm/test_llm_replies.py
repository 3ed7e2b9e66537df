"""What the model sends back: malformed replies fall back to the extractive answer with a note (Assistant, API,
chat, CLI), and every quoted span it writes, whatever its quote marks, is verified or dropped with a note."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.generating import REMOVED_MARK, LLMError, LLMWriter, quoted_spans, verify_answer
from assistant.pipeline import Assistant
from assistant.web import build_app
from assistant.web.server import BackgroundServer
from tests.fake_openai import MALFORMED, FakeOpenAI, Reply

from ..conftest import CORPUS, SEED_QUESTION, SEED_QUOTE, make_settings
from ..ingest.test_reliability_ingest import SEED_FILE, cli_env
from .test_generating import ARTICLES, CITATIONS, VISIT, llm_settings

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

LEAD = "Вот что говорится в источниках"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    """One fake model for the module."""
    with FakeOpenAI() as server:
        yield server


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_reply_is_an_llm_error_naming_the_endpoint(fake: FakeOpenAI, tmp_path: Path, name: str) -> None:
    fake.replies.clear()
    writer = LLMWriter(llm_settings(tmp_path, fake.base_url), max_retries=0)
    fake.script(MALFORMED[name])
    with pytest.raises(LLMError, match=r"LLM endpoint http://127\.0\.0\.1:\d+/v1"):
        writer.write("Что подписали?", CITATIONS, ARTICLES, [], "ru")


@pytest.fixture(scope="module")
def llm_store(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """A small store (the seed article) answered with the fake model switched on."""
    settings = make_settings(tmp_path_factory.mktemp("llm-replies"), llm=f"openai:{fake.base_url}", llm_timeout=5.0)
    helper = Assistant(settings)
    helper.writer = LLMWriter(settings, max_retries=0)  # one scripted reply per question
    assert not helper.ingest([CORPUS / SEED_FILE]).failed
    yield helper
    helper.close()


def extractive_with_note(answer: dict[str, object]) -> bool:
    """The extractive answer (lead line and the seed quote) with a note saying the LLM failed."""
    notes = " ".join(map(str, answer["notes"]))  # type: ignore[call-overload]
    quotes = " ".join(c["quote"] for c in answer["citations"])  # type: ignore[attr-defined]
    return str(answer["answer"]).startswith(LEAD) and SEED_QUOTE in quotes and "LLM unavailable" in notes


def test_malformed_replies_give_the_extractive_answer_with_a_note(fake: FakeOpenAI, llm_store: Assistant) -> None:
    for name, reply in sorted(MALFORMED.items()):
        fake.replies.clear()
        fake.script(reply)
        assert extractive_with_note(llm_store.ask(SEED_QUESTION).to_dict()), name
    fake.script(f"Подписали «{SEED_QUOTE}» [1].")  # and a good reply is still used
    assert llm_store.ask(SEED_QUESTION).text == f"Подписали «{SEED_QUOTE}» [1]."


def test_malformed_replies_on_the_api_and_in_the_chat(fake: FakeOpenAI, llm_store: Assistant,
                                                      tmp_path: Path) -> None:
    from gradio_client import Client

    web_settings = llm_store.settings.model_copy(update={"data_dir": tmp_path})
    with BackgroundServer(build_app(llm_store, web_settings)) as url:
        for name, reply in sorted(MALFORMED.items()):
            fake.replies.clear()
            fake.script(reply)
            resp = httpx.post(f"{url}/api/ask", json={"question": SEED_QUESTION}, timeout=120)
            assert resp.status_code == 200 and extractive_with_note(resp.json()), (name, resp.text[:500])
        for name in ("garbage_json", "null_content"):
            fake.replies.clear()
            fake.script(MALFORMED[name])
            job = Client(url + "/", verbose=False).submit(SEED_QUESTION, [], "ru", "", "", [], api_name="/chat")
            shown = json.dumps(job.result(timeout=120)[0][-1]["content"], ensure_ascii=False)
            assert LEAD in shown and "Примечание" in shown and "LLM unavailable" in shown, (name, shown[:800])
            assert "Ошибка" not in shown


def test_a_malformed_reply_in_the_cli(fake: FakeOpenAI, llm_store: Assistant) -> None:
    fake.replies.clear()
    fake.script(Reply(raw="<html><body>502 Bad Gateway</body></html>", content_type="text/html"))
    env = {**cli_env(llm_store.settings.data_dir), "ASSISTANT_LLM": llm_store.settings.llm}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", SEED_QUESTION], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-1000:]
    assert proc.stdout.startswith(LEAD) and SEED_QUOTE in proc.stdout
    assert "Примечание: LLM unavailable, extractive answer shown" in proc.stdout


# ---- every form of quote marks -----------------------------------------------------------------------------------

TRUE = "были подписаны ряд документов о сотрудничестве"
FORMS = {
    "single curly": "‘{q}’ [1]",
    "single ascii": "'{q}' [1]",
    "guillemets single": "‹{q}› [1]",
    "corner brackets": "「{q}」 [1]",
    "white corner": "『{q}』 [1]",
    "blockquote": "> {q} [1]\n",
    "blockquote two lines": "> {head}\n> {tail}\n\n[1]",
    "straight, wrapped": '"{head}\n{tail}" [1]',
    "guillemets, wrapped": "«{head}\n{tail}» [1]",
    "curly double": "“{q}” [1]",
    "low-high": "„{q}“ [1]",
}
INVENTED = "премьер подарил президенту золотой самовар и коня"


def fill(form: str, quote: str) -> str:
    words = quote.split()
    return form.format(q=quote, head=" ".join(words[:3]), tail=" ".join(words[3:]))


@pytest.mark.parametrize("form", list(FORMS), ids=list(FORMS))
def test_every_quote_form_is_verified_or_dropped(form: str) -> None:
    true = verify_answer("По данным источника:\n" + fill(FORMS[form], TRUE), CITATIONS, ARTICLES, "ru")
    assert true.dropped == [] and [q.n for q in true.verified_quotes] == [1], (form, true)
    assert VISIT.text[true.verified_quotes[0].start:true.verified_quotes[0].end].split() == TRUE.split()
    made_up = verify_answer("По данным источника:\n" + fill(FORMS[form], INVENTED), CITATIONS, ARTICLES, "ru")
    assert made_up.verified_quotes == [] and made_up.dropped and "самовар" not in made_up.text, (form, made_up.text)
    assert REMOVED_MARK["ru"] in made_up.text and any("самовар" in n for n in made_up.notes)


def test_apostrophes_and_short_names_are_not_quotes() -> None:
    text = "It's the «РБК» report: they don't say 'yes' and the rock 'n' roll band's tour goes on."
    assert [q.inner for q in quoted_spans(text) if len(q.inner.split()) >= 3] == []
    assert verify_answer(text, CITATIONS, ARTICLES, "en").text == text


def test_a_blockquote_holding_a_quote_is_checked_by_that_quote() -> None:
    out = verify_answer(f"> Как сообщается, «{TRUE}» [1], а «{INVENTED}» [1].", CITATIONS, ARTICLES, "ru")
    assert [q.n for q in out.verified_quotes] == [1] and out.dropped == [INVENTED]
    assert out.text.startswith("> Как сообщается,")
