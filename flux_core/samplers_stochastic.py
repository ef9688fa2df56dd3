"""ComfyUI's samplers that add fresh noise during sampling, as they run on FLUX (CONST model sampling).

Two kinds of noise, as in ComfyUI: the per-step draws of one seeded generator (``StepNoise`` in
:mod:`flux_core.samplers`: DPM-Solver++(2S) ancestral, LCM, ER-SDE) and, for the DPM-Solver++ SDE
samplers, increments of one Brownian motion over the schedule's sigma range from torchsde's
``BrownianTree`` seeded with the run's seed (an optional dependency: ``pip install fluxwire[sde]``).

The SDE and ER-SDE rules work in half log signal-to-noise ratio, lambda = log((1 - sigma) / sigma) for
a flow model; a first level of 1 (lambda = -inf) is first moved to the model's level at 0.01 % of the
way, as ComfyUI does.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
from torch import Tensor

from .samplers_multistep import need_noise, rf_ancestral_step, ve_ancestral_step

Denoiser = Callable[[Tensor, Tensor], Tensor]

SNR_OFFSET_PERCENT = 1e-4


def percent_level(mu: float | None, percent: float) -> float:
    """The model's noise level at ``percent`` of sampling (ComfyUI's percent_to_sigma for FLUX): 1 - percent
    on the unshifted table of schnell (``mu`` None), else ModelSamplingFlux's shift of it."""
    if percent <= 0.0:
        return 1.0
    if percent >= 1.0:
        return 0.0
    t = 1.0 - percent
    return t if mu is None else math.exp(mu) / (math.exp(mu) + (1 / t - 1))


def snr_start_level(mu: float | None) -> float:
    """The model's noise level at 0.01 % of sampling: where a schedule that starts at sigma 1 starts instead
    for the samplers that need a finite lambda. ``mu`` is the shift of ModelSamplingFlux (None: the
    unshifted table of schnell)."""
    return percent_level(mu, SNR_OFFSET_PERCENT)


def _offset_first(sigmas: Tensor, start: float) -> Tensor:
    if len(sigmas) > 1 and sigmas[0] >= 1:
        sigmas = sigmas.clone()
        sigmas[0] = start
    return sigmas


def _half_log_snr(sigma: Tensor) -> Tensor:
    return sigma.logit().neg()


def _noise_free_level(lam: Tensor) -> Tensor:
    return lam.neg().sigmoid()


def dpmpp_2s_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, eta: float = 1.0,
                       s_noise: float = 1.0):
    """ComfyUI's rectified-flow DPM-Solver++(2S) ancestral: a second-order step (one extra model call at the
    lambda midpoint) down to sigma_next^2 / sigma, then scaled towards the data with fresh noise added as in
    euler_ancestral. A step from sigma 1 evaluates its midpoint at 0.9999; the step to 0 is Euler."""
    noise = need_noise(noise, "dpmpp_2s_ancestral")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        sigma_down, rescale, renoise = rf_ancestral_step(s, s_next, eta)
        if s_next == 0:
            x = x + (x - denoised) / s * (sigma_down - s)
        else:
            if s == 1.0:
                s_mid = torch.tensor(0.9999, dtype=torch.float32)
            else:
                lam, lam_down = ((1 - s) / s).log(), ((1 - sigma_down) / sigma_down).log()
                s_mid = (((lam + (lam_down - lam) / 2).exp()) + 1) ** -1
            ratio = s_mid / s
            denoised_mid = model(ratio * x + (1 - ratio) * denoised, s_mid)
            ratio = sigma_down / s
            x = ratio * x + (1 - ratio) * denoised_mid
        if s_next > 0 and eta > 0:
            x = rescale * x + noise() * s_noise * renoise
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def dpm_2_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, eta: float = 1.0):
    """ComfyUI's rectified-flow DPM-Solver-2 ancestral: the dpm_2 step (slope at the log-sigma midpoint)
    down to sigma_next^2 / sigma, then renoised as euler_ancestral; the step to 0 is Euler."""
    noise = need_noise(noise, "dpm_2_ancestral")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        sigma_down, rescale, renoise = rf_ancestral_step(s, s_next, eta)
        d = (x - denoised) / s
        if sigma_down == 0:
            x = x + d * (sigma_down - s)
        else:
            s_mid = s.log().lerp(sigma_down.log(), 0.5).exp()
            x_mid = x + d * (s_mid - s)
            d_mid = (x_mid - model(x_mid, s_mid)) / s_mid
            x = x + d_mid * (sigma_down - s)
            x = rescale * x + noise() * renoise
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def lcm(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None):
    """Latent consistency sampling: jump to the denoised estimate, then noise it afresh to the next level
    (sigma * noise + (1 - sigma) * estimate)."""
    noise = need_noise(noise, "lcm")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s_next = sigmas[i + 1]
        denoised = model(x, sigmas[i])
        x = denoised
        if s_next > 0:
            x = s_next * noise() + (1.0 - s_next) * x
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def ddpm(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None):
    """DDPM ancestral sampling (Ho et al. 2020) as ComfyUI runs it on any model: sigma is read as a
    variance-preserving noise-to-signal ratio (alpha_bar = 1 / (1 + sigma^2)), x is divided by
    sqrt(1 + sigma^2), the posterior mean is taken from the noise estimate (x - D) / sigma, fresh noise of
    the posterior's spread is added (not on the step to 0) and the result is scaled back up."""
    noise = need_noise(noise, "ddpm")
    lost = [float(s) for s in sigmas[:-1] if 1 / ((s * s) + 1) == 1]
    if lost:  # in float32 the level's alpha_bar rounds to 1: ComfyUI's DDPM divides 0 by 0 there (NaN picture)
        raise ValueError(f"ddpm cannot use noise level {lost[0]:.3g}: below about 2.5e-4 its float32 arithmetic "
                         f"loses the level (ComfyUI gives a black picture); use another scheduler (simple, normal, "
                         f"beta, ...) or sampler")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        eps = (x - denoised) / s
        x_vp = x / torch.sqrt(1.0 + s ** 2.0)
        bar, bar_next = 1 / ((s * s) + 1), 1 / ((s_next * s_next) + 1)
        alpha = bar / bar_next
        x = (1.0 / alpha).sqrt() * (x_vp - (1 - alpha) * eps / (1 - bar).sqrt())
        if s_next > 0:
            x = x + ((1 - alpha) * (1. - bar_next) / (1. - bar)).sqrt() * noise()
        if s_next != 0:
            x = x * torch.sqrt(1.0 + s_next ** 2.0)
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def _er_noise_scaler(v: Tensor) -> Tensor:
    """ER-SDE's default noise scale function of lambda_er = sigma / alpha."""
    return v * ((v ** 0.3).exp() + 10.0)


def er_sde(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
           max_stage: int = 3, s_noise: float = 1.0, reverse_time_eta: float | None = None):
    """Extended reverse-time SDE solver (Cui et al. 2023, VP ER-SDE-Solver-3) in lambda_er = sigma / alpha:
    up to third order from the previous estimates, with ComfyUI's 200-point sums for the integrals and
    fresh noise (times ``s_noise``, none when it is 0) on every step but the one to 0. ``reverse_time_eta``
    (SamplerER_SDE's "Reverse-time SDE" and "ODE") replaces ER-SDE's noise scale function by
    lambda^(eta + 1)."""
    if s_noise > 0:
        noise = need_noise(noise, "er_sde")
    scaler = _er_noise_scaler if reverse_time_eta is None else (lambda v: v ** (reverse_time_eta + 1))
    sigmas = _offset_first(sigmas, snr_start)
    lambdas = _half_log_snr(sigmas).neg().exp()
    points = torch.arange(0, 200.0, dtype=torch.float32)
    denoised = old = old_slope = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        stage = min(max_stage, i + 1)
        if s_next == 0:
            x = denoised
        else:
            lam, lam_next = lambdas[i], lambdas[i + 1]
            alpha, alpha_next = s / lam, s_next / lam_next
            r = scaler(lam_next) / scaler(lam)
            x = (alpha_next / alpha) * r * x + alpha_next * (1 - r) * denoised
            if stage >= 2:
                dt = lam_next - lam
                step = -dt / 200.0
                where = lam_next + points * step
                scaled = scaler(where)
                integral_1 = torch.sum(1 / scaled) * step
                slope = (denoised - old) / (lam - lambdas[i - 1])
                x = x + alpha_next * (dt + integral_1 * scaler(lam_next)) * slope
                if stage >= 3:
                    integral_2 = torch.sum((where - lam) / scaled) * step
                    curvature = (slope - old_slope) / ((lam - lambdas[i - 2]) / 2)
                    x = x + alpha_next * ((dt ** 2) / 2 + integral_2 * scaler(lam_next)) * curvature
                old_slope = slope
            if s_noise > 0:
                spread = (lam_next ** 2 - lam ** 2 * r ** 2).sqrt().nan_to_num(nan=0.0)
                x = x + alpha_next * noise() * s_noise * spread
        old = denoised
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


# ---------------------------------------------------------------------------------------------
# DPM-Solver++ SDE samplers: Brownian-tree noise


def torchsde_available() -> bool:
    try:
        import torchsde  # noqa: F401
    except ImportError:
        return False
    return True


class BrownianNoise:
    """Normalised increments of one Brownian motion over [sigma_min, sigma_max], as ComfyUI's
    BrownianTreeNoiseSampler: torchsde's BrownianTree seeded with the run's seed, so the noise between two
    levels is the same whatever the step count in between. ComfyUI builds the tree on the CPU, or for the
    ``_gpu`` samplers on the latent's device (``device``): there its levels, start and draws stay on that
    device, so on a GPU the numbers are that device's generator's (on a CPU device they are the same)."""

    def __init__(self, seed: int, shape: tuple[int, ...], sigma_min: Tensor, sigma_max: Tensor,
                 device: torch.device | str | None = None):
        try:
            import torchsde
        except ImportError:
            raise ValueError("the SDE samplers (dpmpp_sde, dpmpp_2m_sde, dpmpp_2m_sde_heun, dpmpp_3m_sde and their "
                             "_gpu variants) need torchsde for ComfyUI's Brownian-tree noise: "
                             "pip install 'fluxwire[sde]'") from None
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.on_cpu = device is None  # ComfyUI's CPU tree: levels moved to the CPU as float32 when drawn
        start = torch.zeros(shape, dtype=torch.float32, device=self.device)
        self.tree = torchsde.BrownianTree(sigma_min.detach().to(self.device), start,
                                          sigma_max.detach().to(self.device), entropy=int(seed))

    def __call__(self, sigma: Tensor, sigma_next: Tensor) -> Tensor:
        sigma, sigma_next = sigma.to(self.device), sigma_next.to(self.device)
        lo, hi = (sigma, sigma_next) if sigma < sigma_next else (sigma_next, sigma)
        if self.on_cpu:
            lo, hi = lo.detach().float(), hi.detach().float()
        with warnings.catch_warnings():  # a float32 level a rounding step outside the tree's float64 ends
            warnings.filterwarnings("ignore", message="Should have t", category=UserWarning)
            w = self.tree(lo, hi)
        if sigma > sigma_next:  # walking down the levels: the increment from sigma to sigma_next
            w = w * -1
        return (w / (sigma_next - sigma).abs().sqrt()).cpu()


def _brownian(noise, sigmas: Tensor, name: str) -> BrownianNoise:
    """The Brownian noise for this schedule from the run's step-noise source (which carries the seed and
    the model's device, where the ``_gpu`` samplers build their tree)."""
    seed = getattr(need_noise(noise, name), "seed", None)
    if seed is None:
        raise ValueError(f"{name} needs the run's noise seed")
    device = getattr(noise, "device", "cpu") if name.endswith("_gpu") else None
    return BrownianNoise(seed, noise.shape, sigmas[sigmas > 0].min(), sigmas.max(), device)


def dpmpp_sde(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
              eta: float = 1.0, r: float = 0.5, name: str = "dpmpp_sde", s_noise: float = 1.0):
    """DPM-Solver++ (stochastic, single step): a first-order ancestral half step to the fraction ``r`` of the
    step in lambda, a second model call there, then the full step from both estimates; Brownian noise
    (times ``s_noise``) at both."""
    if len(sigmas) <= 1:
        return x, None
    brownian = _brownian(noise, sigmas, name)
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
            lam_mid = lam + r * h
            s_mid = _noise_free_level(lam_mid)
            alpha, alpha_mid, alpha_next = s * lam.exp(), s_mid * lam_mid.exp(), s_next * lam_next.exp()
            down, up = ve_ancestral_step(lam.neg().exp(), lam_mid.neg().exp(), eta)
            h_down = down.log().neg() - lam
            x_mid = (alpha_mid / alpha) * (-h_down).exp() * x - alpha_mid * (-h_down).expm1() * denoised
            if eta > 0 and s_noise > 0:
                x_mid = x_mid + alpha_mid * brownian(s, s_mid) * s_noise * up
            denoised_mid = model(x_mid, s_mid)
            down, up = ve_ancestral_step(lam.neg().exp(), lam_next.neg().exp(), eta)
            h_down = down.log().neg() - lam
            weight = 1 / (2 * r)
            blended = (1 - weight) * denoised + weight * denoised_mid
            x = (alpha_next / alpha) * (-h_down).exp() * x - alpha_next * (-h_down).expm1() * blended
            if eta > 0 and s_noise > 0:
                x = x + alpha_next * brownian(s, s_next) * s_noise * up
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def _multistep_sde(model: Denoiser, x: Tensor, sigmas: Tensor, callback, noise, snr_start: float, order: int,
                   name: str, correction: str = "midpoint", eta: float = 1.0, s_noise: float = 1.0):
    """DPM-Solver++(2M/3M) SDE: the exponential-integrator step with noise of variance
    sigma_next^2 (1 - e^(-2h eta)), corrected with the last one (2M) or two (3M) denoised estimates."""
    if len(sigmas) <= 1:
        return x, None
    brownian = _brownian(noise, sigmas, name)
    sigmas = _offset_first(sigmas, snr_start)
    olds: list[Tensor] = []  # previous denoised estimates, newest first
    hs: list[Tensor] = []  # their step sizes in lambda, newest first
    denoised = h = None
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
            alpha_next = s_next * lam_next.exp()
            decay = (-h_eta).expm1().neg()
            x = s_next / s * (-h * eta).exp() * x + alpha_next * decay * denoised
            if order == 3 and len(olds) >= 2:
                r0, r1 = hs[0] / h, hs[1] / h
                diff_0 = (denoised - olds[0]) / r0
                diff_1 = (olds[0] - olds[1]) / r1
                first = diff_0 + (diff_0 - diff_1) * r0 / (r0 + r1)
                second = (diff_0 - diff_1) / (r0 + r1)
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                x = x + (alpha_next * phi_2) * first - (alpha_next * phi_3) * second
            elif order == 3 and olds:
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                x = x + (alpha_next * phi_2) * ((denoised - olds[0]) / (hs[0] / h))
            elif olds:
                r = hs[0] / h
                if correction == "heun":
                    x = x + alpha_next * (decay / (-h_eta) + 1) * (1 / r) * (denoised - olds[0])
                else:
                    x = x + 0.5 * alpha_next * decay * (1 / r) * (denoised - olds[0])
            if eta > 0 and s_noise > 0:
                x = x + brownian(s, s_next) * s_next * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        olds = [denoised] + olds[:1]
        hs = [h] + hs[:1]
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def dpmpp_2m_sde(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
                 eta: float = 1.0, s_noise: float = 1.0):
    return _multistep_sde(model, x, sigmas, callback, noise, snr_start, 2, "dpmpp_2m_sde", eta=eta, s_noise=s_noise)


def dpmpp_2m_sde_heun(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                      snr_start: float = 0.9999, eta: float = 1.0, s_noise: float = 1.0):
    return _multistep_sde(model, x, sigmas, callback, noise, snr_start, 2, "dpmpp_2m_sde_heun", "heun", eta, s_noise)


def dpmpp_3m_sde(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
                 eta: float = 1.0, s_noise: float = 1.0):
    """eta 0 leaves the deterministic DPM-Solver++(2M/3M) in lambda = log((1 - sigma) / sigma)."""
    return _multistep_sde(model, x, sigmas, callback, noise, snr_start, 3, "dpmpp_3m_sde", eta=eta, s_noise=s_noise)


# ComfyUI's _gpu variants: the same rules with the Brownian tree on the latent's device


def dpmpp_sde_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None, snr_start: float = 0.9999,
                  eta: float = 1.0, r: float = 0.5, s_noise: float = 1.0):
    return dpmpp_sde(model, x, sigmas, callback, noise, snr_start, eta, r, "dpmpp_sde_gpu", s_noise)


def dpmpp_2m_sde_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                     snr_start: float = 0.9999, eta: float = 1.0, s_noise: float = 1.0):
    return _multistep_sde(model, x, sigmas, callback, noise, snr_start, 2, "dpmpp_2m_sde_gpu", eta=eta,
                          s_noise=s_noise)


def dpmpp_2m_sde_heun_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                          snr_start: float = 0.9999, eta: float = 1.0, s_noise: float = 1.0):
    return _multistep_sde(model, x, sigmas, callback, noise, snr_start, 2, "dpmpp_2m_sde_heun_gpu", "heun", eta,
                          s_noise)


def dpmpp_3m_sde_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, callback=None, noise=None,
                     snr_start: float = 0.9999, eta: float = 1.0, s_noise: float = 1.0):
    return _multistep_sde(model, x, sigmas, callback, noise, snr_start, 3, "dpmpp_3m_sde_gpu", eta=eta,
                          s_noise=s_noise)
