"""SA-Solver (Xue et al. 2023, stochastic Adams) as ComfyUI runs it on FLUX: ``sa_solver`` and
``sa_solver_pece``.

A multistep predictor-corrector in the half log signal-to-noise ratio lambda = log((1 - sigma) / sigma)
on the data estimates D: the predictor integrates the Lagrange polynomial through the last (up to 3)
estimates against the SDE's exponential weight, the corrector (from the second step, up to 4 estimates,
the newest included) redoes the previous step with the estimate at its end and adds the same noise again.
``sa_solver_pece`` also calls the model on the corrected state (one more call per step).

Stochasticity tau is 1 while the next level lies in ComfyUI's default window, between the model's levels
at 20 % and 80 % of sampling, else 0 (an ODE step, no draw); the noise is a fresh draw of the run's
generator (``StepNoise``) per noisy step. Orders drop near the end when the schedule ends at 0. As in
ComfyUI, a schedule that stops above 0 returns the corrected state at its second-to-last level, not the
last prediction. A first level of 1 moves to the model's 0.01 % level.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .samplers_multistep import need_noise
from .samplers_stochastic import _half_log_snr, _offset_first

Denoiser = Callable[[Tensor, Tensor], Tensor]


def moment_integrals(lam_from: Tensor, lam_to: Tensor, count: int, tau: float) -> Tensor:
    """(1 + tau^2) * integral over [lam_from, lam_to] of exp((1 + tau^2)(l - lam_to)) * l^p dl for
    p = 0 .. count - 1, by repeated integration by parts (the terms of one triangular sum, in float32 as
    ComfyUI computes them)."""
    rate = 1 + tau ** 2
    h = lam_to - lam_from
    p = torch.arange(count, dtype=lam_from.dtype)
    boundary = lam_to ** p - lam_from ** p * (-rate * h).exp()
    depth = p.unsqueeze(1) - p.unsqueeze(0)
    log_factorial = (p + 1).lgamma()
    log_weights = log_factorial.unsqueeze(1) - log_factorial.unsqueeze(0)  # p! / q!
    if tau > 0:
        log_weights = log_weights - depth * math.log(rate)  # ... / rate^(p - q)
    signs = torch.where(depth % 2 == 0, 1.0, -1.0)
    return (log_weights.exp() * signs).tril() @ boundary


def adams_weights(sigma_to: Tensor, nodes: Tensor, lam_from: Tensor, lam_to: Tensor, tau: float) -> Tensor:
    """The weights of the estimates at lambda ``nodes`` for a step lam_from -> lam_to: alpha_to times the
    integrals of their Lagrange basis polynomials against the exponential weight (solved from the moments
    through the transposed Vandermonde matrix)."""
    count = nodes.shape[0]
    moments = moment_integrals(lam_from, lam_to, count, tau)
    basis_integrals = torch.linalg.solve(torch.vander(nodes, count, increasing=True).T, moments)
    return sigma_to * lam_to.exp() * basis_integrals


def simple_order_2_weights(sigma_to: Tensor, nodes: Tensor, lam_from: Tensor, lam_to: Tensor, tau: float,
                           corrector: bool) -> Tensor:
    """The paper's simplified second-order weights (its appendix D), SamplerSASolver's ``simple_order_2``:
    the corrector's trapezoid-like pair, the predictor's two-step pair from the node spacing."""
    rate = 1 + tau ** 2
    h = lam_to - lam_from
    alpha_to = sigma_to * lam_to.exp()
    if corrector:
        newest = alpha_to * (0.5 * rate * h)
        older = alpha_to * (-h * rate).expm1().neg() - newest
    else:
        older = alpha_to * (0.5 * rate * h ** 2) / (nodes[-2] - lam_from)
        newest = alpha_to * (-h * rate).expm1().neg() - older
    return torch.stack([older, newest])


def _weighted(estimates: list[Tensor], weights: Tensor) -> Tensor:
    return torch.tensordot(torch.stack(estimates, dim=1), weights, dims=([1], [0]))


def sa_solver(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
              sde_window: tuple[float, float] = (0.8, 0.2), eta: float = 1.0, s_noise: float = 1.0,
              predictor_order: int = 3, corrector_order: int = 4, pece: bool = False, simple_order_2: bool = False):
    """SA-Solver; the defaults are ComfyUI's KSampler ones, the options SamplerSASolver's. ``sde_window`` =
    (the model's level at the start percent, at the end percent), where tau = eta; ``s_noise`` scales the
    noise (0: none drawn)."""
    if len(sigmas) <= 1:
        return x, None
    noise = need_noise(noise, "sa_solver_pece" if pece else "sa_solver")
    high, low = sde_window

    def tau_at(sigma: Tensor) -> float:
        return (eta if high >= sigma.item() >= low else 0.0) if eta > 0 else 0.0

    def weights(sigma_to, nodes, lam_from, lam_to, tau, corrector):
        if simple_order_2 and nodes.shape[0] == 2:
            return simple_order_2_weights(sigma_to, nodes, lam_from, lam_to, tau, corrector)
        return adams_weights(sigma_to, nodes, lam_from, lam_to, tau)

    sigmas = _offset_first(sigmas, snr_start)
    lambdas = _half_log_snr(sigmas)
    keep = max(predictor_order, corrector_order)
    to_end = sigmas[-1].item() == 0  # lower the orders near the end
    x_pred = x
    h, tau, drawn = 0.0, 0.0, 0.0
    estimates: list[Tensor] = []
    shown = None
    n = len(sigmas) - 1
    for i in range(n):
        denoised = model(x_pred, sigmas[i])
        shown = denoised
        estimates = (estimates + [denoised])[-keep:]
        p_order = min(predictor_order, len(estimates))
        c_order = 0 if i == 0 or (sigmas[i + 1] == 0 and not pece) else min(corrector_order, len(estimates))
        if to_end:
            p_order = min(p_order, len(sigmas) - 2 - i)
            c_order = min(c_order, len(sigmas) - 1 - i)
        if c_order == 0:
            x = x_pred
        else:  # redo the last step with the estimate at its end among the nodes (implicit Adams)
            w = weights(sigmas[i], lambdas[i - c_order + 1:i + 1], lambdas[i - 1], lambdas[i], tau, True)
            x = sigmas[i] / sigmas[i - 1] * (-(tau ** 2) * h).exp() * x + _weighted(estimates[-c_order:], w)
            if tau > 0 and s_noise > 0:
                x = x + drawn  # the same noise as the prediction it corrects
            if pece:
                denoised = model(x, sigmas[i])
                estimates[-1] = denoised
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            tau = tau_at(sigmas[i + 1])
            w = weights(sigmas[i + 1], lambdas[i - p_order + 1:i + 1], lambdas[i], lambdas[i + 1], tau, False)
            h = lambdas[i + 1] - lambdas[i]
            x_pred = sigmas[i + 1] / sigmas[i] * (-(tau ** 2) * h).exp() * x + _weighted(estimates[-p_order:], w)
            if tau > 0 and s_noise > 0:
                drawn = noise() * sigmas[i + 1] * (-2 * tau ** 2 * h).expm1().neg().sqrt() * s_noise
                x_pred = x_pred + drawn
        if callback is not None:
            callback(i, n, x_pred, shown)
    return x, shown


def sa_solver_pece(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
                   sde_window: tuple[float, float] = (0.8, 0.2)):
    return sa_solver(model, x, sigmas, callback, noise, snr_start, sde_window, pece=True)
