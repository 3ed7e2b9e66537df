"""Chooses ``answering.slots.POLICY`` out of fold: for each development part left out, the action per language pair
(off, hedge or decline when quote [1] leaves the asked slot unfilled) that does best on the other parts, scored on
the part left out. Works on the outcomes ``assistant eval --dev-part all --outcomes FILE`` wrote (slot rule off).

    python -m assistant.evaluation.slotfit OUTCOMES.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..answering.analysis import detect_lang
from ..answering.slots import check
from .metrics import norm

ACTIONS = ("off", "hedge", "decline")
PAIRS = ("ru-ru", "en-ru")


LOSS_WEIGHT = 2.0  # a right answer lost (declined or hedged) costs twice what a near miss caught gains


@dataclass
class Figures:
    """The declining and hedging figures of a set of outcomes (rates, and the counts the choice is made on)."""

    ans_declined: float
    unans_declined: float
    unans_unhedged: float
    correct_hedged: float
    quote1: float
    n_ans: int = 0
    n_unans: int = 0

    def gain(self, base: Figures) -> float:
        """Near misses caught (declined, or at least hedged: half) minus right answers lost, in questions."""
        won = (self.unans_declined - base.unans_declined) * self.n_unans + \
            0.5 * (base.unans_unhedged - self.unans_unhedged) * self.n_unans
        lost = (self.ans_declined - base.ans_declined) * self.n_ans + \
            (self.correct_hedged * self.quote1 - base.correct_hedged * base.quote1) * self.n_ans
        return won - LOSS_WEIGHT * lost


def pair_of(rec: dict) -> str:
    """The language pair of a record (all development corpora are Russian)."""
    return f"{detect_lang(str(rec['question']))}-ru"


def hit(rec: dict) -> bool:
    """Whether the record's first quote holds a gold answer (≤ 400 characters)."""
    quote = str(rec["quote"])
    return bool(quote) and len(quote) <= 400 and any(norm(a) in norm(quote) for a in rec["answers"])


def applied(rec: dict, action: str) -> dict:
    """The record as the answer would be with the slot action."""
    if action == "off" or not rec["answered"] or check(str(rec["question"]), str(rec["quote"])).filled:
        return rec
    if action == "hedge":
        return {**rec, "confident": False}
    return {**rec, "answered": False, "confident": True, "quote": ""}


def figures(recs: Sequence[dict]) -> Figures:
    """The figures of a set of records."""
    ans = [r for r in recs if r["doc_id"] is not None]
    unans = [r for r in recs if r["doc_id"] is None]
    correct = [r for r in ans if r["answered"] and hit(r)]

    def rate(flags: list[bool]) -> float:
        return sum(flags) / len(flags) if flags else 0.0

    return Figures(rate([not r["answered"] for r in ans]), rate([not r["answered"] for r in unans]),
                   rate([r["answered"] and r["confident"] for r in unans]),
                   rate([not r["confident"] for r in correct]), rate([hit(r) for r in ans]), len(ans), len(unans))


def choose(recs: Sequence[dict], pair: str) -> str:
    """The action for one language pair that gains most on these records (off unless one gains)."""
    mine = [r for r in recs if pair_of(r) == pair]
    base = figures(mine)
    gains = {a: figures([applied(r, a) for r in mine]).gain(base) for a in ACTIONS[1:]}
    best = max(gains, key=lambda a: gains[a])
    return best if gains[best] > 0 else "off"


def leave_one_part_out(recs: Sequence[dict]) -> list[tuple[str, dict[str, str], Figures, Figures]]:
    """Per part: the policy chosen on the others, and the part's figures without and with it."""
    out = []
    for part in dict.fromkeys(str(r["set"]) for r in recs):
        rest = [r for r in recs if r["set"] != part]
        policy = {pair: choose(rest, pair) for pair in PAIRS}
        held = [r for r in recs if r["set"] == part]
        out.append((part, policy, figures(held), figures([applied(r, policy[pair_of(r)]) for r in held])))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print the out-of-fold table and the policy chosen on all parts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("outcomes", type=Path)
    args = parser.parse_args(argv)
    recs = [json.loads(line) for line in args.outcomes.read_text(encoding="utf-8").splitlines() if line.strip()]
    print("| part left out | policy (ru-ru / en-ru) | quote@1 | answerable declined | unanswerable declined | "
          "unanswerable unhedged | correct hedged |")
    print("|---|---|---|---|---|---|---|")
    for part, policy, before, after in leave_one_part_out(recs):
        cells = [f"{b:.2f} → {a:.2f}" for b, a in zip(
            (before.quote1, before.ans_declined, before.unans_declined, before.unans_unhedged, before.correct_hedged),
            (after.quote1, after.ans_declined, after.unans_declined, after.unans_unhedged, after.correct_hedged),
            strict=True)]
        print(f"| {part} | {policy['ru-ru']} / {policy['en-ru']} | " + " | ".join(cells) + " |")
    print("chosen on all parts:", {pair: choose(recs, pair) for pair in PAIRS})


if __name__ == "__main__":
    main()
