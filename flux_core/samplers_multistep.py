"""ComfyUI's deterministic multistep samplers beyond DPM-Solver++(2M), as they run on FLUX.

They reuse the slopes or denoised estimates of earlier steps instead of extra model calls, so each costs
one model call per step: iPNDM (fixed Adams-Bashforth weights, Zhang & Chen 2022), iPNDM-v (the weights
for uneven steps), RES multistep (Zhang et al. 2023's second-order exponential integrator) and gradient
estimation (Permenter & Yuan 2024). Same conventions as :mod:`flux_core.samplers`: float32 scalar tensors,
``model(x, sigma)`` returns the denoised estimate, ``callback(i, n, x, denoised)`` after each step.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

Denoiser = Callable[[Tensor, Tensor], Tensor]

# Adams-Bashforth weights for even steps, newest slope first (order 1..4)
_AB_WEIGHTS = {1: (1,), 2: (3, -1), 3: (23, -16, 5), 4: (55, -59, 37, -9)}
_AB_DIVISORS = {1: 1, 2: 2, 3: 12, 4: 24}


def _ipndm_weighted(order: int, d: Tensor, history: list[Tensor]) -> Tensor:
    """The weighted sum of this slope and the last order - 1 (newest first), before the divisor."""
    weights = _AB_WEIGHTS[order]
    total = weights[0] * d
    for w, old in zip(weights[1:], reversed(history)):
        total = total + w * old if w > 0 else total - (-w) * old
    return total


def ipndm(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, max_order: int = 4):
    """Improved pseudo linear multistep: Adams-Bashforth in sigma with the weights for even step sizes,
    the order growing from 1 to 4 over the first steps; the step to 0 lands on the denoised estimate."""
    history: list[Tensor] = []  # slopes of the previous steps, oldest first, at most max_order - 1
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = (x - denoised) / s
        order = min(max_order, i + 1)
        if s_next == 0:
            x = denoised
        else:
            # the step times the weighted sum, then the divisor: ComfyUI's order of rounding
            x = x + (s_next - s) * _ipndm_weighted(order, d, history) / _AB_DIVISORS[order]
        history = (history + [d])[-(max_order - 1):]
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def ipndm_v_weights(steps: list[Tensor]) -> list[Tensor]:
    """iPNDM-v's weights for the current slope and the older ones (newest first) from the step sizes
    ``steps`` = [h_n, h_n-1, ...] (sigma differences, newest first; as many as the order). They make the
    multistep formula exact for polynomial slopes of the order's degree on uneven steps."""
    order = len(steps)
    h = steps
    if order == 1:
        return [torch.ones_like(h[0])]
    q = h[0] / h[1]
    w_2 = [(2 + q) / 2, -q / 2]
    if order == 2:
        return w_2
    # third-order correction: a multiple of the second difference of the slopes
    c3 = (1 - h[0] / (3 * (h[0] + h[1])) * (h[0] * (h[0] + h[1])) / (h[1] * (h[1] + h[2]))) / 2
    w_3 = [w_2[0] + c3, w_2[1] - (1 + h[1] / h[2]) * c3, c3 * h[1] / h[2]]
    if order == 3:
        return w_3
    # fourth-order correction: a multiple of the third difference
    spread = h[1] * (h[1] + h[2]) / (h[2] * (h[2] + h[3]))
    c4 = ((1 - h[0] / (3 * (h[0] + h[1]))) / 2 + (1 - h[0] / (2 * (h[0] + h[1]))) * h[0] / (6 * (h[0] + h[1] + h[2]))) \
        * (h[0] * (h[0] + h[1]) * (h[0] + h[1] + h[2])) / (h[1] * (h[1] + h[2]) * (h[1] + h[2] + h[3]))
    return [w_3[0] + c4,
            w_3[1] - (1 + h[1] / h[2] + spread) * c4,
            w_3[2] + (h[1] / h[2] + spread * (1 + h[2] / h[3])) * c4,
            -c4 * spread * h[1] / h[2]]


def ipndm_v(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, max_order: int = 4):
    """iPNDM with variable step sizes (the weights above from the actual sigma differences)."""
    history: list[Tensor] = []
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = (x - denoised) / s
        order = min(max_order, i + 1)
        if s_next == 0:
            x = denoised
        else:
            steps = [s_next - s] + [sigmas[i - k] - sigmas[i - k - 1] for k in range(order - 1)]
            weights = ipndm_v_weights(steps)
            slope = weights[0] * d
            for w, old in zip(weights[1:], reversed(history)):
                slope = slope + w * old
            x = x + (s_next - s) * slope
        history = (history + [d])[-(max_order - 1):]
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def need_noise(noise, name: str):
    """`noise` (a sampler's fresh-noise source), or the error a sampler that draws noise gives without one."""
    if noise is None:
        raise ValueError(f"{name} needs a noise source (the run's seed)")
    return noise


def ve_ancestral_step(sigma_from: Tensor, sigma_to: Tensor, eta: float = 1.0):
    """k-diffusion's (variance-exploding) ancestral split of a step: the level to step down to and the noise
    to add back. ComfyUI uses it unchanged on FLUX for the RES and CFG++ ancestral samplers."""
    if not eta:
        return sigma_to, 0.0
    up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    return (sigma_to ** 2 - up ** 2) ** 0.5, up


def rf_ancestral_step(s: Tensor, s_next: Tensor, eta: float = 1.0):
    """ComfyUI's rectified-flow ancestral split of a step (euler_ancestral, dpm_2_ancestral,
    dpmpp_2s_ancestral): the level to step down to (sigma_next^2 / sigma at eta 1), the factor that scales the
    result towards the data, and the noise to add back so the marginal at sigma_next is right."""
    sigma_down = s_next * (1 + (s_next / s - 1) * eta)
    alpha_next, alpha_down = 1 - s_next, 1 - sigma_down
    renoise = (s_next ** 2 - sigma_down ** 2 * alpha_next ** 2 / alpha_down ** 2) ** 0.5
    return sigma_down, alpha_next / alpha_down, renoise


def res_multistep(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, eta: float = 0.0):
    """RES second-order multistep in lambda = -log sigma (the exponential integrator with phi functions,
    the previous denoised estimate as second point); the first step and the step to 0 are Euler. ComfyUI's
    plain ``res_multistep`` adds no noise (it draws some and multiplies it by 0); ``res_multistep_ancestral``
    (eta 1) steps to the variance-exploding ancestral level and adds fresh noise unscaled, as ComfyUI does."""
    if eta > 0:
        need_noise(noise, "res_multistep_ancestral")
    denoised = old = old_down = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        down, up = ve_ancestral_step(s, s_next, eta)
        if down == 0 or old is None:
            x = x + (x - denoised) / s * (down - s)
        else:
            lam, lam_next, lam_prev = -s.log(), -down.log(), -sigmas[i - 1].log()
            h = lam_next - lam
            c2 = (lam_prev - -old_down.log()) / h  # where the previous estimate sits, in units of this step
            phi_1 = torch.expm1(-h) / -h
            phi_2 = (phi_1 - 1.0) / -h
            b_new = torch.nan_to_num(phi_1 - phi_2 / c2, nan=0.0)
            b_old = torch.nan_to_num(phi_2 / c2, nan=0.0)
            x = torch.exp(-h) * x + h * (b_new * denoised + b_old * old)
        if eta > 0 and s_next > 0:
            x = x + noise() * up
        old, old_down = denoised, down
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def res_multistep_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None):
    return res_multistep(model, x, sigmas, callback, noise, eta=1.0)


def gradient_estimation(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, gamma: float = 2.0):
    """Euler plus a correction from the change of the slope since the last step, weighted gamma - 1 (the
    paper's gradient estimation with ComfyUI's gamma 2); the step to 0 lands on the denoised estimate."""
    denoised = old_d = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = (x - denoised) / s
        dt = s_next - s
        if s_next == 0:
            x = denoised
        else:
            x = x + d * dt
            if old_d is not None:
                x = x + (gamma - 1) * (d - old_d) * dt
        old_d = d
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised
