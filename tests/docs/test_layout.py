"""The tests' own layout: each test file sits in its stage's folder, and the slow ones carry the ``slow`` marker."""

from __future__ import annotations

import re

import pytest

from ..conftest import ROOT, SLOW_FIXTURES, pytest_collection_modifyitems

TESTS = ROOT / "tests"


def test_no_test_file_sits_at_the_top_of_tests() -> None:
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    folders = sorted(p.name for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    assert not loose, f"move {loose} into the folder of the stage they test (one of {folders}; see docs/architecture.md)"


def test_every_test_folder_is_a_package() -> None:
    """Without ``__init__.py``, two folders' ``test_x.py`` would clash and ``from ..conftest import`` would fail."""
    folders = {p.parent for p in TESTS.rglob("test_*.py")}
    assert len(folders) >= 8
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"add an empty __init__.py to {missing}"


class FakeItem:
    """What the marking hook reads of a collected test: its fixtures and its markers."""

    def __init__(self, fixtures: tuple[str, ...], marks: tuple[str, ...] = ()) -> None:
        self.fixturenames = list(fixtures)
        self.marks = set(marks)

    def get_closest_marker(self, name: str) -> object:
        return name if name in self.marks else None

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.marks.add(mark.name)


def test_the_hook_marks_tests_on_the_demo_store_and_end_to_end_tests_slow() -> None:
    on_store, e2e, fast = FakeItem(("tmp_path", *SLOW_FIXTURES)), FakeItem(("tmp_path",), ("e2e",)), FakeItem(("tmp_path",))
    pytest_collection_modifyitems([on_store, e2e, fast])  # type: ignore[list-item]
    assert "slow" in on_store.marks and "slow" in e2e.marks and "slow" not in fast.marks


def test_this_session_runs_no_unmarked_test_on_the_demo_store(request: pytest.FixtureRequest) -> None:
    """Every collected test on the demo store is marked, so ``-m "not slow"`` leaves none of them in."""
    unmarked = [item.nodeid for item in request.session.items
                if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("slow")]
    assert not unmarked, f"tests on the ingested demo store without the slow marker: {unmarked[:5]}"


def test_the_top_of_tests_holds_only_shared_helpers() -> None:
    helpers = {p.name for p in TESTS.glob("*.py")} | {p.name for p in TESTS.iterdir() if p.is_dir()}
    expected = {"__init__.py", "conftest.py", "fake_openai.py", "slack_fake.py", "loadtest.py", "data", "c"}
    assert expected <= helpers, f"the shared helpers stay at the top of tests/: {sorted(expected - helpers)} moved"


def test_the_docs_name_only_test_files_that_exist() -> None:
    pattern = re.compile(r"(?<![\w/.-])tests/[\w/]*test_\w+\.py")
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "eval").rglob("*.md")]
    named = {(doc.relative_to(ROOT).as_posix(), m.group(0)) for doc in docs
             for m in pattern.finditer(doc.read_text(encoding="utf-8"))}
    assert len(named) > 10, "the docs name too few test files: did the pattern break?"
    stale = sorted(pair for pair in named if not (ROOT / pair[1]).is_file())
    assert not stale, f"these docs name test files that do not exist (moved into a stage folder?): {stale}"
