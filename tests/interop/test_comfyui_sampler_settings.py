"""ComfyUI's sampler nodes with settings (SamplerEulerAncestral, SamplerEulerAncestralCFGPP, SamplerDPMPP_2M_SDE,
SamplerDPMPP_3M_SDE, SamplerDPMPP_SDE, SamplerDPMPP_2S_Ancestral, SamplerLMS, SamplerDPMAdaptative,
SamplerER_SDE): the SAMPLER each node makes, run on a toy denoiser, against step rules with those settings
written here in float64 NumPy from the published formulas (fresh noise drawn as ComfyUI draws it); an
imported ComfyUI API document using them end to end on the tiny model files; bad values refused naming the
node and the input."""
import math

import numpy as np
import pytest
import torch

from flux_core import samplers
from flux_core.schedulers import NoiseLevels, scheduler_levels
from nodes.flux import sampler_settings as nodes

from .test_comfyui_cfgpp_samplers import toy_pair
from .test_comfyui_more_samplers import brownian_noises, f32, logit_lambda
from .test_comfyui_sampler_math import toy_denoiser

pytestmark = pytest.mark.filterwarnings("ignore:Should have t")  # torchsde: a float32 level at a float64 end

SEED = 972054013131368
MU = 1.15


class Draws:
    """ComfyUI's default_noise_sampler on the CPU, drawn on demand in float64."""

    def __init__(self, seed, shape):
        self.g = torch.Generator().manual_seed(seed)
        self.shape = shape

    def __call__(self, *_):
        return torch.randn(self.shape, dtype=torch.float32, generator=self.g).double().numpy()


def snr_start(mu=MU):
    """The model's level at 0.01 % of sampling, where a first level 1 is moved for the log-SNR samplers."""
    t = 1 - 1e-4
    return f32(math.exp(mu) / (math.exp(mu) + 1 / t - 1))


# ------------------------------------------------------------------ reference step rules with settings (float64)


def ref_euler_ancestral(x, s, den, draw, eta, s_noise, second_order=False):
    """Rectified-flow ancestral step: down to sd = sn (1 + (sn / sc - 1) eta) along the straight line to the
    estimate (or, ``second_order``, DPM-Solver++(2S)'s estimate at the log-SNR midpoint of sc and sd), then
    scaled by (1 - sn) / (1 - sd) with s_noise * sqrt(sn^2 - sd^2 (1 - sn)^2 / (1 - sd)^2) fresh noise."""
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d0 = den(x, sc)
        if sn == 0:
            x = d0
            continue
        sd = sn * (1 + (sn / sc - 1) * eta)
        target = d0
        if second_order:
            mid = f32(0.9999) if sc == 1.0 else 1 / (1 + math.exp((logit_lambda(sc) + logit_lambda(sd)) / 2))
            target = den((mid / sc) * x + (1 - mid / sc) * d0, mid)
        x = (sd / sc) * x + (1 - sd / sc) * target
        if eta > 0:
            spread = math.sqrt(sn ** 2 - sd ** 2 * (1 - sn) ** 2 / (1 - sd) ** 2)
            x = (1 - sn) / (1 - sd) * x + s_noise * spread * draw()
    return x


def ref_euler_ancestral_cfg_pp(x, s, pair, draw, eta, s_noise):
    """CFG++ DDIM step in the variance-exploding ratio r = sigma / alpha (alpha = 1 - sigma): the noise
    direction from the unconditional estimate U, k-diffusion's ancestral split of (r, r_next) by eta, the
    guided estimate D as the landing point, s_noise * alpha_next * r_up fresh noise."""
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d, u = pair(x, sc)
        if sn == 0:
            x = d
            continue
        a, a_next = 1 - sc, 1 - sn
        r_next = sn / a_next
        up = r_next  # from sigma 1 (an infinite ratio) ComfyUI's split gives all of the step to noise, any eta
        if sc < 1:
            r = sc / a
            up = min(r_next, eta * math.sqrt(r_next ** 2 * (r ** 2 - r_next ** 2) / r ** 2))
        down = math.sqrt(r_next ** 2 - up ** 2)
        x = a_next * d + a_next * down * (x - a * u) / sc
        if eta > 0 and s_noise > 0:
            x = x + a_next * s_noise * up * draw()
    return x


def ref_multistep_sde(x, s, den, brownian, eta, s_noise, kind):
    """DPM-Solver++(2M / 3M) SDE in lambda = log(alpha / sigma) with eta: x decays by e^(-eta h), the
    estimate enters with 1 - e^(-(1 + eta) h) (and its differences with the phi functions of (1 + eta) h:
    midpoint 1/2 (1 - e^(-k)), heun / 3M phi_2 = 1 - (1 - e^(-k)) / k, phi_3 = phi_2 / k - 1/2), noise
    s_noise * sigma_next * sqrt(1 - e^(-2 eta h))."""
    estimates, hs = [], []
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d0 = den(x, sc)
        if sn == 0:
            x = d0
            estimates.append(d0)
            continue
        h = logit_lambda(sn) - logit_lambda(sc)
        k = (1 + eta) * h
        a_next, e = 1 - sn, 1 - math.exp(-k)
        phi_2 = 1 - e / k
        x = (sn / sc) * math.exp(-eta * h) * x + a_next * e * d0
        if kind == "3m" and len(estimates) >= 2:
            r0, r1 = hs[-1] / h, hs[-2] / h
            diff_0, diff_1 = (d0 - estimates[-1]) / r0, (estimates[-1] - estimates[-2]) / r1
            x = x + a_next * phi_2 * (diff_0 + (diff_0 - diff_1) * r0 / (r0 + r1)) \
                - a_next * (phi_2 / k - 0.5) * (diff_0 - diff_1) / (r0 + r1)
        elif estimates:
            weight = 0.5 * e if kind == "midpoint" else phi_2
            x = x + a_next * weight * (d0 - estimates[-1]) / (hs[-1] / h)
        if eta > 0 and s_noise > 0:
            x = x + s_noise * sn * math.sqrt(1 - math.exp(-2 * eta * h)) * brownian(sc, sn)
        estimates.append(d0)
        hs.append(h)
    return x


def ref_dpmpp_sde(x, s, den, brownian, eta, s_noise, r):
    """SDE-DPM-Solver++(2S): an ancestral DPM-Solver++ step (in ratio sigma / alpha, split by eta) to the
    fraction r of the step in lambda, a model call there, then the full step with the estimates blended
    1 - 1/2r : 1/2r; Brownian noise times s_noise at both."""
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d0 = den(x, sc)
        if sn == 0:
            x = d0
            continue
        lam = logit_lambda(sc)
        lam_mid = lam + r * (logit_lambda(sn) - lam)
        mid = 1 / (1 + math.exp(lam_mid))

        def to(sigma_to, estimate):
            ratio, ratio_to = sc / (1 - sc), sigma_to / (1 - sigma_to)
            up = min(ratio_to, eta * math.sqrt(ratio_to ** 2 * (ratio ** 2 - ratio_to ** 2) / ratio ** 2))
            down = math.sqrt(ratio_to ** 2 - up ** 2)
            a_to = 1 - sigma_to
            out = a_to * (down / ratio) * x / (1 - sc) + a_to * (1 - down / ratio) * estimate
            if eta > 0 and s_noise > 0:
                out = out + a_to * up * s_noise * brownian(sc, sigma_to)
            return out

        d_mid = den(to(mid, d0), mid)
        x = to(sn, (1 - 1 / (2 * r)) * d0 + 1 / (2 * r) * d_mid)
    return x


def ref_lms(x, s, den, order):
    """Linear multistep: x moves by the integral over [s_i, s_i+1] of the polynomial through the last
    `order` slopes (exact antiderivative); the step to 0 lands on the estimate."""
    slopes = []
    for i in range(len(s) - 1):
        d0 = den(x, s[i])
        slopes.append((x - d0) / s[i])
        if s[i + 1] == 0:
            x = d0
            continue
        n = min(order, len(slopes))
        nodes = [s[i - k] for k in range(n)]
        for j in range(n):
            basis = np.polynomial.Polynomial([1.0])
            for k in range(n):
                if k != j:
                    basis = basis * np.polynomial.Polynomial([-nodes[k], 1.0]) / (nodes[j] - nodes[k])
            anti = basis.integ()
            x = x + (anti(s[i + 1]) - anti(s[i])) * slopes[-1 - j]
    return x


def ref_dpm_adaptive(x, s, den, draw, order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.0, icoeff=1.0,
                     dcoeff=0.0, accept_safety=0.81, eta=0.0, s_noise=1.0):
    """DPM-Solver-12 / 23 in t = -log sigma from the first level to the last above 0: each attempt solves to
    t (or, with eta, to the ancestral level's t) at two orders; their scaled RMS difference sets the PID
    factor 1 + atan(prod e_k^w_k - 1) (w from pcoeff, icoeff, dcoeff over the order, 1.5 with eta), a factor
    below accept_safety redoes the step, an accepted one adds s_noise * sigma_up fresh noise."""
    low = s[-1] if s[-1] != 0 else s[-2]
    t, t_end = -math.log(f32(s[0])), -math.log(f32(low))
    sig = lambda v: math.exp(-v)  # noqa: E731

    def eps(x, v):
        return (x - den(x, f32(sig(v)))) / sig(v)

    def step(x, a, b, k, r1=1 / 2):
        h = b - a
        e0 = eps(x, a)
        out = x - sig(b) * math.expm1(h) * e0
        if k == 1:
            return out
        if k == 2:
            u = x - sig(a + r1 * h) * math.expm1(r1 * h) * e0
            return out - sig(b) / (2 * r1) * math.expm1(h) * (eps(u, a + r1 * h) - e0)
        u1 = x - sig(a + h / 3) * math.expm1(h / 3) * e0
        e1 = eps(u1, a + h / 3)
        u2 = x - sig(a + 2 * h / 3) * (math.expm1(2 * h / 3) * e0 + 2 * (math.expm1(2 * h / 3) / (2 * h / 3) - 1)
                                       * (e1 - e0))
        return out - sig(b) * 1.5 * (math.expm1(h) / h - 1) * (eps(u2, a + 2 * h / 3) - e0)

    rate = 1.5 if eta else order
    w = ((pcoeff + icoeff + dcoeff) / rate, -(pcoeff + 2 * dcoeff) / rate, dcoeff / rate)
    h, x_prev, inv = h_init, x, None
    while t < t_end - 1e-5:
        t_next = min(t_end, t + h)
        t_to, up = t_next, 0.0
        if eta:
            a, b = sig(t), sig(t_next)
            split_up = min(b, eta * math.sqrt(b ** 2 * (a ** 2 - b ** 2) / a ** 2))
            t_to = min(t_end, -math.log(math.sqrt(b ** 2 - split_up ** 2)))
            up = math.sqrt(b ** 2 - sig(t_to) ** 2)
        low_x, high_x = (step(x, t, t_to, 1), step(x, t, t_to, 2)) if order == 2 else \
            (step(x, t, t_to, 2, r1=1 / 3), step(x, t, t_to, 3))
        scale = np.maximum(atol, rtol * np.maximum(np.abs(low_x), np.abs(x_prev)))
        error = np.linalg.norm((low_x - high_x) / scale) / math.sqrt(x.size)
        e = 1 / (error + 1e-8)
        inv = [e, e, e] if inv is None else [e, inv[1], inv[2]]
        factor = 1 + math.atan(inv[0] ** w[0] * inv[1] ** w[1] * inv[2] ** w[2] - 1)
        if factor >= accept_safety:
            inv = [inv[0], inv[0], inv[1]]
            x_prev, x, t = low_x, high_x + (s_noise * up * draw() if eta else 0), t_next
        h *= factor
    return x


def ref_er_sde(x, s, den, draw, max_stage=3, s_noise=1.0, reverse_time_eta=None):
    """ER-SDE-Solver in lambda_er = sigma / alpha with noise scale f (ER-SDE's l (e^(l^0.3) + 10), or the
    reverse-time SDE's l^(eta + 1)): the first-order part, then up to `max_stage` - 1 corrections with
    ComfyUI's 200-point left Riemann sums for the integrals of 1 / f and (l - l_i) / f, and
    s_noise * alpha_next * sqrt(l_next^2 - l^2 r^2) fresh noise."""
    def f(v):
        if reverse_time_eta is None:
            return v * (np.exp(v ** 0.3) + 10)
        return v ** (reverse_time_eta + 1)

    lams, estimates, old_first = [], [], None
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d0 = den(x, sc)
        lams.append(sc / (1 - sc))
        stage = min(max_stage, i + 1)
        if sn == 0:
            x = d0
        else:
            lam, lam_next, a_next = lams[-1], sn / (1 - sn), 1 - sn
            r = f(lam_next) / f(lam)
            x = (a_next / (1 - sc)) * r * x + a_next * (1 - r) * d0
            if stage >= 2:
                where = lam_next + np.arange(200) * (lam - lam_next) / 200
                first = (d0 - estimates[-1]) / (lam - lams[-2])
                x = x + a_next * ((lam_next - lam) + np.sum(1 / f(where)) * (lam - lam_next) / 200 * f(lam_next)) \
                    * first
                if stage >= 3:
                    second = (first - old_first) / ((lam - lams[-3]) / 2)
                    i2 = np.sum((where - lam) / f(where)) * (lam - lam_next) / 200
                    x = x + a_next * ((lam_next - lam) ** 2 / 2 + i2 * f(lam_next)) * second
                old_first = first
            if s_noise > 0:
                x = x + a_next * s_noise * math.sqrt(max(lam_next ** 2 - lam ** 2 * r ** 2, 0.0)) * draw()
        estimates.append(d0)
    return x


# ------------------------------------------------------------------ each node's settings against its rule

SNR = {"SamplerDPMPP_2M_SDE", "SamplerDPMPP_3M_SDE", "SamplerDPMPP_SDE", "SamplerER_SDE"}  # a level 1 is moved

CASES = [
    ("SamplerEulerAncestral", dict(eta=0.6, s_noise=1.3)),
    ("SamplerEulerAncestral", dict(eta=1.7, s_noise=0.4)),
    ("SamplerEulerAncestralCFGPP", dict(eta=0.45, s_noise=2.2)),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="midpoint", eta=0.7, s_noise=1.4, noise_device="cpu")),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="heun", eta=1.5, s_noise=0.6, noise_device="gpu")),
    ("SamplerDPMPP_3M_SDE", dict(eta=0.5, s_noise=1.2, noise_device="cpu")),
    ("SamplerDPMPP_SDE", dict(eta=0.8, s_noise=1.1, r=0.3, noise_device="cpu")),
    ("SamplerDPMPP_2S_Ancestral", dict(eta=0.5, s_noise=1.5)),
    ("SamplerLMS", dict(order=2)),
    ("SamplerLMS", dict(order=6)),
    ("SamplerDPMAdaptative", dict(order=2, rtol=0.02, atol=0.005, h_init=0.1, pcoeff=0.1, icoeff=0.9, dcoeff=0.05,
                                  accept_safety=0.7, eta=0.0, s_noise=1.0)),
    ("SamplerDPMAdaptative", dict(order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.0, icoeff=1.0, dcoeff=0.0,
                                  accept_safety=0.81, eta=0.6, s_noise=0.9)),
    ("SamplerER_SDE", dict(solver_type="ER-SDE", max_stage=2, eta=1.0, s_noise=0.7)),
    ("SamplerER_SDE", dict(solver_type="Reverse-time SDE", max_stage=3, eta=0.5, s_noise=1.2)),
    ("SamplerER_SDE", dict(solver_type="ODE", max_stage=3, eta=1.0, s_noise=1.0)),
]


def reference(node, inputs, x, sigmas):
    s = [float(v) for v in sigmas]
    brownian = brownian_noises(SEED, x.shape, [f32(v) for v in s])  # the tree spans the levels as given
    if node in SNR and s[0] >= 1:
        s[0] = snr_start()
    draw = Draws(SEED, x.shape)
    eta, s_noise = inputs.get("eta"), inputs.get("s_noise")
    if node == "SamplerEulerAncestral":
        return ref_euler_ancestral(x, s, toy_denoiser, draw, eta, s_noise)
    if node == "SamplerDPMPP_2S_Ancestral":
        return ref_euler_ancestral(x, s, toy_denoiser, draw, eta, s_noise, second_order=True)
    if node == "SamplerEulerAncestralCFGPP":
        return ref_euler_ancestral_cfg_pp(x, s, toy_pair, draw, eta, s_noise)
    if node == "SamplerDPMPP_2M_SDE":
        return ref_multistep_sde(x, s, toy_denoiser, brownian, eta, s_noise, inputs["solver_type"])
    if node == "SamplerDPMPP_3M_SDE":
        return ref_multistep_sde(x, s, toy_denoiser, brownian, eta, s_noise, "3m")
    if node == "SamplerDPMPP_SDE":
        return ref_dpmpp_sde(x, s, toy_denoiser, brownian, eta, s_noise, inputs["r"])
    if node == "SamplerLMS":
        return ref_lms(x, s, toy_denoiser, inputs["order"])
    if node == "SamplerDPMAdaptative":
        return ref_dpm_adaptive(x, s, toy_denoiser, draw, **inputs)
    if node == "SamplerER_SDE":
        kind = inputs["solver_type"]
        if kind == "ER-SDE":
            return ref_er_sde(x, s, toy_denoiser, draw, inputs["max_stage"], s_noise)
        eta = 0.0 if kind == "ODE" else eta
        return ref_er_sde(x, s, toy_denoiser, draw, inputs["max_stage"], 0.0 if kind == "ODE" else s_noise, eta)
    raise AssertionError(node)


def run_node_sampler(node, inputs, x, sigmas, seed=SEED):
    choice = getattr(nodes, node)().run(None, **inputs)
    noise = samplers.StepNoise(seed, tuple(x.shape)) if samplers.draws_noise(choice.name, dict(choice.options)) \
        else None
    model = toy_pair if choice.name in samplers.CFG_PP else toy_denoiser
    out, _ = samplers.run(choice.name, model, x, sigmas, noise=noise, mu=MU, options=dict(choice.options))
    return out


def defaults(node):
    return {i.name: i.default for i in getattr(nodes, node).inputs}


@pytest.mark.parametrize("scheduler, steps", [("simple", 9), ("karras", 7)])
@pytest.mark.parametrize("node, inputs", CASES, ids=[f"{n}-{k}" for k, (n, _) in enumerate(CASES)])
def test_each_nodes_settings_change_the_result_as_the_rule_says(node, inputs, scheduler, steps):
    """The node's SAMPLER equals the float64 rule with those settings, and differs from the node at its
    defaults by far more than that agreement (the settings are not ignored)."""
    torch.manual_seed(3)
    sigmas = scheduler_levels(NoiseLevels(MU), scheduler, steps)
    x = torch.randn(2, 3, 5, 4) * sigmas[0]
    got = run_node_sampler(node, inputs, x, sigmas)
    want = reference(node, dict(inputs), x.double().numpy(), sigmas)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-4, atol=5e-5)
    agreement = float(np.abs(got.double().numpy() - want).max())
    plain = run_node_sampler(node, defaults(node), x, sigmas)
    changed = float((plain - got).abs().max())
    assert changed > 1e-4 and changed > 20 * agreement, (changed, agreement)


def test_at_their_defaults_the_nodes_are_ksamplerselects_samplers():
    """ComfyUI's defaults give what KSampler(Select) runs by name (noise_device gpu: the _gpu variant)."""
    torch.manual_seed(4)
    sigmas = scheduler_levels(NoiseLevels(MU), "beta", 6)
    x = torch.randn(1, 2, 4, 3) * sigmas[0]
    names = {"SamplerEulerAncestral": "euler_ancestral", "SamplerEulerAncestralCFGPP": "euler_ancestral_cfg_pp",
             "SamplerDPMPP_2M_SDE": "dpmpp_2m_sde_gpu", "SamplerDPMPP_3M_SDE": "dpmpp_3m_sde_gpu",
             "SamplerDPMPP_SDE": "dpmpp_sde_gpu", "SamplerDPMPP_2S_Ancestral": "dpmpp_2s_ancestral",
             "SamplerLMS": "lms",
             "SamplerDPMAdaptative": "dpm_adaptive", "SamplerER_SDE": "er_sde"}
    assert set(names) == {cls.__name__ for cls in nodes.NODES}
    for node, name in names.items():
        choice = getattr(nodes, node)().run(None, **defaults(node))
        assert choice.name == name
        noise = samplers.StepNoise(SEED, tuple(x.shape)) if name in samplers.ANCESTRAL else None
        model = toy_pair if name in samplers.CFG_PP else toy_denoiser
        by_name, _ = samplers.run(name, model, x, sigmas, noise=noise, mu=MU)
        assert torch.equal(run_node_sampler(node, defaults(node), x, sigmas), by_name), node


def test_zero_noise_scale_and_zero_eta_draw_nothing():
    """s_noise 0 (or eta 0) leaves the deterministic part: the seed no longer matters."""
    torch.manual_seed(5)
    sigmas = scheduler_levels(NoiseLevels(MU), "simple", 6)
    x = torch.randn(1, 2, 4, 4) * sigmas[0]
    for node, inputs in [("SamplerEulerAncestral", dict(eta=0.0, s_noise=1.0)),
                         ("SamplerEulerAncestral", dict(eta=1.0, s_noise=0.0)),
                         ("SamplerDPMPP_2M_SDE", dict(solver_type="heun", eta=1.0, s_noise=0.0, noise_device="cpu")),
                         ("SamplerER_SDE", dict(solver_type="Reverse-time SDE", max_stage=3, eta=0.0, s_noise=1.0))]:
        a, b = (run_node_sampler(node, inputs, x, sigmas, seed) for seed in (1, 2))
        assert torch.equal(a, b), node
    a, b = (run_node_sampler("SamplerEulerAncestral", dict(eta=1.0, s_noise=0.5), x, sigmas, seed) for seed in (1, 2))
    assert not torch.allclose(a, b)


# ------------------------------------------------------------------ an imported ComfyUI document end to end


@pytest.mark.parametrize("node, inputs", [
    ("SamplerEulerAncestral", dict(eta=0.6, s_noise=1.3)),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="heun", eta=0.7, s_noise=1.4, noise_device="cpu")),
])
def test_an_imported_document_with_the_node_gives_the_hand_computed_latent(comfy_models, executor, node, inputs):
    """A ComfyUI API document whose SamplerCustomAdvanced takes its SAMPLER from the node imports through
    the twin, and its latent on the tiny FLUX.1-dev files equals the hand computation with those settings
    (the seed's noise, the shifted beta schedule, the float64 rule); another setting gives another latent."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from nodes.flux.sigmas import flux_shift

    from .conftest import fixture
    from .test_comfyui_samplers import reference as picture_by_hand

    mu = flux_shift(1.15, 0.5, 64, 48)
    sigmas = scheduler_levels(NoiseLevels(mu), "beta", 6)

    def latent_of(values):
        data = fixture("api_dev_dpmpp2m_beta.json")
        data["11"] = {"class_type": node, "inputs": dict(values)}
        result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)), outputs=["15"])
        assert result.status == "success", result
        return result.outputs["15"]["output"].samples

    def rule(x, levels, den):
        s = list(levels)
        brownian = brownian_noises(42, x.shape, [f32(v) for v in s])
        if node in SNR and s[0] >= 1:
            s[0] = snr_start(mu)
        if node == "SamplerEulerAncestral":
            return ref_euler_ancestral(x, s, den, Draws(42, x.shape), inputs["eta"], inputs["s_noise"])
        return ref_multistep_sde(x, s, den, brownian, inputs["eta"], inputs["s_noise"], inputs["solver_type"])

    got = latent_of(inputs)
    want, _, calls = picture_by_hand(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", 42, 64, 48,
                                     None, sigmas, guidance=3.5, rule=rule)
    assert len(calls) == len(sigmas) - 1
    assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())
    other = latent_of(dict(inputs, s_noise=0.2))
    assert float((other - got).abs().max()) > 1e-2


@pytest.mark.parametrize("node, inputs", CASES, ids=[f"{n}-{k}" for k, (n, _) in enumerate(CASES)])
def test_the_nodes_export_back_to_the_same_comfyui_prompt(comfy_models, node, inputs):
    """The twins go both ways: an imported document exports to ComfyUI's class and inputs unchanged, and a UI
    file's widget values (ComfyUI's input order) import to the same settings."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from flux_core.graph.registry import default_registry
    from flux_core.interop.comfyui.export import to_api_prompt

    from .conftest import fixture

    data = fixture("api_dev_dpmpp2m_beta.json")
    data["11"] = {"class_type": node, "inputs": dict(inputs)}
    exported = to_api_prompt(load_workflow(data, env=Environment(models_dir=comfy_models)), default_registry())
    assert (exported["11"]["class_type"], exported["11"]["inputs"]) == (node, inputs)
    ui = {"nodes": [{"id": 11, "type": node, "inputs": [], "outputs": [{"name": "SAMPLER", "type": "SAMPLER",
                                                                       "links": []}],
                     "widgets_values": list(inputs.values())}], "links": [], "version": 0.4}
    spec = load_workflow(ui).nodes["11"]
    assert {k: spec.widgets[k] for k in inputs} == inputs


# ------------------------------------------------------------------ bad values


@pytest.mark.parametrize("node, inputs, bad, words", [
    ("SamplerEulerAncestral", dict(eta=-0.1, s_noise=1.0), "eta", "between 0.0 and 100.0"),
    ("SamplerEulerAncestralCFGPP", dict(eta=1.5, s_noise=1.0), "eta", "between 0.0 and 1.0"),
    ("SamplerEulerAncestralCFGPP", dict(eta=0.5, s_noise=11.0), "s_noise", "between 0.0 and 10.0"),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="bosh3", eta=1.0, s_noise=1.0, noise_device="cpu"), "solver_type",
     "not one of the choices"),
    ("SamplerDPMPP_3M_SDE", dict(eta=1.0, s_noise=1.0, noise_device="tpu"), "noise_device", "not one of the choices"),
    ("SamplerDPMPP_SDE", dict(eta=1.0, s_noise=1.0, r=0.0, noise_device="cpu"), "r", "r > 0"),
    ("SamplerDPMPP_2S_Ancestral", dict(eta=1.0, s_noise=-2.0), "s_noise", "between 0.0 and 100.0"),
    ("SamplerLMS", dict(order=0), "order", "between 1 and 100"),
    ("SamplerLMS", dict(order=2.5), "order", "whole number"),
    ("SamplerDPMAdaptative", dict(defaults("SamplerDPMAdaptative"), order=4), "order", "between 2 and 3"),
    ("SamplerDPMAdaptative", dict(defaults("SamplerDPMAdaptative"), h_init=0.0), "h_init", "size above 0"),
    ("SamplerDPMAdaptative", dict(defaults("SamplerDPMAdaptative"), accept_safety=3.0), "accept_safety",
     "no step could ever be accepted"),
    ("SamplerDPMAdaptative", dict(defaults("SamplerDPMAdaptative"), icoeff=0.0, accept_safety=1.2), "accept_safety",
     "pcoeff, icoeff and dcoeff are 0"),
    ("SamplerER_SDE", dict(solver_type="ER-SDE", max_stage=4, eta=1.0, s_noise=1.0), "max_stage", "between 1 and 3"),
    ("SamplerER_SDE", dict(solver_type="SDE", max_stage=3, eta=1.0, s_noise=1.0), "solver_type",
     "not one of the choices"),
])
def test_bad_values_in_an_imported_document_are_refused_naming_the_node_and_input(executor, node, inputs, bad,
                                                                                    words):
    """Checked before anything runs; the problem names the node (its ComfyUI id) and the input."""
    from flux_core import load_workflow
    from flux_core.graph.workflow import WorkflowError

    from .conftest import fixture

    data = fixture("api_dev_dpmpp2m_beta.json")
    data["11"] = {"class_type": node, "inputs": inputs}
    with pytest.raises(WorkflowError) as caught:
        executor.validate(load_workflow(data, env=executor.env))
    problems = [p for p in caught.value.problems if p.node == "11"]
    assert [p.input for p in problems] == [bad], caught.value.problems
    assert words in problems[0].message and "'11'" in str(caught.value), str(caught.value)


# ------------------------------------------------------------------ ComfyUI's rounding in lms and deis


def test_lms_coefficients_without_scipy_are_the_exact_integrals(monkeypatch):
    """With SciPy, LMS integrates as ComfyUI does (quad over float32 levels); without it, the exact
    antiderivative: the two agree to float32 rounding and the sampler still runs."""
    import builtins

    levels = [float(v) for v in scheduler_levels(NoiseLevels(MU), "karras", 8)]
    with_scipy = [samplers.lms_coefficient(4, levels, 5, j) for j in range(4)]
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    exact = [samplers.lms_coefficient(4, levels, 5, j) for j in range(4)]
    np.testing.assert_allclose(with_scipy, exact, rtol=1e-5, atol=1e-7)
    x = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    out, _ = samplers.run("lms", toy_denoiser, x, levels, options={"order": 5})
    np.testing.assert_allclose(out.double().numpy(), ref_lms(x.double().numpy(), levels, toy_denoiser, 5),
                               rtol=1e-4, atol=2e-5)


def test_deis_coefficients_are_the_same_inside_a_sampling_run():
    """They take d log alpha / dt by autograd, as ComfyUI does; a sampling run is in inference mode."""
    sigmas = torch.tensor([float(v) for v in scheduler_levels(NoiseLevels(MU), "simple", 7)])
    with torch.inference_mode():
        inside = samplers.deis_coefficients(sigmas, 3)
    outside = samplers.deis_coefficients(sigmas, 3)
    assert [len(row) for row in inside] == [0, 2, 3, 3, 3, 3, 0]
    assert all(torch.equal(a, b) for r, s in zip(inside, outside) for a, b in zip(r, s))
