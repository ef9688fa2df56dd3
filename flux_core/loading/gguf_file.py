"""Reading ``.gguf`` weight files (the layout of ComfyUI-GGUF's FLUX and T5 files) as lazy tensors.

The file is memory-mapped by the ``gguf`` package's reader. Plain tensors (F32, F16, BF16) load as torch
tensors in place; block-quantized ones (Q8_0 ... Q2_K) carry their raw bytes next to a dequantizing
``load``, so the module builder can keep linear weights quantized (see :mod:`.gguf_linear`) and
expand everything else once. Shapes in GGUF are stored fastest-axis first; they are reversed here
to torch order, and ComfyUI-GGUF's ``comfy.gguf.orig_shape.<name>`` entries restore reshaped tensors.
T5 encoders converted with llama.cpp's names (``enc.blk.0.attn_q.weight``) are renamed to transformers'.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .errors import ModelLoadError
from .gguf_quants import BLOCK_SIZES, dequantize
from .tensors import LazyTensor, QuantizedSource

GGUF_MAGIC = b"GGUF"
ORIG_SHAPE_PREFIX = "comfy.gguf.orig_shape."

# llama.cpp's T5 encoder names -> transformers' (a fact of the file format; applied as substring renames)
T5_NAME_PARTS = (
    ("enc.", "encoder."),
    (".blk.", ".block."),
    ("token_embd", "shared"),
    ("output_norm", "final_layer_norm"),
    ("attn_q", "layer.0.SelfAttention.q"),
    ("attn_k", "layer.0.SelfAttention.k"),
    ("attn_v", "layer.0.SelfAttention.v"),
    ("attn_o", "layer.0.SelfAttention.o"),
    ("attn_norm", "layer.0.layer_norm"),
    ("attn_rel_b", "layer.0.SelfAttention.relative_attention_bias"),
    ("ffn_up", "layer.1.DenseReluDense.wi_1"),
    ("ffn_down", "layer.1.DenseReluDense.wo"),
    ("ffn_gate", "layer.1.DenseReluDense.wi_0"),
    ("ffn_norm", "layer.1.layer_norm"),
)


def is_gguf(path) -> bool:
    path = Path(path)
    if path.suffix.lower() == ".gguf":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _reader(path: Path):
    try:
        import gguf
    except ImportError:
        raise ModelLoadError(
            f"{path}: reading .gguf files needs the 'gguf' package (pip install gguf, or fluxwire[gguf])"
        ) from None
    if not path.exists():
        raise ModelLoadError(f"{path}: file not found")
    try:
        return gguf.GGUFReader(str(path), "c")  # copy-on-write mapping: torch gets writable arrays, no copy
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise ModelLoadError(f"{path}: not a valid GGUF file ({exc})") from None


def _rename_t5(name: str) -> str:
    for old, new in T5_NAME_PARTS:
        name = name.replace(old, new)
    return name


def _plain(data, qtype: str, shape: tuple[int, ...]) -> torch.Tensor:
    if qtype == "BF16":
        return torch.from_numpy(data).view(torch.int16).view(torch.bfloat16).reshape(shape)
    return torch.from_numpy(data).reshape(shape)


PLAIN_TYPES = ("F32", "F16", "BF16")


def open_gguf(path) -> tuple[dict[str, LazyTensor], dict[str, str]]:
    """All tensors of a GGUF file as lazy tensors (quantized ones dequantize to float32 when loaded),
    plus its string/number metadata as strings (``general.architecture``, ``fluxwire.config``, ...)."""
    path = Path(path)
    reader = _reader(path)
    metadata: dict[str, str] = {}
    orig_shapes: dict[str, tuple[int, ...]] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        try:
            value = field.contents()
        except Exception:  # exotic field types fluxwire does not read
            continue
        if key.startswith(ORIG_SHAPE_PREFIX):
            orig_shapes[key[len(ORIG_SHAPE_PREFIX):]] = tuple(int(v) for v in value)
        elif isinstance(value, (str, int, float, bool)):
            metadata[key] = str(value)
        elif isinstance(value, list) and len(value) < 64:
            metadata[key] = json.dumps(value)
    t5_names = any(t.name.startswith("enc.blk.") for t in reader.tensors)
    lazy: dict[str, LazyTensor] = {}
    unsupported = []
    for t in reader.tensors:
        qtype = t.tensor_type.name
        shape = orig_shapes.get(t.name, tuple(int(s) for s in reversed(t.shape.tolist())))
        name = _rename_t5(t.name) if t5_names else t.name
        origin = f"{path.name}:{t.name}"
        data = t.data
        if qtype in PLAIN_TYPES:
            dtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[qtype]
            lazy[name] = LazyTensor(shape, dtype, (lambda d=data, q=qtype, s=shape: _plain(d, q, s)), origin)
        elif qtype in BLOCK_SIZES:
            raw = (lambda d=data: torch.from_numpy(d))
            source = QuantizedSource(qtype, raw)
            load = (lambda r=raw, q=qtype, s=shape: dequantize(r(), q, s))
            lazy[name] = LazyTensor(shape, torch.float32, load, origin, quantized=source)
        else:
            unsupported.append(f"{t.name} ({qtype})")
    if unsupported:
        raise ModelLoadError(
            f"{path}: GGUF quantization types fluxwire does not read: {unsupported[:5]}; supported: "
            f"{', '.join(PLAIN_TYPES + tuple(BLOCK_SIZES))}"
        )
    if not lazy:
        raise ModelLoadError(f"{path}: the GGUF file holds no tensors")
    return lazy, metadata
