"""ComfyUI's schedulers and samplers for FLUX against independent computations written here from the
published formulas (NumPy in float64; SciPy's beta.ppf and quad, which ComfyUI itself calls), a toy
denoiser whose flow ODE has a closed form (Gaussian data), and the notes' numbers."""
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from flux_core import samplers
from flux_core.guided_sampling import run_sampler
from flux_core.sampling_names import SAMPLER_NAMES, SCHEDULER_NAMES
from flux_core.schedulers import (NoiseLevels, basic_schedule, beta_quantile, ksampler_schedule,
                                  scheduler_levels)

MUS = [None, 1.15, 0.63, 2.0167]  # schnell's table, dev's, and ModelSamplingFlux for 512² / 1536²


# ------------------------------------------------------------------ reference schedules (float64)


def ref_sigma(mu, t):
    t = np.asarray(t, dtype=np.float64)
    return t if mu is None else math.exp(mu) / (math.exp(mu) + 1 / t - 1)


def ref_table(mu):
    size = 1000 if mu is None else 10000
    return ref_sigma(mu, np.arange(1, size + 1) / size)


def ref_schedule(name, mu, n):
    table = ref_table(mu)
    lo, hi = table[0], table[-1]
    if name == "simple":
        return [table[-(1 + int(k * len(table) / n))] for k in range(n)] + [0.0]
    if name in ("normal", "sgm_uniform"):  # model time == sigma for FLUX, so the shift applies to the level again
        times = np.linspace(hi, lo, n + 1)[:-1] if name == "sgm_uniform" else np.linspace(hi, lo, n)
        return list(ref_sigma(mu, times)) + [0.0]
    if name == "karras":
        ramp = np.linspace(0, 1, n)
        return list((hi ** (1 / 7) + ramp * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7) + [0.0]
    if name == "exponential":
        return list(np.exp(np.linspace(np.log(hi), np.log(lo), n))) + [0.0]
    if name == "ddim_uniform":
        stride = max(len(table) // n, 1)
        return [float(table[i]) for i in range(1, len(table), stride)][::-1] + [0.0]
    if name == "beta":
        idx = np.rint(scipy.stats.beta.ppf(1 - np.arange(n) / n, 0.6, 0.6) * (len(table) - 1)).astype(int)
        keep = [i for k, i in enumerate(idx) if k == 0 or i != idx[k - 1]]
        return [table[i] for i in keep] + [0.0]
    if name == "linear_quadratic":  # Mochi: linear to 0.025 over the first half, then a quadratic to 1
        if n == 1:
            return [hi, 0.0]
        m = n // 2
        lin = [i * 0.025 / m for i in range(m)]
        a = (m - 0.025 * n) / (m * (n - m) ** 2)
        b = 0.025 / m - 2 * (m - 0.025 * n) / (n - m) ** 2
        quad = [a * i * i + b * i + a * m * m for i in range(m, n)]
        return [(1 - v) * hi for v in lin + quad + [1.0]]
    if name == "kl_optimal":
        f = np.arange(n) / (n - 1)
        return list(np.tan(f * np.arctan(lo) + (1 - f) * np.arctan(hi))) + [0.0]
    raise AssertionError(name)


@pytest.mark.parametrize("mu", MUS)
@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_scheduler_levels_match_the_published_formulas(name, mu):
    levels = NoiseLevels(mu)
    for steps in (1, 2, 3, 4, 7, 20, 30):
        if name == "kl_optimal" and steps == 1:
            with pytest.raises(ValueError, match="at least 2 steps"):
                scheduler_levels(levels, name, steps)
            continue
        got = scheduler_levels(levels, name, steps)
        want = ref_schedule(name, mu, steps)
        assert len(got) == len(want), (name, mu, steps)
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7, err_msg=f"{name} mu={mu} steps={steps}")
        assert got[-1] == 0.0 and all(a > b for a, b in zip(got, got[1:])), (name, steps)


def test_the_notes_simple_tables_and_the_scheduler_ends():
    dev, schnell = NoiseLevels(1.15), NoiseLevels(None)
    assert scheduler_levels(schnell, "simple", 4) == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert [round(s, 4) for s in scheduler_levels(dev, "simple", 4)] == [1.0, 0.9045, 0.7595, 0.5128, 0.0]
    for name in ("karras", "exponential", "kl_optimal"):  # from the largest to the smallest table entry
        got = scheduler_levels(dev, name, 10)
        assert got[0] == pytest.approx(1.0) and got[-2] == pytest.approx(math.exp(1.15) / (math.exp(1.15) + 9999))
    assert scheduler_levels(schnell, "karras", 10)[-2] == pytest.approx(1e-3)


def test_beta_quantile_matches_scipy():
    for a, b in ((0.6, 0.6), (0.5, 0.7), (2.0, 3.0), (1.0, 1.0)):
        for p in np.linspace(0, 1, 401):
            assert beta_quantile(float(p), a, b) == pytest.approx(scipy.stats.beta.ppf(p, a, b), abs=1e-12)
    assert beta_quantile(0.5, 0.6, 0.6) == 0.5  # the middle step of an even count rounds like SciPy's


def test_denoise_and_ksampler_rules():
    dev = NoiseLevels(1.15)
    full = scheduler_levels(dev, "karras", 13)
    assert basic_schedule(dev, "karras", 4, 0.3) == full[-5:]  # int(4 / 0.3) = 13
    assert ksampler_schedule(dev, "karras", 4, 0.3) == full[-5:]
    assert basic_schedule(dev, "beta", 4, 0.0) == [] == ksampler_schedule(dev, "beta", 4, 0.0)
    # ddim_uniform can make more levels than steps + 1: BasicScheduler keeps the last steps + 1, KSampler all
    many = scheduler_levels(dev, "ddim_uniform", 7)
    assert len(many) == 9 and basic_schedule(dev, "ddim_uniform", 7) == many[-8:]
    assert ksampler_schedule(dev, "ddim_uniform", 7) == many
    # dpm_2 in KSampler: one step more, second-to-last level dropped
    longer = scheduler_levels(dev, "normal", 5)
    assert ksampler_schedule(dev, "normal", 4, 1.0, "dpm_2") == longer[:-2] + longer[-1:]
    assert ksampler_schedule(dev, "normal", 4, 1.0, "heun") == scheduler_levels(dev, "normal", 4)
    with pytest.raises(ValueError, match="unknown scheduler 'align_your_steps'"):
        basic_schedule(dev, "align_your_steps", 4)


# ------------------------------------------------------------------ reference samplers (float64)


def toy_denoiser(x, sigma):
    """A smooth nonlinear clean-latent estimate (float64 NumPy or torch)."""
    lib = np if isinstance(x, np.ndarray) else torch
    return lib.tanh(0.8 * x) * (1 - 0.3 * sigma) + 0.1 * sigma


def ref_run(name, x, sigmas, noises=None, toy_denoiser=toy_denoiser):
    """Sampler `name` from the papers' step rules in float64, with ``toy_denoiser(x, sigma)``."""
    x = np.array(x, dtype=np.float64)
    s = [float(v) for v in sigmas]
    old = None
    slopes = []
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        den = toy_denoiser(x, sc)
        d = (x - den) / sc
        if name in ("euler", "ddim"):
            x = x + (sn - sc) * d
        elif name == "heun":
            if sn == 0:
                x = x + (sn - sc) * d
            else:
                x2 = x + (sn - sc) * d
                x = x + (sn - sc) * (d + (x2 - toy_denoiser(x2, sn)) / sn) / 2
        elif name == "dpm_2":
            if sn == 0:
                x = x + (sn - sc) * d
            else:
                mid = math.sqrt(sc * sn)  # the geometric mean: midpoint in log sigma
                x2 = x + (mid - sc) * d
                x = x + (sn - sc) * (x2 - toy_denoiser(x2, mid)) / mid
        elif name == "dpmpp_2m":  # Lu et al. 2022, multistep 2nd order in lambda = -log sigma
            if sn == 0:
                x = den
            else:
                h = math.log(sc / sn)
                blend = den
                if old is not None:
                    r = math.log(s[i - 1] / sc) / h
                    blend = (1 + 1 / (2 * r)) * den - old / (2 * r)
                x = (sn / sc) * x + (1 - math.exp(-h)) * blend
            old = den
        elif name == "lms":
            slopes = (slopes + [d])[-4:]
            if sn == 0:
                x = den
            else:
                order = len(slopes)
                for j in range(order):
                    def basis(tau, j=j):
                        return math.prod((tau - s[i - k]) / (s[i - j] - s[i - k]) for k in range(order) if k != j)
                    x = x + scipy.integrate.quad(basis, sc, sn)[0] * slopes[-1 - j]
        elif name == "deis":  # Adams-Bashforth in VP time t(sigma), integrated over sigma (exact quad)
            slopes = (slopes + [d])[-3:]
            if sn == 0 or i == 0:
                x = x + (sn - sc) * d
            else:
                t = [vp_time(v) for v in s]
                order = len(slopes)
                for j in range(order):
                    def basis(tau, j=j):
                        return math.prod((tau - t[i - k]) / (t[i - j] - t[i - k]) for k in range(order) if k != j)
                    x = x + scipy.integrate.quad(lambda tau: basis(tau) * dsigma_dt(tau), t[i], t[i + 1])[0] * \
                        slopes[-1 - j]
        elif name == "euler_ancestral":  # ComfyUI's rectified-flow variant, eta 1
            if sn == 0:
                x = den
            else:
                down = sn * sn / sc
                renoise = math.sqrt(sn ** 2 - down ** 2 * (1 - sn) ** 2 / (1 - down) ** 2)
                x = (down / sc) * x + (1 - down / sc) * den
                x = (1 - sn) / (1 - down) * x + noises[i] * renoise
        else:
            raise AssertionError(name)
    return x


# DEIS maps sigma to VP-SDE time with EDM's range (sigma 0.002..80 at t = 1e-3..1), whatever the model
_BD = 2 * (math.log(0.002 ** 2 + 1) / 1e-3 - math.log(80.0 ** 2 + 1)) / (1e-3 - 1)
_B0 = math.log(80.0 ** 2 + 1) - 0.5 * _BD


def vp_time(sigma):
    return (math.sqrt(_B0 ** 2 + 2 * _BD * math.log(sigma ** 2 + 1)) - _B0) / _BD


def dsigma_dt(t):
    """sigma(t) = sqrt(1 / alpha(t) - 1) with log alpha = -t^2 BD / 2 - t B0; its derivative."""
    alpha = math.exp(-0.5 * t * t * _BD - t * _B0)
    return 0.5 * (t * _BD + _B0) / math.sqrt(alpha * (1 - alpha))


def comfy_step_noises(seed, shape, count):
    """ComfyUI's default_noise_sampler on the CPU: one generator seeded with the noise seed, drawn per step."""
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return [torch.randn(shape, dtype=torch.float32, generator=g).double().numpy() for _ in range(count)]


FIRST_SAMPLERS = ["euler", "euler_ancestral", "heun", "dpm_2", "lms", "dpmpp_2m", "ddim", "deis"]  # the rest:
# UniPC below, the others in test_comfyui_more_samplers.py


def test_every_sampler_has_a_reference_step_rule():
    from .test_comfyui_cfgpp_samplers import CFG_PP
    from .test_comfyui_last_samplers import GPU, LAST
    from .test_comfyui_more_samplers import NEW

    assert sorted(FIRST_SAMPLERS + ["uni_pc", "uni_pc_bh2"] + NEW + CFG_PP + LAST + GPU
                  + ["dpmpp_2s_ancestral_cfg_pp"]) == sorted(SAMPLER_NAMES)


@pytest.mark.parametrize("name", FIRST_SAMPLERS)
def test_each_sampler_matches_an_independent_step_implementation(name):
    torch.manual_seed(3)
    x = torch.randn(2, 3, 5, 4)
    sigmas = scheduler_levels(NoiseLevels(1.15), "simple", 9)
    seed = 972054013131368
    noise = samplers.StepNoise(seed, tuple(x.shape)) if name in samplers.ANCESTRAL else None
    got, denoised = samplers.run(name, lambda xx, s: toy_denoiser(xx, s), x, sigmas, noise=noise)
    noises = comfy_step_noises(seed, tuple(x.shape), len(sigmas)) if name in samplers.ANCESTRAL else None
    want = ref_run(name, x.double().numpy(), sigmas, noises)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-4, atol=1e-5)
    assert got.dtype == torch.float32 and denoised is not None
    other = ref_run("heun" if name != "heun" else "euler", x.double().numpy(), sigmas, noises)
    assert np.abs(other - want).max() > 1e-3  # the rules differ enough for the comparison to mean something


def test_ancestral_noise_depends_on_the_seed_and_is_drawn_per_step():
    x = torch.zeros(1, 2, 3, 3)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 4)
    a, _ = samplers.run("euler_ancestral", toy_denoiser, x, sigmas, noise=samplers.StepNoise(1, x.shape))
    b, _ = samplers.run("euler_ancestral", toy_denoiser, x, sigmas, noise=samplers.StepNoise(2, x.shape))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="noise source"):
        samplers.run("euler_ancestral", toy_denoiser, x, sigmas)
    with pytest.raises(ValueError, match=r"'euler_dy' is not supported by fluxwire \(supported"):
        samplers.run("euler_dy", toy_denoiser, x, sigmas)


# ------------------------------------------------------------------ convergence on Gaussian data

MEAN, STD = 0.5, 0.3  # data ~ N(MEAN, STD^2) per element; x_sigma = sigma * noise + (1 - sigma) * data


def gaussian_denoiser(x, sigma):
    """E[data | x_sigma] for Gaussian data: exact."""
    a = 1 - sigma
    return MEAN + a * STD ** 2 / (a * a * STD ** 2 + sigma * sigma) * (x - a * MEAN)


def exact_flow(x1, sigma):
    """The probability-flow ODE from sigma 1 is affine for Gaussian data: match mean and spread."""
    return (1 - sigma) * MEAN + math.sqrt((1 - sigma) ** 2 * STD ** 2 + sigma ** 2) * x1


def flow_error(name, steps, end=0.1):
    torch.manual_seed(0)
    x1 = torch.randn(4096, dtype=torch.float32)
    sigmas = list(np.linspace(1.0, end, steps + 1))
    got, _ = samplers.run(name, gaussian_denoiser, x1, sigmas)
    return float((got.double() - exact_flow(x1.double(), float(torch.tensor(end)))).abs().max())


@pytest.mark.parametrize("name, order", [("euler", 1), ("heun", 2), ("dpm_2", 2), ("dpmpp_2m", 2), ("lms", 3),
                                         ("deis", 3), ("uni_pc", 2), ("uni_pc_bh2", 2)])
def test_samplers_converge_at_their_order(name, order):
    coarse, fine = flow_error(name, 16), flow_error(name, 32)
    measured = math.log2(coarse / fine)
    assert measured > order - 0.35, (name, coarse, fine, measured)
    if order == 1:
        assert measured < 1.35


def test_ancestral_sampling_lands_on_the_data_distribution():
    torch.manual_seed(0)
    x = torch.randn(20000)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 400)  # ancestral steps converge slowly
    out, _ = samplers.run("euler_ancestral", gaussian_denoiser, x, sigmas, noise=samplers.StepNoise(5, x.shape))
    assert float(out.mean()) == pytest.approx(MEAN, abs=0.01)
    assert float(out.std()) == pytest.approx(STD, rel=0.02)


def test_run_sampler_wires_a_velocity_model_through_each_sampler():
    """The guided path hands samplers the denoised estimate x - sigma * v of the velocity model."""
    torch.manual_seed(1)
    noise = torch.randn(1, 4, 6, 6)
    latent = torch.zeros_like(noise)
    sigmas = scheduler_levels(NoiseLevels(1.15), "beta", 6)

    def velocity(x, sigma):
        return (x - gaussian_denoiser(x, sigma)) / sigma

    for name in ("heun", "dpmpp_2m", "lms", "dpm_2"):
        out, _ = run_sampler(velocity, noise, latent, sigmas, sampler=name)
        want, _ = samplers.run(name, gaussian_denoiser, noise.float() * sigmas[0], sigmas)
        assert torch.allclose(out, want, atol=1e-5), name
    euler, _ = run_sampler(velocity, noise, latent, sigmas, sampler="euler")
    ddim, _ = run_sampler(velocity, noise, latent, sigmas, sampler="ddim")
    assert torch.equal(euler, ddim)  # ComfyUI's ddim is its euler


def test_uni_pc_ends_at_0001_and_divides_by_0999_like_comfyui():
    """ComfyUI's UniPC replaces a final level 0 by 0.001 in the schedule it shares with its caller, whose
    inverse noise scaling then divides by 1 - 0.001: the result is the 0.001-run divided by 0.999."""
    torch.manual_seed(2)
    x = torch.randn(1, 4, 6, 6)
    levels = scheduler_levels(NoiseLevels(1.15), "simple", 6)
    for name in ("uni_pc", "uni_pc_bh2"):
        to_zero, _ = samplers.run(name, gaussian_denoiser, x, levels)
        to_0001, _ = samplers.run(name, gaussian_denoiser, x, levels[:-1] + [0.001])
        assert torch.equal(to_zero, to_0001 / (1.0 - torch.tensor(0.001)))
    exact = exact_flow(x.double(), 0.0)
    levels = scheduler_levels(NoiseLevels(1.15), "simple", 20)
    euler, _ = samplers.run("euler", gaussian_denoiser, x, levels)
    unipc, _ = samplers.run("uni_pc", gaussian_denoiser, x, levels)
    assert float((unipc.double() - exact).abs().max()) < 0.5 * float((euler.double() - exact).abs().max())
    bh1, _ = samplers.run("uni_pc", gaussian_denoiser, x, levels)
    bh2, _ = samplers.run("uni_pc_bh2", gaussian_denoiser, x, levels)  # the two B(h) variants differ
    assert float((bh1 - bh2).abs().max()) > 1e-5
    one_step, _ = samplers.run("uni_pc", gaussian_denoiser, x, [1.0, 0.0])  # ComfyUI runs no step at all
    assert torch.allclose(one_step, x / math.sqrt(2) * math.sqrt(1 + 0.001 ** 2) / 0.999)
