"""SEEDS-2 and SEEDS-3 (Gonzalez et al. 2023, stochastic explicit exponential derivative-free solvers,
VP data prediction) as ComfyUI runs them on FLUX.

Single-step exponential integrators in the half log signal-to-noise ratio lambda = log((1 - sigma) /
sigma): one (SEEDS-2) or two (SEEDS-3) intermediate levels per step, each with its own model call. With
eta 1 the noise of a step is one Brownian path sampled at the intermediate levels: each stage keeps the
previous stage's noise, decayed, and adds a fresh draw of the generator (``StepNoise``) for its own piece,
so SEEDS-2 draws twice per step and SEEDS-3 three times, in ComfyUI's order. A first level of 1 moves to
the model's 0.01 % level (see :mod:`flux_core.samplers_stochastic`); the step to 0 lands on the estimate.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .samplers_multistep import need_noise
from .samplers_stochastic import _half_log_snr, _noise_free_level, _offset_first

Denoiser = Callable[[Tensor, Tensor], Tensor]


def _h_phi_1(h: Tensor) -> Tensor:
    """h * phi_1(h) of exponential integrators: e^h - 1."""
    return torch.expm1(h)


def _h_phi_2(h: Tensor) -> Tensor:
    """h * phi_2(h): (e^h - 1 - h) / h."""
    return (torch.expm1(h) - h) / h


def _carried(previous: Tensor, r_from: float, r_to: float, h: Tensor, eta: float, draw: Tensor) -> Tensor:
    """The step's Brownian noise at the next stage (fractions r_from -> r_to of the step): the previous
    stage's noise decayed over the piece, plus a fresh draw scaled to the piece's own variance."""
    piece = (r_from - r_to) * h * eta
    return previous * piece.exp() + piece.mul(2).expm1().neg().sqrt() * draw


def seeds_2(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
            eta: float = 1.0, r: float = 0.5):
    """SEEDS-2: a stochastic exponential Euler step to the level at fraction r of the step in lambda, a
    model call there, then the full step from the estimates blended 1 - 1/(2r) : 1/(2r)."""
    noise = need_noise(noise, "seeds_2")
    sigmas = _offset_first(sigmas, snr_start)
    blend = 1 / (2 * r)
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        if s_next == 0:
            x = denoised
        else:
            lam, lam_next = _half_log_snr(s), _half_log_snr(s_next)
            h = lam_next - lam
            h_eta = h * (eta + 1)
            lam_1 = torch.lerp(lam, lam_next, r)
            s_1 = _noise_free_level(lam_1)
            alpha_1, alpha_next = s_1 * lam_1.exp(), s_next * lam_next.exp()
            x_1 = s_1 / s * (-r * h * eta).exp() * x - alpha_1 * _h_phi_1(-r * h_eta) * denoised
            if eta > 0:
                path = (-2 * r * h * eta).expm1().neg().sqrt() * noise()
                x_1 = x_1 + path * s_1
            denoised_1 = model(x_1, s_1)
            mixed = torch.lerp(denoised, denoised_1, blend)
            x = s_next / s * (-h * eta).exp() * x - alpha_next * _h_phi_1(-h_eta) * mixed
            if eta > 0:
                path = _carried(path, r, 1, h, eta, noise())
                x = x + path * s_next
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def seeds_3(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
            eta: float = 1.0, r_1: float = 1 / 3, r_2: float = 2 / 3):
    """SEEDS-3: stages at fractions r_1 and r_2 of the step in lambda (model calls at both), the second
    from the phi_2-weighted pair of estimates, the full step from the first and third estimates."""
    noise = need_noise(noise, "seeds_3")
    sigmas = _offset_first(sigmas, snr_start)
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        if s_next == 0:
            x = denoised
        else:
            lam, lam_next = _half_log_snr(s), _half_log_snr(s_next)
            h = lam_next - lam
            h_eta = h * (eta + 1)
            lam_1, lam_2 = torch.lerp(lam, lam_next, r_1), torch.lerp(lam, lam_next, r_2)
            s_1, s_2 = _noise_free_level(lam_1), _noise_free_level(lam_2)
            alpha_1, alpha_2 = s_1 * lam_1.exp(), s_2 * lam_2.exp()
            alpha_next = s_next * lam_next.exp()
            x_1 = s_1 / s * (-r_1 * h * eta).exp() * x - alpha_1 * _h_phi_1(-r_1 * h_eta) * denoised
            if eta > 0:
                path = (-2 * r_1 * h * eta).expm1().neg().sqrt() * noise()
                x_1 = x_1 + path * s_1
            denoised_1 = model(x_1, s_1)
            w_1 = r_2 / r_1 * _h_phi_2(-r_2 * h_eta)
            w_0 = _h_phi_1(-r_2 * h_eta) - w_1
            x_2 = s_2 / s * (-r_2 * h * eta).exp() * x - alpha_2 * (w_0 * denoised + w_1 * denoised_1)
            if eta > 0:
                path = _carried(path, r_1, r_2, h, eta, noise())
                x_2 = x_2 + path * s_2
            denoised_2 = model(x_2, s_2)
            b_2 = _h_phi_2(-h_eta) / r_2
            b_0 = _h_phi_1(-h_eta) - b_2
            x = s_next / s * (-h * eta).exp() * x - alpha_next * (b_0 * denoised + b_2 * denoised_2)
            if eta > 0:
                path = _carried(path, r_2, 1, h, eta, noise())
                x = x + path * s_next
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised
