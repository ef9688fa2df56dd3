"""The samplers added for issue 11's leftover (iPNDM, iPNDM-v, RES multistep, gradient estimation,
DPM-Solver++(2S) ancestral, LCM, ER-SDE and the DPM-Solver++ SDE family) against step rules written here
from the papers' formulas in float64 NumPy, with fresh noise drawn as ComfyUI draws it (one seeded CPU
generator per run, one draw per noisy step; for the SDE samplers torchsde's BrownianTree over the
schedule's range), and their convergence order / final distribution on the Gaussian toy problem."""
import math

import numpy as np
import pytest
import scipy.integrate
import torch

from flux_core import samplers, samplers_stochastic
from flux_core.schedulers import NoiseLevels, scheduler_levels

from .test_comfyui_sampler_math import MEAN, STD, comfy_step_noises, exact_flow, gaussian_denoiser, ref_run, toy_denoiser

pytestmark = pytest.mark.filterwarnings("ignore:Should have t")  # torchsde: a float32 level at a float64 end

NEW = ["dpm_2_ancestral", "res_multistep_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "lcm", "ipndm",
       "ipndm_v", "res_multistep", "gradient_estimation", "er_sde"]
SEED = 972054013131368


def adams_bashforth_weights(order):
    """Classical Adams-Bashforth weights (newest first) from integrating the Lagrange basis through the
    last `order` unit-spaced points over the next unit step."""
    nodes = [-k for k in range(order)]
    weights = []
    for j in range(order):
        basis = np.polynomial.Polynomial([1.0])
        for k in range(order):
            if k != j:
                basis = basis * np.polynomial.Polynomial([-nodes[k], 1.0]) / (nodes[j] - nodes[k])
        anti = basis.integ()
        weights.append(anti(1.0) - anti(0.0))
    return weights


def logit_lambda(sigma):
    """Half log signal-to-noise ratio of a flow level: log(alpha / sigma), alpha = 1 - sigma."""
    return math.log((1 - sigma) / sigma)


def brownian_noises(seed, shape, sigmas):
    """ComfyUI's BrownianTreeNoiseSampler (CPU tree): a BrownianTree over [smallest level > 0, largest]
    seeded with the noise seed; the noise for (a, b) is W(b) - W(a) over sqrt|b - a|."""
    import torchsde

    levels = torch.tensor(sigmas, dtype=torch.float32)
    tree = torchsde.BrownianTree(levels[levels > 0].min(), torch.zeros(shape), levels.max(), entropy=seed)

    def noise(a, b):
        a, b = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
        lo, hi = min(a, b), max(a, b)
        w = tree(lo, hi) * (1 if b > a else -1)
        return (w / (b - a).abs().sqrt()).double().numpy()
    return noise


def f32(v):
    return float(np.float32(v))


def ref_new(name, x, sigmas, den=toy_denoiser, noises=None, brownian=None, start=0.9999):
    """Sampler `name` from the published step rules in float64."""
    x = np.array(x, dtype=np.float64)
    s = [float(v) for v in sigmas]
    if name in ("er_sde", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde") and s[0] >= 1:
        s[0] = f32(start)  # ComfyUI's offset of a first level 1 (lambda would be -inf)
    slopes, estimates, lams = [], [], []
    draws = iter(noises or [])
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d0 = den(x, sc)
        d = (x - d0) / sc
        if name == "ipndm":  # fixed Adams-Bashforth weights in sigma, order growing to 4
            slopes = (slopes + [d])[-4:]
            if sn == 0:
                x = d0
            else:
                w = adams_bashforth_weights(len(slopes))
                x = x + (sn - sc) * sum(wj * slopes[-1 - j] for j, wj in enumerate(w))
        elif name == "ipndm_v":  # variable-step Adams-Bashforth in sigma to order 2, then iPNDM-v's terms
            slopes = (slopes + [d])[-4:]
            if sn == 0:
                x = d0
            else:
                order = min(len(slopes), 2)
                for j in range(order):
                    def basis(tau, j=j):
                        return math.prod((tau - s[i - k]) / (s[i - j] - s[i - k]) for k in range(order) if k != j)
                    x = x + scipy.integrate.quad(basis, sc, sn)[0] * slopes[-1 - j]
                h0, h1, h2, h3 = (s[i + 1 - k] - s[i - k] if i - k >= 0 else math.nan for k in range(4))
                if len(slopes) >= 3:  # a multiple of the 2nd slope difference. As published (and in ComfyUI)
                    # the weight is (1 - h0^2 / (3 h1 (h1 + h2))) / 2: Adams-Bashforth's only for even steps
                    c3 = (1 - h0 ** 2 / (3 * h1 * (h1 + h2))) / 2
                    x = x + (sn - sc) * c3 * (slopes[-1] - (1 + h1 / h2) * slopes[-2] + h1 / h2 * slopes[-3])
                if len(slopes) == 4:  # and of the 3rd slope difference
                    t01, t012 = h0 + h1, h0 + h1 + h2
                    c4 = ((1 - h0 / (3 * t01)) / 2 + (1 - h0 / (2 * t01)) * h0 / (6 * t012)) \
                        * (h0 * t01 * t012) / (h1 * (h1 + h2) * (h1 + h2 + h3))
                    spread = h1 * (h1 + h2) / (h2 * (h2 + h3))
                    third = slopes[-1] - (1 + h1 / h2 + spread) * slopes[-2] \
                        + (h1 / h2 + spread * (1 + h2 / h3)) * slopes[-3] - spread * h1 / h2 * slopes[-4]
                    x = x + (sn - sc) * c4 * third
        elif name == "res_multistep":  # dx/dlambda = D - x (lambda = -log sigma), D linear through the last two
            if sn == 0 or not estimates:
                x = x + (sn - sc) * d
            else:
                lam, lam_next, lam_prev = -math.log(sc), -math.log(sn), -math.log(s[i - 1])
                h = lam_next - lam
                slope = (d0 - estimates[-1]) / (lam - lam_prev)
                x = math.exp(-h) * x + (1 - math.exp(-h)) * d0 + (h - 1 + math.exp(-h)) * slope
            estimates.append(d0)
        elif name == "dpm_2_ancestral":  # flow ancestral split, the deterministic part DPM-Solver-2
            down = sn * sn / sc
            if sn == 0:
                x = x - sc * d
            else:
                mid = math.sqrt(sc * down)
                x_mid = x + (mid - sc) * d
                x = x + (down - sc) * (x_mid - den(x_mid, mid)) / mid
                renoise = math.sqrt(sn ** 2 - down ** 2 * (1 - sn) ** 2 / (1 - down) ** 2)
                x = (1 - sn) / (1 - down) * x + next(draws) * renoise
        elif name == "res_multistep_ancestral":  # variance-exploding ancestral split (as ComfyUI applies it)
            up = min(sn, math.sqrt(sn ** 2 * (sc ** 2 - sn ** 2) / sc ** 2))
            down = math.sqrt(sn ** 2 - up ** 2)
            if down == 0 or not estimates:
                x = x + (down - sc) * d
            else:  # RES with D linear in lambda between the previous step's target level and this level
                h = math.log(sc / down)
                gap = -math.log(lams[-1]) + math.log(s[i - 1])
                x = math.exp(-h) * x + (1 - math.exp(-h)) * d0 + (h - 1 + math.exp(-h)) * (d0 - estimates[-1]) / gap
            if sn > 0:
                x = x + next(draws) * up
            estimates.append(d0)
            lams.append(down)
        elif name == "gradient_estimation":  # Euler on gamma * d_i + (1 - gamma) * d_(i-1), gamma = 2
            if sn == 0:
                x = d0
            else:
                x = x + (sn - sc) * (d if not slopes else 2 * d - slopes[-1])
            slopes.append(d)
        elif name == "dpmpp_2s_ancestral":  # flow ancestral split, the deterministic part DPM-Solver++(2S)
            down = sn * sn / sc
            if sn == 0:
                x = d0
            else:
                mid = f32(0.9999) if sc == 1.0 else 1 / (1 + math.exp((logit_lambda(sc) + logit_lambda(down)) / 2))
                u = (mid / sc) * x + (1 - mid / sc) * d0
                x = (down / sc) * x + (1 - down / sc) * den(u, mid)
                renoise = math.sqrt(sn ** 2 - down ** 2 * (1 - sn) ** 2 / (1 - down) ** 2)
                x = (1 - sn) / (1 - down) * x + next(draws) * renoise
        elif name == "lcm":  # jump to the estimate, then noise it to the next level
            x = d0 if sn == 0 else sn * next(draws) + (1 - sn) * d0
        elif name == "er_sde":  # Cui et al. 2023, VP ER-SDE-Solver-3, lambda_er = sigma / alpha, f(l) = l(e^(l^.3) + 10)
            def f(v):
                return v * (math.exp(v ** 0.3) + 10)
            lams.append(sc / (1 - sc))
            if sn == 0:
                x = d0
            else:
                lam, lam_next = lams[-1], sn / (1 - sn)
                a_next = 1 - sn
                r = f(lam_next) / f(lam)
                x = ((1 - sn) / (1 - sc)) * r * x + a_next * (1 - r) * d0
                if estimates:
                    first = (d0 - estimates[-1]) / (lam - lams[-2])
                    # the integrals over [lam_next, lam] by ComfyUI's 200-point left Riemann sum
                    where = lam_next + np.arange(200) * (lam - lam_next) / 200
                    scaled = where * (np.exp(where ** 0.3) + 10)
                    i1 = np.sum(1 / scaled) * (lam - lam_next) / 200
                    x = x + a_next * ((lam_next - lam) + i1 * f(lam_next)) * first
                    if len(estimates) >= 2:
                        second = (first - old_first) / ((lam - lams[-3]) / 2)
                        i2 = np.sum((where - lam) / scaled) * (lam - lam_next) / 200
                        x = x + a_next * ((lam_next - lam) ** 2 / 2 + i2 * f(lam_next)) * second
                    old_first = first
                x = x + a_next * next(draws) * math.sqrt(max(lam_next ** 2 - lam ** 2 * r ** 2, 0.0))
            estimates.append(d0)
        elif name in ("dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde"):  # DPM-Solver++(2M/3M) SDE, eta 1
            if sn == 0:
                x = d0
            else:
                h = logit_lambda(sn) - logit_lambda(sc)
                a_next = 1 - sn
                e = 1 - math.exp(-2 * h)
                x = (sn / sc) * math.exp(-h) * x + a_next * e * d0
                phi_2 = 1 - e / (2 * h)
                if name == "dpmpp_3m_sde" and len(estimates) >= 2:
                    r0, r1 = lams[-1] / h, lams[-2] / h
                    diff_0, diff_1 = (d0 - estimates[-1]) / r0, (estimates[-1] - estimates[-2]) / r1
                    phi_3 = phi_2 / (2 * h) - 0.5
                    x = x + a_next * phi_2 * (diff_0 + (diff_0 - diff_1) * r0 / (r0 + r1)) \
                        - a_next * phi_3 * (diff_0 - diff_1) / (r0 + r1)
                elif estimates:
                    r = lams[-1] / h
                    weight = 0.5 * e if name == "dpmpp_2m_sde" else phi_2
                    x = x + a_next * weight * (d0 - estimates[-1]) / r
                x = x + brownian(sc, sn) * sn * math.sqrt(e)
                lams.append(h)
            estimates.append(d0)
        elif name == "dpmpp_sde":  # SDE-DPM-Solver++(2S), r = 1/2, ancestral noise in sigma / alpha
            if sn == 0:
                x = d0
            else:
                lam, lam_next = logit_lambda(sc), logit_lambda(sn)
                lam_mid = (lam + lam_next) / 2
                mid = 1 / (1 + math.exp(lam_mid))

                def to(lam_to, x_from, estimate, sigma_to):  # ancestral DPM-Solver++ step in ratio sigma / alpha
                    ratio, ratio_to = math.exp(-lam), math.exp(-lam_to)
                    up = min(ratio_to, math.sqrt(ratio_to ** 2 * (ratio ** 2 - ratio_to ** 2) / ratio ** 2))
                    down = math.sqrt(ratio_to ** 2 - up ** 2)
                    a_to = 1 - sigma_to
                    return a_to * (down / ratio) * x_from / (1 - sc) + a_to * (1 - down / ratio) * estimate, a_to * up
                x_mid, up = to(lam_mid, x, d0, mid)
                x_mid = x_mid + up * brownian(sc, mid)
                x, up = to(lam_next, x, den(x_mid, mid), sn)
                x = x + up * brownian(sc, sn)
        else:
            raise AssertionError(name)
    return x


def noise_for(name, x, sigmas):
    noises = comfy_step_noises(SEED, tuple(x.shape), len(sigmas)) if name in samplers.ANCESTRAL else None
    brownian = brownian_noises(SEED, tuple(x.shape), [f32(v) for v in sigmas]) if name in samplers.BROWNIAN else None
    return noises, brownian


@pytest.mark.parametrize("mu", [1.15, None])
@pytest.mark.parametrize("name", NEW)
def test_each_new_sampler_matches_the_published_step_rule(name, mu):
    torch.manual_seed(3)
    x = torch.randn(2, 3, 5, 4)
    sigmas = scheduler_levels(NoiseLevels(mu), "simple", 9)
    noise = samplers.StepNoise(SEED, tuple(x.shape)) if name in samplers.ANCESTRAL else None
    got, denoised = samplers.run(name, toy_denoiser, x, sigmas, noise=noise, mu=mu)
    noises, brownian = noise_for(name, x, sigmas)
    start = samplers_stochastic.snr_start_level(mu)
    want = ref_new(name, x.double().numpy(), sigmas, noises=noises, brownian=brownian, start=start)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-4, atol=2e-5)
    assert got.dtype == torch.float32 and denoised is not None
    other = ref_run("euler", x.double().numpy(), sigmas)
    assert np.abs(other - want).max() > 1e-3  # the rules differ enough for the comparison to mean something


def test_ipndm_and_ipndm_v_differ_on_uneven_steps():
    torch.manual_seed(4)
    x = torch.randn(3, 4)
    uneven = scheduler_levels(NoiseLevels(1.15), "karras", 8)
    a, _ = samplers.run("ipndm", toy_denoiser, x, uneven)
    b, _ = samplers.run("ipndm_v", toy_denoiser, x, uneven)
    assert (a - b).abs().max() > 1e-3


def test_the_snr_samplers_start_a_level_1_at_the_models_0_01_percent_level():
    assert samplers_stochastic.snr_start_level(None) == 0.9999
    assert samplers_stochastic.snr_start_level(1.15) == pytest.approx(math.exp(1.15) / (math.exp(1.15) + 1 / 0.9999 - 1))
    seen = []
    for mu in (None, 1.15):
        samplers.run("er_sde", lambda xx, s: seen.append(float(s)) or toy_denoiser(xx, s), torch.zeros(2, 2),
                     [1.0, 0.5, 0.0], noise=samplers.StepNoise(1, (2, 2)), mu=mu)
    assert seen == [f32(0.9999), 0.5, f32(samplers_stochastic.snr_start_level(1.15)), 0.5]


def test_noise_depends_on_the_seed_and_the_sde_noise_on_the_levels_not_the_step_count():
    x = torch.zeros(1, 2, 3, 3)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 4)
    for name in ("dpmpp_2s_ancestral", "lcm", "er_sde", "dpmpp_2m_sde"):
        a, _ = samplers.run(name, toy_denoiser, x, sigmas, noise=samplers.StepNoise(1, x.shape))
        b, _ = samplers.run(name, toy_denoiser, x, sigmas, noise=samplers.StepNoise(2, x.shape))
        assert not torch.allclose(a, b), name
        with pytest.raises(ValueError, match="noise source"):
            samplers.run(name, toy_denoiser, x, sigmas)
    # the Brownian motion between two levels is the sum of its pieces (one tree over the whole range)
    tree = samplers_stochastic.BrownianNoise(7, (4000,), torch.tensor(0.1), torch.tensor(0.9))
    whole = tree(torch.tensor(0.9), torch.tensor(0.1)) * math.sqrt(0.8)
    parts = tree(torch.tensor(0.9), torch.tensor(0.5)) * math.sqrt(0.4) + tree(torch.tensor(0.5),
                                                                               torch.tensor(0.1)) * math.sqrt(0.4)
    assert torch.allclose(whole, parts, atol=1e-5) and float(whole.std()) == pytest.approx(math.sqrt(0.8), rel=0.05)


# ------------------------------------------------------------------ convergence on Gaussian data


def flow_error(name, steps, start=0.9, end=0.1, **options):
    torch.manual_seed(0)
    x1 = torch.randn(4096, dtype=torch.float32)
    x = torch.from_numpy(exact_flow(x1.double().numpy(), f32(start))).float()
    sigmas = torch.tensor(np.linspace(start, end, steps + 1), dtype=torch.float32)
    if options:  # the stochastic samplers with eta 0: their deterministic solver
        got, _ = getattr(samplers_stochastic, name)(gaussian_denoiser, x, sigmas, noise=samplers.StepNoise(0, (4096,)),
                                                    **options)
    else:
        got, _ = samplers.run(name, gaussian_denoiser, x, list(sigmas))
    return float((got.double() - exact_flow(x1.double(), float(sigmas[-1]))).abs().max())


@pytest.mark.parametrize("name, order, steps, options", [
    ("ipndm", 4, 16, {}), ("ipndm_v", 4, 16, {}), ("res_multistep", 2, 16, {}), ("gradient_estimation", 1, 32, {}),
    ("dpmpp_2s_ancestral", 2, 16, {"eta": 0.0}), ("dpmpp_2m_sde", 2, 32, {"eta": 0.0}),
    ("dpmpp_2m_sde_heun", 2, 16, {"eta": 0.0}), ("dpmpp_3m_sde", 3, 16, {"eta": 0.0}), ("dpmpp_sde", 2, 16, {"eta": 0.0})])
def test_new_samplers_converge_at_their_order(name, order, steps, options):
    """The error on the closed-form flow shrinks by 2^order when the steps double (the stochastic samplers
    with eta 0 are their deterministic solvers; the higher orders are measured before float32's floor).
    Not dpm_2_ancestral: ComfyUI's rule gives NaN at eta 0 (a rounding-negative square root); its final
    distribution is checked below."""
    coarse, fine = flow_error(name, steps, **options), flow_error(name, 2 * steps, **options)
    measured = math.log2(coarse / fine)
    assert measured > order - 0.4, (name, coarse, fine, measured)
    if order == 1:
        assert measured < 1.35


@pytest.mark.parametrize("name", ["dpm_2_ancestral", "dpmpp_2s_ancestral", "er_sde", "dpmpp_2m_sde", "dpmpp_3m_sde",
                                  "dpmpp_sde"])
def test_the_noisy_samplers_land_on_the_data_distribution(name):
    """(Not lcm: its jumps to the posterior mean shrink the spread unless the model is a consistency model; not
    the RES ancestral ones: ComfyUI adds their noise unscaled, as for a variance-exploding model.)"""
    torch.manual_seed(0)
    x = torch.randn(20000)
    sigmas = scheduler_levels(NoiseLevels(None), "simple", 200)
    out, _ = samplers.run(name, gaussian_denoiser, x, sigmas, noise=samplers.StepNoise(5, x.shape))
    assert float(out.mean()) == pytest.approx(MEAN, abs=0.01), name
    assert float(out.std()) == pytest.approx(STD, rel=0.03), name


# ------------------------------------------------------------------ an imported ComfyUI document end to end


def table_top(mu):
    """The largest level of ComfyUI's float32 table for shift mu: 1 - a rounding step for some shifts."""
    return float(math.exp(mu) / (math.exp(mu) + (1 / torch.ones((), dtype=torch.float32) - 1)))


@pytest.mark.parametrize("shifted", [True, False])
def test_ksampler_with_dpmpp_2m_sde_on_flux_dev(comfy_models, executor, shifted):
    """KSampler(dpmpp_2m_sde), imported from ComfyUI's API format and run on the tiny files, gives the picture
    computed by hand: ComfyUI's starting noise, the schedule from the (ModelSamplingFlux-shifted) table and
    Brownian noise from the KSampler seed. After ModelSamplingFlux for 64x48 the table tops out at 1 - 6e-8,
    so sampling starts there; dev's own table reaches 1, so the first level moves to its 0.01 % level."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from nodes.flux.sigmas import flux_shift

    from .conftest import fixture
    from .test_comfyui_sampler_math import ref_schedule
    from .test_comfyui_samplers import reference

    data = fixture("api_dev_2m_sde_ksampler.json")
    if not shifted:
        data["9"]["inputs"]["model"] = ["1", 0]
    result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
    assert result.status == "success", result
    got = result.outputs["10"]["image"]
    mu = flux_shift(1.15, 0.5, 64, 48) if shifted else 1.15
    sigmas = ref_schedule("simple", mu, 5)
    sigmas[0] = table_top(mu)
    start = math.exp(mu) / (math.exp(mu) + 1 / (1 - 1e-4) - 1)
    seed = 972054013131368

    def rule(x, levels, den, seed=seed):
        return ref_new("dpmpp_2m_sde", x, levels, den=den, brownian=brownian_noises(seed, tuple(x.shape), levels),
                       start=start)

    _, want, calls = reference(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", seed, 64, 48,
                               "dpmpp_2m_sde", sigmas, guidance=3.5, rule=rule)
    assert len(calls) == 5 and calls[0] == (table_top(mu) if shifted else f32(start))
    assert (calls[0] < 1 - 1e-5) == (not shifted)
    assert got.shape == (1, 48, 64, 3) and torch.allclose(got, want, atol=1e-4)
    _, other_seed, _ = reference(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", seed, 64, 48,
                                 "dpmpp_2m_sde", sigmas, guidance=3.5,
                                 rule=lambda x, levels, den: rule(x, levels, den, seed + 1))
    assert (other_seed - want).abs().max() > 1e-3  # the Brownian noise shows in the picture


def test_without_torchsde_the_sde_samplers_are_refused_before_the_run(comfy_models, executor, monkeypatch):
    """torchsde is optional: without it KSampler / KSamplerSelect name the input and say what to install,
    before anything runs; the other new samplers still run."""
    import importlib.util

    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from flux_core.graph.workflow import WorkflowError

    from .conftest import fixture

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchsde" else real(name, *a))
    data = fixture("api_dev_2m_sde_ksampler.json")
    with pytest.raises(WorkflowError) as e:
        executor.validate(load_workflow(data, env=Environment(models_dir=comfy_models)))
    (p,) = e.value.problems
    assert (p.node, p.input) == ("9", "sampler_name") and "pip install 'fluxwire[sde]'" in p.message
    select = fixture("api_dev_dpmpp2m_beta.json")
    select["11"]["inputs"]["sampler_name"] = "dpmpp_3m_sde"
    with pytest.raises(WorkflowError) as e:
        executor.validate(load_workflow(select, env=Environment(models_dir=comfy_models)))
    assert [(p.node, p.input) for p in e.value.problems] == [("11", "sampler_name")]
    data["9"]["inputs"]["sampler_name"] = "er_sde"  # per-step generator noise: no torchsde needed
    executor.validate(load_workflow(data, env=Environment(models_dir=comfy_models)))
