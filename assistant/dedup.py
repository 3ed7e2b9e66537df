"""Duplicate stories: exact copies stored once, near-duplicates (MinHash/LSH over shingles) kept as clusters.

At ingest, an article whose normalised text equals a stored one is not stored again (reported as
``duplicate``); an article whose character-shingle Jaccard similarity to a stored one reaches the threshold
joins that article's cluster. When answering, ``collapse`` quotes a story once and lists every member's
title, date and source under the kept quote.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .loading import headline_end
from .types import Article, Citation, SourceRef

if TYPE_CHECKING:
    from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SCHEME = "affine32"  # stored signatures are read back with the scheme that made them (datasketch 2)
SHINGLE_CHARS = 5
DEFAULT_THRESHOLD = 0.8  # containment of the shorter text's shingles in the longer's
CANDIDATE_JACCARD = 0.25  # LSH threshold for candidates (a short copy inside a long one has a low Jaccard)
MIN_CHARS = 200  # shorter texts are template bulletins («освободила населенный пункт X»): exact copies only
MAX_DAYS = 1  # reports of one story further apart than this are different events (a daily bulletin)
MAX_RATIO = 3.0  # a text over 3x longer than the other is a digest that contains it, not the same report

_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w.-]+\.(?:ly|in|me|ru|com)/\S*", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_NUMBER = re.compile(r"\d+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    doc_id TEXT PRIMARY KEY,
    text_hash TEXT NOT NULL,
    cluster TEXT NOT NULL,
    similarity REAL NOT NULL DEFAULT 1.0,
    minhash BLOB NOT NULL,
    size INTEGER NOT NULL,
    chars INTEGER NOT NULL,
    date TEXT,
    numbers TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_hash ON stories(text_hash);
CREATE INDEX IF NOT EXISTS stories_cluster ON stories(cluster);
"""


def normalise(text: str) -> str:
    """Text as compared: NFKC, lower case, ё→е, links and markup dropped, words joined by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    text = _URL.sub(" ", text)
    return " ".join(_NON_WORD.sub(" ", text).replace("_", " ").split())


def text_hash(text: str) -> str:
    """Hash of the normalised text: equal for exact duplicates (whitespace, case and markup aside)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = SHINGLE_CHARS) -> set[str]:
    """Character n-grams of the normalised text (the whole text when shorter)."""
    norm = normalise(text)
    if len(norm) <= size:
        return {norm} if norm else set()
    return {norm[i:i + size] for i in range(len(norm) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    return len(a & b) / len(a | b) if a or b else 1.0


def minhash(text: str, num_perm: int = NUM_PERM) -> MinHash:
    """The MinHash signature of a text's shingles."""
    from datasketch import MinHash

    sig = MinHash(num_perm=num_perm, scheme=SCHEME)
    sig.update_batch([s.encode("utf-8") for s in shingles(text)])
    return sig


@dataclass(frozen=True)
class Profile:
    """What the near-duplicate rules compare besides the signature: sizes, date and the numbers mentioned."""

    size: int  # shingles
    chars: int  # normalised characters
    date: str | None
    numbers: frozenset[str]


def story_text(article: Article) -> str:
    """What is compared: the text without its headline line (outlets headline one story differently), unless the
    headline is all there is."""
    start = headline_end(article.text, article.title)
    return article.text[start:] if start < len(article.text) else article.text


def profile(article: Article, text: str) -> Profile:
    """An article's profile, from its compared text (``story_text``)."""
    norm = normalise(text)
    return Profile(len(shingles(text)), len(norm), article.date, frozenset(_NUMBER.findall(norm)))


def containment(jac: float, a: Profile, b: Profile) -> float:
    """The share of the shorter text's shingles found in the longer one, from their Jaccard similarity."""
    inter = jac * (a.size + b.size) / (1 + jac)
    return min(1.0, inter / max(1, min(a.size, b.size)))


def days_apart(a: str | None, b: str | None) -> int:
    """Days between two ISO dates (0 when either is unknown)."""
    from datetime import date

    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) if a and b else 0


def same_story(jac: float, a: Profile, b: Profile, threshold: float = DEFAULT_THRESHOLD) -> float:
    """The similarity when two texts are one story (else 0): most of the shorter is in the longer, both are long
    enough not to be a template, of similar length (not a digest), at most a day apart, and neither mentions numbers the other contradicts."""
    sim = containment(jac, a, b)
    short, long = sorted((a.chars, b.chars))
    if sim < threshold or short < MIN_CHARS or long > MAX_RATIO * short or days_apart(a.date, b.date) > MAX_DAYS:
        return 0.0
    if a.numbers and b.numbers and not (a.numbers <= b.numbers or b.numbers <= a.numbers):
        return 0.0  # «евро превысил 115 рублей» vs «… 120 рублей»: another report
    return sim


@dataclass(frozen=True)
class Match:
    """What ingest learned about an article: an exact copy of, or a near-duplicate of, a stored one."""

    kind: str  # "new", "exact" or "near"
    of: str = ""  # the stored article's doc_id
    similarity: float = 0.0
    cluster: str = ""


class StoryIndex:
    """Clusters of near-duplicate stories in a small SQLite table, with an in-memory LSH index over it."""

    def __init__(self, path: Path, threshold: float = DEFAULT_THRESHOLD) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + _SCHEMA)
        self._start(threshold)

    def _start(self, threshold: float) -> None:
        """The in-memory part: the LSH index (built on first use) and the claims of the running batch."""
        self.threshold = threshold
        self._lock = threading.RLock()
        self._lsh: MinHashLSH | None = None
        self._sigs: dict[str, MinHash] = {}
        self._profiles: dict[str, Profile] = {}
        self._claimed: dict[str, str] = {}  # text hash -> doc_id, for copies inside one ingest batch

    def _index(self) -> MinHashLSH:
        """The LSH index, built from the stored signatures on first use."""
        from datasketch import MinHashLSH

        if self._lsh is None:
            self._lsh = MinHashLSH(threshold=CANDIDATE_JACCARD, num_perm=NUM_PERM)
            self._load(self._stored_rows())
        return self._lsh

    def reload(self) -> None:
        """Forget the in-memory index (another process changed the table); it is rebuilt on next use."""
        with self._lock:
            self._lsh, self._sigs, self._profiles = None, {}, {}

    def _load(self, rows: Iterable[tuple[str, bytes, int, int, str | None, str]]) -> None:
        """Put stored rows (doc_id, minhash, size, chars, date, numbers) into the LSH index."""
        from datasketch import MinHash

        assert self._lsh is not None
        for doc_id, blob, size, chars, day, numbers in rows:
            sig = MinHash(num_perm=NUM_PERM, hashvalues=np.frombuffer(blob, dtype=np.uint64), scheme=SCHEME)
            self._lsh.insert(doc_id, sig)
            self._sigs[doc_id] = sig
            self._profiles[doc_id] = Profile(size, chars, day, frozenset(numbers.split()))

    # ---- the table (a PostgreSQL backend overrides these) ----------------------------------------------------

    def _stored_rows(self) -> list[tuple[str, bytes, int, int, str | None, str]]:
        return self._db.execute("SELECT doc_id, minhash, size, chars, date, numbers FROM stories").fetchall()

    def _exact_copy(self, digest: str, article: Article) -> str | None:
        row = self._db.execute(
            "SELECT doc_id FROM stories WHERE text_hash = ? AND doc_id != ? AND (date IS NULL OR ? IS NULL "
            "OR date = ?) LIMIT 1", (digest, article.doc_id, article.date, article.date)).fetchone()
        return str(row[0]) if row else None

    def _has(self, doc_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM stories WHERE doc_id = ?", (doc_id,)).fetchone() is not None

    def _insert(self, row: tuple[object, ...]) -> None:
        self._db.execute("INSERT INTO stories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        self._db.commit()

    def _delete(self, doc_id: str, commit: bool) -> None:
        self._db.execute("DELETE FROM stories WHERE doc_id = ?", (doc_id,))
        if commit:
            self._db.commit()

    def _clusters(self, ids: list[str]) -> dict[str, str]:
        return dict(self._db.execute(
            f"SELECT doc_id, cluster FROM stories WHERE doc_id IN ({','.join('?' * len(ids))})", ids).fetchall())

    def _members(self, cluster: str) -> list[str]:
        rows = self._db.execute("SELECT doc_id FROM stories WHERE cluster = ? ORDER BY rowid", (cluster,))
        return [str(r[0]) for r in rows]

    def _close(self) -> None:
        self._db.close()

    def claim(self, article: Article) -> str | None:
        """The doc_id of another article with the same normalised text (stored, or earlier in this batch), if
        any; otherwise the text is claimed for this article until ``end_batch``."""
        digest = text_hash(story_text(article))
        with self._lock:
            stored = self._exact_copy(digest, article)
            if stored:
                return stored
            owner = self._claimed.setdefault(f"{digest}:{article.date or ''}", article.doc_id)
        return owner if owner != article.doc_id else None

    def end_batch(self) -> None:
        """Forget the claims of an ingest batch (what was stored is in the table now)."""
        with self._lock:
            self._claimed.clear()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """An ingest batch: its claims are forgotten when it ends, however it ends."""
        try:
            yield
        finally:
            self.end_batch()

    def has(self, doc_id: str) -> bool:
        """Whether the article is indexed."""
        with self._lock:
            return self._has(doc_id)

    def add(self, article: Article) -> Match:
        """Index a stored article; it joins the cluster of its most similar stored article above the threshold."""
        text = story_text(article)
        sig, prof = minhash(text), profile(article, text)
        with self._lock:
            self.remove(article.doc_id, commit=False)
            lsh = self._index()
            sims = {other: same_story(sig.jaccard(self._sigs[other]), prof, self._profiles[other], self.threshold)
                    for other in lsh.query(sig)}
            best, cluster = self._best_cluster(sims)
            best_sim = sims.get(best, 0.0)
            cluster = cluster or article.doc_id
            self._insert((article.doc_id, text_hash(text), cluster, best_sim or 1.0,
                          sig.hashvalues.astype(np.uint64).tobytes(), prof.size, prof.chars, prof.date,
                          " ".join(sorted(prof.numbers))))
            lsh.insert(article.doc_id, sig)
            self._sigs[article.doc_id] = sig
            self._profiles[article.doc_id] = prof
        return Match("near", best, best_sim, cluster) if best else Match("new", cluster=cluster)

    def _best_cluster(self, sims: dict[str, float]) -> tuple[str, str]:
        """The best-matching article and its cluster, among clusters whose every member is one story with the new
        article (complete linkage: a digest or a chain of partial overlaps joins nothing); ("", "") if none."""
        matched = sorted((o for o, sim in sims.items() if sim > 0), key=lambda o: -sims[o])
        clusters = self.cluster_of(matched)
        for doc_id in matched:
            if all(sims.get(m, 0.0) > 0 for m in self.members(clusters[doc_id])):
                return doc_id, clusters[doc_id]
        return "", ""

    def remove(self, doc_id: str, commit: bool = True) -> None:
        """Forget an article (deleted, or about to be re-indexed)."""
        with self._lock:
            if self._lsh is not None and doc_id in self._sigs:
                self._lsh.remove(doc_id)
                del self._sigs[doc_id], self._profiles[doc_id]
            self._delete(doc_id, commit)

    def cluster_of(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Each article's cluster id (its own doc_id when it has no near-duplicate or is not indexed)."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        with self._lock:
            rows = self._clusters(ids)
        return {d: str(rows.get(d, d)) for d in ids}

    def members(self, cluster: str) -> list[str]:
        """The doc_ids of a cluster, in the order they were stored."""
        with self._lock:
            return self._members(cluster)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._close()


def source_ref(article: Article) -> SourceRef:
    """An article's title, date, source and url, as listed under a collapsed quote."""
    return SourceRef(article.doc_id, article.title, article.date, article.source, article.url)


def collapse(citations: list[Citation], clusters: dict[str, str],
             members: Callable[[str], list[SourceRef]]) -> list[Citation]:
    """Quote each story once: citations of a cluster's other articles are dropped, its members listed under
    the first one (``also``), and the remaining citations renumbered 1..n in their order."""
    kept: list[Citation] = []
    story_doc: dict[str, str] = {}  # cluster -> the doc whose quotes are kept
    for cit in citations:
        cluster = clusters.get(cit.doc_id, cit.doc_id)
        if story_doc.setdefault(cluster, cit.doc_id) == cit.doc_id:
            kept.append(cit)
    out, listed = [], set()
    for n, cit in enumerate(kept, start=1):
        cluster = clusters.get(cit.doc_id, cit.doc_id)
        also: tuple[SourceRef, ...] = ()
        if cluster not in listed:
            listed.add(cluster)
            also = tuple(m for m in members(cluster) if m.doc_id != cit.doc_id)
        out.append(replace(cit, n=n, also=also))
    return out


def renumber_text(text: str, before: list[Citation], after: list[Citation]) -> str:
    """Rewrite ``[n]`` references in an answer text after ``collapse`` (a dropped quote → its story's quote)."""
    new_n = {(c.doc_id, c.start): c.n for c in after}
    first_of_doc: dict[str, int] = {}
    for c in after:
        first_of_doc.setdefault(c.doc_id, c.n)
        for ref in c.also:
            first_of_doc.setdefault(ref.doc_id, c.n)
    mapping = {c.n: new_n.get((c.doc_id, c.start), first_of_doc.get(c.doc_id, c.n)) for c in before}
    return re.sub(r"\[(\d+)\]", lambda m: f"[{mapping.get(int(m.group(1)), int(m.group(1)))}]", text)
