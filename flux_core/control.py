"""FLUX.1 Canny / Depth (flux-spec; BFL ``sampling.prepare_control``, diffusers ``FluxControlPipeline``):
the model's ``img_in`` reads, per packed token, the noisy latent followed by the packed autoencoder latent
of the control picture (edges or depth map), so ``img_in`` is twice the latent width (128 for FLUX).

The control tokens are fixed for the whole run and concatenated at every step, the same mechanism as
FLUX.1 Fill's masked-picture tokens (flux_core.fill): ``ChannelConcatVelocity`` is the shared wrapper.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .sampling import pack

# Guidance the control models were distilled for (BFL's defaults for the Canny and Depth [dev] models).
CONTROL_GUIDANCE = {"canny": 30.0, "depth": 10.0}


def control_pixels(image: Tensor) -> Tensor:
    """Picture [B, H, W, C] in 0..1 -> autoencoder input [B, 3, H, W] in -1..1."""
    return image[..., :3].permute(0, 3, 1, 2).float() * 2 - 1


def control_tokens(control_latent: Tensor, batch: int) -> Tensor:
    """The packed control latent [b, (H/16)(W/16), 4C], repeated to the sampling batch."""
    tokens = pack(control_latent.float())
    if tokens.shape[0] != batch:
        if batch % tokens.shape[0]:
            raise ValueError(f"{tokens.shape[0]} control pictures cannot be spread over a batch of {batch}")
        tokens = tokens.repeat_interleave(batch // tokens.shape[0], dim=0)
    return tokens


class ChannelConcatVelocity:
    """Wraps a transformer whose ``img_in`` reads extra per-token features (Canny/Depth control latent,
    Fill's masked picture + mask) so the sampling loop sees an ordinary velocity model."""

    def __init__(self, model, tokens: Tensor):
        self.model, self.tokens = model, tokens

    def __call__(self, *, img: Tensor, **kwargs) -> Tensor:
        return self.model(img=torch.cat((img, self.tokens.to(img.device, img.dtype)), dim=-1), **kwargs)
