"""Building blocks of the FLUX.1 transformer (flux-spec §2), with BFL's sub-module names.

Parameter names match the official checkpoints so a state dict loads without renaming.
Every layer computes in the dtype of its input activations; weights stored in another dtype
(e.g. fp8 storage) are cast per call by :class:`Linear`.
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FP16_MAX = 65504.0


def _find_onednn_linear():
    """oneDNN's fused linear op, if this torch build has it (a private op: looked up, never assumed)."""
    if os.environ.get("FLUXWIRE_ONEDNN_LINEAR", "1") == "0" or not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


_ONEDNN_LINEAR = _find_onednn_linear()


def _use_onednn(x: Tensor, w: Tensor) -> bool:
    """Inference on CPU in fp32/bf16. The op has no backward, so training keeps F.linear."""
    return (
        _ONEDNN_LINEAR is not None
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.bfloat16)
        and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))
    )


def linear(x: Tensor, w: Tensor, b: Tensor | None, gelu: bool = False) -> Tensor:
    """x @ w.T + b, optionally followed by tanh-GELU, in x's dtype (w and b are cast if stored otherwise).

    On CPU inference this calls oneDNN's linear directly, with the GELU fused into it: F.linear goes
    to MKL's sgemm for fp32, which ran at half oneDNN's speed on the AMD EPYC machines this project
    is built on, and adds a separate bias pass in bf16. Same math up to summation order;
    FLUXWIRE_ONEDNN_LINEAR=0 turns it off.
    """
    if w.dtype != x.dtype:
        w = w.to(x.dtype)
    if b is not None and b.dtype != x.dtype:
        b = b.to(x.dtype)
    if _use_onednn(x, w):
        return _ONEDNN_LINEAR(x, w, b, "gelu" if gelu else "none", [], "tanh" if gelu else "")
    y = F.linear(x, w, b)
    return F.gelu(y, approximate="tanh") if gelu else y


class Linear(nn.Linear):
    """nn.Linear computing through :func:`linear`: input-dtype compute, oneDNN on CPU inference."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def forward_gelu(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias, gelu=True)


def dense_weight(layer: nn.Module, dtype: torch.dtype) -> Tensor | None:
    """The weight of a linear layer as a plain tensor to compute with, or None if the layer computes its own way.

    Loaders may swap in layers storing weights otherwise (e.g. fp8); such a layer offers
    ``compute_weight(dtype)``, so the fused paths below (GELU, split GEMMs) serve it too.
    """
    if type(layer) is Linear:
        return layer.weight
    get = getattr(layer, "compute_weight", None)
    return get(dtype) if get is not None else None


def gelu_linear(layer: nn.Module, x: Tensor) -> Tensor:
    """tanh-GELU(layer(x)); fused where the layer's weight is a plain tensor (see :func:`dense_weight`)."""
    w = dense_weight(layer, x.dtype)
    if w is not None:
        return linear(x, w, layer.bias, gelu=True)
    return F.gelu(layer(x), approximate="tanh")


def clamp_fp16(x: Tensor) -> Tensor:
    """Keep fp16 activations finite, as diffusers and ComfyUI do (flux-spec §6)."""
    if x.dtype == torch.float16:
        return x.clamp(-FP16_MAX, FP16_MAX)
    return x


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0, time_factor: float = 1000.0) -> Tensor:
    """Sinusoidal embedding of ``time_factor * t``: [cos half, sin half], computed in float32.

    The product ``time_factor * t`` is formed in t's own dtype, like the reference, so bf16
    timesteps round the same way there as here.
    """
    t = time_factor * t
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    if torch.is_floating_point(t):
        emb = emb.to(t.dtype)
    return emb


def rope_angles(pos: Tensor, dim: int, theta: float) -> Tensor:
    """Rotation angles p * theta^(-2k/dim), k < dim/2, for positions ``pos`` [..., S] -> [..., S, dim/2].

    Frequencies use float64 where the device has it (MPS does not), as diffusers and ComfyUI do.
    """
    if dim % 2:
        raise ValueError(f"each RoPE axis dimension must be even, got {dim}")
    dtype = torch.float32 if pos.device.type == "mps" else torch.float64
    scale = torch.arange(0, dim, 2, dtype=dtype, device=pos.device) / dim
    omega = 1.0 / theta**scale
    return pos.to(dtype)[..., None] * omega


class EmbedND(nn.Module):
    """3-axis rotary position embedding: ids [B, S, n_axes] -> (cos, sin), each [B, 1, S, head_dim/2] float32.

    Pair m of a head rotates elements (2m, 2m+1); pairs are the per-axis lists concatenated in axis order.
    """

    def __init__(self, dim: int, theta: float, axes_dim: list[int] | tuple[int, ...]):
        super().__init__()
        if sum(axes_dim) != dim:
            raise ValueError(f"sum of axes_dim {tuple(axes_dim)} must equal the head dimension {dim}")
        self.dim = dim
        self.theta = theta
        self.axes_dim = tuple(axes_dim)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        angles = torch.cat([rope_angles(ids[..., i], d, self.theta) for i, d in enumerate(self.axes_dim)], dim=-1)
        angles = angles.unsqueeze(1)
        return torch.cos(angles).float(), torch.sin(angles).float()


def apply_rope(x: Tensor, pe: tuple[Tensor, Tensor]) -> Tensor:
    """Rotate adjacent pairs of the last axis of x [B, H, S, D] in float32; result in x's dtype."""
    cos, sin = pe
    xf = x.float().unflatten(-1, (-1, 2))
    x0, x1 = xf[..., 0], xf[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2).to(x.dtype)


def attention(q: Tensor, k: Tensor, v: Tensor, pe: tuple[Tensor, Tensor]) -> Tensor:
    """RoPE on q and k, unmasked softmax attention (scale 1/sqrt(D)); [B, H, S, D] -> [B, S, H*D]."""
    q, k = apply_rope(q, pe), apply_rope(k, pe)
    if q.dtype == torch.bfloat16 and _use_onednn(q, q):
        return _attention_bf16_cpu(q, k, v)
    x = F.scaled_dot_product_attention(q, k, v)
    return x.transpose(1, 2).flatten(2)


ATTENTION_QUERY_BLOCK = 512  # rows of fp32 scores per matmul; 512-768 measured fastest on the project machines


def _attention_bf16_cpu(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Softmax attention for bf16 inputs on CPU, computed in fp32 with oneDNN matmuls.

    Faster here than PyTorch's CPU flash kernel in bf16 (which rounds the probabilities to bf16)
    and at least as accurate. Queries go in blocks so the fp32 score matrix stays at
    ATTENTION_QUERY_BLOCK x S per head.
    """
    b, h, s, d = q.shape
    qf = q.float() * d**-0.5
    kf = k.float()
    v_t = v.float().transpose(-1, -2).contiguous()  # [B, H, D, S]: the "weight" of probs @ v
    out = torch.empty(b, s, h, d, dtype=q.dtype, device=q.device)
    for i in range(b):
        for j in range(h):
            for start in range(0, s, ATTENTION_QUERY_BLOCK):
                stop = min(start + ATTENTION_QUERY_BLOCK, s)
                scores = _ONEDNN_LINEAR(qf[i, j, start:stop], kf[i, j], None, "none", [], "")
                probs = torch.softmax(scores, dim=-1)
                out[i, start:stop, j] = _ONEDNN_LINEAR(probs, v_t[i, j], None, "none", [], "")
    return out.flatten(2)


class MLPEmbedder(nn.Module):
    """Linear -> SiLU -> Linear, used for the timestep, guidance and pooled-text vectors."""

    def __init__(self, in_dim: int, hidden_dim: int):
        super().__init__()
        self.in_layer = Linear(in_dim, hidden_dim, bias=True)
        self.silu = nn.SiLU()
        self.out_layer = Linear(hidden_dim, hidden_dim, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.out_layer(self.silu(self.in_layer(x)))


class RMSNorm(nn.Module):
    """RMS normalisation with statistics in float32 and a learnable ``scale`` (eps 1e-6)."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        rrms = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + 1e-6)
        return (xf * rrms).to(x.dtype) * self.scale.to(x.dtype)


class QKNorm(nn.Module):
    """Separate RMSNorms for queries and keys of one stream."""

    def __init__(self, dim: int):
        super().__init__()
        self.query_norm = RMSNorm(dim)
        self.key_norm = RMSNorm(dim)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        return self.query_norm(q).to(v.dtype), self.key_norm(k).to(v.dtype)


def split_qkv(qkv: Tensor, num_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """Fused [B, L, 3*H*D] (q | k | v, each head-major) -> three [B, H, L, D] views."""
    b, length, _ = qkv.shape
    q, k, v = qkv.view(b, length, 3, num_heads, -1).permute(2, 0, 3, 1, 4)
    return q, k, v


class SelfAttention(nn.Module):
    """The per-stream attention weights of a double block: fused ``qkv``, QK ``norm``, output ``proj``."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = False):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.qkv = Linear(dim, dim * 3, bias=qkv_bias)
        self.norm = QKNorm(head_dim)
        self.proj = Linear(dim, dim)


class Modulation(nn.Module):
    """adaLN parameters from the conditioning vector: ``lin(silu(vec))`` split into 3 or 6 chunks."""

    def __init__(self, dim: int, double: bool):
        super().__init__()
        self.multiplier = 6 if double else 3
        self.lin = Linear(dim, self.multiplier * dim, bias=True)

    def forward(self, vec: Tensor) -> list[Tensor]:
        """Returns [shift, scale, gate] (single) or [shift1, scale1, gate1, shift2, scale2, gate2], each [B, 1, D]."""
        out = self.lin(F.silu(vec))[:, None, :]
        return list(out.chunk(self.multiplier, dim=-1))


def modulate(x_normed: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: (1 + scale) * x_normed + shift."""
    return torch.addcmul(shift, 1 + scale, x_normed)


class DoubleStreamBlock(nn.Module):
    """Image and text streams with separate weights, joined only inside attention ([txt; img])."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float, qkv_bias: bool = False):
        super().__init__()
        mlp_hidden = int(hidden_size * mlp_ratio)
        self.num_heads = num_heads
        self.hidden_size = hidden_size
        self.img_mod = Modulation(hidden_size, double=True)
        self.img_norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.img_attn = SelfAttention(hidden_size, num_heads, qkv_bias=qkv_bias)
        self.img_norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.img_mlp = nn.Sequential(
            Linear(hidden_size, mlp_hidden, bias=True),
            nn.GELU(approximate="tanh"),
            Linear(mlp_hidden, hidden_size, bias=True),
        )
        self.txt_mod = Modulation(hidden_size, double=True)
        self.txt_norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.txt_attn = SelfAttention(hidden_size, num_heads, qkv_bias=qkv_bias)
        self.txt_norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.txt_mlp = nn.Sequential(
            Linear(hidden_size, mlp_hidden, bias=True),
            nn.GELU(approximate="tanh"),
            Linear(mlp_hidden, hidden_size, bias=True),
        )

    def forward(self, img: Tensor, txt: Tensor, vec: Tensor, pe: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        i_shift1, i_scale1, i_gate1, i_shift2, i_scale2, i_gate2 = self.img_mod(vec)
        t_shift1, t_scale1, t_gate1, t_shift2, t_scale2, t_gate2 = self.txt_mod(vec)

        img_qkv = self.img_attn.qkv(modulate(self.img_norm1(img), i_shift1, i_scale1))
        img_q, img_k, img_v = split_qkv(img_qkv, self.num_heads)
        img_q, img_k = self.img_attn.norm(img_q, img_k, img_v)
        txt_qkv = self.txt_attn.qkv(modulate(self.txt_norm1(txt), t_shift1, t_scale1))
        txt_q, txt_k, txt_v = split_qkv(txt_qkv, self.num_heads)
        txt_q, txt_k = self.txt_attn.norm(txt_q, txt_k, txt_v)

        q = torch.cat((txt_q, img_q), dim=2)
        k = torch.cat((txt_k, img_k), dim=2)
        v = torch.cat((txt_v, img_v), dim=2)
        attn = attention(q, k, v, pe)
        n_txt = txt.shape[1]
        txt_attn, img_attn = attn[:, :n_txt], attn[:, n_txt:]

        img = torch.addcmul(img, i_gate1, self.img_attn.proj(img_attn))
        img = torch.addcmul(img, i_gate2, self._mlp(self.img_mlp, modulate(self.img_norm2(img), i_shift2, i_scale2)))
        txt = torch.addcmul(txt, t_gate1, self.txt_attn.proj(txt_attn))
        txt = torch.addcmul(txt, t_gate2, self._mlp(self.txt_mlp, modulate(self.txt_norm2(txt), t_shift2, t_scale2)))
        return img, clamp_fp16(txt)

    @staticmethod
    def _mlp(mlp: nn.Sequential, x: Tensor) -> Tensor:
        """mlp[2](gelu(mlp[0](x))), with the GELU fused into the first projection where possible."""
        return mlp[2](gelu_linear(mlp[0], x))


class SingleStreamBlock(nn.Module):
    """One stream over [txt; img]: attention and MLP run in parallel from one modulated input."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.hidden_dim = hidden_size
        self.num_heads = num_heads
        head_dim = hidden_size // num_heads
        self.mlp_hidden_dim = int(hidden_size * mlp_ratio)
        self.linear1 = Linear(hidden_size, hidden_size * 3 + self.mlp_hidden_dim)
        self.linear2 = Linear(hidden_size + self.mlp_hidden_dim, hidden_size)
        self.norm = QKNorm(head_dim)
        self.pre_norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp_act = nn.GELU(approximate="tanh")
        self.modulation = Modulation(hidden_size, double=False)

    def forward(self, x: Tensor, vec: Tensor, pe: tuple[Tensor, Tensor]) -> Tensor:
        shift, scale, gate = self.modulation(vec)
        qkv, mlp = self._linear1(modulate(self.pre_norm(x), shift, scale))
        q, k, v = split_qkv(qkv, self.num_heads)
        q, k = self.norm(q, k, v)
        attn = attention(q, k, v, pe)
        out = self.linear2(torch.cat((attn, mlp), dim=2))
        return clamp_fp16(torch.addcmul(x, gate, out))

    def _linear1(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """(qkv, GELU(mlp)) from ``linear1``; with a plain weight as two GEMMs over its row blocks, GELU fused."""
        n_qkv = 3 * self.hidden_dim
        w = dense_weight(self.linear1, h.dtype)
        if w is not None:
            b = self.linear1.bias
            return linear(h, w[:n_qkv], b[:n_qkv]), linear(h, w[n_qkv:], b[n_qkv:], gelu=True)
        qkv, mlp = torch.split(self.linear1(h), [n_qkv, self.mlp_hidden_dim], dim=-1)
        return qkv, self.mlp_act(mlp)


class LastLayer(nn.Module):
    """Final adaLN (chunk order shift, scale) and projection to the packed latent channels."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), Linear(hidden_size, 2 * hidden_size, bias=True))

    def forward(self, x: Tensor, vec: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(vec).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift[:, None, :], scale[:, None, :]))
