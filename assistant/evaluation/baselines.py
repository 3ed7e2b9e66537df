"""Baselines for evaluation: BM25 alone, dense alone, and a plain LangChain pipeline, on the same data and model."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..chunking import sentence_spans
from .metrics import EvalQuestion, Outcome, measured

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..pipeline import Assistant
    from ..types import Article

K = 10


def best_sentence(embedder: Embedder, query_vector: np.ndarray, text: str) -> str:
    """The sentence of a passage closest to the query (the usual "best sentence" quote)."""
    sents = [text[s.start:s.end] for s in sentence_spans(text)] or [text]
    scores = embedder.embed_passages(sents) @ query_vector
    return sents[int(np.argmax(scores))]


def query_text(q: EvalQuestion) -> str:
    """The question with the user's earlier turns (baselines have no conversation handling of their own)."""
    return " ".join([t.content for t in q.history if t.role == "user"] + [q.question])


def ranking_of(doc_ids: Sequence[str]) -> list[str]:
    """Unique doc ids in order of first appearance."""
    return list(dict.fromkeys(doc_ids))


def bm25_system(assistant: Assistant) -> Callable[[EvalQuestion], Outcome]:
    """Keyword retrieval alone; the quote is the best e5 sentence of the top chunk."""

    def run(q: EvalQuestion) -> Outcome:
        snap = assistant.retriever.snapshot()
        chunks = [snap.chunks[i] for i, _ in snap.keyword.top(query_text(q), K)]
        qvec = assistant.embedder.embed_query(query_text(q))
        quote = best_sentence(assistant.embedder, qvec, chunks[0].text) if chunks else ""
        return Outcome(ranking_of([c.doc_id for c in chunks]), quote, bool(chunks), 0.0)

    return measured(run)


def dense_system(assistant: Assistant) -> Callable[[EvalQuestion], Outcome]:
    """Dense retrieval alone (Chroma); the quote is the best e5 sentence of the top chunk."""

    def run(q: EvalQuestion) -> Outcome:
        qvec = assistant.embedder.embed_query(query_text(q))
        snap = assistant.retriever.snapshot()
        ids = [cid for cid, _ in assistant.vectors.search(qvec.tolist(), K) if cid in snap.position]
        chunks = [snap.chunks[snap.position[cid]] for cid in ids]
        quote = best_sentence(assistant.embedder, qvec, chunks[0].text) if chunks else ""
        return Outcome(ranking_of([c.doc_id for c in chunks]), quote, bool(chunks), 0.0)

    return measured(run)


def langchain_system(embedder: Embedder, articles: Sequence[Article]) -> Callable[[EvalQuestion], Outcome]:
    """A plain LangChain pipeline: RecursiveCharacterTextSplitter defaults + Chroma + the same model."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ..embedding import LangChainEmbeddings

    docs = RecursiveCharacterTextSplitter().create_documents(
        [a.text for a in articles], metadatas=[{"doc_id": a.doc_id} for a in articles])
    client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="lc-baseline-"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    store = Chroma(collection_name="plain", embedding_function=LangChainEmbeddings(embedder), client=client,
                   collection_configuration={"hnsw": {"space": "cosine"}})
    for i in range(0, len(docs), 64):
        store.add_documents(docs[i:i + 64])

    def run(q: EvalQuestion) -> Outcome:
        qvec = embedder.embed_query(query_text(q))
        found = store.similarity_search_by_vector(qvec.tolist(), k=K)
        quote = best_sentence(embedder, qvec, found[0].page_content) if found else ""
        return Outcome(ranking_of([d.metadata["doc_id"] for d in found]), quote, bool(found), 0.0)

    return measured(run)
