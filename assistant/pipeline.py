"""Wires the stages together: ``Assistant`` is what the CLI, the web app and the Slack bot all call."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .chunking import SentenceSplitter, chunk_article
from .conversation import anchor_articles, carry_over, is_follow_up, last_question, refers_back
from .dates import filters_from_question, named_days
from .loading import Limits, LoadError, Shard, file_key, load_paths
from .types import (
    Answer,
    Article,
    Chunk,
    DocInfo,
    FileResult,
    Filters,
    Hit,
    IngestReport,
    SourceRef,
    Stats,
    Trace,
    Turn,
)

if TYPE_CHECKING:
    import numpy as np

    from .answering import ExtractiveAnswerer
    from .answering.answerer import Scored
    from .backends import ArticleStore, SentenceVectorStore, StoryStore, WriteGuard
    from .embedding import Embedder
    from .generating import LLMWriter
    from .keyword import KeywordSearch
    from .retrieving import HybridRetriever, Snapshot
    from .settings import Settings
    from .store import VectorStore

log = logging.getLogger("assistant.pipeline")
Progress = Callable[[str, int, int], None]  # ("articles", done, total) and ("chunks", stored so far, 0)
EMBED_BATCH_CHUNKS = 64
MAX_ANCHOR_DEPTH = 3  # follow-ups of follow-ups: how far back the previous answers are recomputed
MAX_NAMED_DAYS = 2  # days a question names that are searched on their own (and dates per day: latest first)


@dataclass
class Searched:
    """What the quotes are scored against: the query, its vector, and the chunks to quote from."""

    query: str
    vector: np.ndarray
    hits: list[Hit]
    context: Searched | None = None  # an anchored follow-up: the conversation's query, which decides declining


class Assistant:
    """The question-answering assistant over a stored corpus of news articles."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 clock: Callable[[], date] = date.today) -> None:
        from . import backends
        from .answering import ExtractiveAnswerer
        from .embedding import make_embedder
        from .generating import make_writer
        from .retrieving import HybridRetriever
        from .store import VectorStore

        self.settings = settings
        self.clock = clock  # "today", for dates named relatively in questions («вчера»)
        self.embedder: Embedder = embedder or make_embedder(settings)
        self.docstore: ArticleStore = backends.open_articles(settings)
        self.vectors: VectorStore = VectorStore(settings, self.embedder)
        self.retriever: HybridRetriever = HybridRetriever(self.docstore, self.vectors,
                                                          backends.open_keyword(settings, self.docstore))
        self.retriever.warm_up()  # the first question is no slower than the next ones
        self.sentences: SentenceVectorStore = backends.open_sentences(settings, self.embedder)
        self.answerer: ExtractiveAnswerer = ExtractiveAnswerer(self.embedder, settings, sentence_vectors=self.sentences)
        self.answerer.warm_up()
        self.splitter = SentenceSplitter(settings.chunk_chars, settings.chunk_overlap_sentences)
        self.writer: LLMWriter | None = make_writer(settings)  # optional generative answers, off by default
        self.stories: StoryStore = backends.open_stories(settings)  # duplicate stories
        self._write_lock = threading.RLock()  # re-entrant: a repair (integrity.check) runs inside an ingest
        self.marker: WriteGuard = backends.open_write_guard(settings)  # marks a write under way, per writer
        self.ingest_listeners: list[Callable[[list[FileResult]], None]] = []  # e.g. standing questions (watches)

    # ---- ingestion -------------------------------------------------------------------------------------------

    def ingest(self, paths: Sequence[Path], prune: bool = False, progress: Progress | None = None,
               shard: Shard | None = None) -> IngestReport:
        """Load, chunk, embed and store every article under the paths (only ``shard``'s, when given: one of several
        workers); unchanged articles are skipped."""
        report = IngestReport()
        seen: set[str] = set()
        shard = shard or Shard()
        articles = []
        for item in load_paths(paths, self.limits()):
            if isinstance(item, LoadError):
                if shard.holds(item.path):  # each worker reports its own share of the failures
                    report.results.append(FileResult(path=item.path, status="failed", reason=item.reason))
                continue
            seen.add(item.doc_id)
            if shard.holds(item.doc_id):
                articles.append(item)
        report.results.extend(self.ingest_articles(articles, progress))
        if prune:
            report.results.extend(self.prune(paths, seen, shard))
        return report

    def limits(self) -> Limits:
        """The loader's size limits from the settings."""
        return Limits(max_file_bytes=int(self.settings.max_file_mb * 2**20),
                      max_article_chars=self.settings.max_article_chars)

    def recover(self) -> None:
        """After a write that did not finish (a crash), make the indexes agree with the article store again."""
        if not self.marker.crashed():
            return
        from .integrity import check

        report = check(self, repair=True)
        if not report.ok:
            log.warning("an earlier write did not finish; %s: %s", "deferred" if report.deferred else "repaired",
                        "; ".join(report.lines()[1:]))

    def follow_other_writers(self) -> None:
        """After another process (``assistant ingest`` beside the web app) wrote the store, re-read what this one
        keeps in memory of it: the embedded Chroma client's view of the collection, the stories' index."""
        if self.docstore.changed_elsewhere():
            log.info("the store was changed by another process: reopening the vector index")
            self.vectors.reopen()
            self.stories.reload()

    def ingest_articles(self, articles: Iterable[Article], progress: Progress | None = None) -> list[FileResult]:
        """Store articles (new or changed), in batches so that embedding runs on many chunks at once."""
        results: list[FileResult] = []
        pending: list[tuple[Article, str, list[Chunk]]] = []
        articles = list(articles)
        with self._write_lock, self.stories.batch():  # exact copies inside this batch are caught too
            self.follow_other_writers()
            self.recover()  # under the lock: a marker seen here is a crashed process's, not a running ingest's
            self.marker.set()
            for done, article in enumerate(articles, start=1):
                digest = self.content_hash(article)
                stored = self.docstore.content_hash(article.doc_id)
                clash = self._id_clash(article) if stored not in (None, digest) else ""
                if clash:
                    results.append(FileResult(article.path, "failed", article.doc_id, article.title, reason=clash))
                elif original := self.stories.claim(article):
                    results.append(FileResult(article.path, "duplicate", article.doc_id, article.title,
                                              reason=f"the same text as {original}: stored once"))
                elif stored == digest:
                    results.append(FileResult(article.path, "unchanged", article.doc_id, article.title,
                                              reason=self._index_story(article, only_new=True)))
                else:
                    pending.append((article, digest, chunk_article(article, self.splitter)))
                if sum(len(c) for _, _, c in pending) >= EMBED_BATCH_CHUNKS or done == len(articles):
                    results.extend(self._store_batch(pending))
                    pending = []
                    if progress:
                        progress("chunks", sum(r.chunks for r in results), 0)
                if progress:
                    progress("articles", done, len(articles))
            self.marker.clear()
        self._tell_listeners(results)
        return results

    def _tell_listeners(self, results: list[FileResult]) -> None:
        """Let the ingest listeners see what was stored (a failing listener is logged, the ingest stands)."""
        if not any(r.status in ("added", "updated") for r in results):
            return
        for listener in list(self.ingest_listeners):
            try:
                listener(results)
            except Exception:  # noqa: BLE001
                log.exception("an ingest listener failed")

    def _id_clash(self, article: Article) -> str:
        """Why an article may not replace the stored one with its id (it came from another file), or ''."""
        stored = self.docstore.get(article.doc_id)
        if stored is None or file_key(stored.path) == file_key(article.path):
            return ""
        return (f"id {article.doc_id!r} is already used by {stored.path}: give this article another id "
                "(or drop its id field); the stored article is kept")

    def content_hash(self, article: Article) -> str:
        """Hash of what an article's stored form depends on (text, metadata, chunking, model)."""
        payload = [article.title, article.date, article.source, article.url, article.text,
                   self.settings.chunk_chars, self.settings.chunk_overlap_sentences, self.embedder.model_id]
        if self.settings.chunk_vectors != "embedded":  # a store of another mode is re-embedded on the next ingest
            payload.append(self.settings.chunk_vectors)
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _store_batch(self, batch: list[tuple[Article, str, list[Chunk]]]) -> list[FileResult]:
        if not batch:
            return []
        existed = {a.doc_id: self.docstore.content_hash(a.doc_id) is not None for a, _, _ in batch}
        try:
            self._embed_and_index([(a, c) for a, _, c in batch])
        except Exception as exc:  # noqa: BLE001 - the batch fails, what was stored stays, the run goes on
            return [self._store_singly(a, h, c, existed[a.doc_id], exc) for a, h, c in batch]
        out = []
        for article, digest, chunks in batch:
            self.docstore.put(article, digest, chunks)
            out.append(FileResult(article.path, "updated" if existed[article.doc_id] else "added",
                                  article.doc_id, article.title, len(chunks), self._notes(article)))
        return out

    def _store_singly(self, article: Article, digest: str, chunks: list[Chunk], existed: bool,
                      batch_error: Exception) -> FileResult:
        try:
            self._embed_and_index([(article, chunks)])
        except Exception as exc:  # noqa: BLE001
            return FileResult(article.path, "failed", article.doc_id, article.title,
                              reason=f"could not embed or store ({exc}); the stored version, if any, is kept")
        self.docstore.put(article, digest, chunks)
        return FileResult(article.path, "updated" if existed else "added", article.doc_id, article.title, len(chunks),
                          self._notes(article))

    def _notes(self, article: Article) -> str:
        """What the user should know of a stored article: a loading note, a near-duplicate story."""
        return "; ".join(filter(None, [article.note, self._index_story(article)]))

    def _index_story(self, article: Article, only_new: bool = False) -> str:
        """Index a stored article among the stories; a note when it is a near-duplicate of a stored one."""
        if only_new and self.stories.has(article.doc_id):
            return ""
        match = self.stories.add(article)
        return f"near-duplicate of {match.of} (similarity {match.similarity:.2f})" if match.kind == "near" else ""

    @property
    def keyword(self) -> KeywordSearch:
        """The keyword index the retriever searches."""
        return self.retriever.keyword

    def reindex(self, items: list[tuple[Article, list[Chunk]]]) -> None:
        """Embed and store these stored articles' chunk and sentence vectors again (repairs)."""
        self._embed_and_index(items)

    def _embed_and_index(self, items: list[tuple[Article, list[Chunk]]]) -> None:
        """Embed each sentence once; store sentence vectors and chunk vectors (derived or embedded, by setting)."""
        from .sentences import embed_batch

        embedded = embed_batch(self.embedder, items, self.settings.chunk_vectors)
        self.vectors.add_many(items, embedded.chunk_vectors)
        for (article, _), (spans, vecs) in zip(items, embedded.sentences, strict=True):
            self.sentences.put(article.doc_id, article.text, spans, vecs)

    def prune(self, paths: Sequence[Path], seen: set[str], shard: Shard | None = None) -> list[FileResult]:
        """Remove articles loaded from under these paths whose files are gone (of ``shard``'s articles only)."""
        prefixes = [str(p) for p in paths]
        shard = shard or Shard()
        out = []
        for doc_id, path in self.docstore.doc_ids_with_path_prefix(prefixes):
            file_path = Path(path.rsplit(":", 1)[0]) if not Path(path).exists() else Path(path)
            if doc_id not in seen and not file_path.exists() and shard.holds(doc_id):
                self.delete(doc_id)
                out.append(FileResult(path, "removed", doc_id))
        return out

    def delete(self, doc_id: str) -> None:
        """Remove an article from both stores."""
        with self._write_lock:
            self.follow_other_writers()
            self.marker.set()
            self.vectors.delete_doc(doc_id)
            self.sentences.delete_doc(doc_id)
            self.docstore.delete(doc_id)
            self.stories.remove(doc_id)
            self.marker.clear()

    # ---- questions -------------------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Turn] | None = None, filters: Filters | None = None) -> Answer:
        """Answer a question from the corpus with verbatim quotes (or say the corpus holds no answer)."""
        return self.trace(question, history, filters).answer

    def trace(self, question: str, history: Sequence[Turn] | None = None, filters: Filters | None = None,
              _depth: int = 0) -> Trace:
        """``ask``, also returning the hits and the article ranking behind the answer."""
        started = time.perf_counter()
        self.follow_other_writers()
        question, notes = self.bound_question(question)
        history = list(history or [])
        filters, without_date = self._date_filters(question, filters or Filters(), notes)
        search_query = self._search_query(without_date, history, notes)
        qvec = self.embedder.embed_query(search_query)
        snap = self.retriever.snapshot()  # one version of the corpus for retrieval and quote scoring alike
        hits = self.retriever.retrieve(search_query, qvec, self.settings.top_k, filters, snap)
        hits = self._with_named_days(without_date, Searched(search_query, qvec, hits), filters, snap)
        found = self._anchored(without_date, history, filters, Searched(search_query, qvec, hits), _depth)
        hits = found.hits
        articles = {h.chunk.doc_id: self._article(h.chunk.doc_id) for h in hits}
        scored = self._score(found, articles, snap)
        answer = self.answerer.answer(question, scored, articles, filters, search_query)
        answer.notes.extend(notes)
        self._collapse_stories(answer)
        if self.writer is not None and answer.answered and not _depth:  # an earlier answer recomputed: quotes only
            self._generate(answer, articles, history)
        answer.elapsed_ms = (time.perf_counter() - started) * 1000
        return Trace(answer=answer, hits=hits, doc_ranking=scored.doc_ranking, scored=scored)

    def _date_filters(self, question: str, given: Filters, notes: list[str]) -> tuple[Filters, str]:
        """The filters with a publication date the question asks for («что писали вчера»); a date that describes
        the event («выборы 2008 года») stays in the question as evidence. Undated articles left out are noted."""
        from .answering.analysis import detect_lang

        filters, without_date = given, question
        if self.docstore.has_dates():  # in an undated corpus (encyclopedic texts) a year is a topic, not a filter
            filters, without_date = filters_from_question(question, given, self.clock())
        if (filters.date_from or filters.date_to) and (undated := self.docstore.undated()):
            notes.append(f"{undated} undated article(s) left out by the date filter" if detect_lang(question) == "en"
                         else f"статей без даты, не вошедших в поиск по датам: {undated}")
        return filters, without_date

    def _with_named_days(self, question: str, found: Searched, filters: Filters, snap: Snapshot) -> list[Hit]:
        """The hits plus the best chunks of articles published on a day the question names («в ночь на 28
        ноября», "on November 30"): evidence the answerer prefers, not a filter."""
        if filters.date_from or filters.date_to:
            return found.hits
        hits, seen = list(found.hits), {h.chunk.chunk_id for h in found.hits}
        for day in named_days(question)[:MAX_NAMED_DAYS]:
            for iso in [d for d in self.docstore.dates_on(day.month, day.day) if day.matches(d)][:MAX_NAMED_DAYS]:
                on_day = Filters(date_from=date.fromisoformat(iso), date_to=date.fromisoformat(iso),
                                 sources=filters.sources)
                extra = self.retriever.retrieve(found.query, found.vector, self.settings.top_k, on_day, snap)
                hits += [h for h in extra if h.chunk.chunk_id not in seen]
                seen.update(h.chunk.chunk_id for h in extra)
        return hits

    def ask_within(self, question: str, doc_ids: Sequence[str]) -> Answer:
        """Answer from these stored articles only (a standing question over the articles just added), with the
        same decline and hedge rules as ``ask``."""
        question, notes = self.bound_question(question)
        hits = [Hit(chunk=c, score=1.0) for doc_id in dict.fromkeys(doc_ids) for c in self.docstore.chunks_of(doc_id)]
        articles = {h.chunk.doc_id: self._article(h.chunk.doc_id) for h in hits}
        found = Searched(question, self.embedder.embed_query(question), hits)
        answer = self.answerer.answer(question, self._score(found, articles, self.retriever.snapshot()), articles,
                                      Filters(), question)
        answer.notes.extend(notes)
        self._collapse_stories(answer)
        return answer

    def bound_question(self, question: str) -> tuple[str, list[str]]:
        """The question stripped and, when over ``max_question_chars``, shortened (with a note saying so)."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty: ask something, e.g. «Что подписали во время визита?»")
        limit = self.settings.max_question_chars
        if len(question) <= limit:
            return question, []
        return question[:limit], [f"the question was shortened to its first {limit} characters "
                                  f"(it had {len(question)}; ASSISTANT_MAX_QUESTION_CHARS)"]

    def _collapse_stories(self, answer: Answer) -> None:
        """Quote a story carried by several sources once, listing every source and date under it."""
        from .dedup import collapse, renumber_text, source_ref

        if not answer.citations:
            return
        clusters = self.stories.cluster_of(c.doc_id for c in answer.citations)

        def members(cluster: str) -> list[SourceRef]:
            return [source_ref(a) for a in map(self.docstore.get, self.stories.members(cluster)) if a]

        before = answer.citations
        answer.citations = collapse(before, clusters, members)
        answer.text = renumber_text(answer.text, before, answer.citations)

    def _search_query(self, question: str, history: list[Turn], notes: list[str]) -> str:
        """The query to search: follow-ups carry earlier turns (condensed by the LLM when one is configured)."""
        if self.writer is None or not is_follow_up(question, history):
            return carry_over(question, history)
        from .generating import LLMError

        try:
            return self.writer.condense(question, history)
        except LLMError as exc:
            notes.append(f"LLM unavailable, follow-up handled without it: {exc}")
            return carry_over(question, history)

    def _score(self, found: Searched, articles: dict[str, Article], snap: Snapshot) -> Scored:
        """The quotes ranked against the query; an anchored follow-up is declined only when the conversation's
        query (follow-up plus the earlier question) is not relevant either: «А когда это было?» alone is vague."""
        scored = self.answerer.score(found.query, found.vector, found.hits, articles, snap.keyword.idf, snap.version)
        if found.context is not None:
            wide = self.answerer.score(found.context.query, found.context.vector, found.hits, articles,
                                       snap.keyword.idf, snap.version)
            scored.best_relevance = max(scored.best_relevance, wide.best_relevance)
        return scored

    def _anchored(self, question: str, history: list[Turn], filters: Filters, found: Searched,
                  depth: int) -> Searched:
        """A follow-up that points back («А кого он сменил?») is answered from the article quoted first in the
        previous answer (and any quoted in a near tie with it: ``anchor_articles``), scored against the follow-up
        alone (the earlier question would pull back its own answer)."""
        if depth >= MAX_ANCHOR_DEPTH or not refers_back(question, history):
            return found
        earlier, before = last_question(history)
        anchors = anchor_articles(self.trace(earlier, before, filters, depth + 1).answer.citations)
        if not anchors or anchors[0] not in {h.chunk.doc_id for h in found.hits}:  # the conversation moved on
            return found
        hits = [Hit(chunk=c, score=1.0) for doc_id in anchors for c in self.docstore.chunks_of(doc_id)]
        return Searched(question, self.embedder.embed_query(question), hits, context=found)

    def _generate(self, answer: Answer, articles: dict[str, Article], history: list[Turn]) -> None:
        """Replace the extractive text by the LLM's answer; the verified extractive quotes stay as citations."""
        from .generating import LLMError
        from .prompts import PromptError

        assert self.writer is not None
        try:
            generated = self.writer.write(answer.question, answer.citations, articles, history, answer.lang)
        except (LLMError, PromptError) as exc:
            answer.notes.append(f"LLM unavailable, extractive answer shown: {exc}")
            return
        answer.text = generated.text
        answer.notes.extend(generated.notes)

    def _article(self, doc_id: str) -> Article:
        article = self.docstore.get(doc_id)
        if article is None:
            raise KeyError(f"article {doc_id} is in the vector index but not in the article store: ingest again")
        return article

    # ---- corpus ----------------------------------------------------------------------------------------------

    def stats(self) -> Stats:
        """Documents, chunks, model and where the data lives."""
        docs, chunks = self.docstore.counts()
        return Stats(documents=docs, chunks=chunks, model=f"{self.settings.embeddings} ({self.embedder.model_id})",
                     data_dir=str(self.settings.data_dir.resolve()), collection=self.settings.collection,
                     sources=self.docstore.sources())

    def list_docs(self) -> list[DocInfo]:
        """Stored articles' metadata."""
        return self.docstore.list_docs()

    def get_article(self, doc_id: str) -> Article | None:
        """A stored article by id."""
        return self.docstore.get(doc_id)

    def close(self) -> None:
        """Release the stores."""
        self.sentences.close()
        self.docstore.close()
        self.stories.close()
