"""Retrieving stage: dense (Chroma) and keyword (BM25) retrieval fused by reciprocal rank."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from .keyword import KeywordIndex
from .store import index_text
from .types import Chunk, Filters, Hit

if TYPE_CHECKING:
    from .store import DocStore, VectorStore

RRF_K = 60
DEPTH = 3  # each retriever returns this many times k chunks before fusion


@dataclass
class Snapshot:
    """The chunks as of one docstore version, with their keyword index and metadata for filtering."""

    version: int
    chunks: list[Chunk]
    position: dict[str, int]
    dates: np.ndarray  # YYYYMMDD per chunk, 0 when unknown
    sources: np.ndarray  # source per chunk
    keyword: KeywordIndex

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Which chunks pass the filters (None when nothing is filtered)."""
        if filters is None or filters.is_empty():
            return None
        ok = np.ones(len(self.chunks), dtype=bool)
        if filters.date_from:
            ok &= self.dates >= int(filters.date_from.strftime("%Y%m%d"))
        if filters.date_to:
            ok &= (self.dates <= int(filters.date_to.strftime("%Y%m%d"))) & (self.dates > 0)
        if filters.sources:
            ok &= np.isin(self.sources, list(filters.sources))
        return ok


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion of several ranked id lists."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank + 1)
    return fused


class HybridRetriever:
    """Dense + BM25 retrieval over the stored chunks, fused with RRF; filters apply to both."""

    def __init__(self, docstore: DocStore, vectors: VectorStore) -> None:
        self.docstore = docstore
        self.vectors = vectors
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        """The current chunks and keyword index, rebuilt when the docstore changed."""
        version = self.docstore.version()
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._build(version)
            return self._snapshot

    def _build(self, version: int) -> Snapshot:
        chunks = self.docstore.all_chunks()
        meta = {d.doc_id: d for d in self.docstore.list_docs()}
        dates = np.array([int((meta[c.doc_id].date or "0").replace("-", "")) for c in chunks], dtype=np.int64)
        sources = np.array([meta[c.doc_id].source for c in chunks], dtype=object)
        return Snapshot(
            version=version,
            chunks=chunks,
            position={c.chunk_id: i for i, c in enumerate(chunks)},
            dates=dates,
            sources=sources,
            keyword=KeywordIndex([index_text(meta[c.doc_id].title, c.text) for c in chunks]),
        )

    def retrieve(self, query: str, query_vector: np.ndarray, k: int, filters: Filters | None = None,
                 snap: Snapshot | None = None) -> list[Hit]:
        """The fused top-k chunks for the query (from ``snap``, else the current snapshot)."""
        snap = snap or self.snapshot()
        if not snap.chunks:
            return []
        depth = k * DEPTH
        dense = [(cid, s) for cid, s in self.vectors.search(query_vector.tolist(), depth, filters)
                 if cid in snap.position]
        keyword = [(snap.chunks[i].chunk_id, s) for i, s in snap.keyword.top(query, depth, snap.mask(filters))]
        fused = rrf([[cid for cid, _ in dense], [cid for cid, _ in keyword]])
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense)}
        kw_rank = {cid: r for r, (cid, _) in enumerate(keyword)}
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return [
            Hit(chunk=snap.chunks[snap.position[cid]], score=score,
                dense_rank=dense_rank.get(cid), keyword_rank=kw_rank.get(cid))
            for cid, score in ranked
        ]


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
