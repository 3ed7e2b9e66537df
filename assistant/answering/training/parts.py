"""The four development parts, their corpora (built from ../shared) and their candidate groups (cached on disk)."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...evaluation import load_jsonl
from ..features import FEATURES
from .data import Group, collect

if TYPE_CHECKING:
    from ...embedding import Embedder
    from ...pipeline import Assistant

DEV_DIR = "eval-data/news-qa-dev"  # inside ../shared


@dataclass(frozen=True)
class Part:
    """A development part: its question file (inside DEV_DIR) and the corpus its questions are about."""

    name: str
    questions: str
    corpus: str  # "nerel", "telegram" or "corus" (two parts share NEREL train)


PARTS = (
    Part("news-qa-dev", "news-qa-dev.jsonl", "nerel"),
    Part("w2", "news-qa-dev-w2.jsonl", "nerel"),
    Part("telegram", "news-qa-dev-telegram.jsonl", "telegram"),
    Part("corus", "news-qa-dev-corus.jsonl", "corus"),
)


def corpus_path(shared: Path, corpus: str, work: Path, given: dict[str, Path]) -> Path:
    """A part's corpus: ``given`` (already built), NEREL train as it is, or built with the builder beside the
    questions into ``work`` (once)."""
    if corpus in given:
        return given[corpus]
    if corpus == "nerel":
        return shared / "eval-data/nerel-wikinews/train"
    script, source, out = {
        "telegram": ("telegram_corpus.py", shared, work / "telegram.jsonl"),
        "corus": ("corus_corpus.py", shared / "eval-data/corus-news-samples", work / "corus"),
    }[corpus]
    if not out.exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(shared / DEV_DIR / script), str(source), str(out)], check=True)
    return out


def part_assistant(corpus: Path, data_dir: Path, embedder: Embedder | None = None) -> Assistant:
    """An assistant over one corpus (ingested into ``data_dir``; unchanged articles are skipped), collecting every
    candidate with the formula ranker and no decline."""
    from ...pipeline import Assistant
    from ...settings import Settings

    settings = Settings(data_dir=data_dir, answer_ranker="formula", min_relevance=-1e9, chroma_url="")
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest([corpus])
    return assistant


def cache_key(shared: Path, part: Part) -> str:
    """What a part's cached groups depend on: its questions and the feature list."""
    digest = hashlib.sha1((shared / DEV_DIR / part.questions).read_bytes())
    digest.update(",".join(FEATURES).encode())
    return digest.hexdigest()[:12]


def cache_file(shared: Path, part: Part, cache: Path | None) -> Path | None:
    """Where a part's groups are cached (None: not cached)."""
    return cache / f"{part.name}-{cache_key(shared, part)}.pkl" if cache is not None else None


def part_groups(part: Part, assistant: Assistant, shared: Path, path: Path | None) -> list[Group]:
    """The candidate groups of one part's questions, collected through the pipeline (and cached at ``path``)."""
    from ...evalrun import resolve_doc_ids

    questions = load_jsonl(shared / DEV_DIR / part.questions).questions
    resolve_doc_ids(questions, assistant)
    started = time.time()
    groups = collect(assistant, questions, source=part.name,
                     progress=lambda i: print(f"\r{part.name} {i}/{len(questions)}", end="", file=sys.stderr))
    print(f"\n{part.name}: {len(groups)} groups in {time.time() - started:.0f} s", file=sys.stderr)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(groups))
    return groups


def all_groups(shared: Path, data_dir: Path, cache: Path | None, given: dict[str, Path] | None = None,
               stores: dict[str, Path] | None = None) -> list[Group]:
    """The groups of every part (from the cache where it has them); a corpus is ingested into
    ``data_dir/<corpus>`` (or ``stores[corpus]``) only when one of its parts is not cached."""
    opened: dict[str, Assistant] = {}
    groups: list[Group] = []
    for part in PARTS:
        path = cache_file(shared, part, cache)
        if path is not None and path.is_file():
            groups += pickle.loads(path.read_bytes())  # our own cache file, written by part_groups
            continue
        if part.corpus not in opened:
            corpus = corpus_path(shared, part.corpus, data_dir / "corpora", given or {})
            store = (stores or {}).get(part.corpus, data_dir / part.corpus)
            embedder = next(iter(opened.values())).embedder if opened else None
            opened[part.corpus] = part_assistant(corpus, store, embedder)
        groups += part_groups(part, opened[part.corpus], shared, path)
    return groups
