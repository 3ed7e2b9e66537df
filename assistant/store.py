"""Storing stage: chunk vectors in Chroma (through LangChain), article texts and chunk offsets in SQLite."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import numpy as np

from .types import Article, Chunk, DocInfo, Filters

if TYPE_CHECKING:
    from langchain_chroma import Chroma

    from .embedding import Embedder
    from .settings import Settings


class ModelMismatchError(RuntimeError):
    """The collection was built with another embedding model than the one configured."""


class ChromaUnavailableError(RuntimeError):
    """The configured Chroma server does not answer."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '', path TEXT NOT NULL DEFAULT '', content_hash TEXT NOT NULL,
    text TEXT NOT NULL, added_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS chunks (
    doc_id TEXT NOT NULL REFERENCES articles(doc_id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, PRIMARY KEY (doc_id, idx)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class WriteHook(Protocol):
    """An index kept in the article store's database, written in the same transaction as each article."""

    def on_put(self, conn: sqlite3.Connection, article: Article, chunks: Sequence[Chunk]) -> None:
        """Index an article's chunks."""

    def on_delete(self, conn: sqlite3.Connection, doc_id: str) -> None:
        """Remove an article from the index."""


class DocStore:
    """Full article texts and chunk offsets in SQLite: quotes are cut from here; the keyword index lives here too."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.executescript(SCHEMA)
        self.hooks: list[WriteHook] = []
        self._seen = self.version()  # the version this process last knew of (its own writes included)
        self._elsewhere = False  # another process wrote between two of ours

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def write(self) -> Any:
        """A transaction on the store's database (for indexes kept beside the articles)."""
        return self._tx()

    def read(self) -> Any:
        """The connection, under the store's lock (for reading indexes kept beside the articles)."""
        return self._tx()

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None if absent."""
        with self._tx() as conn:
            row = conn.execute("SELECT content_hash FROM articles WHERE doc_id = ?", (doc_id,)).fetchone()
        return row["content_hash"] if row else None

    def put(self, article: Article, content_hash: str, chunks: Sequence[Chunk]) -> None:
        """Insert or replace an article and its chunk offsets."""
        with self._tx() as conn:
            conn.execute("DELETE FROM articles WHERE doc_id = ?", (article.doc_id,))
            conn.execute(
                "INSERT INTO articles (doc_id, title, date, source, url, path, content_hash, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (article.doc_id, article.title, article.date, article.source, article.url, article.path,
                 content_hash, article.text),
            )
            conn.executemany(
                'INSERT INTO chunks (doc_id, idx, start, "end") VALUES (?, ?, ?, ?)',
                [(c.doc_id, c.index, c.start, c.end) for c in chunks],
            )
            for hook in self.hooks:
                hook.on_put(conn, article, chunks)
            self._bump(conn)

    def delete(self, doc_id: str) -> None:
        """Remove an article and its chunks."""
        with self._tx() as conn:
            conn.execute("DELETE FROM articles WHERE doc_id = ?", (doc_id,))
            for hook in self.hooks:
                hook.on_delete(conn, doc_id)
            self._bump(conn)

    def _bump(self, conn: sqlite3.Connection) -> None:
        before = self._version(conn)
        self._elsewhere |= before != self._seen
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        self._seen = before + 1

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row["value"]) if row else 0

    def version(self) -> int:
        """A counter that changes whenever the stored articles change."""
        with self._tx() as conn:
            return self._version(conn)

    def changed_elsewhere(self) -> bool:
        """Whether another process has written the store since the last call (this process's writes aside)."""
        with self._tx() as conn:
            now = self._version(conn)
            changed, self._seen, self._elsewhere = self._elsewhere or now != self._seen, now, False
        return changed

    def get(self, doc_id: str) -> Article | None:
        """The stored article, or None."""
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM articles WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return Article(doc_id=row["doc_id"], title=row["title"], text=row["text"], date=row["date"],
                       source=row["source"], url=row["url"], path=row["path"])

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, with its text cut from its article."""
        return self._chunks("", ())

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """Every chunk of one article, in order, text cut from the article."""
        return self._chunks("WHERE c.doc_id = ?", (doc_id,))

    def _chunks(self, where: str, params: tuple[str, ...]) -> list[Chunk]:
        with self._tx() as conn:
            rows = conn.execute(
                'SELECT c.doc_id, c.idx, c.start, c."end", substr(a.text, c.start + 1, c."end" - c.start) '
                f"FROM chunks c JOIN articles a USING (doc_id) {where} ORDER BY c.doc_id, c.idx", params
            ).fetchall()
        return [Chunk(doc_id=r[0], index=r[1], start=r[2], end=r[3], text=r[4]) for r in rows]

    def chunks_by_ids(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunks of these ids (``doc_id:idx``), text cut from the article; unknown ids are left out."""
        out: dict[str, Chunk] = {}
        with self._tx() as conn:
            for cid in dict.fromkeys(chunk_ids):
                doc_id, _, idx = cid.rpartition(":")
                row = conn.execute(
                    'SELECT c.start, c."end", substr(a.text, c.start + 1, c."end" - c.start) FROM chunks c '
                    "JOIN articles a USING (doc_id) WHERE c.doc_id = ? AND c.idx = ?", (doc_id, int(idx or -1))
                ).fetchone()
                if row is not None:
                    out[cid] = Chunk(doc_id=doc_id, index=int(idx), start=row[0], end=row[1], text=row[2])
        return out

    def list_docs(self) -> list[DocInfo]:
        """Every stored article's metadata, newest first."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT a.doc_id, a.title, a.date, a.source, a.url, a.path, length(a.text) AS chars, "
                "(SELECT count(*) FROM chunks c WHERE c.doc_id = a.doc_id) AS n "
                "FROM articles a ORDER BY coalesce(a.date, '') DESC, a.title"
            ).fetchall()
        return [DocInfo(doc_id=r["doc_id"], title=r["title"], date=r["date"], source=r["source"], url=r["url"],
                        path=r["path"], chunks=r["n"], chars=r["chars"]) for r in rows]

    def doc_ids_with_path_prefix(self, prefixes: Sequence[str]) -> list[tuple[str, str]]:
        """(doc_id, path) of articles loaded from under any of these paths."""
        with self._tx() as conn:
            rows = conn.execute("SELECT doc_id, path FROM articles").fetchall()
        roots = [p.rstrip("/") for p in prefixes]
        return [(r[0], r[1]) for r in rows
                if any(r[1] == root or r[1].startswith(root + "/") or r[1].startswith(root + ":") for root in roots)]

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        with self._tx() as conn:
            docs = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def has_dates(self) -> bool:
        """Whether any stored article has a date."""
        with self._tx() as conn:
            return conn.execute("SELECT 1 FROM articles WHERE date IS NOT NULL LIMIT 1").fetchone() is not None

    def dates_on(self, month: int, day: int) -> list[str]:
        """The distinct dates of stored articles that fall on this month and day (any year), latest first."""
        with self._tx() as conn:
            rows = conn.execute("SELECT DISTINCT date FROM articles WHERE substr(date, 6, 5) = ? ORDER BY date DESC",
                                (f"{month:02d}-{day:02d}",)).fetchall()
        return [r[0] for r in rows]

    def undated(self) -> int:
        """How many stored articles have no date."""
        with self._tx() as conn:
            return int(conn.execute("SELECT count(*) FROM articles WHERE date IS NULL").fetchone()[0])

    def sources(self) -> dict[str, int]:
        """Article counts per source."""
        with self._tx() as conn:
            rows = conn.execute("SELECT source, count(*) FROM articles GROUP BY source ORDER BY 2 DESC").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def chroma_client(settings: Settings) -> Any:
    """An embedded persistent Chroma client in the data dir, or an HTTP client for ``chroma_url``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as exc:  # noqa: BLE001 - chromadb raises ValueError or a transport error when it is down
            raise ChromaUnavailableError(
                f"cannot reach the Chroma server at {url.hostname}:{url.port or 8000} (ASSISTANT_CHROMA_URL): is "
                f"`chroma run` up there? ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})"
            ) from None
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def where_clause(filters: Filters | None) -> dict[str, Any] | None:
    """A Chroma ``where`` filter for the given date range and sources."""
    if filters is None or filters.is_empty():
        return None
    conds: list[dict[str, Any]] = []
    if filters.date_from:
        conds.append({"date_int": {"$gte": int(filters.date_from.strftime("%Y%m%d"))}})
    if filters.date_to:
        conds.append({"date_int": {"$lte": int(filters.date_to.strftime("%Y%m%d"))}})
    if filters.sources:
        conds.append({"source": {"$in": list(filters.sources)}})
    return conds[0] if len(conds) == 1 else {"$and": conds}


def index_text(title: str, chunk_text: str) -> str:
    """What is embedded and keyword-indexed for a chunk: the article title, then the chunk (quotes use the chunk)."""
    return f"{title}\n{chunk_text}" if title else chunk_text


def date_int(iso: str | None) -> int:
    """``YYYYMMDD`` as an integer (0 when the article has no date), for range filters."""
    return int(iso.replace("-", "")) if iso else 0


# HNSW search breadth. Chroma's default (100) missed 1.4% of the exact 24 nearest chunks of the dev questions, and
# which ones changed from one process to the next (the graph's unsynced tail is rebuilt at load): the same question
# got different answers after a restart. At 400 it missed 0.1%, the same in every process.
HNSW_EF_SEARCH = 400


class SharedGate:
    """A readers-writer lock: many holders share it; an exclusive holder waits for them and keeps new ones out."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holders = 0
        self._closed = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the gate beside others."""
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._holders += 1
        try:
            yield
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the gate alone."""
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._closed = True
            self._cond.wait_for(lambda: self._holders == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class VectorStore:
    """Chunk vectors in a Chroma collection, through LangChain's Chroma integration."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.name = settings.collection
        self.model_id = embedder.model_id
        self.embedder = embedder
        self._gate = SharedGate()  # questions and writes share the client; a reopen waits for them
        self._open()
        self._widen_search()

    def _open(self) -> None:
        """Open the Chroma client and the collection (again, after another process wrote)."""
        from langchain_chroma import Chroma

        from .embedding import LangChainEmbeddings

        self.client = chroma_client(self.settings)
        self._check_model()
        self.lc: Chroma = Chroma(
            collection_name=self.name,
            embedding_function=LangChainEmbeddings(self.embedder),
            client=self.client,
            collection_metadata={"embedding_model": self.model_id},
            collection_configuration={"hnsw": {"space": "cosine", "ef_search": HNSW_EF_SEARCH}},
        )

    def reopen(self) -> None:
        """Drop the client's in-memory view of the collection (an embedded client does not see another process's
        writes: filtered searches fail with «Error finding id») and open it again from disk."""
        with self._gate.exclusive():
            if not self.settings.chroma_url:  # a server's client holds no index of its own
                self.client.close()
                self._open()

    def _widen_search(self) -> None:
        """Raise an older collection's HNSW search breadth to HNSW_EF_SEARCH (it applies from the next load)."""
        hnsw = (getattr(self.collection, "configuration", None) or {}).get("hnsw") or {}
        if int(hnsw.get("ef_search") or 0) < HNSW_EF_SEARCH:
            self.collection.modify(configuration={"hnsw": {"ef_search": HNSW_EF_SEARCH}})

    def _check_model(self) -> None:
        existing = {c.name if hasattr(c, "name") else str(c) for c in self.client.list_collections()}
        if self.name not in existing:
            return
        stored = (self.client.get_collection(self.name).metadata or {}).get("embedding_model")
        if stored and stored != self.model_id:
            raise ModelMismatchError(
                f"collection {self.name!r} was built with embedding model {stored!r}, but the configured model is "
                f"{self.model_id!r}. Set ASSISTANT_EMBEDDINGS back, or use another ASSISTANT_COLLECTION / "
                "ASSISTANT_DATA_DIR and ingest again."
            )

    def add_many(self, items: Sequence[tuple[Article, Sequence[Chunk]]],
                 vectors: np.ndarray | None = None) -> None:
        """Store several articles' chunks in one batch (embedding them unless ``vectors`` gives one row per chunk,
        in order); stale chunks are removed only afterwards."""
        texts, metas, ids = [], [], []
        for article, chunks in items:
            base = {"doc_id": article.doc_id, "source": article.source, "date_int": date_int(article.date)}
            for c in chunks:
                texts.append(index_text(article.title, c.text))
                metas.append({**base, "idx": c.index, "start": c.start, "end": c.end})
                ids.append(c.chunk_id)
        if texts:
            if vectors is None:
                vectors = self.embedder.embed_passages(texts)
            self._upsert(ids, np.asarray(vectors, dtype=np.float32), metas)
        stale: list[dict[str, Any]] = [{"$and": [{"doc_id": a.doc_id}, {"idx": {"$gte": len(c)}}]} for a, c in items]
        if stale:  # one delete for the whole batch
            with self._gate.shared():
                self.collection.delete(where=stale[0] if len(stale) == 1 else {"$or": stale})

    def _upsert(self, ids: list[str], vectors: np.ndarray, metas: list[dict[str, Any]]) -> None:
        """Write rows in pieces of the client's max batch size (no documents: texts live in the article store)."""
        if len(vectors) != len(ids):
            raise ValueError(f"{len(ids)} chunks but {len(vectors)} vectors")
        step = self.max_batch_size()
        for i in range(0, len(ids), step):
            with self._gate.shared():
                self.collection.upsert(ids=ids[i:i + step], embeddings=vectors[i:i + step], metadatas=metas[i:i + step])

    def max_batch_size(self) -> int:
        """The most records one Chroma write may hold."""
        try:
            return max(1, int(self.client.get_max_batch_size()))
        except Exception:  # noqa: BLE001 - an older server without the call: a safe size
            return 5000

    def all_ids(self, page: int = 5000) -> set[str]:
        """Every chunk id in the collection (read in pages, without vectors or documents)."""
        ids: set[str] = set()
        offset = 0
        while True:
            with self._gate.shared():
                got = self.lc._collection.get(include=[], limit=page, offset=offset)["ids"]
            ids.update(got)
            if len(got) < page:
                return ids
            offset += page

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Remove these chunk ids (in slices of the max batch size)."""
        ids = list(ids)
        step = self.max_batch_size()
        for i in range(0, len(ids), step):
            with self._gate.shared():
                self.lc._collection.delete(ids=ids[i:i + step])

    def delete_doc(self, doc_id: str) -> None:
        """Remove every chunk of an article."""
        with self._gate.shared():
            self.lc.delete(where={"doc_id": doc_id})

    def search(self, vector: Sequence[float], k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks that pass the filters."""
        from chromadb.errors import InternalError

        query = {"query_embeddings": [np.asarray(vector, dtype=np.float32)], "n_results": k,
                 "where": where_clause(filters), "include": ["distances"]}
        try:
            with self._gate.shared():
                res = self.collection.query(**query)
        except InternalError:  # another process wrote after this one last looked: read the collection again
            self.reopen()
            with self._gate.shared():
                res = self.collection.query(**query)
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)]

    @property
    def collection(self) -> Any:
        """The underlying Chroma collection."""
        return self.lc._collection

    def count(self) -> int:
        """Chunks in the collection."""
        with self._gate.shared():
            return int(self.collection.count())
