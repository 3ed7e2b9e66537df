"""Hostile files and exports: a YAML alias bomb, a deeply nested JSONL line, symbolic links, formulas in CSV cells."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from assistant.feedback import FeedbackStore
from assistant.loading import LoadError, load_file, load_paths
from assistant.types import Article

LEVELS = "abcdefghi"


def alias_bomb() -> str:
    """A Markdown file whose front matter is "billion laughs": nine levels of nine aliases (9^9 strings)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip(LEVELS, LEVELS[1:], strict=False):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    lines.append(f"title: [{','.join(['*i'] * 9)}]")
    return "---\n" + "\n".join(lines) + "\n---\nТекст статьи о погоде.\n"


BOMB_RUN = """import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # on a loader that expands it: MemoryError, not OOM
from assistant.loading import load_paths
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results = list(load_paths([Path(p) for p in sys.argv[1:]]))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
for r in results:
    print(getattr(r, "reason", None) or "stored " + r.title[:40])
print(f"GROWN_KB {grown}")
"""


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.md"
    bomb.write_text(alias_bomb(), encoding="utf-8")
    good = tmp_path / "good.md"
    good.write_text("---\ntitle: Погода\ndate: 2026-03-01\n---\nВ Москве тепло.\n", encoding="utf-8")
    assert len(bomb.read_bytes()) < 600
    proc = subprocess.run([sys.executable, "-c", BOMB_RUN, str(bomb), str(good)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert "aliases (*name) are not allowed in front matter" in lines[0] and "fix the lines between ---" in lines[0]
    assert lines[1] == "stored Погода"
    grown_mb = int(lines[-1].split()[1]) / 1024
    assert grown_mb < 100, f"RSS grew by {grown_mb:.0f} MB"


def test_anchors_without_aliases_and_plain_front_matter_still_load(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: &t Погода\nsource: Вести\n---\nВ Москве тепло.\n", encoding="utf-8")
    (article,) = load_file(path)
    assert isinstance(article, Article) and article.title == "Погода" and article.source == "Вести"


def test_a_deeply_nested_jsonl_line_fails_alone_with_its_line_number(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    deep = "[" * 1000 + "]" * 1000
    lines = [{"title": "Первая", "text": "Первая статья о мосте."}, None,
             {"title": "Третья", "text": "Третья статья о реке."}, None,
             {"title": "Пятая", "text": "Пятая статья о лесе."}]
    text = [json.dumps(x, ensure_ascii=False) for x in lines]
    text[1] = '{"text": "x", "tags": ' + deep + "}"
    text[3] = '{"text": "Четвёртая.", "meta": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    feed.write_text("\n".join(text) + "\n", encoding="utf-8")
    results = list(load_paths([feed]))
    errors = {r.path: r.reason for r in results if isinstance(r, LoadError)}
    assert [r.title for r in results if isinstance(r, Article)] == ["Первая", "Третья", "Пятая"]
    assert set(errors) == {f"{feed}:2", f"{feed}:4"}, errors
    assert all("nested too deeply" in reason for reason in errors.values())


def test_symbolic_links_are_followed_only_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "real.txt").write_text("Настоящая статья о погоде в Москве.", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash", encoding="utf-8")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "secret.txt").symlink_to(outside)
    (folder / "inside.txt").symlink_to(folder / "sub" / "real.txt")
    (folder / "loop1.txt").symlink_to(folder / "loop2.txt")
    (folder / "loop2.txt").symlink_to(folder / "loop1.txt")
    (folder / "gone.txt").symlink_to(tmp_path / "nothing.txt")
    (folder / "etc").symlink_to("/etc")
    results = list(load_paths([folder]))
    stored = sorted(Path(r.path).name for r in results if isinstance(r, Article))
    errors = {Path(r.path).name: r.reason for r in results if isinstance(r, LoadError)}
    assert stored == ["inside.txt", "real.txt"]
    assert "outside the folder being ingested" in errors["passwd.txt"] and "/etc/passwd" in errors["passwd.txt"]
    assert "outside the folder being ingested" in errors["secret.txt"] and "outside the folder" in errors["etc"]
    assert "symbolic link loop" in errors["loop1.txt"] and "symbolic link loop" in errors["loop2.txt"]
    assert "missing target" in errors["gone.txt"]
    assert not any("root:" in r.text for r in results if isinstance(r, Article))


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd|' /C calc'!A0", "+1+2", "-2+3", "@SUM(A1)",
            "\t=1+1", "\r=1+1"]


def test_feedback_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    for payload in FORMULAS:
        store.add(channel="slack", rating=-1, comment=payload, user=payload,
                  answer={"question": payload, "answer": payload, "citations": []})
    store.add(channel="web", rating=1, comment="хорошо", answer={"question": "Что?", "answer": "Это."})
    out = io.StringIO()
    assert store.export(out, "csv") == len(FORMULAS) + 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    for row, payload in zip(rows, FORMULAS, strict=False):
        for field in ("comment", "user", "question", "answer"):
            assert row[field] == "'" + payload, (field, row[field])
        assert row["rating"] == "-1"  # a number stays a number
    assert rows[-1]["comment"] == "хорошо" and rows[-1]["question"] == "Что?"
    store.close()
