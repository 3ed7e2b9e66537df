"""Build corpus/ from ../shared: the seed article plus ~100 Russian Wikinews articles (CC BY), with headers.

Run from the repository root: ``python scripts/make_demo_corpus.py``. The output is committed; this script documents
how it was made. Each Wikinews file keeps its text unchanged below a few ``key value`` header lines.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import dateparser

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
OUT = Path(__file__).resolve().parent.parent / "corpus"
MONTHS = "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
DATE_RE = re.compile(rf"\b(\d{{1,2}}) ({MONTHS}) (\d{{4}})\b")
NUMERIC_RE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})")
N_WIKINEWS = 100


def find_date(text: str) -> str | None:
    """The first full date written in the text, as ISO."""
    for line in text.splitlines()[1:6]:
        m = NUMERIC_RE.match(line.strip())
        if m:
            return f"{m.group(3)}-{m.group(2)}-{m.group(1)}"
    m = DATE_RE.search(text)
    if not m:
        return None
    parsed = dateparser.parse(m.group(0), languages=["ru"])
    if parsed is None or parsed.year < 2004:  # an older date is history told in the story, not its date
        return None
    return parsed.date().isoformat()


def main() -> int:
    """Write the demo corpus."""
    if not SHARED.is_dir():
        print(f"no {SHARED}: this script needs the project's shared/ folder beside the repository", file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    seed = (SHARED / "seed" / "000_348cd98c955992e8.txt").read_text(encoding="utf-8")
    header = "title Визит Ильхама Алиева в Казахстан: казахстанский эксперт об итогах\nsource Day.Az\n"
    (OUT / "000_348cd98c955992e8.txt").write_text(header + seed, encoding="utf-8")
    train = sorted((SHARED / "eval-data" / "nerel-wikinews" / "train").glob("*.txt"))
    picked = 0
    for path in train:
        text = path.read_text(encoding="utf-8")
        if not (600 <= len(text) <= 6000):
            continue
        day = find_date(text)
        if day is None:
            continue
        head = f"date {day}\nsource Викиновости\n"
        (OUT / f"wikinews_{path.stem}.txt").write_text(head + text, encoding="utf-8")
        picked += 1
        if picked >= N_WIKINEWS:
            break
    print(f"wrote the seed and {picked} Wikinews articles to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
