"""Sampling as ComfyUI's samplers run it on FLUX: noise scaled in at the first sigma, Euler steps on a
velocity that may combine two predictions by classifier-free guidance, and the inverse scaling at the
last sigma (so a run that stops early hands on a latent the next run can continue from).

Pure functions on tensors; the model call is passed in. Rectified flow: x_sigma = sigma * noise +
(1 - sigma) * x0, denoised = x - sigma * v.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

Velocity = Callable[[Tensor, float], Tensor]
# (guided velocity, unconditional denoised estimate or None for "no negative prompt": ComfyUI's zeros)
Guided = Callable[[Tensor, float], tuple[Tensor, Tensor | None]]


def noise_scaling(sigma: float, noise: Tensor, latent: Tensor) -> Tensor:
    """The start point at ``sigma``: sigma * noise + (1 - sigma) * latent (float32)."""
    return sigma * noise.float() + (1.0 - sigma) * latent.float()


def inverse_noise_scaling(sigma: float, x: Tensor) -> Tensor:
    """Undo the (1 - sigma) factor of a run that stopped at ``sigma`` > 0 (identity at 0).

    At sigma 1 (nothing was denoised) ComfyUI divides by zero; we return x unchanged instead."""
    return x if sigma in (0.0, 1.0) else x / (1.0 - sigma)


def cfg_velocity(positive: Tensor, negative: Tensor, cfg: float) -> Tensor:
    """Classifier-free guidance: negative + cfg * (positive - negative). ComfyUI mixes the denoised
    estimates x - sigma * v, which is the same mix of the velocities."""
    return negative + (positive - negative) * cfg


def skips_negative(cfg: float) -> bool:
    """ComfyUI's cfg-1 shortcut: at cfg 1 the negative prompt is not evaluated at all."""
    return math.isclose(cfg, 1.0)


def euler(velocity: Velocity, x: Tensor, sigmas: list[float],
          callback: Callable[[int, int, Tensor, Tensor], None] | None = None) -> tuple[Tensor, Tensor | None]:
    """Euler steps along ``sigmas``; returns the final x and the last denoised estimate (None if no step).

    ``callback(i, n, x, denoised)`` runs after step i of n (exceptions propagate: that is how runs stop)."""
    x = x.float()
    denoised = None
    steps = len(sigmas) - 1
    for i in range(steps):
        sigma, nxt = float(sigmas[i]), float(sigmas[i + 1])
        v = velocity(x, sigma).float()
        denoised = x - sigma * v
        x = x + (nxt - sigma) * v
        if callback is not None:
            callback(i, steps, x, denoised)
    return x, denoised


def run_sampler(velocity: Velocity, noise: Tensor, latent: Tensor, sigmas: list[float],
                callback=None, sampler: str = "euler", step_noise=None, mu: float | None = None,
                guided: Guided | None = None, options: dict | None = None) -> tuple[Tensor, Tensor]:
    """One ComfyUI sampling run with `sampler` (see flux_core.samplers): (latent out, denoised estimate of
    the last step). ``step_noise`` feeds the samplers that add noise; ``mu`` is the model's shift (None for
    schnell's table), which the SDE samplers need; ``guided`` (the guided velocity with the unconditional
    denoised estimate) feeds the CFG++ samplers; ``options`` are a sampler node's settings (SamplerSASolver).
    An empty schedule returns the latent untouched."""
    from . import samplers

    if sampler not in samplers.SAMPLERS:
        raise ValueError(samplers.unsupported_message(sampler))
    if len(sigmas) == 0:
        return latent, latent
    x = noise_scaling(float(sigmas[0]), noise, latent)
    if sampler in ("euler", "ddim"):  # ComfyUI's ddim is its euler
        x, denoised = euler(velocity, x, list(sigmas), callback)
    elif sampler in samplers.CFG_PP:
        if guided is None:
            raise ValueError(f"{sampler} needs the unconditional prediction (sample it through a guider)")

        def both(x_in: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
            v, uncond = guided(x_in, float(sigma))
            return x_in - v.float() * sigma, torch.zeros_like(x_in) if uncond is None else uncond.float()

        x, denoised = samplers.run(sampler, both, x, list(sigmas), callback, step_noise, mu, options)
    else:
        def denoiser(x_in: Tensor, sigma: Tensor) -> Tensor:
            return x_in - velocity(x_in, float(sigma)).float() * sigma

        x, denoised = samplers.run(sampler, denoiser, x, list(sigmas), callback, step_noise, mu, options)
    out = inverse_noise_scaling(float(sigmas[-1]), x)
    return out, out if denoised is None else denoised


def float32(value: float) -> float:
    """A value as ComfyUI holds it in a float32 sigma tensor."""
    return float(torch.tensor(value, dtype=torch.float32))
