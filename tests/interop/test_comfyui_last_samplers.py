"""ComfyUI's last samplers (issue 11's leftovers): heunpp2, dpm_fast, dpm_adaptive,
dpmpp_2s_ancestral_cfg_pp, ddpm, seeds_2, seeds_3, sa_solver, sa_solver_pece and the _gpu SDE variants,
against step rules written here from the published formulas in float64 NumPy/SciPy (fresh noise drawn as
ComfyUI draws it: one seeded CPU generator per run, in its order), their convergence order on the Gaussian
toy problem, and the noisy ones' final distribution."""
import math

import numpy as np
import pytest
import scipy.integrate
import torch

from flux_core import samplers, samplers_stochastic
from flux_core.schedulers import NoiseLevels, scheduler_levels

from .test_comfyui_more_samplers import f32, logit_lambda
from .test_comfyui_sampler_math import MEAN, STD, exact_flow, gaussian_denoiser, ref_run, toy_denoiser

pytestmark = pytest.mark.filterwarnings("ignore:Should have t")

LAST = ["heunpp2", "dpm_fast", "dpm_adaptive", "ddpm", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece"]
GPU = ["dpmpp_sde_gpu", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde_gpu"]
SEED = 972054013131368


class Draws:
    """ComfyUI's default_noise_sampler on the CPU, drawn on demand in float64."""

    def __init__(self, seed, shape):
        self.g = torch.Generator().manual_seed(seed)
        self.shape = shape

    def __call__(self):
        return torch.randn(self.shape, dtype=torch.float32, generator=self.g).double().numpy()


def window(mu, percent):
    """The model's level at `percent` of sampling (ComfyUI's percent_to_sigma for FLUX)."""
    t = 1 - percent
    return t if mu is None else math.exp(mu) / (math.exp(mu) + 1 / t - 1)


def lagrange(nodes, j):
    return lambda v: math.prod((v - nodes[k]) / (nodes[j] - nodes[k]) for k in range(len(nodes)) if k != j)


# ------------------------------------------------------------------ reference step rules (float64)


def ref_heunpp2(x, s, den):
    """Heun++: the slopes at sigma_i, and after Euler predictions at sigma_i+1 and sigma_i+2, averaged with
    weights sigma_i+1 / (3 sigma_0), sigma_i+2 / (3 sigma_0) and the rest; with one level left before the
    end two slopes (weight sigma_i+1 / (2 sigma_0)); the last step Euler."""
    for i in range(len(s) - 1):
        d = (x - den(x, s[i])) / s[i]
        dt = s[i + 1] - s[i]
        if i + 1 == len(s) - 1:
            x = x + dt * d
            continue
        x2 = x + dt * d
        d2 = (x2 - den(x2, s[i + 1])) / s[i + 1]
        if i + 2 == len(s) - 1:
            w = s[i + 1] / (2 * s[0])
            x = x + dt * ((1 - w) * d + w * d2)
        else:
            x3 = x2 + (s[i + 2] - s[i + 1]) * d2
            d3 = (x3 - den(x3, s[i + 2])) / s[i + 2]
            w2, w3 = s[i + 1] / (3 * s[0]), s[i + 2] / (3 * s[0])
            x = x + dt * ((1 - w2 - w3) * d + w2 * d2 + w3 * d3)
    return x


def ref_ddpm(x, s, den, draw):
    """Ho et al.'s ancestral step on VP coordinates: alpha_bar = 1 / (1 + sigma^2), x_vp = x sqrt(alpha_bar),
    posterior mean from the noise estimate, posterior spread beta_tilde."""
    for i in range(len(s) - 1):
        eps = (x - den(x, s[i])) / s[i]
        bar, bar_next = 1 / (1 + s[i] ** 2), 1 / (1 + s[i + 1] ** 2)
        a = bar / bar_next
        x_vp = x * math.sqrt(bar)
        x = (x_vp - (1 - a) / math.sqrt(1 - bar) * eps) / math.sqrt(a)
        if s[i + 1] > 0:
            x = x + math.sqrt((1 - a) * (1 - bar_next) / (1 - bar)) * draw()
            x = x / math.sqrt(bar_next)
    return x


def ref_seeds(x, s, den, draw, fractions, eta=1.0):
    """SEEDS-2 (fractions [1/2]) and SEEDS-3 ([1/3, 2/3]) for data prediction in lambda = log(alpha/sigma),
    alpha = 1 - sigma: the linear part solved exactly (decay e^(-eta r h) of x, weight 1 - e^(-(1+eta) r h)
    of D), the data estimate corrected with psi(z) = (e^z - 1 - z) / z times the change of the estimate
    over the previous stage (SEEDS-3), or blended 1 - 1/2r : 1/2r at the end (SEEDS-2); the noise is one
    Brownian path sampled at the stages (decaying at rate eta, a fresh draw for each piece)."""
    def psi(z):
        return (math.expm1(z) - z) / z

    k = 1 + eta
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d0 = den(x, sc)
        if sn == 0:
            x = d0
            continue
        h = logit_lambda(sn) - logit_lambda(sc)
        estimates, previous, path = [d0], 0.0, 0.0
        for r in list(fractions) + [1.0]:
            sig_r = 1 / (1 + math.exp(logit_lambda(sc) + r * h))
            a_r = 1 - sig_r
            target = d0
            if len(estimates) > 1 and len(fractions) == 1:
                target = (1 - 1 / (2 * previous)) * d0 + 1 / (2 * previous) * estimates[-1]
            elif len(estimates) > 1:
                target = d0 - (r / previous) * psi(-k * r * h) / (1 - math.exp(-k * r * h)) * (estimates[-1] - d0)
            out = sig_r / sc * math.exp(-eta * r * h) * x + a_r * (1 - math.exp(-k * r * h)) * target
            if eta > 0:
                piece = r - previous
                path = path * math.exp(-eta * piece * h) + math.sqrt(1 - math.exp(-2 * eta * piece * h)) * draw()
                out = out + sig_r * path
            if r < 1.0:
                estimates.append(den(out, sig_r))
                previous = r
            else:
                x = out
    return x


def ref_dpm_solver(x, s, den, adaptive=False, rtol=0.05, atol=0.0078):
    """DPM-Solver (Lu et al. 2022) in t = -log sigma on eps = (x - D) / sigma, from the first level to the
    last one above 0: fast (steps evenly spaced in t, orders 3.., then 2,1 or the remainder, as many model
    calls as levels - 1) or adaptive (DPM-Solver-23 with the integral step controller, h0 = 0.05)."""
    low = s[-1] if s[-1] != 0 else s[-2]
    t0, t1 = -math.log(f32(s[0])), -math.log(f32(low))
    sig = lambda t: math.exp(-t)  # noqa: E731

    def eps(x, t):
        return (x - den(x, f32(sig(t)))) / sig(t)

    def step(x, t, tn, order, r1=1 / 2):
        h = tn - t
        e0 = eps(x, t)
        out1 = x - sig(tn) * math.expm1(h) * e0
        if order == 1:
            return out1
        if order == 2:
            u = x - sig(t + r1 * h) * math.expm1(r1 * h) * e0
            return out1 - sig(tn) / (2 * r1) * math.expm1(h) * (eps(u, t + r1 * h) - e0)
        ra, rb = 1 / 3, 2 / 3
        u1 = x - sig(t + ra * h) * math.expm1(ra * h) * e0
        e1 = eps(u1, t + ra * h)
        u2 = x - sig(t + rb * h) * math.expm1(rb * h) * e0 \
            - sig(t + rb * h) * (rb / ra) * (math.expm1(rb * h) / (rb * h) - 1) * (e1 - e0)
        return out1 - sig(tn) / rb * (math.expm1(h) / h - 1) * (eps(u2, t + rb * h) - e0)

    if not adaptive:
        calls = len(s) - 1
        m = calls // 3 + 1
        orders = [3] * (m - 2) + [2, 1] if calls % 3 == 0 else [3] * (m - 1) + [calls % 3]
        ts = np.linspace(t0, t1, m + 1)
        for i, order in enumerate(orders):
            x = step(x, ts[i], ts[i + 1], order)
        return x, len(orders)
    t, h, x_prev, accepted, inv = t0, 0.05, x, 0, None
    while t < t1 - 1e-5:
        tn = min(t1, t + h)
        low_x, high_x = step(x, t, tn, 2, r1=1 / 3), step(x, t, tn, 3)
        scale = np.maximum(atol, rtol * np.maximum(np.abs(low_x), np.abs(x_prev)))
        error = np.linalg.norm((low_x - high_x) / scale) / math.sqrt(x.size)
        factor = (1 / (error + 1e-8)) ** (1 / 3)
        factor = 1 + math.atan(factor - 1)
        if factor >= 0.81:
            x_prev, x, t = low_x, high_x, tn
            accepted += 1
        h *= factor
    return x, accepted


def ref_sa_solver(x, s, den, draw, mu, pece=False, p_max=3, c_max=4, eta=1.0, window=(0.2, 0.8), s_noise=1.0,
                  simple=False):
    """Xue et al.'s SA-Solver (data prediction, lambda = log(alpha / sigma), alpha = 1 - sigma): predictor
    x_next = sigma_next/sigma e^(-tau^2 h) x + sum_j b_j D_j + s_noise sigma_next sqrt(1 - e^(-2 tau^2 h)) xi
    with b_j = alpha_next (1 + tau^2) int e^((1 + tau^2)(l - lam_next)) L_j(l) dl (SciPy quad), or with two
    nodes and ``simple`` the paper's simplified order-2 weights (appendix D); the corrector redoes the step
    with the new estimate among the nodes and the same noise. tau = eta for next levels between the model's
    levels at the window's percents."""
    hi, lo = window_level(mu, window[0]), window_level(mu, window[1])
    lams = [logit_lambda(v) if v > 0 else math.inf for v in s]
    n = len(s) - 1

    def weights(nodes, a, b, sigma_to, tau, corrector):
        rate, alpha = 1 + tau ** 2, 1 - sigma_to
        h = b - a
        if simple and len(nodes) == 2:
            if corrector:  # trapezoid-like: half of rate*h on the newest estimate
                newest = alpha * 0.5 * rate * h
                return [alpha * (1 - math.exp(-rate * h)) - newest, newest]
            older = alpha * 0.5 * rate * h * h / (nodes[0] - a)
            return [older, alpha * (1 - math.exp(-rate * h)) - older]
        return [alpha * rate * scipy.integrate.quad(
            lambda v: math.exp(rate * (v - b)) * lagrange(nodes, j)(v), a, b, epsabs=1e-13, epsrel=1e-12)[0]
            for j in range(len(nodes))]

    x_pred, est, tau, noise = x, [], 0.0, 0.0
    for i in range(n):
        d = den(x_pred, s[i])
        est.append(d)
        p = min(p_max, len(est), n - 1 - i) if s[-1] == 0 else min(p_max, len(est))
        c = 0 if i == 0 or (s[i + 1] == 0 and not pece) else min(c_max, len(est))
        if s[-1] == 0:
            c = min(c, n - i)
        if c == 0:
            x = x_pred
        else:
            w = weights(lams[i - c + 1:i + 1], lams[i - 1], lams[i], s[i], tau, True)
            h = lams[i] - lams[i - 1]
            x = s[i] / s[i - 1] * math.exp(-tau ** 2 * h) * x + sum(wj * e for wj, e in zip(w, est[-c:])) + noise
            if pece:
                d = den(x, s[i])
                est[-1] = d
        if s[i + 1] == 0:
            x = d
            continue
        tau = eta if hi >= s[i + 1] >= lo else 0.0
        w = weights(lams[i - p + 1:i + 1], lams[i], lams[i + 1], s[i + 1], tau, False)
        h = lams[i + 1] - lams[i]
        x_pred = s[i + 1] / s[i] * math.exp(-tau ** 2 * h) * x + sum(wj * e for wj, e in zip(w, est[-p:]))
        noise = 0.0
        if tau > 0 and s_noise > 0:
            noise = s_noise * s[i + 1] * math.sqrt(-math.expm1(-2 * tau ** 2 * h)) * draw()
        x_pred = x_pred + noise
    return x


def window_level(mu, percent):
    return 1.0 if percent <= 0 else 0.0 if percent >= 1 else window(mu, percent)


def ref_2s_ancestral_cfg_pp(x, s, pair, draw):
    """DPM-Solver++(2S) with CFG++ in lambda = -log sigma (the variance-exploding form ComfyUI runs): the
    half step from x + (D - U), the full step from x + (D - U_mid) with the midpoint's estimate, then
    noise times k-diffusion's sigma_up."""
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d, u = pair(x, sc)
        up = min(sn, math.sqrt(sn ** 2 * (sc ** 2 - sn ** 2) / sc ** 2))
        down = math.sqrt(sn ** 2 - up ** 2)
        if down == 0:
            x = d + (x - u) / sc * down
        else:
            h = math.log(sc / down)
            mid = sc * math.exp(-h / 2)
            x_mid = (mid / sc) * (x + d - u) + (1 - math.exp(-h / 2)) * d
            d_mid, u_mid = pair(x_mid, mid)
            x = (down / sc) * (x + d - u_mid) + (1 - math.exp(-h)) * d_mid
        if sn > 0:
            x = x + draw() * up
    return x


def toy_pair(x, sigma):
    lib = np if isinstance(x, np.ndarray) else torch
    cond, uncond = toy_denoiser(x, sigma), lib.tanh(0.5 * x) * (1 - 0.2 * sigma)
    return uncond + (cond - uncond) * 2.5, uncond


def reference(name, x, sigmas, mu):
    s = [float(v) for v in sigmas]
    x = np.array(x, dtype=np.float64)
    if name in ("seeds_2", "seeds_3", "sa_solver", "sa_solver_pece") and s[0] >= 1:
        s[0] = f32(samplers_stochastic.snr_start_level(mu))
    draw = Draws(SEED, x.shape)
    if name == "heunpp2":
        return ref_heunpp2(x, s, toy_denoiser)
    if name == "ddpm":
        return ref_ddpm(x, s, toy_denoiser, draw)
    if name in ("seeds_2", "seeds_3"):
        return ref_seeds(x, s, toy_denoiser, draw, [0.5] if name == "seeds_2" else [1 / 3, 2 / 3])
    if name in ("dpm_fast", "dpm_adaptive"):
        return ref_dpm_solver(x, s, toy_denoiser, adaptive=name == "dpm_adaptive")[0]
    if name in ("sa_solver", "sa_solver_pece"):
        return ref_sa_solver(x, s, toy_denoiser, draw, mu, pece=name == "sa_solver_pece")
    if name == "dpmpp_2s_ancestral_cfg_pp":
        return ref_2s_ancestral_cfg_pp(x, s, toy_pair, draw)
    raise AssertionError(name)


@pytest.mark.parametrize("mu, scheduler, steps", [(1.15, "simple", 9), (None, "karras", 7), (1.15, "beta", 12)])
@pytest.mark.parametrize("name", LAST + ["dpmpp_2s_ancestral_cfg_pp"])
def test_each_last_sampler_matches_the_published_step_rule(name, mu, scheduler, steps):
    torch.manual_seed(3)
    sigmas = scheduler_levels(NoiseLevels(mu), scheduler, steps)
    x = torch.randn(2, 3, 5, 4) * sigmas[0]
    noise = samplers.StepNoise(SEED, tuple(x.shape)) if name in samplers.ANCESTRAL else None
    if name in samplers.CFG_PP:
        got, denoised = samplers.run(name, toy_pair, x, sigmas, noise=noise, mu=mu)
    else:
        got, denoised = samplers.run(name, toy_denoiser, x, sigmas, noise=noise, mu=mu)
    want = reference(name, x.double().numpy(), sigmas, mu)
    # ddpm at schnell's karras end (sigma 1e-3): float32's 1 - 1 / (1 + sigma^2) keeps ~94 % of the 1e-6, as
    # ComfyUI's arithmetic does (kept for parity); the other cases agree to float32 rounding
    loose = name == "ddpm" and scheduler == "karras"
    np.testing.assert_allclose(got.double().numpy(), want, rtol=2e-2 if loose else 1e-4, atol=3e-5)
    assert got.dtype == torch.float32 and denoised is not None
    other = ref_run("heun" if name != "heunpp2" else "euler", x.double().numpy(), sigmas)
    assert np.abs(other - want).max() > 1e-3  # the rules differ enough for the comparison to mean something


def test_the_noisy_ones_need_the_seed_and_depend_on_it():
    x = torch.zeros(1, 2, 3, 3)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 6)
    for name in ("ddpm", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "dpmpp_2s_ancestral_cfg_pp"):
        model = toy_pair if name in samplers.CFG_PP else toy_denoiser
        a, _ = samplers.run(name, model, x, sigmas, noise=samplers.StepNoise(1, x.shape))
        b, _ = samplers.run(name, model, x, sigmas, noise=samplers.StepNoise(2, x.shape))
        assert not torch.allclose(a, b), name
        with pytest.raises(ValueError, match="noise source"):
            samplers.run(name, model, x, sigmas)


def test_dpm_fast_and_adaptive_stop_at_the_smallest_level_above_0():
    """They walk their own steps from the first level to the last one above 0 and end there (ComfyUI
    divides by 1 - 0 afterwards): the result keeps that level's noise. dpm_fast spends exactly the
    schedule's count of model calls; dpm_adaptive's count follows the error (3 calls per attempt)."""
    sigmas = scheduler_levels(NoiseLevels(1.15), "simple", 9)
    seen = []
    x = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    samplers.run("dpm_fast", lambda xx, s: seen.append(float(s)) or toy_denoiser(xx, s), x, sigmas)
    assert len(seen) == 9 and seen[0] == 1.0 and min(seen) > sigmas[-2]
    seen.clear()
    samplers.run("dpm_adaptive", lambda xx, s: seen.append(float(s)) or toy_denoiser(xx, s), x, sigmas)
    _, accepted = ref_dpm_solver(x.double().numpy(), [float(v) for v in sigmas], toy_denoiser, adaptive=True)
    assert len(seen) % 3 == 0 and len(seen) // 3 >= accepted >= 2 and min(seen) > sigmas[-2]
    # Gaussian data: both land on the exact flow at the smallest level above 0, not at 0
    x1 = torch.randn(4096, generator=torch.Generator().manual_seed(1))
    levels = scheduler_levels(NoiseLevels(None), "simple", 20)  # dpm_fast: orders 3 x 6, then 2
    want = exact_flow(x1.double().numpy(), f32(levels[-2]))
    for name, tolerance in (("dpm_fast", 2e-3), ("dpm_adaptive", 5e-3)):
        out, _ = samplers.run(name, gaussian_denoiser, x1, levels)
        assert np.abs(out.double().numpy() - want).max() < tolerance, name
        assert np.abs(out.double().numpy() - exact_flow(x1.double().numpy(), 0.0)).max() > 0.05, name


def test_the_gpu_variants_are_the_cpu_ones_on_a_cpu_device():
    """ComfyUI builds their Brownian tree on the latent's device instead of the CPU: on a CPU device that is
    the same tree, so the same numbers; the tree is built where the run's noise source says."""
    torch.manual_seed(5)
    x = torch.randn(2, 3, 5, 4)
    sigmas = scheduler_levels(NoiseLevels(1.15), "karras", 6)
    for name in GPU:
        a, _ = samplers.run(name, toy_denoiser, x, sigmas, noise=samplers.StepNoise(SEED, x.shape), mu=1.15)
        b, _ = samplers.run(name[:-4], toy_denoiser, x, sigmas, noise=samplers.StepNoise(SEED, x.shape), mu=1.15)
        c, _ = samplers.run(name, toy_denoiser, x, sigmas, noise=samplers.StepNoise(SEED + 1, x.shape), mu=1.15)
        assert torch.equal(a, b) and not torch.allclose(a, c), name
    source = samplers.StepNoise(1, (3,), "cpu")
    assert samplers_stochastic._brownian(source, torch.tensor([0.9, 0.1, 0.0]), "dpmpp_2m_sde_gpu").on_cpu is False
    assert samplers_stochastic._brownian(source, torch.tensor([0.9, 0.1, 0.0]), "dpmpp_2m_sde").on_cpu is True


# ------------------------------------------------------------------ convergence on Gaussian data


def flow_error(name, steps, start=0.9, end=0.1, **options):
    torch.manual_seed(0)
    x1 = torch.randn(4096, dtype=torch.float32)
    x = torch.from_numpy(exact_flow(x1.double().numpy(), f32(start))).float()
    sigmas = torch.tensor(np.linspace(start, end, steps + 1), dtype=torch.float32)
    noise = samplers.StepNoise(0, (4096,))
    got, _ = samplers.SAMPLERS[name](gaussian_denoiser, x, sigmas, noise=noise, **options)
    last = float(sigmas[-2]) if name == "sa_solver" else float(sigmas[-1])  # SA-Solver: the corrected state
    return float((got.double() - exact_flow(x1.double(), last)).abs().max())


@pytest.mark.parametrize("name, order, steps, fine, options", [
    ("heunpp2", 1, 16, 32, {}), ("dpm_fast", 3, 14, 29, {}), ("seeds_2", 2, 16, 32, {"eta": 0.0}),
    ("seeds_3", 3, 8, 16, {"eta": 0.0}), ("sa_solver", 3, 16, 32, {"eta": 0.0})])
def test_the_last_samplers_converge_at_their_order(name, order, steps, fine, options):
    """The error on the closed-form flow shrinks by about 2^order when the steps double (SEEDS and SA-Solver
    with eta 0 are their deterministic solvers). dpm_fast: 14 and 29 calls make 5 and 10 even steps in
    log sigma, all third order but the last (second). Heun++ is first order: its weights sigma / (3 sigma_0)
    do not shrink with the step, so the slope average is not a trapezoid."""
    coarse, fine = flow_error(name, steps, **options), flow_error(name, fine, **options)
    measured = math.log2(coarse / fine)
    assert measured > order - 0.4, (name, coarse, fine, measured)
    if order == 1:
        assert measured < 1.4


@pytest.mark.parametrize("name", ["seeds_2", "seeds_3", "sa_solver", "sa_solver_pece"])
def test_the_noisy_last_samplers_land_on_the_data_distribution(name):
    """(Not ddpm: ComfyUI reads a flow level sigma as a variance-preserving noise-to-signal ratio, which it
    is not, so its noise is off: on this problem its mean lands near 0.71, not 0.5 — tested below.)"""
    torch.manual_seed(0)
    x = torch.randn(20000)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 100)
    out, _ = samplers.run(name, gaussian_denoiser, x, sigmas, noise=samplers.StepNoise(5, x.shape))
    assert float(out.mean()) == pytest.approx(MEAN, abs=0.01), name
    assert float(out.std()) == pytest.approx(STD, rel=0.03), name


def test_ddpm_reads_sigma_as_a_vp_ratio_so_its_flux_distribution_is_off():
    torch.manual_seed(0)
    x = torch.randn(20000)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 100)
    out, _ = samplers.run("ddpm", gaussian_denoiser, x, sigmas, noise=samplers.StepNoise(5, x.shape))
    want = ref_ddpm(x.double().numpy(), [float(v) for v in sigmas], gaussian_denoiser, Draws(5, x.shape))
    np.testing.assert_allclose(out.double().numpy(), want, rtol=1e-3, atol=1e-4)
    assert abs(float(out.mean()) - MEAN) > 0.1


def test_a_name_comfyui_does_not_have_is_refused_listing_the_supported_ones():
    from flux_core.sampling_names import SAMPLER_NAMES

    with pytest.raises(ValueError, match=r"'euler_smea_dy' is not supported by fluxwire \(supported: euler, "):
        samplers.run("euler_smea_dy", toy_denoiser, torch.zeros(2), [1.0, 0.0])
    assert len(SAMPLER_NAMES) == 42 and SAMPLER_NAMES[-3:] == ["ddim", "uni_pc", "uni_pc_bh2"]


# ------------------------------------------------------------------ an imported ComfyUI document end to end


@pytest.mark.parametrize("shifted", [True, False])
def test_ksampler_with_sa_solver_on_flux_dev(comfy_models, executor, shifted):
    """KSampler(sa_solver), imported from ComfyUI's API format and run on the tiny files, gives the picture
    computed by hand: the schedule from the (ModelSamplingFlux-shifted) table, the SDE window from the same
    shift (ComfyUI's percent_to_sigma of 20 % and 80 %) and step noise from the KSampler seed."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from nodes.flux.sigmas import flux_shift

    from .conftest import fixture
    from .test_comfyui_more_samplers import table_top
    from .test_comfyui_sampler_math import ref_schedule
    from .test_comfyui_samplers import reference as picture_by_hand

    data = fixture("api_dev_2m_sde_ksampler.json")
    data["9"]["inputs"]["sampler_name"] = "sa_solver"
    if not shifted:
        data["9"]["inputs"]["model"] = ["1", 0]
    result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
    assert result.status == "success", result
    got = result.outputs["10"]["image"]
    mu = flux_shift(1.15, 0.5, 64, 48) if shifted else 1.15
    # the levels as the float32 table gives them (checked against the formulas in test_comfyui_sampler_math):
    # here the window's edges fall on levels, so which side a level is on depends on its last bit
    sigmas = scheduler_levels(NoiseLevels(mu), "simple", 5)
    assert sigmas == pytest.approx(ref_schedule("simple", mu, 5), rel=1e-6)
    assert sigmas[0] == (table_top(mu) if shifted else 1.0)
    seed = 972054013131368
    assert any(window(mu, 0.8) <= s <= window(mu, 0.2) for s in sigmas[1:-1])  # some steps are stochastic

    def rule(x, levels, den, seed=seed):
        levels = list(levels)
        if levels[0] >= 1:
            levels[0] = f32(samplers_stochastic.snr_start_level(mu))
        return ref_sa_solver(x, levels, den, Draws(seed, x.shape), mu)

    _, want, calls = picture_by_hand(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", seed, 64, 48,
                                     "sa_solver", sigmas, guidance=3.5, rule=rule)
    assert len(calls) == 5
    assert got.shape == (1, 48, 64, 3) and torch.allclose(got, want, atol=1e-4)
    _, other_seed, _ = picture_by_hand(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", seed, 64, 48,
                                       "sa_solver", sigmas, guidance=3.5,
                                       rule=lambda x, levels, den: rule(x, levels, den, seed + 1))
    assert (other_seed - want).abs().max() > 1e-3  # the step noise shows in the picture


SETTINGS = dict(eta=0.7, sde_start_percent=0.1, sde_end_percent=0.9, s_noise=0.8, predictor_order=2,
                corrector_order=2, use_pece=True, simple_order_2=True)


def ref_with_settings(x, levels, den, mu, seed, settings=SETTINGS):
    levels = list(levels)
    if levels[0] >= 1:
        levels[0] = f32(samplers_stochastic.snr_start_level(mu))
    return ref_sa_solver(x, levels, den, Draws(seed, x.shape), mu, pece=settings["use_pece"],
                         p_max=settings["predictor_order"], c_max=settings["corrector_order"], eta=settings["eta"],
                         window=(settings["sde_start_percent"], settings["sde_end_percent"]),
                         s_noise=settings["s_noise"], simple=settings["simple_order_2"])


@pytest.mark.parametrize("settings", [SETTINGS, dict(SETTINGS, eta=1.3, sde_start_percent=0.0, sde_end_percent=1.0,
                                                      predictor_order=4, corrector_order=0, use_pece=False,
                                                      simple_order_2=False)])
def test_sampler_sa_solver_settings_match_the_published_rule(settings):
    """The step rule with SamplerSASolver's settings (as that node hands them on) against the reference."""
    from flux_core.samplers_stochastic import percent_level

    options = dict(sde_window=(percent_level(1.15, settings["sde_start_percent"]),
                               percent_level(1.15, settings["sde_end_percent"])),
                   eta=settings["eta"], s_noise=settings["s_noise"], predictor_order=settings["predictor_order"],
                   corrector_order=settings["corrector_order"], pece=settings["use_pece"],
                   simple_order_2=settings["simple_order_2"])
    torch.manual_seed(3)
    sigmas = scheduler_levels(NoiseLevels(1.15), "simple", 9)
    x = torch.randn(2, 3, 5, 4) * sigmas[0]
    got, _ = samplers.run("sa_solver", toy_denoiser, x, sigmas, noise=samplers.StepNoise(SEED, tuple(x.shape)),
                          mu=1.15, options=options)
    want = ref_with_settings(x.double().numpy(), [float(v) for v in sigmas], toy_denoiser, 1.15, SEED, settings)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-4, atol=3e-5)
    default, _ = samplers.run("sa_solver", toy_denoiser, x, sigmas, noise=samplers.StepNoise(SEED, tuple(x.shape)),
                              mu=1.15)
    assert (default - got).abs().max() > 1e-3


def test_sampler_sa_solver_imported_from_comfyui_gives_the_hand_computed_latent(comfy_models, executor):
    """A ComfyUI API document with SamplerSASolver feeding SamplerCustomAdvanced imports, and its latent equals
    the hand computation with those settings (the window from the ModelSamplingFlux shift of its model input)."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from nodes.flux.sigmas import flux_shift

    from .conftest import fixture
    from .test_comfyui_samplers import reference as picture_by_hand

    data = fixture("api_dev_dpmpp2m_beta.json")
    data["11"] = {"class_type": "SamplerSASolver", "inputs": {"model": ["4", 0], **SETTINGS}}
    result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)), outputs=["15"])
    assert result.status == "success", result
    got = result.outputs["15"]["output"].samples
    mu = flux_shift(1.15, 0.5, 64, 48)
    sigmas = scheduler_levels(NoiseLevels(mu), "beta", 6)
    want, _, calls = picture_by_hand(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", 42, 64, 48,
                                     "sa_solver", sigmas, guidance=3.5,
                                     rule=lambda x, levels, den: ref_with_settings(x, levels, den, mu, 42))
    assert len(calls) == 2 * (len(sigmas) - 1) - 1  # PECE: a second call on each corrected state
    assert torch.allclose(got, want, atol=1e-4)
