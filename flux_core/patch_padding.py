"""Latents whose sides are an odd number of cells (pictures a multiple of 8 but not 16 pixels, e.g. 1000).

FLUX cuts the latent into 2x2 patches. ComfyUI's FLUX model handles an odd side by padding the latent it
is called with by one cell at the bottom/right — circularly, so the extra row/column is a copy of the
first — and cropping the prediction back; the sampler's own state keeps the odd size. fluxwire does the
same around every model call, so such pictures come out at their size with ComfyUI's numbers.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def needs_padding(h: int, w: int) -> bool:
    """Whether a latent of h x w cells has an odd side."""
    return bool(h % 2 or w % 2)


def pad_to_patches(x: Tensor) -> Tensor:
    """[B, C, h, w] -> [B, C, h + h%2, w + w%2], wrapping the first row/column round to the far side."""
    h, w = x.shape[-2:]
    if not needs_padding(h, w):
        return x
    return F.pad(x, (0, w % 2, 0, h % 2), mode="circular")


def crop_to(x: Tensor, h: int, w: int) -> Tensor:
    """Cut a padded [B, C, H, W] prediction back to h x w cells."""
    return x[..., :h, :w]


def padded_size(h: int, w: int) -> tuple[int, int]:
    """The even latent size the model sees for an h x w latent."""
    return h + h % 2, w + w % 2


class RepaddedVelocity:
    """A packed velocity model (``model(img=tokens, **kw)``) for an odd-sized h x w latent that the sampling
    loop carries as the tokens of its padded grid: before each call the padding is rebuilt from the real
    cells, so the model sees exactly what ComfyUI's padding of the h x w latent gives."""

    def __init__(self, model, h: int, w: int):
        self.model, self.h, self.w = model, h, w

    def __call__(self, *, img: Tensor, **kwargs) -> Tensor:
        from .sampling import pack, unpack

        ph, pw = padded_size(self.h, self.w)
        cells = crop_to(unpack(img, ph * 8, pw * 8), self.h, self.w)
        return self.model(img=pack(pad_to_patches(cells)), **kwargs)
