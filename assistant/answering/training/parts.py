"""The candidate groups of the four development parts (``evaluation.devparts``), collected once and cached on disk."""

from __future__ import annotations

import hashlib
import pickle
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ...evaluation.devparts import DEV_DIR, DevPart, dev_parts
from ..features import FEATURES
from .data import Group, collect

if TYPE_CHECKING:
    from ...embedding import Embedder
    from ...pipeline import Assistant


def part_assistant(corpus: Path, data_dir: Path, embedder: Embedder | None = None) -> Assistant:
    """An assistant over one corpus (ingested into ``data_dir``; unchanged articles are skipped), collecting every
    candidate with the formula ranker and no decline."""
    from ...pipeline import Assistant
    from ...settings import Settings

    settings = Settings(data_dir=data_dir, answer_ranker="formula", min_relevance=-1e9, chroma_url="")
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest([corpus])
    return assistant


def cache_key(part: DevPart) -> str:
    """What a part's cached groups depend on: its questions and the feature list."""
    digest = hashlib.sha1((part.shared / DEV_DIR / part.questions_file).read_bytes())
    digest.update(",".join(FEATURES).encode())
    return digest.hexdigest()[:12]


def cache_file(part: DevPart, cache: Path | None) -> Path | None:
    """Where a part's groups are cached (None: not cached)."""
    return cache / f"{part.name}-{cache_key(part)}.pkl" if cache is not None else None


def part_groups(part: DevPart, assistant: Assistant, path: Path | None) -> list[Group]:
    """The candidate groups of one part's questions, collected through the pipeline (and cached at ``path``)."""
    from ...evaluation.run import resolve_doc_ids

    questions = part.questions()
    resolve_doc_ids(questions, assistant)
    started = time.time()
    groups = collect(assistant, questions, source=part.name,
                     progress=lambda i: print(f"\r{part.name} {i}/{len(questions)}", end="", file=sys.stderr))
    print(f"\n{part.name}: {len(groups)} groups in {time.time() - started:.0f} s", file=sys.stderr)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(groups))
    return groups


def open_store(part: DevPart, data_dir: Path, stores: dict[str, Path] | None, opened: dict[str, Assistant]) -> Assistant:
    """The assistant over a part's store, opened (and its corpus built and ingested) once."""
    if part.store_name not in opened:
        store = (stores or {}).get(part.store_name, data_dir / part.store_name)
        embedder = next(iter(opened.values())).embedder if opened else None
        opened[part.store_name] = part_assistant(part.corpus_path(data_dir / "corpora").resolve(), store, embedder)
    return opened[part.store_name]


def all_groups(shared: Path, data_dir: Path, cache: Path | None, stores: dict[str, Path] | None = None) -> list[Group]:
    """The groups of every part (from the cache where it has them); a corpus is built under ``data_dir/corpora`` and
    ingested into ``data_dir/<store>`` (or ``stores[store]``) only when one of its parts is not cached."""
    opened: dict[str, Assistant] = {}
    groups: list[Group] = []
    for part in dev_parts(shared):
        path = cache_file(part, cache)
        if path is not None and path.is_file():
            groups += pickle.loads(path.read_bytes())  # our own cache file, written by part_groups
            continue
        groups += part_groups(part, open_store(part, data_dir, stores, opened), path)
    return groups


CLOZE_SEED = 13


def cloze_groups(shared: Path, data_dir: Path, cache: Path, dev: list[Group], limit: int,
                 stores: dict[str, Path] | None = None) -> list[Group]:
    """About ``limit`` cloze questions over each development store (``cloze.corpus_questions``; the development
    questions' own articles left out), asked against the whole store; cached in ``cache``."""
    from .cloze import corpus_questions

    opened: dict[str, Assistant] = {}
    groups: list[Group] = []
    for part in dev_parts(shared):
        name = f"cloze-{part.store_name}"
        if any(g.source == name for g in groups):
            continue
        path = cache / f"{name}-{limit}-{hashlib.sha1(','.join(FEATURES).encode()).hexdigest()[:12]}.pkl"
        if path.is_file():
            groups += pickle.loads(path.read_bytes())  # our own cache file, written below
            continue
        assistant = open_store(part, data_dir, stores, opened)
        same_store = {p.name for p in dev_parts(shared) if p.store_name == part.store_name}
        gold = frozenset(g.doc for g in dev if g.source in same_store)
        articles = [a for d in assistant.list_docs() if (a := assistant.get_article(d.doc_id)) is not None]
        found = [g for g in collect(assistant, corpus_questions(articles, CLOZE_SEED, limit, gold), source=name)
                 if len(g.labels)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(found))
        groups += found
    return groups
