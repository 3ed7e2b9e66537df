"""The answer ranker's weights file: one JSON per model, checked against the code that reads it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .correction import GATE, Correction, correction_from_json

FORMAT = "news-assistant/linear-ranker/v1"
RETRAIN = ("python -m assistant.answering.training.train --shared ../shared "
           "(or ASSISTANT_ANSWER_RANKER=formula)")


class AnswerModelError(RuntimeError):
    """The ranker's weights file is missing, malformed, or does not fit the running code or model."""


@dataclass(frozen=True)
class LinearModel:
    """Weights of a linear ranker: standardisation, coefficients, per-language-pair decline thresholds."""

    path: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    thresholds: dict[str, float]  # "ru-ru", "en-ru", …: below this score the best quote is not an answer
    margin: float  # further quotes are shown while within this margin of the best
    prior_weight: float  # weight of the formula score added to the linear score (0 = none)
    embedder_model_id: str
    raw: dict[str, Any]
    hedge_below: dict[str, float] | None = None  # per language pair: a first quote less likely than this to hold the
    # answer is offered as "closest" (a single number in older files: every pair)
    correction: Correction | None = None  # added for questions that copy the text's words (none in older files)


def builtin_path(name: str) -> Path:
    """Path of a weights file shipped in the package (``linear-v1`` → weights/linear-v1.json)."""
    return Path(str(resources.files("assistant.answering") / "weights" / f"{name}.json"))


def read_model(path: Path, known: tuple[str, ...], embedder_model_id: str) -> LinearModel:
    """Read and check a weights file; every problem names the file and the fix."""
    if not path.is_file():
        raise AnswerModelError(f"{path}: answer-ranker weights not found; rebuild them with {RETRAIN}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AnswerModelError(f"{path}: not readable JSON ({exc}); rebuild it with {RETRAIN}") from exc
    if raw.get("format") != FORMAT:
        raise AnswerModelError(f"{path}: unknown format {raw.get('format')!r} (expected {FORMAT}); {RETRAIN}")
    unknown = [f for f in raw.get("features", []) if f not in known]
    if unknown:
        raise AnswerModelError(f"{path}: features {unknown} are no longer computed; retrain: {RETRAIN}")
    if raw.get("embedder_model_id") != embedder_model_id:
        raise AnswerModelError(f"{path}: trained with embeddings {raw.get('embedder_model_id')!r}, running "
                               f"{embedder_model_id!r}; retrain: {RETRAIN}")
    return _build(path, raw, known)


def _correction(path: Path, raw: dict[str, Any] | None, known: tuple[str, ...]) -> Correction | None:
    """The file's copy-gated correction, checked: the gate this code computes, every known feature in order."""
    if raw is None:
        return None
    if raw.get("gate") != GATE or raw.get("features") != list(known):
        raise AnswerModelError(f"{path}: the correction's gate or features do not match this code; retrain: {RETRAIN}")
    numbers = [*raw["mean"], *raw["scale"], *raw["coef"], raw["gated_intercept"], raw["intercept"]]
    if any(len(raw[k]) != len(known) for k in ("mean", "scale", "coef")) or not all(map(math.isfinite, numbers)):
        raise AnswerModelError(f"{path}: the correction is not {len(known)} finite numbers per feature; "
                               f"retrain: {RETRAIN}")
    return correction_from_json(raw)


def _hedge(path: Path, raw: Any) -> dict[str, float] | None:
    """The hedge thresholds: per language pair, or one number for every pair (older files), or none."""
    if raw is None:
        return None
    values = raw if isinstance(raw, dict) else {"ru-ru": raw}
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values.values()) or "ru-ru" not in values:
        raise AnswerModelError(f"{path}: hedge_below must be a number or numbers per language pair with ru-ru; "
                               f"retrain: {RETRAIN}")
    return {k: float(v) for k, v in values.items()}


def _build(path: Path, raw: dict[str, Any], known: tuple[str, ...]) -> LinearModel:
    n = len(raw["features"])
    numbers = [*raw["mean"], *raw["scale"], *raw["coef"], raw["intercept"], raw["margin"],
               *raw["thresholds"].values()]
    if any(len(raw[k]) != n for k in ("mean", "scale", "coef")) or not all(math.isfinite(x) for x in numbers):
        raise AnswerModelError(f"{path}: weights are not {n} finite numbers per feature; retrain: {RETRAIN}")
    if "ru-ru" not in raw["thresholds"]:
        raise AnswerModelError(f"{path}: no decline threshold for ru-ru; retrain: {RETRAIN}")
    return LinearModel(str(path), tuple(raw["features"]), tuple(raw["mean"]), tuple(raw["scale"]),
                       tuple(raw["coef"]), float(raw["intercept"]), dict(raw["thresholds"]), float(raw["margin"]),
                       float(raw.get("prior_weight", 0.0)), raw["embedder_model_id"], raw,
                       _hedge(path, raw.get("hedge_below")),
                       _correction(path, raw.get("correction"), known))


def write_model(path: Path, payload: dict[str, Any]) -> None:
    """Write weights deterministically: sorted keys, floats rounded to 6 digits."""

    def rounded(x: Any) -> Any:
        if isinstance(x, float):
            return round(x, 6)
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [rounded(v) for v in x]
        return x

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rounded(payload), ensure_ascii=False, sort_keys=True, indent=1) + "\n",
                    encoding="utf-8")
