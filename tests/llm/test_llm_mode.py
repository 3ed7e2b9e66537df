"""The optional generative mode inside ``Assistant.ask``, against a local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Turn
from tests.fake_openai import FakeOpenAI

from ..conftest import SEED_QUESTION, SEED_QUOTE, free_port, make_settings


@pytest.fixture()
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def llm_assistant(settings: Settings, assistant: Assistant, base_url: str) -> Assistant:
    """A second assistant over the shared demo store, with the LLM switched on."""
    llm_settings = make_settings(settings.data_dir, llm=f"openai:{base_url}", llm_timeout=5.0)
    return Assistant(llm_settings, embedder=assistant.embedder)


def test_llm_answer_keeps_verified_quotes_and_flags_made_up_ones(
    settings: Settings, assistant: Assistant, fake: FakeOpenAI
) -> None:
    fake.script(f"Во время визита «{SEED_QUOTE}» [1], в том числе «договор о вечной дружбе и газе» [1].")
    answer = llm_assistant(settings, assistant, fake.base_url).ask(SEED_QUESTION)
    assert SEED_QUOTE in answer.text
    assert "договор о вечной дружбе" not in answer.text
    assert any("договор о вечной дружбе" in note for note in answer.notes)
    assert SEED_QUOTE in answer.citations[0].quote  # the extractive quotes are always shown
    prompt = "\n".join(m["content"] for m in fake.requests[-1]["messages"])
    assert "<passage" in prompt and SEED_QUESTION in prompt


def test_llm_condenses_follow_ups(settings: Settings, assistant: Assistant, fake: FakeOpenAI) -> None:
    fake.script(SEED_QUESTION, f"«{SEED_QUOTE}» [1]")
    history = [Turn("user", SEED_QUESTION), Turn("assistant", "…")]
    answer = llm_assistant(settings, assistant, fake.base_url).ask("А что именно подписали?", history=history)
    assert answer.search_query == SEED_QUESTION
    assert answer.citations and SEED_QUOTE in answer.citations[0].quote
    assert "Conversation" in "\n".join(m["content"] for m in fake.requests[0]["messages"])


def test_llm_down_falls_back_to_the_extractive_answer(settings: Settings, assistant: Assistant) -> None:
    answer = llm_assistant(settings, assistant, f"http://127.0.0.1:{free_port()}/v1").ask(SEED_QUESTION)
    assert answer.answered and SEED_QUOTE in answer.citations[0].quote
    assert answer.text.startswith("Вот что говорится в источниках")
    assert any("LLM unavailable" in note for note in answer.notes)


def test_a_pointing_back_follow_up_asks_the_llm_only_for_itself(
    settings: Settings, assistant: Assistant, fake: FakeOpenAI
) -> None:
    fake.script(SEED_QUESTION, f"«{SEED_QUOTE}» [1]")
    history = [Turn("user", SEED_QUESTION), Turn("assistant", "…")]
    answer = llm_assistant(settings, assistant, fake.base_url).ask("А где это было?", history=history)
    assert answer.answered and SEED_QUOTE in answer.text
    assert len(fake.requests) == 2  # condense + write; the earlier answer (its [1] article) is recomputed without it
