"""Ingest with hostile input: ids that clash, bad files beside good ones, size limits, a crash mid-write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant import loading
from assistant.integrity import check
from assistant.pipeline import Assistant
from assistant.types import IngestReport

from ..conftest import CORPUS, cache_dir, make_settings

SEED_FILE = "000_348cd98c955992e8.txt"


@pytest.fixture()
def fresh(tmp_path: Path, assistant: Assistant) -> Iterator[Assistant]:
    """An empty store of its own (sharing the session's loaded model)."""
    helper = Assistant(make_settings(tmp_path / "data"), embedder=assistant.embedder)
    yield helper
    helper.close()


def by_name(report: IngestReport) -> dict[str, Any]:
    """Results keyed by file name (and line)."""
    return {Path(r.path).name: r for r in report.results}


def test_an_id_from_another_file_never_replaces_a_stored_article(fresh: Assistant, tmp_path: Path) -> None:
    first = tmp_path / "a" / SEED_FILE
    first.parent.mkdir()
    first.write_bytes((CORPUS / SEED_FILE).read_bytes())
    seed = fresh.ingest([first]).results[0]
    assert seed.status == "added"
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": seed.doc_id, "text": "Чужая статья с тем же id."}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    result = fresh.ingest([feed]).results[0]
    assert result.status == "failed" and "already used by" in result.reason and SEED_FILE in result.reason
    stored = fresh.get_article(seed.doc_id)
    assert stored is not None and "Алиева" in stored.title
    assert fresh.ingest([first]).results[0].status == "unchanged"  # the same file may still update its own


def test_duplicate_ids_in_one_batch_are_reported_and_the_first_is_kept(fresh: Assistant, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    lines = [{"id": "x1", "text": "Первая статья про мост."}, {"id": "x1", "text": "Вторая статья про реку."},
             {"title": "Один заголовок", "text": "Текст один."}, {"title": "Один заголовок", "text": "Текст два."}]
    feed.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    results = by_name(fresh.ingest([feed]))
    assert results["feed.jsonl:1"].status == "added"
    assert results["feed.jsonl:2"].status == "failed" and "duplicate id 'x1'" in results["feed.jsonl:2"].reason
    assert "feed.jsonl:1" in results["feed.jsonl:2"].reason
    assert results["feed.jsonl:3"].status == results["feed.jsonl:4"].status == "added"  # same title, own ids
    stored = fresh.get_article("x1")
    assert stored is not None and "мост" in stored.text


def test_any_exception_in_a_parser_fails_that_file_alone(fresh: Assistant, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(html: str, path: Path) -> Any:
        raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean")

    monkeypatch.setattr(loading, "parse_html", broken)
    (tmp_path / "page.html").write_text("<p>x</p>", encoding="utf-8")
    (tmp_path / "good.txt").write_text("Хорошая статья о погоде в Москве.", encoding="utf-8")
    results = by_name(fresh.ingest([tmp_path / "page.html", tmp_path / "good.txt"]))
    assert results["good.txt"].status == "added"
    assert results["page.html"].status == "failed" and "ImportError" in results["page.html"].reason


def test_html_cleaner_dependency_is_installed() -> None:
    import lxml_html_clean  # noqa: F401 - trafilatura's cleaner needs it since lxml 5.2
    from trafilatura import bare_extraction

    doc = bare_extraction("<html><body><article><p>" + "Текст статьи. " * 20 + "</p></article></body></html>")
    assert doc is not None and "Текст статьи" in doc.text


BAD_HTML = """<html><head><title>Мост через Волгу</title><style>.x{color:red}</style>
<script>document.write("EVIL_SCRIPT")</script></head><body><article><h1>Мост через Волгу</h1>
<p>Мэр открыл новый мост через Волгу &amp; реку Оку, длиной 800&nbsp;метров.</p><!-- HIDDEN_COMMENT -->
<p>Движение по мосту начнётся в понедельник, сообщили в администрации города Твери.</p></article>
<footer>© 2024 Городские новости</footer></body></html>"""


def write_bad_batch(folder: Path) -> None:
    """One of each hostile file, next to a good one."""
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text(" \n\t\n  ", encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (folder / "sentence.txt").write_text("Длинное предложение " + "слово " * 3300 + "конец.", encoding="utf-8")
    (folder / "lines.txt").write_text(("строка без переводов " * 2000 + "\n") * 3, encoding="utf-8")
    (folder / "win1251.txt").write_text("Ярмарка в Суздале\n\nВ Суздале прошла ярмарка медовухи и пряников. "
                                        "Гости купили тонну пряников.", encoding="cp1251")
    (folder / "koi8.txt").write_text("Регата на Неве\n\nНа Неве прошла парусная регата катамаранов. "
                                     "Победила команда из Выборга.", encoding="koi8-r")
    (folder / "bom.txt").write_text("Выставка в Казани\n\nВ Казани открылась выставка самоваров.",
                                    encoding="utf-8-sig")
    (folder / "newlines.txt").write_bytes("Заголовок\r\n\r\nПервая строка.\rВторая строка.\nТретья.".encode())
    (folder / "page.html").write_text(BAD_HTML, encoding="utf-8")
    (folder / "front.md").write_text("---\ntitle: [oops\n---\nТекст.", encoding="utf-8")
    (folder / "feed.jsonl").write_text('{"text": "Хорошая строка про сыроварню в Угличе."}\n{oops\n{"title": "t"}\n'
                                       '{"text": "Строка.", "date": "2025-02-30"}\n', encoding="utf-8")
    (folder / "bad_byte.txt").write_bytes("Новость о театре\n\nТеатр открыл сезон премьерой.".encode() + b"\xff")


def test_bad_files_beside_good_ones(fresh: Assistant, tmp_path: Path) -> None:
    write_bad_batch(tmp_path / "batch")
    before = fresh.ingest([CORPUS / SEED_FILE])
    results = by_name(fresh.ingest([tmp_path / "batch"]))
    failed = {name: r.reason for name, r in results.items() if r.status == "failed"}
    assert set(failed) == {"empty.txt", "blank.md", "binary.txt", "front.md", "feed.jsonl:2", "feed.jsonl:3",
                           "feed.jsonl:4"}, failed
    assert "no text" in failed["empty.txt"] and "no text" in failed["blank.md"]
    assert "binary" in failed["binary.txt"] and "YAML" in failed["front.md"]
    assert "not valid JSON" in failed["feed.jsonl:2"] and '"text"' in failed["feed.jsonl:3"]
    assert "2025-02-30" in failed["feed.jsonl:4"] and "YYYY-MM-DD" in failed["feed.jsonl:4"]
    assert "replaced" in results["bad_byte.txt"].reason and results["bad_byte.txt"].status == "added"
    page = fresh.get_article(results["page.html"].doc_id)
    assert page is not None and page.date is None  # not "2024-01-01" from the © footer
    assert "EVIL_SCRIPT" not in page.text and "HIDDEN_COMMENT" not in page.text and "&amp;" not in page.text
    assert "Волгу & реку" in page.text
    newlines = fresh.get_article(results["newlines.txt"].doc_id)
    assert newlines is not None and "\r" not in newlines.text and "Вторая строка." in newlines.text
    assert fresh.get_article(before.results[0].doc_id) is not None  # nothing stored before is lost
    for question, word in [("Что продавали на ярмарке в Суздале?", "пряник"),
                           ("Кто победил в регате на Неве?", "Выборга"),
                           ("Что открылось в Казани?", "самовар")]:
        answer = fresh.ask(question)
        assert answer.answered and any(word in c.quote for c in answer.citations), (question, answer.text)


def test_limits_refuse_with_a_message(tmp_path: Path, assistant: Assistant) -> None:
    helper = Assistant(make_settings(tmp_path / "data", max_file_mb=0.01, max_article_chars=1000),
                       embedder=assistant.embedder)
    (tmp_path / "big.txt").write_text("Слово. " * 3000, encoding="utf-8")
    (tmp_path / "long.jsonl").write_text(json.dumps({"text": "Слово. " * 300}) + "\n", encoding="utf-8")
    results = by_name(helper.ingest([tmp_path / "big.txt", tmp_path / "long.jsonl"]))
    assert "over the 0 MB limit (ASSISTANT_MAX_FILE_MB)" in results["big.txt"].reason
    assert "over the 1,000 limit (ASSISTANT_MAX_ARTICLE_CHARS)" in results["long.jsonl:1"].reason
    helper.close()


def test_chroma_writes_are_split_to_its_max_batch_size(fresh: Assistant, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    collection = fresh.vectors.collection
    original = collection.upsert

    def spy(ids: list[str], **kwargs: Any) -> Any:
        sizes.append(len(ids))
        return original(ids=ids, **kwargs)

    monkeypatch.setattr(fresh.vectors, "max_batch_size", lambda: 7)
    monkeypatch.setattr(collection, "upsert", spy)
    (tmp_path / "long.txt").write_text(" ".join(f"Предложение номер {i} о важном." for i in range(900)),
                                       encoding="utf-8")
    result = fresh.ingest([tmp_path / "long.txt"]).results[0]
    assert result.status == "added" and result.chunks > 7
    assert max(sizes) <= 7 and sum(sizes) == result.chunks
    assert fresh.vectors.count() == result.chunks


def cli_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_DATA_DIR=str(data), ASSISTANT_CACHE_DIR=str(cache_dir()), PYTHONPATH=str(Path.cwd()))
    return env


RSS_WRAPPER = """import resource, sys
from assistant.cli import main
try:
    main(sys.argv[1:])
finally:
    print(f"MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def ingest_measured(paths: list[Path], data: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """``assistant ingest`` in a subprocess, and its peak RSS in MB."""
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, "ingest", *map(str, paths)], env=cli_env(data),
                          capture_output=True, text=True, timeout=300)
    return proc, int(proc.stderr.rsplit("MAXRSS_KB ", 1)[1].split()[0]) / 1024


@pytest.mark.slow
def test_a_100_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("w", encoding="utf-8") as fh:
        line = "Очень длинный текст новостей. " * 40 + "\n"
        for _ in range(100 * 2**20 // len(line.encode()) + 1):
            fh.write(line)
    good = tmp_path / "good.txt"
    good.write_text("Хорошая статья о погоде в Москве.", encoding="utf-8")
    _, baseline_mb = ingest_measured([good], tmp_path / "data0")
    proc, peak_mb = ingest_measured([big, good], tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert "added 1" in proc.stdout and "over the 50 MB limit" in proc.stderr and "big.txt" in proc.stderr
    # the model and the libraries, not the file (reading it whole would add well over 200 MB)
    assert peak_mb < baseline_mb + 100, f"peak RSS {peak_mb:.0f} MB vs {baseline_mb:.0f} MB without the big file"


def test_check_finds_and_repairs_orphans_and_gaps(fresh: Assistant) -> None:
    fresh.ingest([CORPUS / SEED_FILE, CORPUS / "wikinews_003.txt"])
    seed = fresh.docstore.list_docs()[0]
    assert check(fresh).ok
    fresh.vectors.lc.add_texts(["сирота"], metadatas=[{"doc_id": "ghost", "idx": 0}], ids=["ghost:0"])
    fresh.vectors.delete_ids([f"{seed.doc_id}:0"])
    report = check(fresh)
    chroma = report.indexes[0]
    assert not report.ok and chroma.orphans == {"ghost:0"} and chroma.missing == {f"{seed.doc_id}:0"}
    assert "1 orphan" in "\n".join(report.lines())
    repaired = check(fresh, repair=True)
    assert "1 removed" in "\n".join(repaired.lines()) and "1 re-added" in "\n".join(repaired.lines())
    assert check(fresh).ok


def run_cli(args: list[str], data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess with its own data dir and extra environment."""
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env={**cli_env(data), **env},
                          capture_output=True, text=True, timeout=300)


def test_user_errors_are_one_line_without_secrets(tmp_path: Path) -> None:
    empty = run_cli(["ask", "  "], tmp_path)
    assert empty.returncode == 1 and "Traceback" not in empty.stderr and "question is empty" in empty.stderr
    auth = run_cli(["stats"], tmp_path, ASSISTANT_AUTH="bob-MySecretPassw0rd")
    assert auth.returncode == 1 and "Traceback" not in auth.stderr and "MySecretPassw0rd" not in auth.stderr
    assert "ASSISTANT_AUTH: entry 1 is not user:password" in auth.stderr
    port = run_cli(["stats"], tmp_path, ASSISTANT_PORT="not-a-port")
    assert port.returncode == 1 and "ASSISTANT_PORT" in port.stderr and "not-a-port" not in port.stderr
    assert len(port.stderr.strip().splitlines()) == 1


def test_a_write_left_unfinished_is_repaired_by_the_next_ingest(fresh: Assistant, tmp_path: Path) -> None:
    fresh.ingest([CORPUS / SEED_FILE])
    fresh.vectors.lc.add_texts(["сирота"], metadatas=[{"doc_id": "ghost", "idx": 0}], ids=["ghost:0"])
    fresh.marker.path.write_text("999999999")  # what a SIGKILL between the Chroma write and the article store's leaves behind
    (tmp_path / "new.txt").write_text("Новая статья о погоде.", encoding="utf-8")
    assert fresh.ingest([tmp_path / "new.txt"]).results[0].status == "added"
    assert check(fresh).ok and not fresh.marker.path.exists()


def stored_articles(data: Path) -> int:
    """Articles in the store right now (read while another process writes it), 0 before it exists."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{data / 'articles.sqlite'}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


KILL_AT_PUT = """import os, signal, sys
from assistant.store import DocStore
kill_at, original, calls = int(sys.argv[1]), DocStore.put, [0]

def put(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] == kill_at:  # the batch's vectors are in Chroma, the article store has not got it yet
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)

DocStore.put = put
from assistant.cli import main
main(sys.argv[2:])
"""


def kill_while_ingesting(folder: Path, data: Path, rng: Any, at_put: int | None) -> bool:
    """``assistant ingest`` SIGKILLed at its ``at_put``-th article-store write, or at a random time while it writes."""
    import signal
    import time

    args = ["-c", KILL_AT_PUT, str(at_put)] if at_put else ["-m", "assistant.cli"]
    proc = subprocess.Popen([sys.executable, *args, "ingest", str(folder)], env=cli_env(data),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if at_put is None:
        target = stored_articles(data) + rng.randint(1, 10)
        deadline = time.monotonic() + 120
        while stored_articles(data) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=180) == -signal.SIGKILL  # False: it finished first


@pytest.mark.slow
def test_sigkill_while_ingesting_then_ingest_again_leaves_stores_in_agreement(tmp_path: Path,
                                                                               assistant: Assistant) -> None:
    import random

    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.txt"))[:40]:
        (folder / path.name).write_bytes(path.read_bytes())
    data = tmp_path / "data"
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    assert kill_while_ingesting(folder, data, rng, at_put=rng.randint(2, 15)), seed
    found = run_cli(["check"], data)
    assert found.returncode == 1 and "orphan" in found.stdout, (seed, found.stdout)  # the crash left orphans
    assert kill_while_ingesting(folder, data, rng, at_put=rng.randint(1, 5)), seed  # >= 21 articles still to go
    kill_while_ingesting(folder, data, rng, at_put=None)  # at a random time, if it is still writing by then
    again = run_cli(["ingest", str(folder)], data)
    assert again.returncode == 0, again.stderr
    reopened = Assistant(make_settings(data), embedder=assistant.embedder)
    try:
        report = check(reopened)
        assert report.ok and [i.held for i in report.indexes] == [report.chunks] * 3, (seed, report.lines())
        assert report.documents == 40, seed
        assert reopened.ask("Какие документы были подписаны во время визита?").answered
    finally:
        reopened.close()
