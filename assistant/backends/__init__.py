"""Where shared state lives: small interfaces for each store and one factory keyed by ``ASSISTANT_DATABASE_URL``.

Unset, every store is today's SQLite file in the data dir (``embedded``); ``postgresql://…`` puts them all in one
PostgreSQL database (``postgresql``), so that app replicas and ingest workers on several machines share them.
Chunk vectors stay in Chroma either way (embedded, or a Chroma server through ``ASSISTANT_CHROMA_URL``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable
from urllib.parse import urlparse

if TYPE_CHECKING:
    import numpy as np

    from ..chunking import Span
    from ..dedup import Match
    from ..embedding import Embedder
    from ..feedback import FeedbackRecord
    from ..keyword import KeywordSearch
    from ..settings import Settings
    from ..types import Answer, Article, Chunk, DocInfo


class BackendError(RuntimeError):
    """The configured store cannot be used (unreachable, refused, or of a newer schema): the message says why."""


class ArticleStore(Protocol):
    """Article texts and chunk offsets (the source of truth), and the store version that tells readers to refresh."""

    def content_hash(self, doc_id: str) -> str | None: ...
    def put(self, article: Article, content_hash: str, chunks: Sequence[Chunk]) -> None: ...
    def delete(self, doc_id: str) -> None: ...
    def version(self) -> int: ...
    def get(self, doc_id: str) -> Article | None: ...
    def all_chunks(self) -> list[Chunk]: ...
    def chunks_of(self, doc_id: str) -> list[Chunk]: ...
    def chunks_by_ids(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]: ...
    def list_docs(self) -> list[DocInfo]: ...
    def doc_ids_with_path_prefix(self, prefixes: Sequence[str]) -> list[tuple[str, str]]: ...
    def counts(self) -> tuple[int, int]: ...
    def has_dates(self) -> bool: ...
    def changed_elsewhere(self) -> bool: ...
    def dates_on(self, month: int, day: int) -> list[str]: ...
    def undated(self) -> int: ...
    def sources(self) -> dict[str, int]: ...
    def close(self) -> None: ...


@runtime_checkable
class CheckedKeywordIndex(Protocol):
    """A keyword index kept by the assistant itself, so ``assistant check`` compares and repairs it."""

    def chunk_ids(self) -> set[str]: ...
    def delete_chunks(self, ids: set[str]) -> None: ...
    def reindex(self, articles: Sequence[tuple[Article, Sequence[Chunk]]]) -> None: ...


class SentenceVectorStore(Protocol):
    """Sentence offsets and passage vectors per article (the quote candidates)."""

    def put(self, doc_id: str, text: str, spans: Sequence[Span], vectors: np.ndarray) -> None: ...
    def sentence_spans(self, article: Article) -> list[Span]: ...
    def sentence_vectors(self, article: Article, spans: Sequence[Span]) -> np.ndarray: ...
    def delete_doc(self, doc_id: str) -> None: ...
    def doc_ids(self) -> list[str]: ...
    def count(self) -> int: ...
    def close(self) -> None: ...


class StoryStore(Protocol):
    """Clusters of near-duplicate stories."""

    def claim(self, article: Article) -> str | None: ...
    def batch(self) -> AbstractContextManager[None]: ...
    def has(self, doc_id: str) -> bool: ...
    def add(self, article: Article) -> Match: ...
    def remove(self, doc_id: str, commit: bool = True) -> None: ...
    def cluster_of(self, doc_ids: Iterable[str]) -> dict[str, str]: ...
    def members(self, cluster: str) -> list[str]: ...
    def reload(self) -> None: ...
    def close(self) -> None: ...


class FeedbackLog(Protocol):
    """Ratings of answers from the web chat, the API and Slack."""

    def add(self, *, channel: str, rating: int, answer: Answer | dict[str, Any], comment: str = "",
            user: str = "") -> int: ...
    def set_comment(self, feedback_id: int, comment: str) -> None: ...
    def all(self) -> list[FeedbackRecord]: ...
    def export(self, out: TextIO, fmt: str = "jsonl") -> int: ...
    def close(self) -> None: ...


class SeenStore(Protocol):
    """Keys of handled Slack requests, so a retry or replay is answered once."""

    def first_time(self, key: str) -> bool: ...
    def close(self) -> None: ...


class WriteGuard(Protocol):
    """Who is writing: each writer marks its write (seen as unfinished if the writer dies), and a repair runs only
    when no other writer is active."""

    def set(self) -> None:
        """A write by this process begins (nested calls count)."""

    def clear(self) -> None:
        """This process's write finished."""

    def crashed(self) -> bool:
        """Whether a writer that is gone left a write unfinished."""

    def repairing(self) -> AbstractContextManager[bool]:
        """Exclusive access for a repair: yields False (and waits for nothing) when another writer is active."""

    def forget_crashed(self) -> None:
        """Drop the marks of writers that are gone (after a repair)."""


BACKENDS = {"embedded": "assistant.backends.embedded", "postgresql": "assistant.backends.postgres"}
# feeds and standing questions: the same choice; their PostgreSQL tables sit in a module built on ``postgres``
FOLLOWING_BACKENDS = {"embedded": "assistant.backends.embedded", "postgresql": "assistant.backends.postgres_following"}
SCHEMES = {"": "embedded", "postgresql": "postgresql", "postgres": "postgresql"}


def backend_name(settings: Settings) -> str:
    """The backend the settings choose: ``embedded`` without ASSISTANT_DATABASE_URL, else by the URL's scheme."""
    scheme = urlparse(settings.database_url.get_secret_value()).scheme
    if scheme not in SCHEMES:
        raise BackendError(f"ASSISTANT_DATABASE_URL: unknown scheme {scheme!r}; use postgresql://user:password@host/db "
                           "or leave it unset for the embedded SQLite stores")
    return SCHEMES[scheme]


def backend(settings: Settings) -> Any:
    """The module implementing the chosen backend (imported only now: a backend's libraries load only when used)."""
    return import_module(BACKENDS[backend_name(settings)])


def following_backend(settings: Settings) -> Any:
    """The module implementing the feed and watch stores of the chosen backend (imported only now)."""
    return import_module(FOLLOWING_BACKENDS[backend_name(settings)])


def open_articles(settings: Settings) -> ArticleStore:
    """The article store."""
    return backend(settings).open_articles(settings)


def open_keyword(settings: Settings, articles: ArticleStore) -> KeywordSearch:
    """The keyword index over the stored chunks, written in the article's own transaction."""
    return backend(settings).open_keyword(settings, articles)


def open_sentences(settings: Settings, embedder: Embedder) -> SentenceVectorStore:
    """The sentence-vector store."""
    return backend(settings).open_sentences(settings, embedder)


def open_stories(settings: Settings) -> StoryStore:
    """The duplicate-story index."""
    return backend(settings).open_stories(settings)


def open_feedback(settings: Settings) -> FeedbackLog:
    """The feedback store."""
    return backend(settings).open_feedback(settings)


def open_seen(settings: Settings) -> SeenStore:
    """The Slack request de-duplication window."""
    return backend(settings).open_seen(settings)


def open_write_guard(settings: Settings) -> WriteGuard:
    """The writers' marks and lock."""
    return backend(settings).open_write_guard(settings)
