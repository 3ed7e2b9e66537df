"""Another process writes the store while this one answers: what it stored is found, with and without filters."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from assistant.pipeline import Assistant
from assistant.types import Filters

from ..conftest import CORPUS, make_settings
from ..ingest.test_reliability_ingest import SEED_FILE, cli_env

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

TOWNS = ["Твери", "Калуге", "Вологде", "Костроме", "Рязани", "Туле", "Пскове", "Орле", "Курске", "Брянске"]


@pytest.fixture()
def serving(tmp_path: Path) -> Iterator[Assistant]:
    """A serving assistant (its own store) that has answered a filtered question already."""
    helper = Assistant(make_settings(tmp_path / "data"))
    helper.ingest([CORPUS / SEED_FILE])
    assert helper.ask("Что подписали?", filters=Filters(date_from=date(2020, 1, 1))).answered
    yield helper
    helper.close()


def write_feed(folder: Path) -> None:
    """Twenty dated articles of one source, two per town."""
    folder.mkdir()
    for i in range(20):
        town = TOWNS[i % len(TOWNS)]
        (folder / f"bridge{i:02}.md").write_text(
            f"---\ntitle: Мост в {town} №{i}\ndate: 2026-03-{i + 1:02}\nsource: Речной вестник\n---\n"
            f"В {town} открыли новый разводной мост через реку. Его длина {100 + i} метров.\n", encoding="utf-8")


def test_filtered_questions_after_another_process_ingests(serving: Assistant, tmp_path: Path) -> None:
    write_feed(tmp_path / "feed")
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(tmp_path / "feed")],
                          env=cli_env(tmp_path / "data"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "added 20" in proc.stdout, proc.stderr
    by_source = serving.ask("Какой мост открыли в Твери?", filters=Filters(sources=("Речной вестник",)))
    named_date = serving.ask("Какой мост открыли в Калуге в марте 2026 года?")
    by_range = serving.ask("Какой мост открыли в Вологде?", filters=Filters(date_from=date(2026, 3, 1)))
    plain = serving.ask("Какой мост открыли в Костроме?")
    for answer, town in [(by_source, "Твери"), (named_date, "Калуге"), (by_range, "Вологде"), (plain, "Костроме")]:
        assert answer.answered and answer.citations, answer.text
        assert town in answer.citations[0].quote or town in answer.citations[0].title, answer.citations[0]
    assert serving.stats().documents == 21
