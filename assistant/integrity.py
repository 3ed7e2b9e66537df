"""Agreement of the indexes with the article store: ``assistant check`` finds orphans and gaps, ``--repair`` fixes them.

The article store is the source of truth: an index may hold only chunk ids of stored articles, and must hold all of
them. Each index is a small adapter listing the ids it holds, deleting given ids and re-adding stored articles; a new
persistent index joins the check by being added to ``indexes_of``. What the check needs of the assistant (its
stores, the writers' guard and how to embed an article again) is the ``Checked`` interface: this module imports
nothing of the pipeline, which imports it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .backends import ArticleStore, CheckedKeywordIndex, SentenceVectorStore, WriteGuard
    from .keyword import KeywordSearch
    from .store import VectorStore
    from .types import Article, Chunk


class Checked(Protocol):
    """What a check needs: the stores, the writers' guard, and the repair that embeds articles again."""

    @property
    def docstore(self) -> ArticleStore: ...
    @property
    def vectors(self) -> VectorStore: ...
    @property
    def sentences(self) -> SentenceVectorStore: ...
    @property
    def keyword(self) -> KeywordSearch: ...
    @property
    def marker(self) -> WriteGuard: ...

    def reindex(self, items: list[tuple[Article, list[Chunk]]]) -> None:
        """Embed and store these articles' chunk and sentence vectors."""


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

    def __init__(self, assistant: Checked) -> None:
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
            self.assistant.reindex([(article, chunks)])


class KeywordIndex:
    """The keyword index beside the articles (written in the article's own transaction)."""

    name = "keyword"

    def __init__(self, index: CheckedKeywordIndex) -> None:
        self.index = index

    def ids(self) -> set[str]:
        """The chunk ids with indexed terms."""
        return self.index.chunk_ids()

    def delete(self, ids: set[str]) -> None:
        """Remove indexed rows by chunk id."""
        self.index.delete_chunks(ids)

    def restore(self, articles: list[tuple[Article, list[Chunk]]]) -> None:
        """Index the articles' chunks again."""
        self.index.reindex(articles)


class SentenceIndex:
    """The stored sentence vectors (one entry per article; reported as the article's chunk ids)."""

    name = "sentences"

    def __init__(self, assistant: Checked) -> None:
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


def indexes_of(assistant: Checked) -> list[Index]:
    """The indexes checked against the article store."""
    from .backends import CheckedKeywordIndex

    keyword = assistant.keyword  # an external keyword engine is checked by its own tools
    own = [KeywordIndex(keyword)] if isinstance(keyword, CheckedKeywordIndex) else []
    return [ChromaIndex(assistant), *own, SentenceIndex(assistant)]


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
    deferred: bool = False  # a repair was asked for while another writer was active

    @property
    def ok(self) -> bool:
        """Whether every index agrees (before any repair)."""
        return all(i.ok for i in self.indexes)

    def lines(self) -> list[str]:
        """Human-readable report."""
        out = [f"article store: {self.documents} articles, {self.chunks} chunks"]
        out += [i.line(self.repaired) for i in self.indexes]
        if self.deferred:
            out.append("another writer is active: nothing was repaired; run `assistant check --repair` when it ends")
        elif not self.ok and not self.repaired:
            out.append("run `assistant check --repair` to remove the orphans and re-add what is missing")
        return out


def docs(chunk_ids: Iterable[str]) -> int:
    """How many articles these chunk ids belong to."""
    return len({c.rsplit(":", 1)[0] for c in chunk_ids})


def check(assistant: Checked, repair: bool = False) -> CheckReport:
    """Compare every index with the article store; with ``repair``, make them agree (only while no other writer is
    active: what a running writer has half-stored is not a crash's leftover)."""
    if not repair:
        return compare(assistant, repair=False)
    with assistant.marker.repairing() as alone:
        if not alone:
            report = compare(assistant, repair=False)
            report.deferred = True
            return report
        report = compare(assistant, repair=True)
        assistant.marker.forget_crashed()
        return report


def compare(assistant: Checked, repair: bool) -> CheckReport:
    """Each index against the article store (repairing it when asked)."""
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


def fix(assistant: Checked, index: Index, result: IndexCheck, stored: list[Chunk]) -> None:
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
