"""Citation [1] per question in two ``assistant eval --outcomes`` files (e.g. the embedded mode and server mode on
the same corpus): how many questions get the same first quote, and each one that differs.

Run: python bench/modes_compare.py embedded.jsonl server.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def first(record: dict[str, object]) -> tuple[object, ...]:
    """What citation [1] is: the first quote, and whether it was given as an answer or as the closest passage."""
    return record["quote"], record["answered"], record["confident"]


def load(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    """Records by (set, question id)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(str(r["set"]), str(r["id"])): r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    a, b = load(args.a), load(args.b)
    keys = [k for k in a if k in b]
    differ = [k for k in keys if first(a[k]) != first(b[k])]
    print(f"same citation [1] for {len(keys) - len(differ)} of {len(keys)} questions "
          f"({len(set(a) ^ set(b))} in only one file)")
    for k in differ:
        ra, rb = a[k], b[k]
        print(f"\n{k[0]} {k[1]}: {ra['question']}")
        for name, r in ((args.a.stem, ra), (args.b.stem, rb)):
            print(f"  {name}: answered={r['answered']} confident={r['confident']} ranking={r['ranking'][:3]}")
            print(f"    [1] {str(r['quote'])[:160]!r}")


if __name__ == "__main__":
    main()
