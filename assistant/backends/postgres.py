"""The PostgreSQL backend: every store that is a SQLite file in the embedded mode, in one database.

psycopg 3 with a connection pool; a versioned schema created or upgraded at start (a newer one is refused). Keyword
search is BM25 exactly as SQLite FTS5 computes it, over the same stems (``keyword.terms``): a postings table with a
covering b-tree index on the term, and IDF from a term-statistics table updated in the article's own transaction.
Article writes take a transaction-level advisory lock (one at a time, each a few milliseconds; embedding, the slow
part, runs in parallel), and each writer holds a session-level advisory lock while its write is under way, so that
a writer that died is seen from the database's own state.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from ..dedup import NUM_PERM, StoryIndex
from ..feedback import FIELDS, FeedbackRecord, FeedbackStore, feedback_row
from ..keyword import KeywordHit, KeywordSearch, bm25_idf, date_int, terms
from ..sentences import SentenceStore, SentenceVectors, text_hash
from ..slackbot.dedupe import WINDOW_SECONDS, SeenRequests
from ..store import ModelMismatchError
from ..types import Answer, Article, Chunk, DocInfo, Filters
from . import BackendError

if TYPE_CHECKING:
    import psycopg
    from datasketch import MinHashLSH
    from psycopg_pool import ConnectionPool

    from ..chunking import Span
    from ..embedding import Embedder
    from ..settings import Settings

SCHEMA_VERSION = 1
LOCK_NS = 0x6E657773  # advisory-lock namespace ("news"): (NS, 0) writers shared / repair exclusive, (NS, 1) articles,
# (NS, 2) schema, (NS, 1000 + writer id) one writer's write under way
K1, B = 1.2, 0.75  # FTS5's bm25() defaults

SCHEMA_V1 = """
CREATE TABLE articles (
    doc_id text COLLATE "C" PRIMARY KEY, title text NOT NULL, date text, source text NOT NULL DEFAULT '',
    url text NOT NULL DEFAULT '', path text NOT NULL DEFAULT '', content_hash text NOT NULL, text text NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE chunks (
    doc_id text COLLATE "C" NOT NULL REFERENCES articles (doc_id) ON DELETE CASCADE, idx integer NOT NULL,
    start integer NOT NULL, "end" integer NOT NULL, PRIMARY KEY (doc_id, idx)
);
CREATE TABLE store_meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO store_meta VALUES ('version', 0);
CREATE TABLE postings (
    term text COLLATE "C" NOT NULL, doc_id text COLLATE "C" NOT NULL, idx integer NOT NULL, tf integer NOT NULL,
    len integer NOT NULL, date_int integer NOT NULL, source text NOT NULL, seq bigint NOT NULL
);
CREATE SEQUENCE chunk_seq;
CREATE INDEX postings_term ON postings (term) INCLUDE (doc_id, idx, tf, len, date_int, source, seq);
CREATE INDEX postings_doc ON postings (doc_id);
CREATE TABLE kw_chunks (doc_id text COLLATE "C" NOT NULL, idx integer NOT NULL, len integer NOT NULL,
                        PRIMARY KEY (doc_id, idx));
CREATE TABLE term_stats (term text COLLATE "C" PRIMARY KEY, df integer NOT NULL);
CREATE TABLE corpus_stats (id integer PRIMARY KEY CHECK (id = 1), chunks bigint NOT NULL, tokens bigint NOT NULL);
INSERT INTO corpus_stats VALUES (1, 0, 0);
CREATE TABLE sentences (
    doc_id text COLLATE "C" PRIMARY KEY, text_hash text NOT NULL, n integer NOT NULL, dim integer NOT NULL,
    offsets bytea NOT NULL, vectors bytea NOT NULL
);
CREATE TABLE model_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE stories (
    seq bigserial, doc_id text COLLATE "C" PRIMARY KEY, text_hash text NOT NULL, cluster text COLLATE "C" NOT NULL,
    similarity double precision NOT NULL DEFAULT 1.0, minhash bytea NOT NULL, size integer NOT NULL,
    chars integer NOT NULL, date text, numbers text NOT NULL
);
CREATE INDEX stories_hash ON stories (text_hash);
CREATE INDEX stories_cluster ON stories (cluster);
CREATE TABLE feedback (
    id bigserial PRIMARY KEY,
    created_at text NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    channel text NOT NULL, "user" text NOT NULL DEFAULT '', rating integer NOT NULL CHECK (rating IN (-1, 1)),
    comment text NOT NULL DEFAULT '', question text NOT NULL, answer text NOT NULL, citations text NOT NULL,
    filters text NOT NULL DEFAULT '{}'
);
CREATE TABLE slack_seen (key text PRIMARY KEY, at double precision NOT NULL);
CREATE TABLE writers (id bigserial PRIMARY KEY, host text NOT NULL, pid integer NOT NULL,
                      started timestamptz NOT NULL DEFAULT now());
"""
MIGRATIONS = {1: SCHEMA_V1}  # version -> the SQL that upgrades the version before it to this one


def describe(url: str) -> str:
    """``user@host:port/db`` of a database URL, never its password."""
    parts = urlparse(url)
    return f"{parts.username or ''}@{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def connect_error(url: str, exc: Exception) -> BackendError:
    """A one-line message for a failed connection: what went wrong and what to check."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "password authentication failed" in text or "role" in text and "does not exist" in text:
        hint = "the user name or password in ASSISTANT_DATABASE_URL is wrong"
    elif "database" in text and "does not exist" in text:
        hint = "create the database (createdb) or fix its name in ASSISTANT_DATABASE_URL"
    else:
        hint = "is PostgreSQL running there, and are the host and port in ASSISTANT_DATABASE_URL right?"
    return BackendError(f"cannot use the database {describe(url)} (ASSISTANT_DATABASE_URL): {hint} ({text})")


class Database:
    """A connection pool to one database whose schema is this version's."""

    def __init__(self, url: str, max_size: int = 8) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        try:
            with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
                ensure_schema(conn, url)
        except psycopg.OperationalError as exc:
            raise connect_error(url, exc) from None
        self.pool: ConnectionPool = ConnectionPool(url, min_size=1, max_size=max_size, open=True,
                                                   kwargs={"connect_timeout": 10})

    @contextmanager
    def tx(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection in a transaction (committed when the block ends, rolled back on an error)."""
        with self.pool.connection() as conn:
            yield conn

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()


def ensure_schema(conn: psycopg.Connection[Any], url: str, migrations: dict[int, str] | None = None,
                  table: str = "assistant_schema") -> None:
    """Create or upgrade a schema (the stores', or another part's ``migrations`` versioned in its own ``table``) to
    its newest version; refuse a database of a newer version."""
    migrations = migrations or MIGRATIONS
    newest = max(migrations)
    conn.execute("SELECT pg_advisory_lock(%s, 2)", (LOCK_NS,))
    try:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (version integer NOT NULL)")
        current = conn.execute(f"SELECT coalesce(max(version), 0) FROM {table}").fetchone()[0]  # type: ignore[index]
        if current > newest:
            raise BackendError(
                f"the database {describe(url)} has schema version {current} ({table}), newer than this assistant's "
                f"({newest}): upgrade the assistant on this machine (a newer version wrote it)")
        for version in range(current + 1, newest + 1):
            with conn.transaction():
                conn.execute(migrations[version])
                conn.execute(f"INSERT INTO {table} VALUES (%s)", (version,))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, 2)", (LOCK_NS,))


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def database(settings: Settings) -> Database:
    """The process's pool for the configured database (opened on first use)."""
    url = settings.database_url.get_secret_value()
    with _databases_lock:
        if url not in _databases:
            _databases[url] = Database(url)
        return _databases[url]


# ---- articles and keyword search ------------------------------------------------------------------------------

class PgDocStore:
    """Articles and chunk offsets in PostgreSQL; the keyword index is written in the same transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.keyword: PgKeywordIndex | None = None
        self._seen = -1  # the store version this process last looked at

    def content_hash(self, doc_id: str) -> str | None:
        """The stored content hash of an article, or None if absent."""
        row = self._one("SELECT content_hash FROM articles WHERE doc_id = %s", (doc_id,))
        return str(row[0]) if row else None

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.db.tx() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.db.tx() as conn:
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def write(self) -> Iterator[psycopg.Cursor[Any]]:
        """A transaction holding the article-write lock (writers on all machines take turns, a few ms each)."""
        with self.db.tx() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, 1)", (LOCK_NS,))
            yield cur

    def put(self, article: Article, content_hash: str, chunks: Sequence[Chunk]) -> None:
        """Insert or replace an article, its chunk offsets and its keyword postings."""
        with self.write() as cur:
            cur.execute("DELETE FROM articles WHERE doc_id = %s", (article.doc_id,))
            cur.execute("INSERT INTO articles (doc_id, title, date, source, url, path, content_hash, text) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        (article.doc_id, article.title, article.date, article.source, article.url, article.path,
                         content_hash, article.text))
            with cur.copy('COPY chunks (doc_id, idx, start, "end") FROM STDIN') as copy:
                for c in chunks:
                    copy.write_row((c.doc_id, c.index, c.start, c.end))
            if self.keyword is not None:
                self.keyword.on_put(cur, article, chunks)
            cur.execute("UPDATE store_meta SET value = value + 1 WHERE key = 'version'")

    def delete(self, doc_id: str) -> None:
        """Remove an article, its chunks and its postings."""
        with self.write() as cur:
            cur.execute("DELETE FROM articles WHERE doc_id = %s", (doc_id,))
            if self.keyword is not None:
                self.keyword.on_delete(cur, doc_id)
            cur.execute("UPDATE store_meta SET value = value + 1 WHERE key = 'version'")

    def version(self) -> int:
        """A counter that changes whenever the stored articles change (on any machine)."""
        return int(self._one("SELECT value FROM store_meta WHERE key = 'version'")[0])

    def get(self, doc_id: str) -> Article | None:
        """The stored article, or None."""
        row = self._one("SELECT doc_id, title, text, date, source, url, path FROM articles WHERE doc_id = %s",
                        (doc_id,))
        return Article(doc_id=row[0], title=row[1], text=row[2], date=row[3], source=row[4], url=row[5],
                       path=row[6]) if row else None

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, with its text cut from its article."""
        return self._chunks("", ())

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """Every chunk of one article, in order."""
        return self._chunks("WHERE c.doc_id = %s", (doc_id,))

    def _chunks(self, where: str, params: tuple[Any, ...]) -> list[Chunk]:
        rows = self._all('SELECT c.doc_id, c.idx, c.start, c."end", substr(a.text, c.start + 1, c."end" - c.start) '
                         f"FROM chunks c JOIN articles a USING (doc_id) {where} ORDER BY c.doc_id, c.idx", params)
        return [Chunk(doc_id=r[0], index=r[1], start=r[2], end=r[3], text=r[4]) for r in rows]

    def chunks_by_ids(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunks of these ids (``doc_id:idx``); unknown ids are left out."""
        pairs = [cid.rpartition(":") for cid in dict.fromkeys(chunk_ids)]
        keys = [(d, int(i)) for d, _, i in pairs if i.lstrip("-").isdigit()]
        if not keys:
            return {}
        rows = self._all(
            'SELECT c.doc_id, c.idx, c.start, c."end", substr(a.text, c.start + 1, c."end" - c.start) '
            "FROM chunks c JOIN articles a USING (doc_id) "
            "JOIN unnest(%s::text[], %s::int[]) AS k(doc_id, idx) ON k.doc_id = c.doc_id AND k.idx = c.idx",
            ([d for d, _ in keys], [i for _, i in keys]))
        return {f"{r[0]}:{r[1]}": Chunk(doc_id=r[0], index=r[1], start=r[2], end=r[3], text=r[4]) for r in rows}

    def list_docs(self) -> list[DocInfo]:
        """Every stored article's metadata, newest first."""
        rows = self._all(
            "SELECT a.doc_id, a.title, a.date, a.source, a.url, a.path, length(a.text), "
            "(SELECT count(*) FROM chunks c WHERE c.doc_id = a.doc_id) "
            'FROM articles a ORDER BY coalesce(a.date, \'\') COLLATE "C" DESC, a.title COLLATE "C"')
        return [DocInfo(doc_id=r[0], title=r[1], date=r[2], source=r[3], url=r[4], path=r[5], chunks=int(r[7]),
                        chars=int(r[6])) for r in rows]

    def doc_ids_with_path_prefix(self, prefixes: Sequence[str]) -> list[tuple[str, str]]:
        """(doc_id, path) of articles loaded from under any of these paths."""
        roots = [p.rstrip("/") for p in prefixes]
        rows = self._all("SELECT doc_id, path FROM articles")
        return [(r[0], r[1]) for r in rows
                if any(r[1] == root or r[1].startswith(root + "/") or r[1].startswith(root + ":") for root in roots)]

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        row = self._one("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks)")
        return int(row[0]), int(row[1])

    def has_dates(self) -> bool:
        """Whether any stored article has a date."""
        return self._one("SELECT 1 FROM articles WHERE date IS NOT NULL LIMIT 1") is not None

    def changed_elsewhere(self) -> bool:
        """Whether the store changed since the last call (any writer: in-memory views are re-read either way)."""
        now = self.version()
        changed, self._seen = self._seen not in (-1, now), now
        return changed

    def dates_on(self, month: int, day: int) -> list[str]:
        """The distinct dates of stored articles that fall on this month and day (any year), latest first."""
        rows = self._all("SELECT DISTINCT date FROM articles WHERE substr(date, 6, 5) = %s ORDER BY date DESC",
                         (f"{month:02d}-{day:02d}",))
        return [str(r[0]) for r in rows]

    def undated(self) -> int:
        """How many stored articles have no date."""
        return int(self._one("SELECT count(*) FROM articles WHERE date IS NULL")[0])

    def sources(self) -> dict[str, int]:
        """Article counts per source."""
        rows = self._all('SELECT source, count(*) FROM articles GROUP BY source ORDER BY 2 DESC, source COLLATE "C"')
        return {r[0]: int(r[1]) for r in rows}

    def close(self) -> None:
        """Nothing to close per store: the process's pool stays open for the others."""


def chunk_postings(article: Article, chunks: Sequence[Chunk],
                   seqs: Sequence[int]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """(term, doc_id, idx, tf, len, date_int, source, seq) rows of an article's chunks, and each chunk's length in
    terms; ``seq`` numbers the chunks in the order they were indexed."""
    rows: list[tuple[Any, ...]] = []
    lengths: list[int] = []
    day = date_int(article.date)
    for c, seq in zip(chunks, seqs, strict=True):
        words = terms(f"{article.title}\n{c.text}" if article.title else c.text)
        lengths.append(len(words))
        rows.extend((t, article.doc_id, c.index, n, len(words), day, article.source, seq)
                    for t, n in sorted(Counter(words).items()))
    return rows, lengths


class PgKeywordIndex(KeywordSearch):
    """BM25 (as FTS5 computes it) over the app's stems, in PostgreSQL beside the articles."""

    def __init__(self, docstore: PgDocStore) -> None:
        self.docstore = docstore
        self.db = docstore.db
        docstore.keyword = self
        self._idf: dict[str, float] = {}
        self._idf_version = -1
        self._size = 0
        self._lock = threading.Lock()

    def on_put(self, cur: psycopg.Cursor[Any], article: Article, chunks: Sequence[Chunk]) -> None:
        """Index an article's chunks (replacing what was indexed for it), with the term statistics."""
        self.on_delete(cur, article.doc_id)
        seqs = [r[0] for r in cur.execute("SELECT nextval('chunk_seq') FROM generate_series(1, %s)",
                                          (len(chunks),)).fetchall()]
        rows, lengths = chunk_postings(article, chunks, seqs)
        with cur.copy("COPY postings (term, doc_id, idx, tf, len, date_int, source, seq) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        with cur.copy("COPY kw_chunks (doc_id, idx, len) FROM STDIN") as copy:
            for c, n in zip(chunks, lengths, strict=True):
                copy.write_row((article.doc_id, c.index, n))
        df = sorted(Counter(r[0] for r in rows).items())
        cur.execute("INSERT INTO term_stats (term, df) SELECT * FROM unnest(%s::text[], %s::int[]) "
                    "ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df",
                    ([t for t, _ in df], [n for _, n in df]))
        cur.execute("UPDATE corpus_stats SET chunks = chunks + %s, tokens = tokens + %s", (len(chunks), sum(lengths)))

    def on_delete(self, cur: psycopg.Cursor[Any], doc_id: str, idx: int | None = None) -> None:
        """Remove an article's chunks (or one of them) from the index and the term statistics."""
        which = "doc_id = %s" + ("" if idx is None else " AND idx = %s")
        params = (doc_id,) if idx is None else (doc_id, idx)
        cur.execute("UPDATE term_stats t SET df = t.df - d.n FROM (SELECT term, count(*) AS n FROM postings "
                    f"WHERE {which} GROUP BY term) d WHERE t.term = d.term", params)
        cur.execute("UPDATE corpus_stats SET chunks = chunks - s.n, tokens = tokens - s.t FROM "
                    f"(SELECT count(*) AS n, coalesce(sum(len), 0) AS t FROM kw_chunks WHERE {which}) s", params)
        cur.execute(f"DELETE FROM postings WHERE {which}", params)
        cur.execute(f"DELETE FROM kw_chunks WHERE {which}", params)

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[KeywordHit]:
        """The k best chunks by BM25 (k1 1.2, b 0.75, FTS5's idf) among those passing the filters; equal scores in
        chunk-id order (byte order, as SQLite sorts), whatever order the chunks were stored in."""
        unique = list(dict.fromkeys(terms(query)))
        if not unique:
            return []
        where, params = pg_filter(filters)
        sql = (
            "WITH q AS (SELECT t.term, greatest(ln((s.chunks - t.df + 0.5) / (t.df + 0.5)), 1e-6) AS idf, "
            "s.tokens::float8 / greatest(s.chunks, 1) AS avgdl FROM term_stats t CROSS JOIN corpus_stats s "
            "WHERE t.term = ANY(%s::text[]) AND t.df > 0) "
            f"SELECT p.doc_id, p.idx, sum(q.idf * p.tf * {K1 + 1} / (p.tf + {K1} * ({1 - B} + {B} * p.len / q.avgdl))) "
            f"AS s FROM q JOIN postings p ON p.term = q.term {where} "
            "GROUP BY p.doc_id, p.idx ORDER BY s DESC, p.doc_id COLLATE \"C\", p.idx LIMIT %s")
        with self.db.tx() as conn:
            rows = conn.execute(sql, [unique, *params, k]).fetchall()
        return [KeywordHit(f"{r[0]}:{r[1]}", float(r[2])) for r in rows if r[2] > 0]

    def idf(self, term: str, version: int | None = None) -> float:
        """BM25's idf of a stemmed term among the indexed chunks (cached until the store changes)."""
        version = self.docstore.version() if version is None else version
        with self._lock:
            if version != self._idf_version:
                with self.db.tx() as conn:
                    self._size = int(conn.execute("SELECT chunks FROM corpus_stats").fetchone()[0])  # type: ignore[index]
                self._idf, self._idf_version = {}, version
            if term not in self._idf:
                with self.db.tx() as conn:
                    row = conn.execute("SELECT df FROM term_stats WHERE term = %s", (term,)).fetchone()
                self._idf[term] = bm25_idf(self._size, int(row[0]) if row else 0)
            return self._idf[term]

    def chunk_ids(self) -> set[str]:
        """Every indexed chunk id (for consistency checks)."""
        with self.db.tx() as conn:
            return {f"{d}:{i}" for d, i in conn.execute("SELECT doc_id, idx FROM kw_chunks")}

    def doc_ids(self) -> list[str]:
        """Every article id with indexed chunks."""
        with self.db.tx() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT doc_id FROM kw_chunks ORDER BY doc_id")]

    def delete_doc(self, doc_id: str) -> None:
        """Remove an article's chunks from the index alone (repairs)."""
        with self.docstore.write() as cur:
            self.on_delete(cur, doc_id)

    def delete_chunks(self, ids: set[str]) -> None:
        """Remove indexed chunks by id (repairs)."""
        with self.docstore.write() as cur:
            for cid in sorted(ids):
                doc_id, _, idx = cid.rpartition(":")
                self.on_delete(cur, doc_id, int(idx))

    def reindex(self, articles: Sequence[tuple[Article, Sequence[Chunk]]]) -> None:
        """Index these stored articles' chunks again (repairs)."""
        with self.docstore.write() as cur:
            for article, chunks in articles:
                self.on_put(cur, article, chunks)


def pg_filter(filters: Filters | None) -> tuple[str, list[object]]:
    """A WHERE clause on the postings for the date range and sources (as the FTS5 index applies them)."""
    if filters is None or filters.is_empty():
        return "", []
    conds, params = [], []  # type: tuple[list[str], list[object]]
    if filters.date_from:
        conds.append("p.date_int >= %s")
        params.append(int(filters.date_from.strftime("%Y%m%d")))
    if filters.date_to:
        conds.append("p.date_int <= %s AND p.date_int > 0")
        params.append(int(filters.date_to.strftime("%Y%m%d")))
    if filters.sources:
        conds.append("p.source = ANY(%s::text[])")
        params.append(list(filters.sources))
    return "WHERE " + " AND ".join(conds), params


# ---- sentence vectors, stories, feedback, Slack de-duplication ------------------------------------------------

class PgSentenceStore(SentenceStore):
    """Sentence vectors per article in PostgreSQL (one ``bytea`` row per article, float32 as in SQLite, or float16:
    ``ASSISTANT_SENTENCE_VECTORS_DTYPE``); a row's byte length tells which, so stores may hold both. The last rows
    read are kept by (article id, text hash): an answer reads each hit article's spans, then its vectors."""

    CACHED = 64  # articles' rows (~80 KB each)

    def __init__(self, db: Database, embedder: Embedder, dtype: str = "float32") -> None:
        self.db = db
        self.dtype = np.dtype(dtype)
        self._recent: OrderedDict[tuple[str, str], SentenceVectors] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.path = describe(db.url)  # type: ignore[assignment]
        self.embedder = embedder
        self._check_model()

    def _check_model(self) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT INTO model_meta VALUES ('embedding_model', %s) ON CONFLICT DO NOTHING",
                         (self.embedder.model_id,))
            stored = conn.execute("SELECT value FROM model_meta WHERE key = 'embedding_model'").fetchone()[0]  # type: ignore[index]
        if stored != self.embedder.model_id:
            raise ModelMismatchError(
                f"the database {self.path} holds sentence vectors of embedding model {stored!r}, but the configured "
                f"model is {self.embedder.model_id!r}. Set ASSISTANT_EMBEDDINGS back, or use another database.")

    def put(self, doc_id: str, text: str, spans: Sequence[Span], vectors: np.ndarray) -> None:
        """Store (replace) an article's sentence offsets and vectors."""
        offsets = np.array([(s.start, s.end) for s in spans], dtype=np.int32).reshape(-1, 2)
        vecs = np.ascontiguousarray(vectors, dtype=self.dtype)
        if len(offsets) != len(vecs):
            raise ValueError(f"{doc_id}: {len(offsets)} sentences but {len(vecs)} vectors")
        dim = int(vecs.shape[1]) if vecs.ndim == 2 else 0
        with self.db.tx() as conn:
            conn.execute("INSERT INTO sentences VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (doc_id) DO UPDATE SET "
                         "text_hash = excluded.text_hash, n = excluded.n, dim = excluded.dim, "
                         "offsets = excluded.offsets, vectors = excluded.vectors",
                         (doc_id, text_hash(text), len(offsets), dim, offsets.tobytes(), vecs.tobytes()))
        self._forget()

    def get(self, doc_id: str, text: str) -> SentenceVectors | None:
        """The stored sentences of an article, or None when absent or stored for another text."""
        key = (doc_id, text_hash(text))
        with self._recent_lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        with self.db.tx() as conn:
            row = conn.execute("SELECT text_hash, n, dim, offsets, vectors FROM sentences WHERE doc_id = %s",
                               (doc_id,)).fetchone()
        if row is None or row[0] != key[1]:
            return None  # not kept: another writer may store it soon
        n, dim = int(row[1]), int(row[2])
        found = SentenceVectors(np.frombuffer(row[3], dtype=np.int32).reshape(n, 2), stored_vectors(row[4], n, dim))
        with self._recent_lock:
            self._recent[key] = found
            while len(self._recent) > self.CACHED:
                self._recent.popitem(last=False)
        return found

    def _forget(self) -> None:
        with self._recent_lock:
            self._recent.clear()

    def delete_doc(self, doc_id: str) -> None:
        """Remove an article's sentences."""
        with self.db.tx() as conn:
            conn.execute("DELETE FROM sentences WHERE doc_id = %s", (doc_id,))
        self._forget()

    def doc_ids(self) -> list[str]:
        """Every article id with stored sentences."""
        with self.db.tx() as conn:
            return [r[0] for r in conn.execute("SELECT doc_id FROM sentences ORDER BY doc_id")]

    def count(self) -> int:
        """Stored sentences in all."""
        with self.db.tx() as conn:
            return int(conn.execute("SELECT coalesce(sum(n), 0) FROM sentences").fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        """Nothing to close per store."""


def stored_vectors(data: bytes, n: int, dim: int) -> np.ndarray:
    """A row's sentence vectors as float32, whether stored as float32 or float16 (told apart by the byte length)."""
    dtype = np.float16 if n and len(data) == n * dim * 2 else np.float32
    return np.frombuffer(data, dtype=dtype).reshape(n, dim).astype(np.float32, copy=False)


def sentence_row_as(row: tuple[Any, ...], dtype: str) -> tuple[Any, ...]:
    """A (doc_id, text_hash, n, dim, offsets, vectors) row with its vectors converted to ``dtype``."""
    n, dim = int(row[2]), int(row[3])
    return (*row[:5], stored_vectors(row[5], n, dim).astype(dtype).tobytes())


class PgStoryIndex(StoryIndex):
    """Story clusters in PostgreSQL; the in-memory LSH index takes in what other writers stored since it last looked."""

    def __init__(self, db: Database, threshold: float) -> None:
        self.db = db
        self._start(threshold)
        self._seq = 0

    def _index(self) -> MinHashLSH:
        """The LSH index, brought up to date with the table (rows others added are loaded; a delete reloads all)."""
        from datasketch import MinHashLSH

        with self.db.tx() as conn:
            rows, top = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM stories").fetchone()  # type: ignore[misc]
        if self._lsh is not None and (rows, top) == (len(self._sigs), self._seq):
            return self._lsh
        if self._lsh is None or rows < len(self._sigs):
            self._lsh, self._sigs, self._profiles, self._seq = MinHashLSH(threshold=0.25, num_perm=NUM_PERM), {}, {}, 0
        with self.db.tx() as conn:
            fresh = conn.execute("SELECT doc_id, minhash, size, chars, date, numbers FROM stories WHERE seq > %s",
                                 (self._seq,)).fetchall()
        self._load(r for r in fresh if r[0] not in self._sigs)
        self._seq = int(top)
        return self._lsh

    def _stored_rows(self) -> list[tuple[str, bytes, int, int, str | None, str]]:
        with self.db.tx() as conn:
            return conn.execute("SELECT doc_id, minhash, size, chars, date, numbers FROM stories").fetchall()

    def _exact_copy(self, digest: str, article: Article) -> str | None:
        with self.db.tx() as conn:
            row = conn.execute(
                "SELECT doc_id FROM stories WHERE text_hash = %s AND doc_id != %s AND (date IS NULL OR "
                "%s::text IS NULL OR date = %s) LIMIT 1", (digest, article.doc_id, article.date, article.date)
            ).fetchone()
        return str(row[0]) if row else None

    def _has(self, doc_id: str) -> bool:
        with self.db.tx() as conn:
            return conn.execute("SELECT 1 FROM stories WHERE doc_id = %s", (doc_id,)).fetchone() is not None

    def _insert(self, row: tuple[object, ...]) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT INTO stories (doc_id, text_hash, cluster, similarity, minhash, size, chars, date, "
                         "numbers) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)

    def _delete(self, doc_id: str, commit: bool) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM stories WHERE doc_id = %s", (doc_id,))

    def _clusters(self, ids: list[str]) -> dict[str, str]:
        with self.db.tx() as conn:
            return dict(conn.execute("SELECT doc_id, cluster FROM stories WHERE doc_id = ANY(%s::text[])",
                                     (ids,)).fetchall())

    def _members(self, cluster: str) -> list[str]:
        with self.db.tx() as conn:
            rows = conn.execute("SELECT doc_id FROM stories WHERE cluster = %s ORDER BY seq", (cluster,)).fetchall()
        return [str(r[0]) for r in rows]

    def _close(self) -> None:
        """Nothing to close per store."""


class PgFeedbackStore(FeedbackStore):
    """Feedback in PostgreSQL, shared by every replica."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, *, channel: str, rating: int, answer: Answer | dict[str, Any], comment: str = "",
            user: str = "") -> int:
        """Store a rating (+1 or -1) of an answer; returns its id."""
        row = feedback_row(channel, user, rating, comment, answer)
        with self.db.tx() as conn:
            got = conn.execute('INSERT INTO feedback (channel, "user", rating, comment, question, answer, citations, '
                               "filters) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id", row).fetchone()
        return int(got[0]) if got else 0

    def set_comment(self, feedback_id: int, comment: str) -> None:
        """Attach or replace the comment of a stored rating."""
        with self.db.tx() as conn:
            conn.execute("UPDATE feedback SET comment = %s WHERE id = %s", (comment, feedback_id))

    def all(self) -> list[FeedbackRecord]:
        """Every record, oldest first."""
        columns = ", ".join('"user"' if f == "user" else f for f in FIELDS)
        with self.db.tx() as conn:
            rows = conn.execute(f"SELECT {columns} FROM feedback ORDER BY id").fetchall()
        return [FeedbackRecord(*row) for row in rows]

    def close(self) -> None:
        """Nothing to close per store."""


class PgSeenRequests(SeenRequests):
    """Handled Slack requests in PostgreSQL: a retry that reaches another replica is not answered twice."""

    def __init__(self, db: Database, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.db, self.window, self.clock = db, window, clock
        self._inserts = 0

    def first_time(self, key: str) -> bool:
        """Record the key; True only the first time it is seen within the window (on any replica)."""
        now = self.clock()
        with self.db.tx() as conn:
            conn.execute("DELETE FROM slack_seen WHERE key = %s AND at < %s", (key, now - self.window))
            added = conn.execute("INSERT INTO slack_seen VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, now)).rowcount
            self._inserts += 1
            if self._inserts % 500 == 0:
                conn.execute("DELETE FROM slack_seen WHERE at < %s", (now - self.window,))
        return bool(added)

    def close(self) -> None:
        """Nothing to close per store."""


# ---- writers ---------------------------------------------------------------------------------------------------

class PgWriteGuard:
    """Writers' marks as rows, each held by its writer's session-level advisory lock: when a writer's process dies
    its connection closes and the lock is free, so a row whose lock can be taken is a crashed write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._depth = 0
        self._id: int | None = None

    def _session(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.url, connect_timeout=10, autocommit=True)
            except psycopg.OperationalError as exc:
                raise connect_error(self.url, exc) from None
        return self._conn

    def set(self) -> None:
        """A write begins: hold the writers' lock shared, and a row with this writer's own lock."""
        self.lock.acquire()
        self._depth += 1
        if self._depth == 1:
            conn = self._session()
            conn.execute("SELECT pg_advisory_lock_shared(%s, 0)", (LOCK_NS,))
            row = conn.execute("INSERT INTO writers (host, pid) VALUES (%s, %s) RETURNING id",
                               (socket.gethostname(), os.getpid())).fetchone()
            self._id = int(row[0]) if row else 0
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NS, 1000 + self._id))

    def clear(self) -> None:
        """The write finished: remove this writer's row and release its locks."""
        if self._depth == 1 and self._conn is not None:
            self._conn.execute("DELETE FROM writers WHERE id = %s", (self._id,))
            self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NS, 1000 + (self._id or 0)))
            self._conn.execute("SELECT pg_advisory_unlock_shared(%s, 0)", (LOCK_NS,))
        self._depth = max(0, self._depth - 1)
        self.lock.release()

    def _dead(self) -> list[int]:
        """Rows of writers whose lock is free (their session ended without clearing)."""
        conn = self._session()
        dead = []
        for (wid,) in conn.execute("SELECT id FROM writers WHERE id IS DISTINCT FROM %s", (self._id,)).fetchall():
            if conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NS, 1000 + wid)).fetchone()[0]:  # type: ignore[index]
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NS, 1000 + wid))
                dead.append(int(wid))
        return dead

    def crashed(self) -> bool:
        """Whether a writer that is gone left a write unfinished."""
        return bool(self._dead())

    @contextmanager
    def repairing(self) -> Iterator[bool]:
        """The writers' lock taken exclusively, without waiting: False while another writer holds it."""
        with self.lock:
            if self._depth:
                yield False
                return
            conn = self._session()
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s, 0)", (LOCK_NS,)).fetchone()[0])  # type: ignore[index]
            try:
                yield got
            finally:
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s, 0)", (LOCK_NS,))

    def forget_crashed(self) -> None:
        """Remove the rows of writers that are gone."""
        dead = self._dead()
        if dead:
            self._session().execute("DELETE FROM writers WHERE id = ANY(%s)", (dead,))


# ---- the factory's entries ------------------------------------------------------------------------------------

def open_articles(settings: Settings) -> PgDocStore:
    """Articles in PostgreSQL."""
    return PgDocStore(database(settings))


def open_keyword(settings: Settings, articles: Any) -> PgKeywordIndex:
    """Keyword postings beside the articles."""
    return PgKeywordIndex(articles)


def open_sentences(settings: Settings, embedder: Embedder) -> PgSentenceStore:
    """Sentence vectors in PostgreSQL."""
    return PgSentenceStore(database(settings), embedder, settings.sentence_vectors_dtype)


def open_stories(settings: Settings) -> PgStoryIndex:
    """Story clusters in PostgreSQL."""
    return PgStoryIndex(database(settings), settings.dedup_threshold)


def open_feedback(settings: Settings) -> PgFeedbackStore:
    """Feedback in PostgreSQL."""
    return PgFeedbackStore(database(settings))


def open_seen(settings: Settings) -> PgSeenRequests:
    """Slack de-duplication in PostgreSQL."""
    return PgSeenRequests(database(settings))


def open_write_guard(settings: Settings) -> PgWriteGuard:
    """Writers' rows and advisory locks in PostgreSQL (the schema is made sure of first)."""
    database(settings)
    return PgWriteGuard(settings.database_url.get_secret_value())

