"""``assistant ingest --shard K/N``: N workers given the same folders split the articles with no overlap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.loading import Shard, load_paths
from assistant.types import Article

from ..conftest import CORPUS


def corpus_ids(tmp_path: Path) -> list[str]:
    """Article ids of the demo corpus plus a JSONL file of several articles (sharded per article, not per file)."""
    lines = [{"title": f"Заметка {i}", "text": f"Текст заметки номер {i} о погоде в городе."} for i in range(12)]
    (tmp_path / "feed.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return [a.doc_id for a in load_paths([CORPUS, tmp_path]) if isinstance(a, Article)]


@pytest.mark.parametrize("count", [2, 3])
def test_shards_split_the_articles_disjointly_and_completely(tmp_path: Path, count: int) -> None:
    ids = corpus_ids(tmp_path)
    shards = [{d for d in ids if Shard(k, count).holds(d)} for k in range(1, count + 1)]
    assert sum(len(s) for s in shards) == len(ids) == len(set().union(*shards))  # disjoint, nothing left out
    assert all(len(s) > len(ids) / count / 2 for s in shards)  # a hash split, not all in one shard
    assert {d for d in ids if Shard(2, count).holds(d)} == shards[1]  # stable: the same answer every time


def test_one_shard_holds_everything() -> None:
    assert all(Shard().holds(key) for key in ("a", "wikinews_003-1a2b", ""))


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_bad_shard_is_refused_with_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="K/N|between 1 and N"):
        Shard.parse(text)
    result = CliRunner().invoke(main, ["ingest", "--shard", text, str(CORPUS)])
    assert result.exit_code == 2 and "--shard" in result.output and "Traceback" not in result.output


def test_a_good_shard_parses() -> None:
    assert Shard.parse("2/3") == Shard(2, 3)
