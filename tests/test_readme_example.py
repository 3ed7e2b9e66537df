"""The README's sample `assistant ask` output is what the code prints (regenerate: scripts/readme_example.py)."""

from __future__ import annotations

import importlib.util

from assistant.pipeline import Assistant

from .conftest import ROOT


def test_readme_sample_output_is_what_the_code_prints(assistant: Assistant) -> None:
    spec = importlib.util.spec_from_file_location("readme_example", ROOT / "scripts" / "readme_example.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    shown = script.readme_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert shown == script.example(assistant), "run: python scripts/readme_example.py --write"
