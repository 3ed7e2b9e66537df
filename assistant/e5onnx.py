"""ONNX export of the converted e5 checkpoint (fp32, and int8 by ONNX Runtime's dynamic quantisation), offline.

Built once on first use from the sentence-transformers checkpoint that ``e5convert`` wrote, cached beside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ONNX_DIR = "multilingual-e5-small-onnx"


def ensure_onnx(model_dir: Path, cache_dir: Path, int8: bool) -> Path:
    """The cached ONNX file (int8 or fp32) of the converted checkpoint, exporting it first if absent."""
    out = cache_dir / ONNX_DIR / model_dir.name
    fp32, q8 = out / "model.onnx", out / "model_int8.onnx"
    if not fp32.exists():
        out.mkdir(parents=True, exist_ok=True)
        _atomic(fp32, lambda tmp: export_fp32(model_dir, tmp))
    if int8 and not q8.exists():
        _atomic(q8, lambda tmp: quantize_int8(fp32, tmp))
    return q8 if int8 else fp32


def _atomic(final: Path, build: object) -> None:
    """Build into a temporary file beside ``final``, then rename it into place."""
    fd, name = tempfile.mkstemp(suffix=".onnx", dir=final.parent)
    os.close(fd)
    try:
        build(Path(name))  # type: ignore[operator]
        os.replace(name, final)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def export_fp32(model_dir: Path, target: Path) -> None:
    """Export the BERT encoder (input ids, attention mask → last hidden state) with dynamic batch and length."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[0, 1000, 2000, 3000, 2]])
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(Encoder(), (ids, torch.ones_like(ids)), str(target), input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})


def quantize_int8(fp32: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
