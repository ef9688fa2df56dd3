"""Masked sampling for any FLUX model (classic inpainting): only the masked part of a latent is
generated; the rest is held at the original latent, noised to each step's level.

This follows ComfyUI's KSampler with a latent noise mask: before each model call the unmasked part of
the current latent is replaced by ``t * noise + (1 - t) * original`` (the same noise the run started
from), and the model's clean-latent estimate is replaced there by the original, so the last step lands
exactly on the original outside the mask. Soft masks blend per pixel. With differential diffusion
(ComfyUI's DifferentialDiffusion) a soft mask becomes a per-pixel denoise strength instead: at level t
a pixel is generated only while its mask value is at least the fraction of the schedule still to run.

All tensors here are packed tokens [B, N, F] (see :mod:`flux_core.sampling`), so the wrapper sits between
the sampling loop and the transformer without either knowing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .sampling import pack


def latent_mask(mask: Tensor, batch: int, channels: int, h: int, w: int) -> Tensor:
    """A pixel mask [B|1, H, W] as a latent mask [batch, channels, h, w]: bilinear resize (as ComfyUI's
    prepare_mask does), the same value on every channel, repeated to the batch."""
    m = mask.float()
    if m.ndim == 2:
        m = m[None]
    m = F.interpolate(m[:, None], size=(h, w), mode="bilinear")
    if m.shape[0] != batch:
        if batch % m.shape[0]:
            raise ValueError(f"{m.shape[0]} masks cannot be spread over a batch of {batch} latents")
        m = m.repeat(batch // m.shape[0], 1, 1, 1)
    return m.expand(-1, channels, -1, -1).contiguous()


def comfy_sigma_min(shifted: bool, mu: float = 1.15) -> float:
    """The smallest non-zero noise level of ComfyUI's sigma table for FLUX (dev: the shifted 1/10000
    entry; schnell: 1/1000), which DifferentialDiffusion uses as the end of the schedule."""
    if not shifted:
        return 1e-3
    return float(math.exp(mu) / (math.exp(mu) + (1 / 1e-4 - 1)))


def differential_mask(mask: Tensor, t: float, sigmas: list[float], sigma_min: float, strength: float = 1.0) -> Tensor:
    """Binary mask of the pixels still being generated at level t (ComfyUI DifferentialDiffusion):
    mask >= (t - end) / (start - end), end = max(last level, sigma_min); ``strength`` < 1 mixes the
    binary mask back with the soft one."""
    end = max(float(sigmas[-1]), sigma_min)
    start = float(sigmas[0])
    threshold = (t - end) / (start - end)
    binary = (mask >= threshold).to(mask.dtype)
    if strength >= 1.0:
        return binary
    return strength * binary + (1.0 - strength) * mask


class MaskedVelocity:
    """Wraps a velocity model ``model(img=..., timesteps=..., **kw)`` so sampling repaints only the mask.

    ``original`` and ``noise`` are packed latents, ``mask`` the packed latent mask (1 = generate).
    ``differential`` (0 = off) turns on differential diffusion with that strength over ``sigmas``.
    The returned velocity makes the Euler step equal ComfyUI's: (x - blended clean estimate) / t.
    """

    def __init__(self, model, original: Tensor, noise: Tensor, mask: Tensor, sigmas: list[float] | None = None,
                 differential: float = 0.0, sigma_min: float = 1e-3):
        if differential and not sigmas:
            raise ValueError("differential diffusion needs the whole schedule")
        self.model, self.original, self.noise, self.mask = model, original, noise, mask
        self.sigmas, self.differential, self.sigma_min = sigmas, differential, sigma_min

    def mask_at(self, t: float) -> Tensor:
        if self.differential:
            return differential_mask(self.mask, t, self.sigmas, self.sigma_min, self.differential)
        return self.mask

    def velocity(self, x: Tensor, t: float, predict) -> Tensor:
        """The masked velocity at level t for the current x, given ``predict(x_in) -> velocity``."""
        m = self.mask_at(t).to(x.device, torch.float32)
        keep = 1.0 - m
        x = x.float()
        original = self.original.to(x.device).float()
        held = t * self.noise.to(x.device).float() + (1.0 - t) * original
        x_in = x * m + held * keep
        clean = (x_in - t * predict(x_in).float()) * m + original * keep
        return (x - clean) / t

    def __call__(self, *, img: Tensor, timesteps: Tensor, **kwargs) -> Tensor:
        """As a packed velocity model for :func:`flux_core.sampling.denoise`."""
        t = float(timesteps.flatten()[0])

        def predict(x_in):
            return self.model(img=x_in.to(img.dtype), timesteps=timesteps, **kwargs)

        return self.velocity(img, t, predict).to(img.dtype)



def masked_velocity(model, samples: Tensor, noise: Tensor, pixel_mask: Tensor, device, dtype,
                    sigmas: list[float] | None = None, differential: float = 0.0, shifted: bool = True
                    ) -> MaskedVelocity:
    """Build :class:`MaskedVelocity` from unpacked latents [B, C, h, w] and a pixel mask [B|1, H, W]."""
    b, c, h, w = samples.shape
    m = latent_mask(pixel_mask, b, c, h, w)
    return MaskedVelocity(model, pack(samples.float()).to(device), pack(noise.float()).to(device),
                          pack(m).to(device), sigmas=sigmas, differential=differential,
                          sigma_min=comfy_sigma_min(shifted))



def masked_unpacked(velocity, samples: Tensor, noise: Tensor, pixel_mask: Tensor, sigmas: list[float],
                    differential: float = 0.0, shifted: bool = True):
    """The same masking for a velocity function on unpacked latents ``velocity(x, sigma)`` (ComfyUI-style
    samplers in :mod:`flux_core.guided_sampling`)."""
    b, c, h, w = samples.shape
    masked = MaskedVelocity(None, samples.float(), noise.float(), latent_mask(pixel_mask, b, c, h, w), sigmas,
                            differential, comfy_sigma_min(shifted))
    return lambda x, sigma: masked.velocity(x, sigma, lambda x_in: velocity(x_in, sigma))


def masked_unpacked_guided(guided, samples: Tensor, noise: Tensor, pixel_mask: Tensor, sigmas: list[float],
                           differential: float = 0.0, shifted: bool = True):
    """The same masking for ``guided(x, sigma) -> (velocity, unconditional denoised estimate)`` (the CFG++
    samplers): the velocity is masked as above; the unconditional estimate stays as the model gave it at the
    masked input, as ComfyUI hands it to those samplers before applying its mask."""
    b, c, h, w = samples.shape
    masked = MaskedVelocity(None, samples.float(), noise.float(), latent_mask(pixel_mask, b, c, h, w), sigmas,
                            differential, comfy_sigma_min(shifted))

    def both(x, sigma):
        seen = []

        def predict(x_in):
            v, uncond = guided(x_in, sigma)
            seen.append(uncond)
            return v
        return masked.velocity(x, sigma, predict), seen[0]
    return both
