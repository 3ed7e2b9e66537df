"""Retrieving stage: dense (Chroma) and keyword (SQLite FTS5) retrieval fused by reciprocal rank.

Both indexes are persistent and updated in place when an article is stored or deleted, so a question never
rebuilds anything: it runs one vector search and one keyword search, then reads its top chunks' offsets.
"""

from __future__ import annotations

import functools
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from .types import Chunk, Filters, Hit

if TYPE_CHECKING:
    from .backends import ArticleStore as DocStore
    from .keyword import KeywordSearch
    from .store import DocStore as SqliteDocStore
    from .store import VectorStore

RRF_K = 60
DEPTH = 3  # each retriever returns this many times k chunks before fusion
LEADERS = 2  # each retriever's best chunks that are kept even when the other retriever did not find them


class KeywordView:
    """The keyword index as seen from one snapshot: ``idf``, ``search``, and ``top`` (positions in ``chunks``)."""

    def __init__(self, index: KeywordSearch, snap: Snapshot) -> None:
        self.index = index
        self._snap = snap
        self.idf = functools.partial(index.idf, version=snap.version)
        self.search = index.search

    def top(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[int, float]]:
        """(position in ``snapshot.chunks``, score) of the k best chunks (for callers that list all chunks)."""
        pos = self._snap.position
        return [(pos[h.chunk_id], h.score) for h in self.index.search(query, k, filters) if h.chunk_id in pos]


class Snapshot:
    """One version of the corpus for a question: its number and the keyword index (idf for quote scoring).

    ``chunks`` and ``position`` list every stored chunk; they are read only when asked for (evaluation baselines),
    never on the question path.
    """

    def __init__(self, version: int, docstore: DocStore, keyword: KeywordSearch) -> None:
        self.version = version
        self.docstore = docstore
        self.keyword = KeywordView(keyword, self)

    @cached_property
    def chunks(self) -> list[Chunk]:
        """Every stored chunk (read on first use)."""
        return self.docstore.all_chunks()

    @cached_property
    def position(self) -> dict[str, int]:
        """Chunk id → position in ``chunks``."""
        return {c.chunk_id: i for i, c in enumerate(self.chunks)}


def with_leaders(fused: dict[str, float], rankings: list[list[str]], k: int, leaders: int = LEADERS) -> list[str]:
    """The fused order, except that each ranking's first ``leaders`` ids are in the first ``k`` (fusion alone drops
    a chunk only one retriever found, however clearly: «Костенок» is rare, the rest of the question is not)."""
    order = sorted(fused, key=lambda cid: -fused[cid])
    must = list(dict.fromkeys(cid for ranking in rankings for cid in ranking[:leaders]))
    room = max(0, k - sum(1 for cid in must if cid not in order[:k]))
    first = set(order[:room]) | set(must)
    return [cid for cid in order if cid in first] + [cid for cid in order if cid not in first]


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion of several ranked id lists."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank + 1)
    return fused


class HybridRetriever:
    """Dense + keyword retrieval over the stored chunks, fused with RRF; filters apply inside both indexes."""

    def __init__(self, docstore: DocStore, vectors: VectorStore, keyword: KeywordSearch | None = None) -> None:
        from .keyword import FtsKeywordIndex

        self.docstore = docstore
        self.vectors = vectors
        self.keyword: KeywordSearch = keyword or FtsKeywordIndex(cast("SqliteDocStore", docstore))

    def warm_up(self) -> None:
        """One vector search and one keyword search, so that the first question does not pay for loading the
        vector index's segments and the keyword index's pages."""
        sample = self.vectors.collection.get(limit=1, include=["embeddings"])
        if sample["ids"]:
            self.vectors.search(np.asarray(sample["embeddings"][0], dtype=np.float32).tolist(), 1)
            self.keyword.search("новости", 1)

    def snapshot(self) -> Snapshot:
        """The corpus version now, with the keyword index (nothing is rebuilt: both indexes are incremental)."""
        return Snapshot(self.docstore.version(), self.docstore, self.keyword)

    def retrieve(self, query: str, query_vector: np.ndarray, k: int, filters: Filters | None = None,
                 snap: Snapshot | None = None) -> list[Hit]:
        """The fused top-k chunks for the query."""
        depth = k * DEPTH
        dense = self.vectors.search(query_vector.tolist(), depth, filters)
        keyword = [(h.chunk_id, h.score) for h in self.keyword.search(query, depth, filters)]
        rankings = [[cid for cid, _ in dense], [cid for cid, _ in keyword]]
        fused = rrf(rankings)
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense)}
        kw_rank = {cid: r for r, (cid, _) in enumerate(keyword)}
        ranked = with_leaders(fused, rankings, k)
        chunks = self.docstore.chunks_by_ids(ranked[: k + 4])  # a few spare: ids just deleted
        return [
            Hit(chunk=chunks[cid], score=fused[cid], dense_rank=dense_rank.get(cid), keyword_rank=kw_rank.get(cid))
            for cid in ranked if cid in chunks
        ][:k]


class LangChainRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain ``BaseRetriever`` (for chains and tools)."""

    hybrid: Any
    embed_query: Any
    k: int = 8

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        hits = self.hybrid.retrieve(query, self.embed_query(query), k or self.k)  # invoke(q, k=1) overrides
        return [
            Document(page_content=h.chunk.text, id=h.chunk.chunk_id,
                     metadata={"doc_id": h.chunk.doc_id, "start": h.chunk.start, "end": h.chunk.end, "score": h.score})
            for h in hits
        ]
