"""``assistant migrate``: copy an embedded store (SQLite files + embedded Chroma) into PostgreSQL and a Chroma server,
without embedding anything again: vectors, sentence vectors, story clusters, feedback, feeds and watches are copied
as stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import BackendError

if TYPE_CHECKING:
    from ..settings import Settings

PAGE = 1000


@dataclass
class Migrated:
    """What was copied."""

    articles: int = 0
    vectors: int = 0
    sentences: int = 0
    stories: int = 0
    feedback: int = 0
    feeds: int = 0
    watches: int = 0

    def line(self) -> str:
        """One line for the report."""
        return (f"copied {self.articles} articles, {self.vectors} chunk vectors, {self.sentences} articles' sentence "
                f"vectors, {self.stories} story entries, {self.feedback} feedback records, {self.feeds} feeds, "
                f"{self.watches} standing questions")


def migrate(source: Settings, target: Settings, progress: Callable[[str], None] = print) -> Migrated:
    """Copy the embedded store of ``source`` into the database and Chroma server of ``target`` (both empty)."""
    from . import postgres

    if not target.database_url.get_secret_value() or not target.chroma_url:
        raise BackendError("migrate needs ASSISTANT_DATABASE_URL and ASSISTANT_CHROMA_URL for the target")
    if not source.docstore_path.exists():
        raise BackendError(f"{source.docstore_path} does not exist: nothing to migrate (check --data-dir)")
    db = postgres.database(target)
    docs = postgres.PgDocStore(db)
    postgres.PgKeywordIndex(docs)
    if docs.counts()[0]:
        raise BackendError(f"the database {postgres.describe(db.url)} already holds articles: migrate into an empty one")
    done = Migrated()
    done.vectors = copy_vectors(source, target)
    progress(f"chunk vectors: {done.vectors}")
    done.articles = copy_articles(source, docs)
    progress(f"articles: {done.articles}")
    with db.tx() as conn:
        done.sentences = copy_rows(source.sentences_path, conn, "sentences",  # float16 if the target asks for it
                                   "doc_id, text_hash, n, dim, offsets, vectors",
                                   transform=lambda row: postgres.sentence_row_as(row, target.sentence_vectors_dtype))
        model = sqlite_rows(source.sentences_path, "SELECT value FROM meta WHERE key = 'embedding_model'")
        if model:
            conn.execute("INSERT INTO model_meta VALUES ('embedding_model', %s) ON CONFLICT (key) DO UPDATE SET "
                         "value = excluded.value", (model[0][0],))
        done.stories = copy_rows(source.stories_path, conn, "stories",
                                 "doc_id, text_hash, cluster, similarity, minhash, size, chars, date, numbers",
                                 order="rowid")
        done.feedback = copy_rows(source.feedback_path, conn, "feedback", 'id, created_at, channel, "user", rating, '
                                  "comment, question, answer, citations, filters", order="id")
        conn.execute("SELECT setval(pg_get_serial_sequence('feedback', 'id'), greatest(1, (SELECT max(id) FROM "
                     "feedback)))")
    done.feeds, done.watches = copy_following(source, target)
    return done


FOLLOWING = {  # table -> its columns, the same in the SQLite files and in PostgreSQL (parents before children)
    "feeds": "id, url, name, every_s, etag, last_modified, last_poll, next_due, failures, last_result, last_error, "
             "added_at",
    "feed_items": "url, feed_id, doc_id, status, seen_at",
    "watches": "id, question, channel, target, paused, created_at",
    "watch_hits": "id, watch_id, doc_ids, answer, delivery, created_at",
    "watch_seen": "watch_id, doc_id",
}


def copy_following(source: Settings, target: Settings) -> tuple[int, int]:
    """Feeds (with the item URLs handled) and watches (with their answers and the articles each was asked over), ids
    kept, into the target's empty tables; returns (feeds, watches)."""
    from .postgres_following import following_database

    with following_database(target).tx() as conn:
        if conn.execute("SELECT (SELECT count(*) FROM feeds) + (SELECT count(*) FROM watches)").fetchone() != (0,):
            raise BackendError("the database already holds feeds or watches: migrate into an empty one")
        counts = {table: copy_rows(source.feeds_path if table.startswith("feed") else source.watches_path, conn,
                                   table, columns) for table, columns in FOLLOWING.items()}
        for table in ("feeds", "watches", "watch_hits"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), greatest(1, (SELECT max(id) FROM "
                         f"{table})), (SELECT count(*) > 0 FROM {table}))")
    return counts["feeds"], counts["watches"]


def sqlite_rows(path: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on a SQLite file (none when the file or table is absent)."""
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []


def copy_rows(path: Any, conn: Any, table: str, columns: str, order: str = "",
              transform: Callable[[tuple[Any, ...]], tuple[Any, ...]] = lambda row: row) -> int:
    """Copy a SQLite table into the same-named PostgreSQL table (each row through ``transform``)."""
    rows = sqlite_rows(path, f"SELECT {columns.replace(chr(34) + 'user' + chr(34), 'user')} FROM {table}"
                             + (f" ORDER BY {order}" if order else ""))
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(transform(row))
    return len(rows)


def copy_articles(source: Settings, docs: Any) -> int:
    """Articles and chunk offsets, with their content hashes (the keyword postings are written as they go in)."""
    from ..store import DocStore

    src = DocStore(source.docstore_path)
    try:
        hashes = dict(sqlite_rows(source.docstore_path, "SELECT doc_id, content_hash FROM articles"))
        for info in src.list_docs():
            article = src.get(info.doc_id)
            if article is not None:
                docs.put(article, hashes[info.doc_id], src.chunks_of(info.doc_id))
        return len(hashes)
    finally:
        src.close()


def copy_vectors(source: Settings, target: Settings) -> int:
    """The chunk vectors and their metadata, page by page, into a collection of the same name and configuration."""
    from ..store import HNSW_EF_SEARCH, chroma_client

    src = chroma_client(source).get_collection(source.collection)
    dst_client = chroma_client(target)
    if target.collection in {c.name for c in dst_client.list_collections()}:
        raise BackendError(f"the Chroma server already has a collection {target.collection!r}: migrate into an empty "
                           "one (or set ASSISTANT_COLLECTION)")
    dst = dst_client.create_collection(target.collection, metadata=src.metadata,
                                       configuration={"hnsw": {"space": "cosine", "ef_search": HNSW_EF_SEARCH}})
    copied, offset = 0, 0
    while True:
        page = src.get(include=["embeddings", "metadatas"], limit=PAGE, offset=offset)
        if not page["ids"]:
            return copied
        dst.upsert(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"])
        copied += len(page["ids"])
        offset += PAGE
