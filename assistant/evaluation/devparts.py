"""The four development parts of ``../shared/eval-data/news-qa-dev``: questions, corpus (built with the shared
builder scripts) and the store each one is ingested into."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .metrics import EvalQuestion, load_jsonl

DEV_DIR = "eval-data/news-qa-dev"
ALSO_IN_SOURCE = "validate_telegram.py"  # its DEV_CONFIG["also_in"]: posts repeating the gold answer verbatim


@dataclass(frozen=True)
class DevPart:
    """One development part: its questions file, how its corpus is built and which store holds it."""

    name: str  # nerel, w2, telegram, corus
    shared: Path  # the ../shared folder
    questions_file: str  # inside ``shared/eval-data/news-qa-dev``
    corpus: str  # nerel (the NEREL train folder as it is), telegram or corus (built by the shared scripts)

    @property
    def store_name(self) -> str:
        """The store folder: both NEREL parts share one store of the 746 train articles."""
        return "nerel-train" if self.corpus == "nerel" else self.corpus

    def questions(self) -> list[EvalQuestion]:
        """The part's questions; Telegram items carry the duplicate posts that also hold their answer."""
        questions = load_jsonl(self.shared / DEV_DIR / self.questions_file).questions
        also = telegram_also_in(self.shared) if self.corpus == "telegram" else {}
        for q in questions:
            q.also_in = list(also.get(q.qid, []))
        return questions

    def corpus_path(self, workdir: Path) -> Path:
        """The part's corpus, built into ``workdir`` by the shared builder script unless it is there already."""
        if self.corpus == "nerel":
            return self.shared / "eval-data/nerel-wikinews/train"
        out = workdir / ("telegram.jsonl" if self.corpus == "telegram" else "corus")  # names fix the doc ids
        if not out.exists():
            workdir.mkdir(parents=True, exist_ok=True)
            script = self.shared / DEV_DIR / f"{self.corpus}_corpus.py"
            source = self.shared if self.corpus == "telegram" else self.shared / "eval-data/corus-news-samples"
            run = subprocess.run([sys.executable, str(script), str(source), str(out)], capture_output=True, text=True)
            if run.returncode != 0:
                raise RuntimeError(f"{script} could not build the {self.name} corpus: {run.stderr.strip()}")
        return out


PARTS = (("nerel", "news-qa-dev.jsonl", "nerel"), ("w2", "news-qa-dev-w2.jsonl", "nerel"),
         ("telegram", "news-qa-dev-telegram.jsonl", "telegram"), ("corus", "news-qa-dev-corus.jsonl", "corus"))


def dev_parts(shared: Path, names: str = "all") -> list[DevPart]:
    """The development parts named (comma-separated, or ``all``), in a fixed order."""
    if not (shared / DEV_DIR).is_dir():
        raise FileNotFoundError(f"{shared / DEV_DIR}: no development set here; pass --shared with the ../shared folder")
    wanted = [p[0] for p in PARTS] if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in {p[0] for p in PARTS}]
    if unknown:
        raise ValueError(f"unknown development part {', '.join(unknown)}: use {', '.join(p[0] for p in PARTS)} or all")
    return [DevPart(name, shared, file, corpus) for name, file, corpus in PARTS if name in wanted]


def telegram_also_in(shared: Path) -> dict[str, list[str]]:
    """``also_in`` of the Telegram validator's DEV_CONFIG, read as a literal (the script is not run)."""
    tree = ast.parse((shared / DEV_DIR / ALSO_IN_SOURCE).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "also_in":
                    return {str(k): list(v) for k, v in ast.literal_eval(value).items()}
    raise ValueError(f"{shared / DEV_DIR / ALSO_IN_SOURCE}: no also_in table found")
