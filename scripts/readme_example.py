"""Print (or, with --write, put into README.md) the README's sample `assistant ask` output, produced by the code.

Run after a change to ranking or printing: ``python scripts/readme_example.py --write [--data-dir DIR]`` (the data
dir must hold the demo corpus, e.g. the one `assistant serve` fills; default: a fresh temp dir, ingested now).
tests/docs/test_readme_example.py fails when the README's block differs from what the code prints.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from assistant.cli import format_answer
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
QUESTION = "Какие документы были подписаны во время визита?"
BLOCK = re.compile(r"(`assistant ask` prints:\n\n```\n)(.*?)(\n```\n)", re.DOTALL)


def example(assistant: Assistant) -> str:
    """What `assistant ask "<QUESTION>"` prints over the demo corpus."""
    return format_answer(assistant.ask(QUESTION))


def readme_block(text: str) -> str:
    """The sample output block of the README's text."""
    match = BLOCK.search(text)
    if not match:
        raise SystemExit("README.md has no block after «`assistant ask` prints:»")
    return match.group(2)


def main() -> None:
    """Print the example; with --write, replace the README's block with it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Rewrite the block in README.md.")
    parser.add_argument("--data-dir", type=Path, help="A data dir holding the demo corpus (else a fresh one).")
    args = parser.parse_args()
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="readme-example-"))
    assistant = Assistant(Settings(data_dir=data, llm=""))
    try:
        if not assistant.stats().documents:
            assistant.ingest([ROOT / "corpus"])
        out = example(assistant)
    finally:
        assistant.close()
    print(out)
    if args.write:
        text = README.read_text(encoding="utf-8")
        README.write_text(BLOCK.sub(lambda m: m.group(1) + out + m.group(3), text, count=1), encoding="utf-8")


if __name__ == "__main__":
    main()
