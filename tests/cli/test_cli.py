"""The ``assistant`` command as a user runs it: ingest, ask (text and JSON), stats, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import CORPUS, SEED_DATE, SEED_QUESTION, SEED_QUOTE, cache_dir

SEED_FILE = "000_348cd98c955992e8.txt"
pytestmark = pytest.mark.slow  # every test runs the CLI in a subprocess that loads the model


def run(args: list[str], data: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess with its own data dir (no other ASSISTANT_* settings leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_DATA_DIR=str(data), ASSISTANT_CACHE_DIR=str(cache_dir()))
    if "ASSISTANT_EMBEDDINGS" in os.environ:
        env["ASSISTANT_EMBEDDINGS"] = os.environ["ASSISTANT_EMBEDDINGS"]
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the seed article and two Wikinews articles ingested through the CLI."""
    folder = tmp_path_factory.mktemp("cli-corpus")
    for name in (SEED_FILE, "wikinews_003.txt", "wikinews_100756_text.txt"):
        shutil.copy(CORPUS / name, folder / name)
    (folder / "broken.jsonl").write_text("{oops\n", encoding="utf-8")
    data = tmp_path_factory.mktemp("cli-data")
    proc = run(["ingest", str(folder)], data)
    assert proc.stdout.strip().splitlines()[-1] == "added 3, updated 0, unchanged 0, removed 0, failed 1"
    assert "broken.jsonl:1" in proc.stderr and "not valid JSON" in proc.stderr
    again = run(["ingest", str(folder)], data)
    assert "unchanged 3" in again.stdout
    return data


def test_ask_prints_quote_title_date_source(data: Path) -> None:
    out = run(["ask", SEED_QUESTION], data).stdout
    assert SEED_QUOTE in out and SEED_DATE in out and "Day.Az" in out and "Визит Ильхама Алиева" in out


def test_ask_json(data: Path) -> None:
    answer = json.loads(run(["ask", SEED_QUESTION, "--json"], data).stdout)
    first = answer["citations"][0]
    assert answer["answered"] and SEED_QUOTE in first["quote"]
    assert {"doc_id", "title", "date", "source", "quote", "start", "end", "score"} <= set(first)


def test_ask_absent_gets_no_answer(data: Path) -> None:
    out = run(["ask", "Какой рецепт борща самый вкусный?"], data).stdout
    assert "В корпусе нет ответа" in out


def test_stats(data: Path) -> None:
    info = json.loads(run(["stats", "--json"], data).stdout)
    assert info["documents"] == 3 and info["chunks"] >= 3 and "multilingual-e5-small" in info["model"]
    assert info["data_dir"] == str(data.resolve())


def test_bad_dates_and_backends_are_clear_errors(data: Path) -> None:
    bad_date = run(["ask", SEED_QUESTION, "--from", "someday"], data, check=False)
    assert bad_date.returncode == 2 and "Traceback" not in bad_date.stderr
    assert "--from: 'someday' is not a date" in bad_date.stderr and "27.10.2025" in bad_date.stderr
    env_backend = subprocess.run([sys.executable, "-m", "assistant.cli", "stats"], capture_output=True, text=True,
                                 env={**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_EMBEDDINGS": "w2v"},
                                 timeout=120)
    assert env_backend.returncode == 1 and "ASSISTANT_EMBEDDINGS='w2v' is not a known backend" in env_backend.stderr


def test_dates_in_the_web_chat_formats_filter_like_iso(data: Path) -> None:
    dotted = json.loads(run(["ask", SEED_QUESTION, "--json", "--from", "27.10.2025", "--to", "27 октября 2025"],
                            data).stdout)
    iso = json.loads(run(["ask", SEED_QUESTION, "--json", "--from", "2025-10-27", "--to", "2025-10-27"], data).stdout)
    assert dotted["filters_applied"] == iso["filters_applied"] == {"date_from": SEED_DATE, "date_to": SEED_DATE,
                                                                   "sources": []}
    assert dotted["citations"] == iso["citations"] and dotted["citations"]
    assert {c["date"] for c in dotted["citations"]} == {SEED_DATE}


def test_ingest_prints_a_line_for_an_exact_copy(data: Path, tmp_path: Path) -> None:
    shutil.copy(CORPUS / SEED_FILE, tmp_path / "seed_copy.txt")
    proc = run(["ingest", str(tmp_path)], data)
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("duplicate ")]
    assert "seed_copy.txt: the same text as 000_348cd98c955992e8" in line
    assert proc.stdout.strip().splitlines()[-1].endswith("failed 0, duplicate 1")
