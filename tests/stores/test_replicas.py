"""Replicas that hold nothing of their own: two assistants on one PostgreSQL and one Chroma server (real, on
loopback) see each other's uploads, deletes, story clusters and feedback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant import backends
from assistant.pipeline import Assistant
from assistant.types import Article

from ..conftest import cache_dir, free_port, fresh_database, make_settings
from ..pg_server import ChromaServer, PgServer, start_chroma

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`

STORY = ("В Новосибирске за ночь выпало сорок сантиметров снега, сообщили в мэрии города. Коммунальные службы "
         "вывели на улицы триста единиц техники, движение на нескольких магистралях было затруднено до полудня. "
         "Синоптики обещают, что снегопад продолжится и в выходные.")
COPY = STORY.replace("сообщили в мэрии города", "сообщает пресс-служба мэрии")
QUESTION = "Сколько снега выпало в Новосибирске?"


@pytest.fixture(scope="module")
def chroma() -> Iterator[ChromaServer]:
    """A real ``chroma run`` on loopback for this module."""
    server = start_chroma(free_port())
    yield server
    server.stop()


@pytest.fixture
def replicas(pg: PgServer, chroma: ChromaServer, tmp_path: Path) -> Iterator[tuple[Assistant, Assistant]]:
    """Two assistants with their own (empty) data dirs, sharing one database and one Chroma server."""
    url = fresh_database(pg)
    a = Assistant(make_settings(tmp_path / "a", database_url=url, chroma_url=chroma.url, collection=tmp_path.name))
    b = Assistant(make_settings(tmp_path / "b", database_url=url, chroma_url=chroma.url, collection=tmp_path.name),
                  embedder=a.embedder)
    yield a, b
    a.close()
    b.close()


def cited(helper: Assistant, question: str) -> list[str]:
    """Doc ids the answer quotes."""
    return [c.doc_id for c in helper.ask(question).citations]


def test_an_upload_on_one_replica_is_answered_on_the_other_and_a_delete_is_gone(
        replicas: tuple[Assistant, Assistant]) -> None:
    a, b = replicas
    assert b.ask(QUESTION).citations == []
    version = b.docstore.version()
    [result] = a.ingest_articles([Article("snow", "Снегопад в Новосибирске", STORY, "2024-11-26", "РИА")])
    assert result.status == "added"
    assert b.docstore.version() > version  # what tells a replica to refresh what it caches
    assert cited(b, QUESTION) == ["snow"]
    [copy] = b.ingest_articles([Article("snow2", "Снег в Новосибирске", COPY, "2024-11-26", "BBC")])
    assert "near-duplicate of snow" in copy.reason  # B's story index sees what A stored
    assert a.stories.cluster_of(["snow2"]) == {"snow2": "snow"}
    b.delete("snow")
    b.delete("snow2")
    assert "snow" not in cited(a, QUESTION) and a.list_docs() == []


def test_feedback_given_on_one_replica_is_exported_by_the_other(replicas: tuple[Assistant, Assistant]) -> None:
    a, b = replicas
    backends.open_feedback(a.settings).add(channel="web", rating=1, answer={"question": QUESTION, "answer": "…"})
    assert [r.question for r in backends.open_feedback(b.settings).all()] == [QUESTION]


def test_migrate_copies_an_embedded_store_without_embedding_again(pg: PgServer, chroma: ChromaServer,
                                                                   tmp_path: Path) -> None:
    from pydantic import SecretStr

    from assistant.backends.migrate import migrate
    from assistant.integrity import check

    embedded = Assistant(make_settings(tmp_path / "e", collection=tmp_path.name))
    embedded.ingest_articles([Article("snow", "Снегопад в Новосибирске", STORY, "2024-11-26", "РИА"),
                              Article("snow2", "Снег в Новосибирске", COPY, "2024-11-26", "BBC"),
                              Article("museum", "Музей", "В Калининграде открылся музей янтаря. " * 8, None, "НГ")])
    backends.open_feedback(embedded.settings).add(channel="slack", rating=-1, answer={"question": QUESTION})
    before = embedded.ask(QUESTION)
    target = embedded.settings.model_copy(update={"database_url": SecretStr(fresh_database(pg)),
                                                  "chroma_url": chroma.url})
    done = migrate(embedded.settings, target, progress=lambda line: None)
    assert (done.articles, done.sentences, done.stories, done.feedback) == (3, 3, 3, 1)
    assert done.vectors == embedded.vectors.count()

    class NoEmbedding(type(embedded.embedder)):  # type: ignore[misc]
        def embed_passages(self, texts: list[str]) -> object:
            raise AssertionError("migrated vectors were embedded again")

    frozen = NoEmbedding.__new__(NoEmbedding)
    frozen.__dict__.update(embedded.embedder.__dict__)
    server = Assistant(target.model_copy(update={"data_dir": tmp_path / "s"}), embedder=frozen)
    assert check(server).ok
    after = server.ask(QUESTION)
    assert [(c.doc_id, c.start, c.end) for c in after.citations] == [(c.doc_id, c.start, c.end)
                                                                      for c in before.citations]
    assert [r.question for r in backends.open_feedback(server.settings).all()] == [QUESTION]
    with pytest.raises(backends.BackendError, match="already holds articles"):
        migrate(embedded.settings, target, progress=lambda line: None)


def serve(settings_env: dict[str, str], data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``assistant serve`` in its own process and data dir; its base URL once it listens."""
    port = free_port()
    env = {**settings_env, "ASSISTANT_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--no-demo", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300  # a hang guard: model loading on a loaded machine
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                return proc, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the replica did not start"
        time.sleep(0.5)


def test_two_serve_replicas_share_one_database_and_one_chroma_server(pg: PgServer, chroma: ChromaServer,
                                                                     tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_CACHE_DIR=str(cache_dir()), PYTHONPATH=str(Path.cwd()), ASSISTANT_CHROMA_URL=chroma.url,
               ASSISTANT_DATABASE_URL=fresh_database(pg), ASSISTANT_COLLECTION=tmp_path.name)
    procs = []
    try:
        for name in ("a", "b"):
            proc, url = serve(env, tmp_path / name)
            procs.append((proc, url))
        (_, a), (_, b) = procs
        up = httpx.post(f"{a}/api/ingest", files=[("files", ("snow.txt", STORY.encode(), "text/plain"))], timeout=300)
        assert up.status_code == 200 and up.json()["counts"]["added"] == 1, up.text
        doc_id = up.json()["results"][0]["doc_id"]
        asked = httpx.post(f"{b}/api/ask", json={"question": QUESTION}, timeout=300).json()
        assert [c["doc_id"] for c in asked["citations"]][:1] == [doc_id]
        assert httpx.delete(f"{b}/api/docs/{doc_id}", timeout=300).status_code == 200
        again = httpx.post(f"{a}/api/ask", json={"question": QUESTION}, timeout=300).json()
        assert doc_id not in [c["doc_id"] for c in again["citations"]]
        assert httpx.get(f"{a}/api/health", timeout=30).json()["documents"] == 0
        assert not list((tmp_path / "a").glob("*.sqlite")) and not (tmp_path / "a" / "chroma").exists()
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=60)


def test_two_ingest_workers_at_once_give_the_answers_of_one_embedded_ingest(
        pg: PgServer, chroma: ChromaServer, tmp_path: Path, assistant: Assistant) -> None:
    """Two ``assistant ingest --shard K/2`` processes on the demo corpus at the same time, on one database and one
    Chroma server, split it with no overlap: the first quote of every demo question is the embedded store's."""
    import json

    from tests.conftest import CORPUS

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    url = fresh_database(pg)
    env.update(ASSISTANT_CACHE_DIR=str(cache_dir()), PYTHONPATH=str(Path.cwd()), ASSISTANT_CHROMA_URL=chroma.url,
               ASSISTANT_DATABASE_URL=url, ASSISTANT_COLLECTION=tmp_path.name, ASSISTANT_DATA_DIR=str(tmp_path / "w"))
    workers = [subprocess.Popen([sys.executable, "-m", "assistant.cli", "ingest", "--json", "--shard", f"{k}/2",
                                 str(CORPUS)], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for k in (1, 2)]
    added = []
    for worker in workers:
        out, err = worker.communicate(timeout=1200)
        assert worker.returncode == 0, err
        added.append({r["doc_id"] for r in json.loads(out)["results"] if r["status"] == "added"})
    assert added[0] and added[1] and not added[0] & added[1]  # each worker stored its own half, none twice
    server = Assistant(make_settings(tmp_path / "s", database_url=url, chroma_url=chroma.url,
                                     collection=tmp_path.name), embedder=assistant.embedder)
    assert server.docstore.counts() == assistant.docstore.counts()
    questions = [json.loads(line)["question"] for line in (Path.cwd() / "eval" / "demo-qa" / "demo-qa.jsonl")
                 .read_text(encoding="utf-8").splitlines()[:20]]
    differ = []
    for q in questions:
        one, two = assistant.ask(q).citations[:1], server.ask(q).citations[:1]
        if [(c.doc_id, c.start) for c in one] != [(c.doc_id, c.start) for c in two]:
            differ.append(q)
    assert not differ, differ
    server.close()


def test_eval_in_server_mode_uses_the_database_and_refuses_one_holding_other_articles(
        pg: PgServer, chroma: ChromaServer, tmp_path: Path, assistant: Assistant) -> None:
    """``assistant eval`` with ASSISTANT_DATABASE_URL/ASSISTANT_CHROMA_URL: the corpus goes into the database and the
    Chroma server (its data dir stays empty); a database that also holds other articles is refused, not mixed in."""
    import shutil

    from assistant.evaluation.run import evaluate
    from tests.conftest import CORPUS

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("wikinews_100624_text.txt", "wikinews_100756_text.txt", "000_348cd98c955992e8.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    lines = (CORPUS.parent / "eval/demo-qa/demo-qa.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "data", database_url=fresh_database(pg), chroma_url=chroma.url,
                             collection=tmp_path.name)
    report = evaluate(settings, questions, corpus=corpus, baselines=False, embedder=assistant.embedder)
    assert report.answerable[0].n == 2 and report.answerable[0].hit1 == 1.0
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    server = Assistant(settings, embedder=assistant.embedder)
    assert server.docstore.counts()[0] == 3
    server.close()
    (tmp_path / "other").mkdir()
    shutil.copy(CORPUS / "wikinews_003.txt", tmp_path / "other")
    with pytest.raises(ValueError, match="holds 3 articles that are not in"):
        evaluate(settings, questions, corpus=tmp_path / "other", baselines=False, embedder=assistant.embedder)
    server = Assistant(settings, embedder=assistant.embedder)
    assert server.docstore.counts()[0] == 3  # refused before anything was written
    server.close()
