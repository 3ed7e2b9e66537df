"""Agreement of the indexes with the article store: ``assistant check`` finds orphans and gaps, ``--repair`` fixes them.

The article store (SQLite) is the source of truth: an index may hold only chunk ids of stored articles, and must
hold all of them. Each index is a small adapter listing the ids it holds, deleting given ids and re-adding stored
articles; a new persistent index joins the check by being added to ``indexes_of``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .keyword import FtsKeywordIndex
    from .pipeline import Assistant
    from .types import Article, Chunk


class Index(Protocol):
    """One derived index of the stored chunks."""

    name: str

    def ids(self) -> set[str]:
        """The chunk ids (``doc_id:idx``) it holds."""

    def delete(self, ids: set[str]) -> None:
        """Remove these chunk ids."""

    def restore(self, articles: list[tuple[Article, list[Chunk]]]) -> None:
        """(Re-)add these stored articles' chunks."""


class ChromaIndex:
    """The chunk vectors in Chroma."""

    name = "chroma"

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.vectors = assistant.vectors

    def ids(self) -> set[str]:
        """Every chunk id in the collection."""
        return self.vectors.all_ids()

    def delete(self, ids: set[str]) -> None:
        """Remove vectors by id."""
        self.vectors.delete_ids(sorted(ids))

    def restore(self, articles: list[tuple[Article, list[Chunk]]]) -> None:
        """Embed and store the articles' chunks (and their sentences) again."""
        for article, chunks in articles:
            self.assistant._embed_and_index([(article, chunks)])


class KeywordIndex:
    """The FTS5 keyword index beside the articles (written in the article's own transaction)."""

    name = "keyword"

    def __init__(self, assistant: Assistant, fts: FtsKeywordIndex) -> None:
        self.docstore = assistant.docstore
        self.fts = fts

    def ids(self) -> set[str]:
        """The chunk ids with indexed terms."""
        with self.docstore.read() as conn:
            return {f"{d}:{i}" for d, i in conn.execute("SELECT doc_id, idx FROM chunk_terms")}

    def delete(self, ids: set[str]) -> None:
        """Remove indexed rows by chunk id."""
        pairs = [tuple(c.rsplit(":", 1)) for c in ids]
        with self.docstore.write() as conn:
            conn.executemany("DELETE FROM chunk_terms WHERE doc_id = ? AND idx = ?", [(d, int(i)) for d, i in pairs])

    def restore(self, articles: list[tuple[Article, list[Chunk]]]) -> None:
        """Index the articles' chunks again."""
        with self.docstore.write() as conn:
            for article, chunks in articles:
                self.fts.on_put(conn, article, chunks)


class SentenceIndex:
    """The stored sentence vectors (one entry per article; reported as the article's chunk ids)."""

    name = "sentences"

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def ids(self) -> set[str]:
        """Chunk ids of the articles whose sentences are stored (``doc:0`` for an article the store lacks)."""
        by_doc: dict[str, list[str]] = defaultdict(list)
        for chunk in self.assistant.docstore.all_chunks():
            by_doc[chunk.doc_id].append(chunk.chunk_id)
        return {c for d in self.assistant.sentences.doc_ids() for c in by_doc.get(d, [f"{d}:0"])}

    def delete(self, ids: set[str]) -> None:
        """Remove the articles' sentences."""
        for doc_id in {c.rsplit(":", 1)[0] for c in ids}:
            self.assistant.sentences.delete_doc(doc_id)

    def restore(self, articles: list[tuple[Article, list[Chunk]]]) -> None:
        """Embed and store the articles' sentences again."""
        from .chunking import sentence_spans

        for article, _ in articles:
            self.assistant.sentences.sentence_vectors(article, sentence_spans(article.text))


def indexes_of(assistant: Assistant) -> list[Index]:
    """The indexes checked against the article store."""
    from .keyword import FtsKeywordIndex

    keyword = assistant.retriever.keyword  # an external keyword engine is checked by its own tools
    fts = [KeywordIndex(assistant, keyword)] if isinstance(keyword, FtsKeywordIndex) else []
    return [ChromaIndex(assistant), *fts, SentenceIndex(assistant)]


@dataclass
class IndexCheck:
    """One index against the store: ids it holds that the store does not know, and stored ids it lacks."""

    name: str
    held: int
    orphans: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """Whether the index agrees exactly with the store."""
        return not self.orphans and not self.missing

    def line(self, repaired: bool) -> str:
        """One line for the report."""
        if self.ok:
            return f"{self.name}: {self.held} chunks, agrees with the article store"
        verb = ("removed", "re-added") if repaired else ("orphan", "missing")
        return (f"{self.name}: {self.held} chunks; {len(self.orphans)} {verb[0]} "
                f"({docs(self.orphans)} articles not in the store), {len(self.missing)} {verb[1]} "
                f"({docs(self.missing)} stored articles)")


@dataclass
class CheckReport:
    """The article store's counts and each index's agreement with it."""

    documents: int
    chunks: int
    indexes: list[IndexCheck]
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """Whether every index agrees (before any repair)."""
        return all(i.ok for i in self.indexes)

    def lines(self) -> list[str]:
        """Human-readable report."""
        out = [f"article store: {self.documents} articles, {self.chunks} chunks"]
        out += [i.line(self.repaired) for i in self.indexes]
        if not self.ok and not self.repaired:
            out.append("run `assistant check --repair` to remove the orphans and re-add what is missing")
        return out


def docs(chunk_ids: Iterable[str]) -> int:
    """How many articles these chunk ids belong to."""
    return len({c.rsplit(":", 1)[0] for c in chunk_ids})


def check(assistant: Assistant, repair: bool = False) -> CheckReport:
    """Compare every index with the article store; with ``repair``, make them agree."""
    with assistant._write_lock:
        stored = assistant.docstore.all_chunks()
        truth = {c.chunk_id for c in stored}
        results = []
        for index in indexes_of(assistant):
            held = index.ids()
            result = IndexCheck(index.name, len(held), held - truth, truth - held)
            if repair and not result.ok:
                fix(assistant, index, result, stored)
            results.append(result)
    documents, chunks = assistant.docstore.counts()
    return CheckReport(documents, chunks, results, repaired=repair)


def fix(assistant: Assistant, index: Index, result: IndexCheck, stored: list[Chunk]) -> None:
    """Delete the orphans, re-add the articles with missing chunks."""
    if result.orphans:
        index.delete(result.orphans)
    if result.missing:
        by_doc: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in stored:
            by_doc[chunk.doc_id].append(chunk)
        wanted = sorted({c.rsplit(":", 1)[0] for c in result.missing})
        articles = [(a, by_doc[d]) for d in wanted if (a := assistant.docstore.get(d)) is not None]
        index.restore(articles)


class WriteMarker:
    """A file naming the process that is writing; found when that process is gone, it means a crash mid-write."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self) -> None:
        """A write begins."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(str(os.getpid()), encoding="ascii")

    def clear(self) -> None:
        """The write finished."""
        self.path.unlink(missing_ok=True)

    def crashed(self) -> bool:
        """Whether a write was left unfinished: the marker is there and its process is this one or gone."""
        try:
            pid = int(self.path.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True
        return pid in (0, os.getpid()) or not process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
