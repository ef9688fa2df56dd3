"""ComfyUI's ``bislerp`` latent resize: bilinear resampling where each pair of neighbouring latent vectors
(all channels of a cell) is blended by spherical instead of straight interpolation.

Per output cell, one pass along the width and then one along the height: the two source cells and the
fraction between them are the ones bilinear interpolation (half-pixel centres, clamped at the edges) would
use; their channel vectors are normalised, slerped by that fraction and scaled by the straight blend of
their lengths. Vectors pointing the same way keep the first one; opposite ones fall back to the straight
blend; zero vectors stay zero.

The rule is not affine-invariant (it normalises vectors), so it runs on ComfyUI's raw latents: fluxwire
holds latents in the model's space (scaled and shifted), so they are mapped back with FLUX's latent
format (scale 0.3611, shift 0.1159) first and forth again after.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

FLUX_SCALE, FLUX_SHIFT = 0.3611, 0.1159  # ComfyUI's latent_formats.Flux


def _neighbours(old: int, new: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """(fractions, first source index, second source index) for `new` cells resampled from `old`: read
    off bilinear interpolation of the index ramp itself, so they are exactly the positions it uses."""
    ramp = torch.arange(old, dtype=torch.float32, device=device).reshape(1, 1, 1, -1)
    position = F.interpolate(ramp, size=(1, new), mode="bilinear")
    fraction = position - position.floor()
    first = position.to(torch.int64)
    following = ramp + 1
    following[..., -1] -= 1  # the last cell has no right neighbour: itself
    second = F.interpolate(following, size=(1, new), mode="bilinear").to(torch.int64)
    return fraction, first, second


def _slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Rows of a and b ([N, C]) blended by fractions t ([N, 1]) on the sphere, lengths blended straight."""
    channels = a.shape[-1]
    a_len, b_len = torch.norm(a, dim=-1, keepdim=True), torch.norm(b, dim=-1, keepdim=True)
    a_dir, b_dir = a / a_len, b / b_len
    a_dir[a_len.expand(-1, channels) == 0.0] = 0.0
    b_dir[b_len.expand(-1, channels) == 0.0] = 0.0
    cos = (a_dir * b_dir).sum(1)
    angle = torch.acos(cos)
    sin = torch.sin(angle)
    out = (torch.sin((1.0 - t.squeeze(1)) * angle) / sin).unsqueeze(1) * a_dir \
        + (torch.sin(t.squeeze(1) * angle) / sin).unsqueeze(1) * b_dir
    out *= (a_len * (1.0 - t) + b_len * t).expand(-1, channels)
    same, opposite = cos > 1 - 1e-5, cos < 1e-5 - 1
    out[same] = a[same]
    out[opposite] = (a * (1.0 - t) + b * t)[opposite]
    return out


def bislerp(samples: Tensor, width: int, height: int) -> Tensor:
    """[N, C, H, W] -> [N, C, height, width] (float32 arithmetic, the input's dtype back)."""
    dtype = samples.dtype
    x = samples.float()
    n, c, h, w = x.shape
    fraction, first, second = _neighbours(w, width, x.device)
    a = x.gather(-1, first.expand(n, c, h, -1)).movedim(1, -1).reshape(-1, c)
    b = x.gather(-1, second.expand(n, c, h, -1)).movedim(1, -1).reshape(-1, c)
    t = fraction.expand(n, 1, h, -1).movedim(1, -1).reshape(-1, 1)
    x = _slerp(a, b, t).reshape(n, h, width, c).movedim(-1, 1)
    fraction, first, second = _neighbours(h, height, x.device)
    a = x.gather(-2, first.reshape(1, 1, -1, 1).expand(n, c, -1, width)).movedim(1, -1).reshape(-1, c)
    b = x.gather(-2, second.reshape(1, 1, -1, 1).expand(n, c, -1, width)).movedim(1, -1).reshape(-1, c)
    t = fraction.reshape(1, 1, -1, 1).expand(n, 1, -1, width).movedim(1, -1).reshape(-1, 1)
    return _slerp(a, b, t).reshape(n, height, width, c).movedim(-1, 1).to(dtype)


def resize_model_latent(resize, latent: Tensor, *args) -> Tensor:
    """``resize(latent, *args)`` with bislerp, on a fluxwire latent (the model's space) as ComfyUI computes it
    on the raw latent: mapped back to the VAE's raw space, resized, mapped forth again."""
    raw = latent / FLUX_SCALE + FLUX_SHIFT
    return (resize(raw, *args) - FLUX_SHIFT) * FLUX_SCALE
