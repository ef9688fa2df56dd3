"""FLUX.1 Fill (flux-spec; BFL ``sampling.prepare_fill``, diffusers ``FluxFillPipeline``): the model's
``img_in`` reads, per packed token, the noisy latent, the latent of the masked picture and the mask
itself at pixel resolution (8x8 pixels per latent cell, 2x2 cells per token: 256 values).

The mask is binarised at 0.5 (diffusers' mask processor) and the masked pixels are set to mid-grey
(0 in the autoencoder's -1..1 range) before encoding, as in every reference.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .sampling import pack

MASK_FEATURES = 256  # 8 x 8 pixels x 2 x 2 latent cells per token


def is_fill(in_channels: int, out_channels: int) -> bool:
    """True for a Fill transformer: img_in is two latents plus the packed mask wide (384 for FLUX)."""
    return in_channels == 2 * out_channels + MASK_FEATURES


def binarise(mask: Tensor) -> Tensor:
    """1 where the mask is at least 0.5, else 0."""
    return (mask.float() >= 0.5).float()


def masked_pixels(image: Tensor, mask: Tensor) -> Tensor:
    """Picture [B, H, W, 3] in 0..1 -> autoencoder input [B, 3, H, W] in -1..1, grey (0) where painted."""
    x = image[..., :3].permute(0, 3, 1, 2).float() * 2 - 1
    return x * (1 - binarise(mask)[:, None])


def pack_mask(mask: Tensor) -> Tensor:
    """Binary pixel mask [B, H, W] -> tokens [B, (H/16)(W/16), 256]: each latent cell's 8x8 pixels
    become 64 channels (index row*8 + col), then the usual 2x2 packing."""
    b, height, width = mask.shape
    if height % 16 or width % 16:
        raise ValueError(f"the mask is {width}x{height}; FLUX.1 Fill needs multiples of 16")
    h, w = height // 8, width // 8
    m = mask.float().reshape(b, h, 8, w, 8).permute(0, 2, 4, 1, 3).reshape(b, 64, h, w)
    return pack(m)


def fill_tokens(masked_latent: Tensor, mask: Tensor, batch: int) -> Tensor:
    """What Fill concatenates to the noisy tokens at every step: packed masked-picture latent + packed
    binary mask, repeated to the batch."""
    tokens = torch.cat((pack(masked_latent.float()), pack_mask(binarise(mask))), dim=-1)
    if tokens.shape[0] != batch:
        if batch % tokens.shape[0]:
            raise ValueError(f"{tokens.shape[0]} inpainting pictures cannot be spread over a batch of {batch}")
        tokens = tokens.repeat(batch // tokens.shape[0], 1, 1)
    return tokens

