"""What the chat UI and the HTTP API share: input parsing, asking, saving uploads, ingesting, feedback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends import open_feedback
from ..dates import parse_user_date
from ..loading import SUPPORTED
from ..types import Answer, DocInfo, FileResult, Filters, Turn

if TYPE_CHECKING:
    from ..following import Following
    from ..pipeline import Assistant, Progress
    from ..settings import Settings


class InputError(ValueError):
    """Bad input from a user or an API client; the message says what to fix."""


def clean_text(value: str, name: str) -> str:
    """The text itself when it is valid Unicode; an InputError naming the field when it holds a lone surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = f"U+{ord(value[exc.start]):04X}"
        raise InputError(f"{name}: holds an invalid character ({bad}, half of a surrogate pair) at position "
                         f"{exc.start}: send valid UTF-8 text") from None
    return value


def parse_date(value: object, name: str) -> date | None:
    """A date from ``2025-10-27``, ``27.10.2025`` or a written date («27 октября 2025», "Oct 27 2025"); None if empty."""
    if value is not None and not isinstance(value, str):
        raise InputError(f"{name}: expected a date such as 2025-10-27 (YYYY-MM-DD), got {value!r}")
    if value is not None:
        clean_text(value, name)
    try:
        return parse_user_date(value, name)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def parse_filters(date_from: object = None, date_to: object = None, sources: object = None) -> Filters:
    """``Filters`` from loosely typed input (form fields or JSON), with clear errors."""
    lo, hi = parse_date(date_from, "date_from"), parse_date(date_to, "date_to")
    if lo and hi and lo > hi:
        raise InputError(f"date_from {lo} is after date_to {hi}")
    if sources is None:
        items: tuple[str, ...] = ()
    elif isinstance(sources, str):
        items = (clean_text(sources, "sources"),) if sources.strip() else ()
    elif isinstance(sources, list | tuple) and all(isinstance(s, str) for s in sources):
        items = tuple(clean_text(s, "sources") for s in sources if s.strip())
    else:
        raise InputError("sources: expected a list of source names")
    return Filters(date_from=lo, date_to=hi, sources=items)


def parse_history(history: object) -> list[Turn]:
    """Earlier turns from ``[{"role": "user"|"assistant", "content": "..."}]``."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise InputError('history: expected a list of {"role": "user"|"assistant", "content": "..."}')
    turns = []
    for i, item in enumerate(history):
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant") \
                or not isinstance(item.get("content"), str):
            raise InputError(f'history[{i}]: expected {{"role": "user"|"assistant", "content": "..."}}')
        turns.append(Turn(role=item["role"], content=clean_text(item["content"], f"history[{i}].content")))
    return turns


def safe_filename(name: str) -> str:
    """A file name safe to store: no folders, no odd characters, the suffix kept."""
    base = Path(name.replace("\\", "/")).name.strip() or "upload.txt"
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .") or "upload.txt"
    return base[-120:]


def unsupported(names: Iterable[str]) -> list[str]:
    """The names whose suffix the loader does not read."""
    return [n for n in names if Path(n).suffix.lower() not in SUPPORTED]


class WebService:
    """One assistant, its feedback store and its upload folder, as the web chat and the API use them."""

    def __init__(self, assistant: Assistant, settings: Settings, following: Following | None = None) -> None:
        self.assistant = assistant
        self.settings = settings
        self.following = following  # feeds and standing questions (None: their controls do nothing)
        self.feedback = open_feedback(settings)
        self.upload_dir = settings.data_dir / "uploads"

    def ask(self, question: object, history: Sequence[Turn] = (), filters: Filters | None = None) -> Answer:
        """Validate and ask."""
        if not isinstance(question, str) or not question.strip():
            raise InputError("question: must be a non-empty string")
        question = clean_text(question, "question")
        return self.assistant.ask(question.strip(), history=list(history), filters=filters or Filters())

    def save_upload(self, name: str, source: Path | bytes) -> Path:
        """Keep an uploaded file under ``data_dir/uploads`` (same name, same article id on a later upload)."""
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        target = self.upload_dir / safe_filename(name)
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)
        return target

    def ingest(self, paths: Sequence[Path], progress: Progress | None = None) -> list[FileResult]:
        """Ingest saved uploads; one result per article (per line for JSONL) or per failed file."""
        return self.assistant.ingest(list(paths), progress=progress).results

    def display_path(self, path: str) -> str:
        """A result's path as the user knows it (the file name, and line for JSONL)."""
        return Path(path).name

    def health(self) -> dict[str, Any]:
        """Status, counts and model."""
        stats = self.assistant.stats()
        return {"status": "ok", "documents": stats.documents, "chunks": stats.chunks, "model": stats.model}

    def find_docs(self, query: str = "", limit: int = 500) -> list[DocInfo]:
        """Stored articles whose title, source, date or id contain every word of the query (newest first)."""
        words = (query or "").lower().split()
        docs = sorted(self.assistant.list_docs(), key=lambda d: (d.date or "", d.title), reverse=True)
        hits = [d for d in docs if all(w in f"{d.title} {d.source} {d.date or ''} {d.doc_id}".lower() for w in words)]
        return hits[:limit]

    def delete(self, doc_id: str) -> DocInfo:
        """Delete a stored article (``Assistant.delete``); raises InputError when there is no such article."""
        found = [d for d in self.assistant.list_docs() if d.doc_id == doc_id]
        if not found:
            raise InputError(f"doc_id: no stored article {doc_id!r}")
        self.assistant.delete(doc_id)
        return found[0]

    def source_names(self) -> list[str]:
        """The source names of stored articles, for the filter."""
        return sorted(s for s in self.assistant.stats().sources if s)

    def close(self) -> None:
        """Close the feedback store (and the feeds and watches)."""
        self.feedback.close()
        if self.following is not None:
            self.following.close()
