"""Loading stage: files and folders (.txt, .md, .html, .jsonl) into ``Article`` values, errors named per file."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .dates import parse_date
from .markup import clean_markup
from .types import Article

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
HEADER_KEYS = ("title", "date", "source", "url", "id")
HEADER_RE = re.compile(r"[ \t]*(title|date|source|url|id)[ \t]+(.*)", re.IGNORECASE)
ISO_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[ \t]*")
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
MAX_TITLE_CHARS = 160
MAX_FILE_BYTES = 50 * 1024 * 1024  # defaults of Settings.max_file_mb / max_article_chars
MAX_ARTICLE_CHARS = 2_000_000
MAX_REPLACED_SHARE = 0.01  # a UTF-8 file with at most this share of invalid bytes is decoded with replacement


@dataclass(frozen=True)
class Limits:
    """What one file and one article may hold; larger inputs are refused with a message, never read whole."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_article_chars: int = MAX_ARTICLE_CHARS


@dataclass(frozen=True)
class LoadError:
    """A file or line that could not be loaded, and what to do about it."""

    path: str
    reason: str


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): the articles one of ``count`` ingest workers takes, by a stable hash
    of the article id, so that workers given the same folders split them with no overlap and nothing left out."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` with 1 ≤ K ≤ N; a ValueError saying what to write otherwise."""
        index, _, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"shard {text!r}: write K/N, e.g. 1/2 and 2/2 for two workers") from None
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"shard {text!r}: K must be between 1 and N (1/{shard.count} … {shard.count}/{shard.count})")
        return shard

    def holds(self, key: str) -> bool:
        """Whether the article id (or, for a file that failed to load, its path) falls in this shard."""
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index - 1


def iter_files(paths: Iterable[Path]) -> Iterator[Path | LoadError]:
    """Expand folders recursively into supported files, sorted; name paths that don't exist."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                refused = link_outside(child, path) if child.is_symlink() else ""
                if refused:
                    yield LoadError(str(child), refused)
                elif child.is_file() and child.suffix.lower() in SUPPORTED and not is_folder_note(child):
                    yield child
        elif path.is_file():
            yield path
        else:
            yield LoadError(str(path), "no such file or folder")


def link_outside(link: Path, folder: Path) -> str:
    """Why a symbolic link met inside a folder is not followed ('' when it resolves inside the folder): links out of
    the folder (``passwd.txt -> /etc/passwd``), loops and dangling links are reported, not read."""
    try:
        target = link.resolve(strict=True)
    except RuntimeError:
        return "a symbolic link loop: not followed; remove the link"
    except OSError as exc:
        return f"a symbolic link to a missing target ({exc.strerror}): not followed; remove or fix the link"
    if not target.is_relative_to(folder.resolve()):
        return (f"a symbolic link to {target}, outside the folder being ingested: not followed; copy the file "
                "into the folder, or name it on the command line, to ingest it")
    return ""


def is_folder_note(path: Path) -> bool:
    """Hidden files and a folder's README/LICENSE are skipped when a folder is read (named explicitly, they load)."""
    return path.name.startswith(".") or path.stem.upper() in {"README", "LICENSE", "LICENCE"}


def load_paths(paths: Iterable[Path], limits: Limits | None = None) -> Iterator[Article | LoadError]:
    """Load every article under the given files and folders; failures (and duplicate ids) are yielded, not raised."""
    limits = limits or Limits()
    first_seen: dict[str, str] = {}
    for item in iter_files(paths):
        if isinstance(item, LoadError):
            yield item
            continue
        for loaded in load_file_safely(item, limits):
            if isinstance(loaded, Article):
                if loaded.doc_id in first_seen:
                    yield LoadError(loaded.path, f"duplicate id {loaded.doc_id!r} (also used by "
                                    f"{first_seen[loaded.doc_id]}): give each article its own id; this one is skipped")
                    continue
                first_seen[loaded.doc_id] = loaded.path
            yield loaded


def load_file_safely(path: Path, limits: Limits) -> Iterator[Article | LoadError]:
    """``load_file``, any exception becoming a failure of this file alone."""
    try:
        yield from load_file(path, limits)
    except (OSError, ValueError) as exc:
        yield LoadError(str(path), str(exc))
    except Exception as exc:  # noqa: BLE001 - a parser's bug or a missing extra fails this file, not the batch
        yield LoadError(str(path), f"could not be read ({exc.__class__.__name__}: {str(exc)[:200]}); "
                        "check the file, or report it with this message")


def load_file(path: Path, limits: Limits | None = None) -> Iterator[Article | LoadError]:
    """Load one file by its suffix (files over the size limit are refused before they are read)."""
    limits = limits or Limits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        yield LoadError(str(path), f"unsupported file type {suffix or '(none)'}: use .txt, .md, .html or .jsonl")
        return
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        yield LoadError(str(path), f"the file is {size / 2**20:.0f} MB, over the {limits.max_file_bytes / 2**20:.0f} MB "
                        "limit (ASSISTANT_MAX_FILE_MB): split it into smaller files")
        return
    text, note = decode_bytes(path.read_bytes(), path)
    if suffix in JSONL_SUFFIXES:
        items: Iterable[Article | LoadError] = parse_jsonl(text, path)
    elif suffix in HTML_SUFFIXES:
        items = [parse_html(text, path)]
    else:
        items = [parse_text(text, path)]
    for item in items:
        yield check_article(item, limits, note)


def check_article(item: Article | LoadError, limits: Limits, note: str) -> Article | LoadError:
    """Refuse an article over the length limit; attach the decoding note to a good one."""
    if isinstance(item, LoadError):
        return item
    if len(item.text) > limits.max_article_chars:
        return LoadError(item.path, f"the article has {len(item.text):,} characters, over the "
                         f"{limits.max_article_chars:,} limit (ASSISTANT_MAX_ARTICLE_CHARS): split it")
    return replace(item, note=note) if note else item


def decode_bytes(raw: bytes, path: Path) -> tuple[str, str]:
    """Text and a note: UTF-8 (with or without BOM; a few bad bytes replaced), else the detected encoding."""
    try:
        return raw.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        pass
    if b"\x00" not in raw:
        text = raw.decode("utf-8-sig", errors="replace")
        bad = text.count("\ufffd")
        if bad <= max(1, len(raw) * MAX_REPLACED_SHARE) and looks_like_utf8(raw):
            return text, f"{bad} invalid UTF-8 byte sequence(s) replaced by \ufffd: check the file's encoding"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None or "\x00" in str(best):
        raise ValueError("cannot detect the text encoding (is it a binary file?): save it as UTF-8")
    return str(best), ""


def looks_like_utf8(raw: bytes) -> bool:
    """Whether the bytes hold multi-byte UTF-8 sequences or are plain ASCII (not a legacy 8-bit encoding)."""
    high = sum(1 for b in raw[:65536] if b >= 0x80)
    if not high:
        return True
    valid = raw[:65536].decode("utf-8", errors="ignore").encode("utf-8")
    return sum(1 for b in valid if b >= 0x80) >= 0.9 * high


def normalise_newlines(text: str) -> str:
    """CRLF and CR become LF; the stored text is what offsets refer to."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(text: str, path: Path) -> Article:
    """A .txt/.md article: YAML front matter or ``key value`` header lines, then the body."""
    text = normalise_newlines(text)
    meta, body = split_front_matter(text, path)
    if not meta:
        meta, body = split_header_lines(body)
    return make_article(meta, body, path)


class FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: front matter needs none, and aliases of aliases ("billion laughs")
    make a few hundred bytes into gigabytes once the values are read."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Refuse an alias (``*name``) where a node is expected."""
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", self.peek_event().start_mark)
        return super().compose_node(parent, index)


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """YAML front matter between ``---`` lines, if any."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.load(match.group(1), Loader=FrontMatterLoader) or {}  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise ValueError(f"front matter is not valid YAML ({problem}): fix the lines between ---") from exc
    if not isinstance(meta, dict):
        raise ValueError("front matter must be a mapping of title/date/source/url")
    return {str(k).lower(): v for k, v in meta.items()}, text[match.end():]


def split_header_lines(text: str) -> tuple[dict[str, Any], str]:
    """Leading ``title …``/``date YYYY-MM-DD``/``source …``/``url …`` lines; a date header may share its line."""
    meta: dict[str, Any] = {}
    pos = 0
    while True:
        match = HEADER_RE.match(text, pos)
        if not match or match.group(1).lower() in meta:
            break
        key = match.group(1).lower()
        if key == "date":
            iso = ISO_DATE_RE.match(text, match.start(2))
            if not iso:
                break
            meta["date"] = iso.group(1)
            pos = iso.end()
            if text[pos:pos + 1] == "\n":
                pos += 1
            continue
        meta[key] = match.group(2).strip()
        pos = match.end() + 1
    return meta, text[pos:]


def parse_html(html: str, path: Path) -> Article:
    """Main text and title of an HTML page (trafilatura; BeautifulSoup as fallback)."""
    import trafilatura

    # extensive_search off: a date comes from the page's metadata or markup, not from "© 2024" in a footer
    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, favor_recall=True,
                                      date_extraction_params={"extensive_search": False, "original_date": True})
    text = getattr(doc, "text", None) if doc is not None else None
    meta: dict[str, Any] = {}
    if doc is not None:
        meta = {k: getattr(doc, k, None) for k in ("title", "date", "url")}
        meta["source"] = getattr(doc, "sitename", None) or getattr(doc, "hostname", None)
    if not text:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "html.parser")
        for tag in soup(["script", "style", "nav", "header", "footer", "aside", "noscript"]):
            tag.decompose()
        text = soup.get_text("\n", strip=True)
        meta["title"] = meta.get("title") or (soup.title.get_text(strip=True) if soup.title else None)
    return make_article({k: v for k, v in meta.items() if v}, normalise_newlines(text), path)


def parse_jsonl(text: str, path: Path) -> Iterator[Article | LoadError]:
    """One article per line: ``text`` plus optional title, date, source, url, id."""
    derived: set[str] = set()
    for lineno, line in enumerate(normalise_newlines(text).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LoadError(where, f"not valid JSON ({exc.msg} at column {exc.colno}): fix or remove the line")
            continue
        except RecursionError:
            yield LoadError(where, "nested too deeply to read: flatten the line (an article needs no nesting)")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            yield LoadError(where, 'field "text" is missing or empty: each line needs {"text": "...", ...}')
            continue
        try:
            article = make_article({k: obj.get(k) for k in HEADER_KEYS}, normalise_newlines(obj["text"]), path, lineno)
        except ValueError as exc:
            yield LoadError(where, str(exc))
            continue
        except RecursionError:  # e.g. a title nested hundreds of lists deep
            yield LoadError(where, "a field is nested too deeply to read: give title, date, source, url and id "
                            "as plain values")
            continue
        if not clean_field(obj.get("id")) and article.doc_id in derived:  # two lines with one title
            body = clean_markup(normalise_newlines(obj["text"]))  # as given: ids do not move with the headline line
            article = replace(article, doc_id=make_doc_id(path, lineno, f"{article.title}\n{body[:500]}"))
        derived.add(article.doc_id)
        yield article


def make_article(meta: dict[str, Any], body: str, path: Path, lineno: int | None = None) -> Article:
    """Build an ``Article``: stable id, title (given, else the first line), ISO date, source."""
    body = clean_markup(body)
    if not body.strip():
        raise ValueError("the article has no text: add a body below the header")
    title = clean_field(meta.get("title"))
    if title:
        body = with_headline(title, body)
    else:
        title, body = title_from_body(body)
    where = f"{path}:{lineno}" if lineno else str(path)
    doc_id = clean_field(meta.get("id")) or make_doc_id(path, lineno, title)
    return Article(
        doc_id=doc_id,
        title=title,
        text=body,
        date=parse_date(meta.get("date"), field_name="date"),
        source=clean_field(meta.get("source")),
        url=clean_field(meta.get("url")),
        path=where,
    )


def clean_field(value: Any) -> str:
    """A metadata value as a one-line string."""
    if value is None:
        return ""
    return " ".join(str(value).split())


def with_headline(title: str, body: str) -> str:
    """The body opening with its headline line, the form of Wikinews texts and plain files that the answer ranker
    learned from: a title given as a field (JSONL, HTML, a header) is put first unless the body opens with it.
    Quotes stay verbatim: the stored text is this one."""
    return body if opens_with_title(body, title) else f"{title}\n\n{body.lstrip(chr(10))}"


def opens_with_title(text: str, title: str) -> bool:
    """Whether the text's first line is the title (a headline line); a title that only begins a paragraph is not."""
    first = text.lstrip().split("\n", 1)[0].strip().lstrip("#")  # a Markdown heading counts
    return bool(title.split()) and first.split() == title.split()


def headline_end(text: str, title: str) -> int:
    """Where the body begins after a headline line that is the title, blank lines skipped (0 when the text has no
    such line; the text's length when the headline is all there is)."""
    if not opens_with_title(text, title):
        return 0
    first_end = text.find("\n", len(text) - len(text.lstrip()))
    return len(text) if first_end < 0 else len(text) - len(text[first_end:].lstrip())


def title_from_body(body: str) -> tuple[str, str]:
    """Title from the first line when it is a headline (short, no final full stop); else the first sentence."""
    stripped = body.lstrip()
    first_line = stripped.split("\n", 1)[0].strip().lstrip("#").strip()
    if first_line and len(first_line) <= MAX_TITLE_CHARS and not first_line.endswith((".", "…")) and "\n" in stripped:
        return first_line, body
    from razdel import sentenize

    first = next(iter(sentenize(stripped)), None)
    sentence = first.text if first else first_line
    if len(sentence) > MAX_TITLE_CHARS:
        sentence = sentence[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return sentence, body


def file_key(path: str) -> str:
    """What an article's stored path says about its file, as ids see it: ``folder/name`` without a line number."""
    head, sep, tail = path.rpartition(":")
    file_path = Path(head if sep and tail.isdigit() else path)
    return f"{file_path.parent.name}/{file_path.name}"


def make_doc_id(path: Path, lineno: int | None, title: str) -> str:
    """A stable id from the file name (and title for JSONL lines), independent of where the folder lives."""
    stem = re.sub(r"[^\w-]+", "_", path.stem)[:48]
    name = f"{path.parent.name}/{path.name}"
    key = f"{name}\n{title}" if lineno else name
    return f"{stem}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"
