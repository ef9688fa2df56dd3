"""GGML block quantizations decoded in torch, so quantized weights expand on the compute device, per layer.

Each quantized row is a run of fixed-size blocks (``BLOCK_SIZES``: values per block, bytes per block).
The functions below take the raw bytes as a uint8 tensor ``[..., n_bytes]`` and return float32
``[..., n_values]``; they follow the block layouts of ggml (``ggml-common.h``) and compute in the same
order as the ``gguf`` package's numpy reference, so the results are equal to it, value for value.
"""
from __future__ import annotations

import torch
from torch import Tensor

QK_K = 256  # values per super-block of the K-quants

# type name -> (values per block, bytes per block)
BLOCK_SIZES = {
    "Q4_0": (32, 18),
    "Q4_1": (32, 20),
    "Q5_0": (32, 22),
    "Q5_1": (32, 24),
    "Q8_0": (32, 34),
    "Q2_K": (256, 84),
    "Q3_K": (256, 110),
    "Q4_K": (256, 144),
    "Q5_K": (256, 176),
    "Q6_K": (256, 210),
}


def _f16(raw: Tensor) -> Tensor:
    """Little-endian fp16 bytes [..., 2] -> float32 [..., 1]."""
    return raw.contiguous().view(torch.float16).to(torch.float32)


def _bits(raw: Tensor, shifts: list[int], width: int) -> Tensor:
    """[n, groups, k] bytes -> [n, groups, len(shifts), k]: each byte shifted right by each shift, masked."""
    shift = torch.tensor(shifts, dtype=torch.uint8, device=raw.device).view(1, 1, -1, 1)
    return (raw.unsqueeze(-2) >> shift) & ((1 << width) - 1)


def _nibbles(qs: Tensor, half: int) -> Tensor:
    """Bytes [n, k] -> [n, 2k] values: low nibbles of each ``half``-byte group first, then high nibbles."""
    n = qs.shape[0]
    return _bits(qs.reshape(n, -1, half), [0, 4], 4).reshape(n, -1)


def _q4_0(b: Tensor) -> Tensor:
    d, qs = _f16(b[:, :2]), b[:, 2:]
    return d * (_nibbles(qs, 16).to(torch.int8) - 8).to(torch.float32)


def _q4_1(b: Tensor) -> Tensor:
    d, m, qs = _f16(b[:, :2]), _f16(b[:, 2:4]), b[:, 4:]
    return d * _nibbles(qs, 16).to(torch.float32) + m


def _high_bits_32(qh: Tensor) -> Tensor:
    """4 bytes = one little-endian uint32 -> its 32 bits, lowest first, [n, 32] uint8."""
    n = qh.shape[0]
    return _bits(qh.reshape(n, 1, 4), list(range(8)), 1).permute(0, 1, 3, 2).reshape(n, 32)


def _q5_0(b: Tensor) -> Tensor:
    d, qh, qs = _f16(b[:, :2]), b[:, 2:6], b[:, 6:]
    q = _nibbles(qs, 16) | (_high_bits_32(qh) << 4)
    return d * (q.to(torch.int8) - 16).to(torch.float32)


def _q5_1(b: Tensor) -> Tensor:
    d, m, qh, qs = _f16(b[:, :2]), _f16(b[:, 2:4]), b[:, 4:8], b[:, 8:]
    q = _nibbles(qs, 16) | (_high_bits_32(qh) << 4)
    return d * q.to(torch.float32) + m


def _q8_0(b: Tensor) -> Tensor:
    d, qs = _f16(b[:, :2]), b[:, 2:]
    return qs.contiguous().view(torch.int8).to(torch.float32) * d


def _q2_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    scales, qs, d, dmin = b[:, :16], b[:, 16:80], _f16(b[:, 80:82]), _f16(b[:, 82:84])
    dl = (d * (scales & 0xF).to(torch.float32)).reshape(n, 16, 1)
    ml = (dmin * (scales >> 4).to(torch.float32)).reshape(n, 16, 1)
    q = _bits(qs.reshape(n, -1, 32), [0, 2, 4, 6], 2).reshape(n, 16, 16).to(torch.float32)
    return (dl * q - ml).reshape(n, QK_K)


def _q3_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    hmask, qs, scales, d = b[:, :32], b[:, 32:96], b[:, 96:108], _f16(b[:, 108:110])
    low = _bits(scales[:, :8].reshape(n, 1, 8), [0, 4], 8).reshape(n, 16)
    high = _bits(scales[:, 8:].reshape(n, 1, 4), [0, 2, 4, 6], 8).reshape(n, 16)
    sc = ((low & 0x0F) | ((high & 0x03) << 4)).to(torch.int8) - 32
    dl = (d * sc.to(torch.float32)).reshape(n, 16, 1)
    ql = _bits(qs.reshape(n, -1, 32), [0, 2, 4, 6], 2).reshape(n, 16, 16)
    qh = _bits(hmask.reshape(n, -1, 32), list(range(8)), 1).reshape(n, 16, 16) ^ 1  # bit set: no offset
    q = (ql.to(torch.int8) - (qh << 2).to(torch.int8)).to(torch.float32)
    return (dl * q).reshape(n, QK_K)


def _k_scale_min(scales: Tensor) -> tuple[Tensor, Tensor]:
    """The eight 6-bit (scale, min) pairs packed into 12 bytes of a Q4_K / Q5_K super-block."""
    n = scales.shape[0]
    s = scales.reshape(n, 3, 4)
    d, m, m_d = s[:, 0], s[:, 1], s[:, 2]
    sc = torch.cat([d & 0x3F, (m_d & 0x0F) | ((d >> 2) & 0x30)], dim=-1)
    mn = torch.cat([m & 0x3F, (m_d >> 4) | ((m >> 2) & 0x30)], dim=-1)
    return sc, mn


def _q4_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    d, dmin, scales, qs = _f16(b[:, :2]), _f16(b[:, 2:4]), b[:, 4:16], b[:, 16:]
    sc, mn = _k_scale_min(scales)
    dl = (d * sc.to(torch.float32)).reshape(n, -1, 1)
    ml = (dmin * mn.to(torch.float32)).reshape(n, -1, 1)
    q = _bits(qs.reshape(n, -1, 32), [0, 4], 4).reshape(n, -1, 32).to(torch.float32)
    return (dl * q - ml).reshape(n, QK_K)


def _q5_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    d, dmin, scales = _f16(b[:, :2]), _f16(b[:, 2:4]), b[:, 4:16]
    qh, qs = b[:, 16:48], b[:, 48:]
    sc, mn = _k_scale_min(scales)
    dl = (d * sc.to(torch.float32)).reshape(n, -1, 1)
    ml = (dmin * mn.to(torch.float32)).reshape(n, -1, 1)
    ql = _bits(qs.reshape(n, -1, 32), [0, 4], 4).reshape(n, -1, 32)
    high = _bits(qh.reshape(n, 1, 32), list(range(8)), 1).reshape(n, -1, 32)
    q = (ql | (high << 4)).to(torch.float32)
    return (dl * q - ml).reshape(n, QK_K)


def _q6_k(b: Tensor) -> Tensor:
    n = b.shape[0]
    ql, qh, scales, d = b[:, :128], b[:, 128:192], b[:, 192:208], _f16(b[:, 208:210])
    dl = (d * scales.contiguous().view(torch.int8).to(torch.float32)).reshape(n, 16, 1)
    low = _bits(ql.reshape(n, -1, 64), [0, 4], 4).reshape(n, -1, 32)
    high = _bits(qh.reshape(n, -1, 32), [0, 2, 4, 6], 2).reshape(n, -1, 32)
    q = ((low | (high << 4)).to(torch.int8) - 32).reshape(n, 16, -1).to(torch.float32)
    return (dl * q).reshape(n, QK_K)


_DECODERS = {
    "Q4_0": _q4_0, "Q4_1": _q4_1, "Q5_0": _q5_0, "Q5_1": _q5_1, "Q8_0": _q8_0,
    "Q2_K": _q2_k, "Q3_K": _q3_k, "Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k,
}


def packed_shape(qtype: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The uint8 shape holding a tensor of logical ``shape`` quantized as ``qtype``."""
    values, nbytes = BLOCK_SIZES[qtype]
    if shape[-1] % values:
        raise ValueError(f"a {qtype} row must hold a multiple of {values} values, got {shape[-1]}")
    return (*shape[:-1], shape[-1] // values * nbytes)


def dequantize(raw: Tensor, qtype: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
    """Raw ``qtype`` bytes (uint8, any shape holding the blocks in order) -> a ``dtype`` tensor of ``shape``."""
    decode = _DECODERS.get(qtype)
    if decode is None:
        raise ValueError(f"unsupported GGUF quantization {qtype}; supported: {', '.join(_DECODERS)}")
    nbytes = BLOCK_SIZES[qtype][1]
    blocks = raw.reshape(-1, nbytes)
    return decode(blocks).reshape(shape).to(dtype)
