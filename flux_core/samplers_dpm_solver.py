"""DPM-Solver (Lu et al. 2022) with its own step schedule: ComfyUI's ``dpm_fast`` and ``dpm_adaptive``.

Unlike the other samplers these do not walk the given levels. ComfyUI hands them only the range: from the
first level down to the last one above 0 (the smallest level, not 0, is where they stop, so the result
keeps that little noise, as in ComfyUI). They work in t = -log sigma with the noise estimate
eps = (x - D) / sigma, i.e. the variance-exploding form, which ComfyUI applies to FLUX unchanged.

- ``dpm_fast``: as many model calls as the schedule has steps, spent on evenly spaced steps in t of
  orders 3, ..., 3 and then 2, 1 or the remainder (DPM-Solver-fast).
- ``dpm_adaptive``: DPM-Solver-23, error-controlled: each step computes the second- and third-order
  solutions, their scaled difference is the error (rtol 0.05, atol 0.0078), and ComfyUI's PID step-size
  controller (integral only) accepts or rejects the step and sets the next size, from h 0.05. The number
  of model calls depends on the picture.

Both default to eta 0 (no fresh noise), as ComfyUI's KSampler runs them; SamplerDPMAdaptative sets
dpm_adaptive's eta, tolerances and controller.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .samplers_multistep import need_noise, ve_ancestral_step

Denoiser = Callable[[Tensor, Tensor], Tensor]


def solver_range(sigmas: Tensor) -> tuple[Tensor, Tensor] | None:
    """(sigma_min, sigma_max) as ComfyUI's KSAMPLER wrapper gives them: the last level, or the one before
    it when the last is 0, and the first level. None for a schedule without a step."""
    if len(sigmas) <= 1:
        return None
    low = sigmas[-1] if sigmas[-1] != 0 else sigmas[-2]
    if low <= 0 or sigmas[0] <= 0:
        raise ValueError("dpm_fast / dpm_adaptive need levels above 0 at both ends of their range")
    return low, sigmas[0]


class _Solver:
    """DPM-Solver's first-, second- and third-order steps in t = -log sigma, with the noise estimates of
    one step kept so a step computed at two orders calls the model once per level."""

    def __init__(self, model: Denoiser):
        self.model = model
        self.last_denoised: Tensor | None = None

    @staticmethod
    def level(t: Tensor) -> Tensor:
        return t.neg().exp()

    def eps(self, cache: dict, key: str, x: Tensor, t: Tensor) -> Tensor:
        if key not in cache:
            sigma = self.level(t)
            cache[key] = (x - self.model(x, sigma)) / self.level(t)
        return cache[key]

    def first(self, cache: dict, x: Tensor, t: Tensor, t_next: Tensor) -> Tensor:
        h = t_next - t
        return x - self.level(t_next) * h.expm1() * self.eps(cache, "eps", x, t)

    def second(self, cache: dict, x: Tensor, t: Tensor, t_next: Tensor, r1: float = 1 / 2) -> Tensor:
        h = t_next - t
        eps = self.eps(cache, "eps", x, t)
        t_1 = t + r1 * h
        u_1 = x - self.level(t_1) * (r1 * h).expm1() * eps
        eps_1 = self.eps(cache, "eps_r1", u_1, t_1)
        return x - self.level(t_next) * h.expm1() * eps - self.level(t_next) / (2 * r1) * h.expm1() * (eps_1 - eps)

    def third(self, cache: dict, x: Tensor, t: Tensor, t_next: Tensor, r1: float = 1 / 3,
              r2: float = 2 / 3) -> Tensor:
        h = t_next - t
        eps = self.eps(cache, "eps", x, t)
        t_1, t_2 = t + r1 * h, t + r2 * h
        u_1 = x - self.level(t_1) * (r1 * h).expm1() * eps
        eps_1 = self.eps(cache, "eps_r1", u_1, t_1)
        u_2 = x - self.level(t_2) * (r2 * h).expm1() * eps \
            - self.level(t_2) * (r2 / r1) * ((r2 * h).expm1() / (r2 * h) - 1) * (eps_1 - eps)
        eps_2 = self.eps(cache, "eps_r2", u_2, t_2)
        return x - self.level(t_next) * h.expm1() * eps - self.level(t_next) / r2 * (h.expm1() / h - 1) * (eps_2 - eps)

    def start(self, cache: dict, x: Tensor, t: Tensor) -> Tensor:
        """The step's first model call; its denoised estimate is what the progress callback shows."""
        eps = self.eps(cache, "eps", x, t)
        self.last_denoised = x - self.level(t) * eps
        return eps


def fast_orders(calls: int) -> list[int]:
    """DPM-Solver-fast's orders for a budget of model calls: third order while it lasts, then 2 + 1 when
    the budget divides by 3, else the remainder."""
    steps = math.floor(calls / 3) + 1
    if calls % 3 == 0:
        return [3] * (steps - 2) + [2, 1]
    return [3] * (steps - 1) + [calls % 3]


def dpm_fast(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None):
    """DPM-Solver-fast over ComfyUI's range with len(sigmas) - 1 model calls (see the module)."""
    ends = solver_range(sigmas)
    if ends is None:
        return x, None
    low, high = ends
    solver = _Solver(model)
    calls = len(sigmas) - 1
    t_start, t_end = -torch.tensor(float(high)).log(), -torch.tensor(float(low)).log()
    orders = fast_orders(calls)
    ts = torch.linspace(t_start, t_end, math.floor(calls / 3) + 2)
    step = {1: solver.first, 2: solver.second, 3: solver.third}
    for i, order in enumerate(orders):
        cache: dict = {}
        t, t_next = ts[i], ts[i + 1]
        solver.start(cache, x, t)
        if callback is not None:  # ComfyUI reports each step's start (its numbering: of the schedule's steps)
            callback(i, calls, x, solver.last_denoised)
        x = step[order](cache, x, t, t_next)
    return x, solver.last_denoised


class StepSizeController:
    """ComfyUI's PID controller for the adaptive step (with its defaults only the integral term acts): the
    factor (1 / error)^(1/order), softened by 1 + atan(f - 1), scales the step; a factor below
    ``accept_safety`` rejects the step."""

    def __init__(self, h: float, pcoeff: float, icoeff: float, dcoeff: float, order: float,
                 accept_safety: float = 0.81, eps: float = 1e-8):
        self.h = h
        self.weights = ((pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order, dcoeff / order)
        self.accept_safety, self.eps = accept_safety, eps
        self.inverse_errors: list[float] = []

    def propose(self, error) -> bool:
        inverse = 1 / (float(error) + self.eps)
        if not self.inverse_errors:
            self.inverse_errors = [inverse] * 3
        self.inverse_errors[0] = inverse
        e, w = self.inverse_errors, self.weights
        factor = e[0] ** w[0] * e[1] ** w[1] * e[2] ** w[2]
        factor = 1 + math.atan(factor - 1)
        accept = factor >= self.accept_safety
        if accept:
            self.inverse_errors[2] = self.inverse_errors[1]
            self.inverse_errors[1] = self.inverse_errors[0]
        self.h *= factor
        return accept


def dpm_adaptive(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, order: int = 3,
                 rtol: float = 0.05, atol: float = 0.0078, h_init: float = 0.05, pcoeff: float = 0.0,
                 icoeff: float = 1.0, dcoeff: float = 0.0, accept_safety: float = 0.81, eta: float = 0.0,
                 s_noise: float = 1.0):
    """DPM-Solver-23 (order 3) or -12 (order 2) with error-controlled steps over ComfyUI's range. With
    ``eta`` (SamplerDPMAdaptative) each step solves down to the variance-exploding ancestral level and an
    accepted step adds fresh noise (times ``s_noise``) back up to its end; the controller then works as
    for order 1.5, as ComfyUI's does."""
    if order not in (2, 3):
        raise ValueError("dpm_adaptive: order must be 2 or 3")
    ends = solver_range(sigmas)
    if ends is None:
        return x, None
    if eta:
        need_noise(noise, "dpm_adaptive with eta")
    low, high = ends
    solver = _Solver(model)
    n = len(sigmas) - 1
    t, t_end = -torch.tensor(float(high)).log(), -torch.tensor(float(low)).log()
    atol_t, rtol_t = torch.tensor(atol), torch.tensor(rtol)
    controller = StepSizeController(abs(h_init), pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
    x_prev = x
    attempts = 0
    while t < t_end - 1e-5:
        cache: dict = {}
        t_next = torch.minimum(t_end, t + controller.h)
        t_down, up = t_next, 0.0
        if eta:  # the ancestral split of the step, in levels, and the noise that fills it up again
            down, _ = ve_ancestral_step(solver.level(t), solver.level(t_next), eta)
            t_down = torch.minimum(t_end, down.log().neg())
            up = (solver.level(t_next) ** 2 - solver.level(t_down) ** 2) ** 0.5
        solver.start(cache, x, t)
        if order == 2:
            x_low = solver.first(cache, x, t, t_down)
            x_high = solver.second(cache, x, t, t_down)
        else:
            x_low = solver.second(cache, x, t, t_down, r1=1 / 3)
            x_high = solver.third(cache, x, t, t_down)
        scale = torch.maximum(atol_t, rtol_t * torch.maximum(x_low.abs(), x_prev.abs()))
        error = torch.linalg.norm((x_low - x_high) / scale) / x.numel() ** 0.5
        if math.isnan(float(error)):  # ComfyUI would loop for ever on a NaN step size
            raise ValueError("dpm_adaptive: the model's estimate is not finite, the step size cannot be chosen")
        if controller.propose(error):
            x_prev = x_low
            x = x_high + up * s_noise * noise() if eta else x_high
            t = t_next
        attempts += 1
        if callback is not None:  # every attempt, accepted or not, as ComfyUI reports them (capped at the end)
            callback(min(attempts, n) - 1, n, x, solver.last_denoised)
    return x, solver.last_denoised
