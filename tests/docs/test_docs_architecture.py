"""docs/architecture.md matches the code: every path it names exists, every module is named, its names are defined."""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
PATH_RE = re.compile(r"(?<![\w/.-])(?:assistant|tests)/[\w./-]*")
CLASS_RE = re.compile(r"`(?:[a-z_]+\.)?([A-Z][A-Za-z0-9]+)(?:\.([a-z_][a-z0-9_]*))?`")
FILE_SUFFIXES = {"py", "md", "sqlite", "json", "jsonl"}
FUNC_RE = re.compile(r"`(?:pipeline\.)?([a-z_][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)`")


def named_paths(text: str) -> set[str]:
    """The ``assistant/…`` and ``tests/…`` paths a text names, without trailing punctuation."""
    return {m.group(0).rstrip(".,;:)") for m in PATH_RE.finditer(text)}


def modules(package: Path) -> set[str]:
    """The package's top-level modules and its subpackages (as ``dir/``), relative to the repository root."""
    found = {p.relative_to(ROOT).as_posix() for p in package.glob("*.py") if p.name != "__init__.py"}
    for init in package.rglob("__init__.py"):
        if init.parent != package:
            found.add(init.parent.relative_to(ROOT).as_posix() + "/")
    return found


def is_named(module: str, paths: set[str]) -> bool:
    """Whether the doc names a module (a subpackage counts when named as ``dir/`` or ``dir/__init__.py``)."""
    return module in paths or module.rstrip("/") in paths or module + "__init__.py" in paths


def definitions() -> dict[str, str]:
    """Each class defined under ``assistant/`` and the source of the file that defines it."""
    out: dict[str, str] = {}
    for path in (ROOT / "assistant").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for name in re.findall(r"^class (\w+)", source, re.MULTILINE):
            out[name] = out.get(name, "") + source
    return out


def test_the_parser_finds_paths_and_modules() -> None:
    text = "see `assistant/store.py`, and assistant/web/ (the edge); `tests/test_x.py`."
    assert named_paths(text) == {"assistant/store.py", "assistant/web/", "tests/test_x.py"}
    assert "assistant/store.py" in modules(ROOT / "assistant")
    assert "assistant/answering/training/" in modules(ROOT / "assistant")
    assert not is_named("assistant/web/", {"assistant/webby.py"})


def test_every_path_the_doc_names_exists() -> None:
    paths = named_paths(DOC.read_text(encoding="utf-8"))
    assert len(paths) > 40, "the doc names too few modules: did the parser break?"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_module_is_named() -> None:
    paths = named_paths(DOC.read_text(encoding="utf-8"))
    unnamed = sorted(m for m in modules(ROOT / "assistant") if not is_named(m, paths))
    assert not unnamed, f"docs/architecture.md does not name these modules: {unnamed} (add each to its stage)"


def test_every_test_file_is_named() -> None:
    paths = named_paths(DOC.read_text(encoding="utf-8"))
    tests = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")}
    assert not sorted(tests - paths), f"docs/architecture.md's test table misses: {sorted(tests - paths)}"


def test_the_classes_and_methods_it_names_exist() -> None:
    defined = definitions()
    for name, method in CLASS_RE.findall(DOC.read_text(encoding="utf-8")):
        assert name in defined, f"docs/architecture.md names `{name}`, which no module under assistant/ defines"
        if method:
            assert defines(defined[name], method), f"`{name}.{method}` is not defined"


def defines(source: str, name: str) -> bool:
    """Whether a module's source defines a function, method or attribute of this name."""
    return re.search(rf"(def {name}\(|self\.{name}\b|^{name}\s*=|^class {name}\b)", source, re.MULTILINE) is not None


def test_the_module_functions_it_names_exist() -> None:
    sources = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "assistant").rglob("*.py")}
    pairs = FUNC_RE.findall(DOC.read_text(encoding="utf-8"))
    assert pairs, "the doc names no module.function: did the parser break?"
    for module, name in pairs:
        if module in sources and name not in FILE_SUFFIXES:
            assert defines(sources[module], name), f"docs/architecture.md names `{module}.{name}`: not defined there"


def test_it_stays_short() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 120, f"docs/architecture.md has {len(lines)} lines; the newcomer's doc stays within 120"


# Reference docs state today's truth; their history is in CHANGELOG.md. Add each doc here once it is rewritten.
REFERENCE_DOCS = {"architecture.md": 120, "benchmarks.md": 160, "dedup.md": 100, "slack.md": 110}
DIARY_RE = re.compile(r"\bissue \d+|\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(?:st|nd|rd|th)) "
                      r"round\b|\bround \d+\b", re.IGNORECASE)


def test_reference_docs_have_no_diary() -> None:
    for name, max_lines in REFERENCE_DOCS.items():
        text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        diary = sorted({m.group(0) for m in DIARY_RE.finditer(text)})
        assert not diary, f"docs/{name} names {diary}: state today's figures and move the history to CHANGELOG.md"
        assert len(text.splitlines()) <= max_lines, f"docs/{name} is over {max_lines} lines"
        intro = text.split("\n\n", 2)[1]
        assert intro.startswith("For "), f"docs/{name} should say first whom it is for («For …»)"
    assert DIARY_RE.search("after the seventh round, see issue 9") and not DIARY_RE.search("a round number")


def test_changelog_keeps_an_unreleased_section_on_top() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert sections[0] == "Unreleased"
    dates = sections[1:]
    assert dates and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates), dates
    assert dates == sorted(dates, reverse=True), "CHANGELOG.md's dates run newest first"
