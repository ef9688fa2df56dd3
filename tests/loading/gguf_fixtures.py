"""Writing real .gguf files the way ComfyUI-GGUF's converter lays them out, with the ``gguf`` package.

Linear weights whose rows fit the block size are quantized with ``gguf.quants.quantize``; 1-D tensors,
embeddings-sized odd rows and everything else stay F32 (as the converter keeps small tensors in full
precision). T5 encoders get llama.cpp's tensor names. For the K-quants, which the ``gguf`` package can
decode but not encode, :func:`random_blocks` builds valid raw blocks (random bits, finite fp16 scales).
"""
from __future__ import annotations

import json

import numpy as np
import torch

QUANTIZABLE = ("Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "BF16", "F16")
K_QUANTS = ("Q6_K", "Q5_K", "Q4_K", "Q3_K", "Q2_K")

# byte offsets of the fp16 fields (d, dmin) inside one block, per type
FP16_FIELDS = {
    "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,),
    "Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,),
}

T5_TO_LLAMA = (  # transformers' T5 names -> llama.cpp's, applied in this order
    ("layer.0.SelfAttention.relative_attention_bias", "attn_rel_b"),
    ("layer.0.SelfAttention.q", "attn_q"), ("layer.0.SelfAttention.k", "attn_k"),
    ("layer.0.SelfAttention.v", "attn_v"), ("layer.0.SelfAttention.o", "attn_o"),
    ("layer.0.layer_norm", "attn_norm"), ("layer.1.DenseReluDense.wi_0", "ffn_gate"),
    ("layer.1.DenseReluDense.wi_1", "ffn_up"), ("layer.1.DenseReluDense.wo", "ffn_down"),
    ("layer.1.layer_norm", "ffn_norm"), ("final_layer_norm", "output_norm"), ("shared", "token_embd"),
    (".block.", ".blk."), ("encoder.", "enc."),
)


def llama_t5_name(name: str) -> str:
    for old, new in T5_TO_LLAMA:
        name = name.replace(old, new)
    return name


def qtype(name: str):
    from gguf import GGMLQuantizationType

    return GGMLQuantizationType[name]


def random_blocks(kind: str, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """Valid raw ``kind`` blocks for a [rows, cols] tensor: random payload bits, small finite fp16 scales."""
    from gguf import GGML_QUANT_SIZES

    values, nbytes = GGML_QUANT_SIZES[qtype(kind)]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(rows * cols // values, nbytes), dtype=np.uint8)
    for offset in FP16_FIELDS[kind]:
        scale = (rng.random(blocks.shape[0]) * 0.01 + 1e-4).astype(np.float16)
        blocks[:, offset:offset + 2] = scale.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(rows, cols // values * nbytes)


def write_gguf(path, tensors: dict[str, torch.Tensor], kind: str, architecture: str,
               config: dict | None = None, quantize_only=lambda name, t: True) -> dict[str, str]:
    """Write ``tensors`` as ``kind``; returns each tensor's stored type (a 2-D ``.weight`` whose rows fit
    ``kind``'s block and that ``quantize_only`` accepts is quantized, everything else stays F32)."""
    import gguf
    from gguf import GGML_QUANT_SIZES, quants

    writer = gguf.GGUFWriter(str(path), architecture)
    if config is not None:
        writer.add_string("fluxwire.config", json.dumps(config))
    stored = {}
    block = GGML_QUANT_SIZES[qtype(kind)][0]
    for name, t in tensors.items():
        array = t.detach().float().contiguous().numpy()
        if t.ndim == 2 and name.endswith(".weight") and t.shape[1] % block == 0 and quantize_only(name, t):
            if kind == "F16":
                writer.add_tensor(name, array.astype(np.float16))
            else:
                writer.add_tensor(name, quants.quantize(array, qtype(kind)), raw_dtype=qtype(kind))
            stored[name] = kind
        else:
            writer.add_tensor(name, array)
            stored[name] = "F32"
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored


def reference_dequantized(path) -> dict[str, torch.Tensor]:
    """Every tensor of a GGUF file decoded by the ``gguf`` package's numpy code (the independent oracle)."""
    import gguf
    from gguf import quants

    out = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        shape = tuple(int(s) for s in reversed(t.shape.tolist()))
        if t.tensor_type.name in ("F32", "F16"):
            array = np.array(t.data, dtype=np.float32)
        else:
            array = quants.dequantize(np.array(t.data), t.tensor_type)
        out[t.name] = torch.from_numpy(np.ascontiguousarray(array).reshape(shape).astype(np.float32))
    return out
