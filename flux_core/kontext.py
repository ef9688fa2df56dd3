"""FLUX.1 Kontext (BFL ``sampling.prepare_kontext``, diffusers ``FluxKontextPipeline``, ComfyUI's
ReferenceLatent): reference pictures are encoded, packed and appended after the generated image tokens
with position ids whose first coordinate is 1; the model's output keeps only the generated tokens.

Several references are placed as ComfyUI does: ``offset`` (default) puts each next reference beside
the ones before (to the right when they are taller than wide, else below), all with index 1;
``index`` gives each reference its own first coordinate 1, 2, 3... at offset 0; ``uxo`` uses index 0
and offsets past the generated image and the references before.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .sampling import pack

METHODS = ("offset", "index", "uxo")

# The sizes Kontext was trained on (width, height), from BFL's/diffusers' list.
PREFERRED_RESOLUTIONS = [
    (672, 1568), (688, 1504), (720, 1456), (752, 1392), (800, 1328), (832, 1248), (880, 1184), (944, 1104),
    (1024, 1024), (1104, 944), (1184, 880), (1248, 832), (1328, 800), (1392, 752), (1456, 720), (1504, 688),
    (1568, 672),
]


def preferred_size(width: int, height: int) -> tuple[int, int]:
    """The trained (width, height) whose aspect ratio is closest to the picture's."""
    aspect = width / height
    return min(PREFERRED_RESOLUTIONS, key=lambda wh: abs(aspect - wh[0] / wh[1]))


def _ids(batch: int, h: int, w: int, index: float, h_offset: int, w_offset: int) -> Tensor:
    ids = torch.zeros(h // 2, w // 2, 3)
    ids[..., 0] = index
    ids[..., 1] = torch.arange(h // 2, dtype=torch.float32)[:, None] + h_offset
    ids[..., 2] = torch.arange(w // 2, dtype=torch.float32)[None, :] + w_offset
    return ids.reshape(1, -1, 3).repeat(batch, 1, 1)


def reference_tokens(references, batch: int, h: int, w: int, method: str = "offset") -> tuple[Tensor, Tensor]:
    """Packed reference tokens [batch, M, F] and their ids [batch, M, 3] for latents [1|batch, C, hi, wi];
    (h, w) is the generated latent's size in cells (used by ``uxo``)."""
    if method not in METHODS:
        raise ValueError(f"unknown reference method {method!r}; choose one of {', '.join(METHODS)}")
    tokens, ids = [], []
    used_h = used_w = 0
    index = 0
    for ref in references:
        rh, rw = ref.shape[-2:]
        if rh % 2 or rw % 2:
            raise ValueError(f"a reference latent of {rw}x{rh} cells cannot be packed (sides must be even)")
        if method == "index":
            index, h_off, w_off = index + 1, 0, 0
        elif method == "uxo":
            index, h_off, w_off = 0, h + used_h, w + used_w
            used_h, used_w = used_h + rh, used_w + rw
        else:
            index, h_off, w_off = 1, 0, 0
            if rh + used_h > rw + used_w:
                w_off = used_w
            else:
                h_off = used_h
            used_h, used_w = max(used_h, rh + h_off), max(used_w, rw + w_off)
        t = pack(ref.float())
        if t.shape[0] != batch:
            t = t.repeat(batch // t.shape[0], 1, 1)
        tokens.append(t)
        ids.append(_ids(batch, rh, rw, index, (h_off + 1) // 2, (w_off + 1) // 2))
    return torch.cat(tokens, dim=1), torch.cat(ids, dim=1)


class KontextVelocity:
    """Wraps a transformer so the references ride along at every step and only generated tokens return."""

    def __init__(self, model, tokens: Tensor, ids: Tensor):
        self.model, self.tokens, self.ids = model, tokens, ids

    def __call__(self, *, img: Tensor, img_ids: Tensor, **kwargs) -> Tensor:
        n = img.shape[1]
        x = torch.cat((img, self.tokens.to(img.device, img.dtype)), dim=1)
        ids = torch.cat((img_ids, self.ids.to(img_ids.device, img_ids.dtype)), dim=1)
        return self.model(img=x, img_ids=ids, **kwargs)[:, :n]
