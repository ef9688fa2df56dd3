"""ComfyUI's schedulers for FLUX.1: which noise levels a run of `steps` steps visits.

Every ComfyUI model carries a table of noise levels (its "model sampling"). FLUX dev has 10,000 levels
at t = i/10000, shifted by e^mu / (e^mu + 1/t - 1) with mu 1.15, or the mu ModelSamplingFlux computes
from a width and height; schnell has 1,000 unshifted levels t = i/1000. For both, ComfyUI's model
timestep equals the noise level. Each scheduler here reads that table (or just its smallest and largest
level) the way ComfyUI 0.3.x does, in float32 like ComfyUI's tensors, so the levels are the same numbers.

Pure functions on small tensors; no model, no nodes. The sampler step rules are in
:mod:`flux_core.samplers`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch
from torch import Tensor

from .sampling import MAX_SCHEDULE_LENGTH, denoise_schedule_problem, time_shift
from .sampling_names import SCHEDULER_NAMES


@dataclass(frozen=True)
class NoiseLevels:
    """A model's noise-level table: shifted by ``mu`` (dev, ModelSamplingFlux) or unshifted (``mu`` None,
    schnell)."""

    mu: float | None = None

    @property
    def table(self) -> Tensor:
        return _table(self.mu)

    @property
    def sigma_min(self) -> Tensor:
        return self.table[0]

    @property
    def sigma_max(self) -> Tensor:
        return self.table[-1]

    def sigma(self, t: Tensor) -> Tensor:
        """The noise level at model time t (float32 tensor in, float32 tensor out)."""
        return t if self.mu is None else time_shift(self.mu, 1.0, t)

    def timestep(self, sigma: Tensor) -> Tensor:
        """Model time for a noise level: for FLUX both are the same number."""
        return sigma


@lru_cache(maxsize=16)
def _table(mu: float | None) -> Tensor:
    size = 1000 if mu is None else 10000
    t = torch.arange(1, size + 1, 1) / size
    return t if mu is None else time_shift(mu, 1.0, t)


def _with_zero(levels: Tensor) -> list[float]:
    return [float(v) for v in levels] + [0.0]


# ---------------------------------------------------------------------------------------------
# the schedulers (ComfyUI's SCHEDULER_HANDLERS)


def simple(levels: NoiseLevels, steps: int) -> list[float]:
    """Evenly spaced entries of the table from the top: entry -(1 + int(k * len / steps))."""
    table = levels.table
    stride = len(table) / steps
    return [float(table[-(1 + int(k * stride))]) for k in range(steps)] + [0.0]


def normal(levels: NoiseLevels, steps: int, sgm: bool = False) -> list[float]:
    """Evenly spaced model times from the largest to the smallest level, mapped to levels.

    `sgm_uniform` spaces steps + 1 times and drops the last; `normal` spaces `steps` times ending at the
    smallest level (one more, and no appended 0, when that level is 0)."""
    start, end = levels.timestep(levels.sigma_max), levels.timestep(levels.sigma_min)
    append_zero = True
    if sgm:
        times = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(levels.sigma(end)), 0, abs_tol=1e-5):
            steps += 1
            append_zero = False
        times = torch.linspace(start, end, steps)
    values = [float(levels.sigma(t)) for t in times]
    return values + [0.0] if append_zero else values


def sgm_uniform(levels: NoiseLevels, steps: int) -> list[float]:
    return normal(levels, steps, sgm=True)


def karras(levels: NoiseLevels, steps: int, rho: float = 7.0) -> list[float]:
    """Karras et al. (2022): evenly spaced in sigma^(1/rho) between the smallest and largest level."""
    lo, hi = float(levels.sigma_min), float(levels.sigma_max)
    ramp = torch.linspace(0, 1, steps)
    lo_r, hi_r = lo ** (1 / rho), hi ** (1 / rho)
    return _with_zero((hi_r + ramp * (lo_r - hi_r)) ** rho)


def exponential(levels: NoiseLevels, steps: int) -> list[float]:
    """Evenly spaced in log sigma from the largest to the smallest level."""
    lo, hi = float(levels.sigma_min), float(levels.sigma_max)
    return _with_zero(torch.linspace(math.log(hi), math.log(lo), steps).exp())


def ddim_uniform(levels: NoiseLevels, steps: int) -> list[float]:
    """Every (len // steps)-th entry of the table from entry 1 upwards, reversed, with 0 at the end."""
    table = levels.table
    values: list[float] = []
    i = 1
    if math.isclose(float(table[i]), 0, abs_tol=1e-5):
        steps += 1
    else:
        values = [0.0]
    stride = max(len(table) // steps, 1)
    while i < len(table):
        values.append(float(table[i]))
        i += stride
    return values[::-1]


def beta(levels: NoiseLevels, steps: int, a: float = 0.6, b: float = 0.6) -> list[float]:
    """Table entries at the Beta(a, b) quantiles of 1, 1 - 1/steps, ... (arXiv 2407.12173): dense at both
    ends. Entries that round to the same index are taken once, so the schedule can be shorter."""
    import numpy

    table = levels.table
    last = len(table) - 1
    quantiles = 1 - numpy.linspace(0, 1, steps, endpoint=False)
    indices = numpy.rint(numpy.array([beta_quantile(float(p), a, b) for p in quantiles]) * last)
    values: list[float] = []
    previous = -1.0
    for i in indices:
        if i != previous:
            values.append(float(table[int(i)]))
        previous = i
    return values + [0.0]


def linear_quadratic(levels: NoiseLevels, steps: int, threshold: float = 0.025,
                     linear_steps: int | None = None) -> list[float]:
    """Mochi's schedule: the first half of the steps go linearly down to `threshold` noise removed, the
    rest follow a quadratic to the end; scaled by the largest level."""
    if steps == 1:
        removed = [1.0, 0.0]
    else:
        if linear_steps is None:
            linear_steps = steps // 2
        linear = [i * threshold / linear_steps for i in range(linear_steps)]
        step_diff = linear_steps - threshold * steps
        quadratic_steps = steps - linear_steps
        qa = step_diff / (linear_steps * quadratic_steps ** 2)
        qb = threshold / linear_steps - 2 * step_diff / (quadratic_steps ** 2)
        qc = qa * (linear_steps ** 2)
        quadratic = [qa * (i ** 2) + qb * i + qc for i in range(linear_steps, steps)]
        removed = [1.0 - v for v in linear + quadratic + [1.0]]
    return [float(v) for v in torch.tensor(removed, dtype=torch.float32) * levels.sigma_max]


def kl_optimal(levels: NoiseLevels, steps: int) -> list[float]:
    """Evenly spaced in arctan(sigma) from the largest to the smallest level (AYS "KL-optimal")."""
    if steps < 2:
        raise ValueError("the kl_optimal scheduler needs at least 2 steps (ComfyUI divides by steps - 1)")
    lo, hi = float(levels.sigma_min), float(levels.sigma_max)
    frac = torch.arange(steps, dtype=torch.float).div_(steps - 1)
    return _with_zero((frac * math.atan(lo) + (1 - frac) * math.atan(hi)).tan_())


SCHEDULERS: dict[str, Callable[[NoiseLevels, int], list[float]]] = {
    "simple": simple, "sgm_uniform": sgm_uniform, "karras": karras, "exponential": exponential,
    "ddim_uniform": ddim_uniform, "beta": beta, "normal": normal, "linear_quadratic": linear_quadratic,
    "kl_optimal": kl_optimal,
}
assert list(SCHEDULERS) == SCHEDULER_NAMES


def scheduler_levels(levels: NoiseLevels, name: str, steps: int) -> list[float]:
    """ComfyUI's calculate_sigmas: the levels of scheduler `name` for `steps` steps."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r} (supported: {', '.join(SCHEDULER_NAMES)})")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return SCHEDULERS[name](levels, steps)


def _check_denoise(steps: int, denoise: float) -> None:
    if not 0.0 <= denoise <= 1.0:
        raise ValueError(f"denoise must be in [0, 1], got {denoise}")
    problem = denoise_schedule_problem(steps, denoise)
    if problem:
        raise ValueError(problem)


def basic_schedule(levels: NoiseLevels, name: str, steps: int, denoise: float = 1.0) -> list[float]:
    """ComfyUI's BasicScheduler: for denoise < 1 the levels of int(steps / denoise) steps; always the last
    steps + 1 of them (denoise 0: none)."""
    _check_denoise(steps, denoise)
    if denoise <= 0.0:
        return []
    total = int(steps / denoise) if denoise < 1.0 else steps
    return scheduler_levels(levels, name, total)[-(steps + 1):]


DROP_PENULTIMATE = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})


def ksampler_schedule(levels: NoiseLevels, name: str, steps: int, denoise: float = 1.0,
                      sampler: str = "euler") -> list[float]:
    """ComfyUI's KSampler: denoise above 0.9999 counts as 1 and keeps every level; below, the last
    steps + 1 levels of int(steps / denoise) steps. For dpm_2 (and uni_pc) it computes one step more
    and drops the second-to-last level."""
    _check_denoise(steps, denoise)
    if denoise <= 0.0:
        return []

    def compute(n: int) -> list[float]:
        if sampler in DROP_PENULTIMATE:
            values = scheduler_levels(levels, name, n + 1)
            return values[:-2] + values[-1:]
        return scheduler_levels(levels, name, n)

    if denoise > 0.9999:
        return compute(steps)
    return compute(int(steps / denoise))[-(steps + 1):]


# ---------------------------------------------------------------------------------------------
# the Beta quantile (SciPy's beta.ppf, which ComfyUI calls; fluxwire does not depend on SciPy)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz), converging for
    x < (a + 1) / (a + b + 2)."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(1.0 - x, b, a) / b


def beta_quantile(p: float, a: float, b: float) -> float:
    """x with I_x(a, b) = p, by bisection to the last bit (symmetric a == b: exactly 0.5 at p = 0.5)."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    if a == b and p == 0.5:
        return 0.5
    lo, hi = 0.0, 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return mid
        if beta_cdf(mid, a, b) < p:
            lo = mid
        else:
            hi = mid


__all__ = ["NoiseLevels", "SCHEDULERS", "SCHEDULER_NAMES", "scheduler_levels", "basic_schedule",
           "ksampler_schedule", "beta_quantile", "MAX_SCHEDULE_LENGTH"]
