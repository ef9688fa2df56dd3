"""ComfyUI's CFG++ samplers (Chung et al. 2024) as they run on FLUX (CONST model sampling).

CFG++ steps along the *unconditional* prediction: the guided denoised estimate D is where a step lands,
but the noise direction carried to the next level comes from the unconditional estimate U. So these
samplers call ``model(x, sigma)`` for the pair (D, U). ComfyUI computes U even at cfg 1 (it switches its
cfg-1 shortcut off for them) and, with BasicGuider (no negative prompt), U is zeros.
Conventions as in :mod:`flux_core.samplers`: float32 scalar tensors, ``callback(i, n, x, D)``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .samplers_multistep import need_noise, ve_ancestral_step

GuidedDenoiser = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def _alpha(sigma: Tensor) -> Tensor:
    """The signal scale of a flow level, as ComfyUI gets it: sigma * exp(half log SNR) (= 1 - sigma)."""
    return sigma * sigma.logit().neg().exp()


def euler_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, eta: float = 0.0,
                 s_noise: float = 0.0):
    """DDIM-style CFG++ step: x_next = alpha_next * D + sigma_next * (x - alpha * U) / sigma; the step to 0
    lands on D. ``euler_ancestral_cfg_pp`` (eta 1) steps to the variance-exploding ancestral level of
    sigma / alpha instead and adds fresh noise times alpha_next (and ``s_noise``; none drawn when it is 0)."""
    if eta > 0 and s_noise > 0:
        need_noise(noise, "euler_ancestral_cfg_pp")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised, uncond = model(x, s)
        if s_next == 0:
            x = denoised
        else:
            alpha, alpha_next = _alpha(s), _alpha(s_next)
            toward_noise = (x - alpha * uncond) / s
            down, up = ve_ancestral_step(s / alpha, s_next / alpha_next, eta)
            x = alpha_next * denoised + alpha_next * down * toward_noise
            if eta > 0 and s_noise > 0:
                x = x + alpha_next * noise() * s_noise * up
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def euler_ancestral_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                           eta: float = 1.0, s_noise: float = 1.0):
    return euler_cfg_pp(model, x, sigmas, callback, noise, eta=eta, s_noise=s_noise)


def res_multistep_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                         eta: float = 0.0):
    """RES second-order multistep (see samplers_multistep.res_multistep) on the unconditional estimates,
    after moving x by D - U; the first step and the step to 0 are the CFG++ Euler step D + slope(U) * level.
    ``res_multistep_ancestral_cfg_pp`` (eta 1) targets the variance-exploding ancestral level and adds
    fresh noise unscaled, as ComfyUI does."""
    if eta > 0:
        need_noise(noise, "res_multistep_ancestral_cfg_pp")
    denoised = old = old_down = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised, uncond = model(x, s)
        down, up = ve_ancestral_step(s, s_next, eta)
        if down == 0 or old is None:
            x = denoised + (x - uncond) / s * down
        else:
            lam, lam_next, lam_prev = -s.log(), -down.log(), -sigmas[i - 1].log()
            h = lam_next - lam
            c2 = (lam_prev - -old_down.log()) / h
            phi_1 = torch.expm1(-h) / -h
            phi_2 = (phi_1 - 1.0) / -h
            b_new = torch.nan_to_num(phi_1 - phi_2 / c2, nan=0.0)
            b_old = torch.nan_to_num(phi_2 / c2, nan=0.0)
            x = x + (denoised - uncond)
            x = torch.exp(-h) * x + h * (b_new * uncond + b_old * old)
        if eta > 0 and s_next > 0:
            x = x + noise() * up
        old, old_down = uncond, down
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def res_multistep_ancestral_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None):
    return res_multistep_cfg_pp(model, x, sigmas, callback, noise, eta=1.0)


def dpmpp_2m_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None):
    """DPM-Solver++(2M) with CFG++: x_next = D + e^-h (x - U) plus the second-order correction from the
    previous unconditional estimate (lambda = -log sigma)."""
    denoised = old = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised, uncond = model(x, s)
        h = -s_next.log() - -s.log()
        if old is None or s_next == 0:
            mix = -torch.exp(-h) * uncond
        else:
            r = (-s.log() - -sigmas[i - 1].log()) / h
            mix = -torch.exp(-h) * uncond - torch.expm1(-h) * (1 / (2 * r)) * (denoised - old)
        x = denoised + mix + torch.exp(-h) * x
        old = uncond
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def gradient_estimation_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                               gamma: float = 2.0):
    """Gradient estimation with CFG++: the Euler part lands on D + slope(U) * sigma_next."""
    denoised = old_d = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised, uncond = model(x, s)
        d = (x - uncond) / s
        dt = s_next - s
        if s_next == 0:
            x = denoised
        else:
            x = denoised + d * s_next
            if old_d is not None:
                x = x + (gamma - 1) * (d - old_d) * dt
        old_d = d
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def dpmpp_2s_ancestral_cfg_pp(model: GuidedDenoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                              eta: float = 1.0):
    """DPM-Solver++(2S) ancestral with CFG++, as ComfyUI runs it on FLUX: its variance-exploding form (no
    rectified-flow variant exists for this one), lambda = -log sigma. The half step starts from x moved by
    D - U of the first call; the second call, at the lambda midpoint, gives the estimate the full step uses,
    and the full step starts from x moved by D - U_mid (ComfyUI keeps the last call's U, the midpoint's).
    Fresh noise times the VE ancestral sigma_up on every step but the one to 0."""
    need_noise(noise, "dpmpp_2s_ancestral_cfg_pp")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised, uncond = model(x, s)
        down, up = ve_ancestral_step(s, s_next, eta)
        if down == 0:
            x = denoised + (x - uncond) / s * down
        else:
            lam, lam_down = -s.log(), -down.log()
            h = lam_down - lam
            lam_mid = lam + 0.5 * h
            x_mid = ((-lam_mid).exp() / (-lam).exp()) * (x + (denoised - uncond)) - (-h * 0.5).expm1() * denoised
            denoised_mid, uncond_mid = model(x_mid, (-lam_mid).exp())
            # ComfyUI's full step reads the unconditional estimate its midpoint call left behind
            x = ((-lam_down).exp() / (-lam).exp()) * (x + (denoised - uncond_mid)) - (-h).expm1() * denoised_mid
        if s_next > 0:
            x = x + noise() * up
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised
