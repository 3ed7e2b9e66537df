"""The README's sample `assistant ask` output is what the code prints (regenerate: scripts/readme_example.py).

Scores are compared to within SCORE_SLACK: the int8 question encoder's last digits may differ between CPUs; titles,
quotes, offsets and order must match exactly.
"""

from __future__ import annotations

import importlib.util
import re

from assistant.pipeline import Assistant

from ..conftest import ROOT

SCORE = re.compile(r"\(score (-?\d+\.\d+)\)")
SCORE_SLACK = 0.05


def test_readme_sample_output_is_what_the_code_prints(assistant: Assistant) -> None:
    spec = importlib.util.spec_from_file_location("readme_example", ROOT / "scripts" / "readme_example.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    shown = script.readme_block((ROOT / "README.md").read_text(encoding="utf-8"))
    printed = script.example(assistant)
    hint = "run: python scripts/readme_example.py --write"
    assert SCORE.sub("(score …)", shown) == SCORE.sub("(score …)", printed), hint
    pairs = zip(SCORE.findall(shown), SCORE.findall(printed), strict=True)
    assert all(abs(float(a) - float(b)) <= SCORE_SLACK for a, b in pairs), hint
