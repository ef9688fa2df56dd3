"""ComfyUI's sampler step rules as they run on FLUX (its CONST / rectified-flow model sampling).

A sampler walks x from the first noise level of a schedule to the last, calling a denoiser
``denoised(x, sigma)`` — the clean-latent estimate x - sigma * v of a velocity model — once or twice per
step. The rules are the k-diffusion ones ComfyUI runs (Karras et al. 2022; DPM-Solver; DPM-Solver++;
linear multistep), with ComfyUI's rectified-flow variant of the ancestral sampler, whose extra noise
comes from one generator seeded with the run's noise seed on the model's device, drawn once per step.

Scalars are float32 tensors, as ComfyUI's sigma tensors are, so the arithmetic rounds as there. Every
sampler returns (x, last denoised estimate) and calls ``callback(i, n, x, denoised)`` after step i.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .sampling_names import SAMPLER_NAMES

Denoiser = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[[int, int, Tensor, Tensor], None] | None
NoiseSource = Callable[[], Tensor]


class StepNoise:
    """Fresh noise for ancestral steps: ComfyUI's default noise sampler. One generator on ``device`` seeded
    with the run's seed, one draw of x's shape per call (so the numbers depend on the device's generator,
    as in ComfyUI)."""

    def __init__(self, seed: int, shape: tuple[int, ...], device: torch.device | str = "cpu"):
        self.shape, self.device = tuple(shape), torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))

    def __call__(self) -> Tensor:
        noise = torch.randn(self.shape, dtype=torch.float32, device=self.device, generator=self.generator)
        return noise.cpu()


def _d(x: Tensor, sigma: Tensor, denoised: Tensor) -> Tensor:
    """The ODE derivative dx/dsigma (for a flow model, its velocity)."""
    return (x - denoised) / sigma


def euler(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None, noise: NoiseSource | None = None):
    """First order: one model call per step."""
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        denoised = model(x, sigmas[i])
        x = x + _d(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def euler_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None,
                    noise: NoiseSource | None = None, eta: float = 1.0):
    """ComfyUI's rectified-flow ancestral Euler: step down to sigma_next^2 / sigma (for eta 1), then scale
    towards the data and add fresh noise so the marginal at sigma_next is right."""
    if noise is None:
        raise ValueError("euler_ancestral needs a noise source (the run's seed)")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        if s_next == 0:
            x = denoised
        else:
            sigma_down = s_next * (1 + (s_next / s - 1) * eta)
            alpha_next, alpha_down = 1 - s_next, 1 - sigma_down
            renoise = (s_next ** 2 - sigma_down ** 2 * alpha_next ** 2 / alpha_down ** 2) ** 0.5
            ratio = sigma_down / s
            x = ratio * x + (1 - ratio) * denoised
            if eta > 0:
                x = (alpha_next / alpha_down) * x + noise() * renoise
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def heun(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None, noise: NoiseSource | None = None):
    """Second order (trapezoid): an Euler step, then the average of both ends' slopes; the last step to 0
    is plain Euler. Two model calls per step."""
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = _d(x, s, denoised)
        dt = s_next - s
        if s_next == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = _d(x_2, s_next, model(x_2, s_next))
            x = x + (d + d_2) / 2 * dt
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def dpm_2(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None, noise: NoiseSource | None = None):
    """Second order (midpoint in log sigma, DPM-Solver-2 style); the last step to 0 is plain Euler."""
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = _d(x, s, denoised)
        if s_next == 0:
            x = x + d * (s_next - s)
        else:
            s_mid = s.log().lerp(s_next.log(), 0.5).exp()
            x_2 = x + d * (s_mid - s)
            d_2 = _d(x_2, s_mid, model(x_2, s_mid))
            x = x + d_2 * (s_next - s)
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def dpmpp_2m(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None, noise: NoiseSource | None = None):
    """DPM-Solver++(2M): exponential integrator in lambda = -log sigma using the last two denoised
    estimates; first and last steps are first order."""
    denoised = old = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        t, t_next = -s.log(), -s_next.log()
        h = t_next - t
        if old is None or s_next == 0:
            x = (s_next / s) * x - (-h).expm1() * denoised
        else:
            r = (t - (-sigmas[i - 1].log())) / h
            blended = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = (s_next / s) * x - (-h).expm1() * blended
        old = denoised
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def lms_coefficient(order: int, sigmas: list[float], i: int, j: int) -> float:
    """The integral over [sigma_i, sigma_i+1] of the Lagrange basis polynomial j through the last `order`
    levels (k-diffusion integrates it numerically; a polynomial integrates exactly)."""
    import numpy as np

    nodes = [sigmas[i - k] for k in range(order)]
    poly = np.polynomial.Polynomial([1.0])
    for k, node in enumerate(nodes):
        if k != j:
            poly = poly * np.polynomial.Polynomial([-node, 1.0]) / (nodes[j] - node)
    antiderivative = poly.integ()
    return float(antiderivative(sigmas[i + 1]) - antiderivative(sigmas[i]))


def lms(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None, noise: NoiseSource | None = None,
        order: int = 4):
    """Linear multistep (Adams-Bashforth on non-uniform levels) of up to `order` past slopes; the last
    step to 0 lands on the denoised estimate."""
    levels = [float(s) for s in sigmas.double()]
    slopes: list[Tensor] = []
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        denoised = model(x, sigmas[i])
        slopes.append(_d(x, sigmas[i], denoised))
        if len(slopes) > order:
            slopes.pop(0)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            current = min(i + 1, order)
            coefficients = [lms_coefficient(current, levels, i, j) for j in range(current)]
            x = x + sum(c * d for c, d in zip(coefficients, reversed(slopes)))
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def deis_coefficients(sigmas: Tensor, max_order: int = 3, points: int = 10000) -> list[list[Tensor]]:
    """ComfyUI's "tab" DEIS coefficients. The levels are mapped to VP-SDE time t (with EDM's sigma range
    0.002..80, as ComfyUI maps them for every model); step i's coefficient j integrates Lagrange basis
    polynomial j through the last `order` times against dsigma/dt = -0.5 (d log alpha/dt) / sqrt(alpha
    (1 - alpha)), by ComfyUI's 10,000-point sum. Steps to 0 and first steps need none (Euler)."""
    lo, hi, eps = torch.tensor(0.002), torch.tensor(80.0), 1e-3
    beta_d = 2 * (torch.log(lo ** 2 + 1) / eps - torch.log(hi ** 2 + 1)) / (eps - 1)
    beta_0 = torch.log(hi ** 2 + 1) - 0.5 * beta_d
    beta_1 = beta_d + beta_0
    t = ((beta_0 ** 2 + 2 * beta_d * torch.log(sigmas ** 2 + 1)).sqrt() - beta_0) / beta_d
    coefficients: list[list[Tensor]] = []
    for i in range(len(t) - 1):
        order = min(i + 1, max_order)
        if order == 1 or sigmas[i + 1] <= 0:
            coefficients.append([])
            continue
        taus = torch.linspace(float(t[i]), float(t[i + 1]), points)
        alpha = torch.exp(-0.5 * taus ** 2 * (beta_1 - beta_0) - taus * beta_0)
        weight = -0.5 * (-taus * (beta_1 - beta_0) - beta_0) / torch.sqrt(alpha * (1 - alpha))
        nodes = [t[i - k] for k in range(order)]
        row = []
        for j in range(order):
            basis = torch.ones_like(taus)
            for k in range(order):
                if k != j:
                    basis = basis * (taus - nodes[k]) / (nodes[j] - nodes[k])
            row.append(torch.sum(weight * basis) * ((t[i + 1] - t[i]) / points))
        coefficients.append(row)
    return coefficients


def deis(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None, noise: NoiseSource | None = None,
         max_order: int = 3):
    """DEIS (Zhang & Chen 2022) as ComfyUI runs it: a multistep method over the last `max_order` slopes with
    the coefficients above; the first step and the step to 0 are Euler."""
    coefficients = deis_coefficients(sigmas, max_order)
    slopes: list[Tensor] = []  # the previous slopes, newest last
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = (x - denoised) / s
        order = 1 if s_next <= 0 else min(max_order, i + 1)
        if order == 1:
            x = x + (s_next - s) * d
        else:
            row = coefficients[i]
            x = x + row[0] * d
            for c, previous in zip(row[1:], reversed(slopes)):  # newest first, added in ComfyUI's order
                x = x + c * previous
        slopes = (slopes + [d])[-(max_order - 1):]
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


SAMPLERS = {"euler": euler, "euler_ancestral": euler_ancestral, "heun": heun, "dpm_2": dpm_2, "lms": lms,
            "dpmpp_2m": dpmpp_2m, "ddim": euler, "deis": deis}
assert list(SAMPLERS) == SAMPLER_NAMES
ANCESTRAL = frozenset({"euler_ancestral"})  # samplers that draw fresh noise each step
RANDOM_INPAINT_NOISE = frozenset({"ddim"})  # ComfyUI holds the unmasked part with noise of seed + 1


def unsupported_message(name: str) -> str:
    return f"sampler {name!r} is not supported by fluxwire (supported: {', '.join(SAMPLER_NAMES)})"


def run(name: str, model: Denoiser, x: Tensor, sigmas: list[float], callback: Callback = None,
        noise: NoiseSource | None = None) -> tuple[Tensor, Tensor]:
    """Run sampler `name` along `sigmas` from x (float32); returns (x, last denoised estimate)."""
    if name not in SAMPLERS:
        raise ValueError(unsupported_message(name))
    levels = torch.tensor([float(s) for s in sigmas], dtype=torch.float32)
    return SAMPLERS[name](model, x.float(), levels, callback, noise)
