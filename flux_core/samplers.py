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

from . import samplers_cfgpp as cfgpp
from . import samplers_dpm_solver as dpm_solver
from . import samplers_multistep as multistep
from . import samplers_sa_solver as sa
from . import samplers_seeds as seeds
from . import samplers_stochastic as stochastic
from .sampling_names import SAMPLER_NAMES

Denoiser = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[[int, int, Tensor, Tensor], None] | None
NoiseSource = Callable[[], Tensor]


class StepNoise:
    """Fresh noise for ancestral steps: ComfyUI's default noise sampler. One generator on ``device`` seeded
    with the run's seed, one draw of x's shape per call (so the numbers depend on the device's generator,
    as in ComfyUI)."""

    def __init__(self, seed: int, shape: tuple[int, ...], device: torch.device | str = "cpu"):
        self.seed, self.shape, self.device = int(seed), tuple(shape), torch.device(device)
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
                    noise: NoiseSource | None = None, eta: float = 1.0, s_noise: float = 1.0):
    """ComfyUI's rectified-flow ancestral Euler: step down to sigma_next^2 / sigma (for eta 1), then scale
    towards the data and add fresh noise (times ``s_noise``) so the marginal at sigma_next is right."""
    multistep.need_noise(noise, "euler_ancestral")
    denoised = None
    n = len(sigmas) - 1
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        if s_next == 0:
            x = denoised
        else:
            sigma_down, rescale, renoise = multistep.rf_ancestral_step(s, s_next, eta)
            ratio = sigma_down / s
            x = ratio * x + (1 - ratio) * denoised
            if eta > 0:
                x = rescale * x + noise() * s_noise * renoise
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


def heunpp2(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None,
            noise: NoiseSource | None = None):
    """Heun++ (Carzit's sd-webui-samplers-scheduler, as ComfyUI runs it): Euler predictions to the next two
    levels, their slopes averaged with weights that grow with those levels (sigma / (3 sigma_0) each);
    with one level left before the end the same with two slopes (sigma_next / (2 sigma_0)), and the last
    step plain Euler. Up to three model calls per step (ComfyUI's churn options are off by default; the
    churn noise it still draws from torch's global generator each step is multiplied by nothing, so it is
    not drawn here)."""
    denoised = None
    n = len(sigmas) - 1
    end, first = sigmas[-1], sigmas[0]
    for i in range(n):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, s)
        d = _d(x, s, denoised)
        dt = s_next - s
        if s_next == end:
            x = x + d * dt
            if callback is not None:
                callback(i, n, x, denoised)
            continue
        x_2 = x + d * dt
        d_2 = _d(x_2, s_next, model(x_2, s_next))
        if sigmas[i + 2] == end:
            w_2 = s_next / (2 * first)
            slope = d * (1 - w_2) + d_2 * w_2
        else:
            s_after = sigmas[i + 2]
            x_3 = x_2 + d_2 * (s_after - s_next)
            d_3 = _d(x_3, s_after, model(x_3, s_after))
            w_2, w_3 = s_next / (3 * first), s_after / (3 * first)
            slope = (1 - w_2 - w_3) * d + w_2 * d_2 + w_3 * d_3
        x = x + slope * dt
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
        ratio = t_next.neg().exp() / t.neg().exp()  # ComfyUI's sigma_next / sigma, back from t (float32 rounding)
        if old is None or s_next == 0:
            x = ratio * x - (-h).expm1() * denoised
        else:
            r = (t - (-sigmas[i - 1].log())) / h
            blended = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = ratio * x - (-h).expm1() * blended
        old = denoised
        if callback is not None:
            callback(i, n, x, denoised)
    return x, denoised


def lms_coefficient(order: int, sigmas: list[float], i: int, j: int) -> float:
    """The integral over [sigma_i, sigma_i+1] of the Lagrange basis polynomial j through the last `order`
    levels. ComfyUI integrates it with SciPy's adaptive quadrature on its float32 levels (so, with NumPy 2's
    promotion rules, the polynomial is evaluated in float32); with SciPy installed the same is done here, so
    the rounding matches, which the large alternating coefficients of high orders show. Without SciPy the
    polynomial's antiderivative gives the exact value (within float32 rounding of ComfyUI's)."""
    try:
        import numpy as np
        from scipy import integrate
    except ImportError:
        return _lms_coefficient_exact([sigmas[i - k] for k in range(order)], j, sigmas[i], sigmas[i + 1])
    nodes = [np.float32(sigmas[i - k]) for k in range(order)]

    def basis(tau: float) -> float:
        product = 1.0
        for k, node in enumerate(nodes):
            if k != j:
                product *= (tau - node) / (nodes[j] - node)
        return product

    return integrate.quad(basis, np.float32(sigmas[i]), np.float32(sigmas[i + 1]), epsrel=1e-4)[0]


def _lms_coefficient_exact(nodes: list[float], j: int, start: float, end: float) -> float:
    import numpy as np

    poly = np.polynomial.Polynomial([1.0])
    for k, node in enumerate(nodes):
        if k != j:
            poly = poly * np.polynomial.Polynomial([-node, 1.0]) / (nodes[j] - node)
    antiderivative = poly.integ()
    return float(antiderivative(end) - antiderivative(start))


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
    import numpy as np

    # ComfyUI's constants, with its types: NumPy's log of float32 0.002^2 + 1 (float32) and of the whole
    # number 80^2 + 1 (float64), so the betas are float64 scalars (the arithmetic with the float32 levels
    # rounds them as there)
    eps = 1e-3
    log_lo = torch.tensor(np.log((torch.tensor(0.002) ** 2 + 1).numpy()), dtype=torch.float32)
    log_hi = torch.tensor(np.log(np.int64(80 ** 2 + 1)), dtype=torch.float64)
    beta_d = 2 * (log_lo / eps - log_hi) / (eps - 1)
    beta_0 = log_hi - 0.5 * beta_d
    beta_1 = beta_d + beta_0
    t = ((beta_0 ** 2 + 2 * beta_d * torch.log(sigmas ** 2 + 1)).sqrt() - beta_0) / beta_d
    coefficients: list[list[Tensor]] = []
    for i in range(len(t) - 1):
        order = min(i + 1, max_order)
        if order == 1 or sigmas[i + 1] <= 0:
            coefficients.append([])
            continue
        taus = torch.linspace(float(t[i]), float(t[i + 1]), points)
        # d log alpha / dt as ComfyUI gets it, by autograd (on copies: a sampling run is in inference mode)
        with torch.inference_mode(False), torch.enable_grad():
            where, b_0, b_1 = taus.clone().requires_grad_(True), beta_0.clone(), beta_1.clone()
            alpha = torch.exp(-0.5 * where ** 2 * (b_1 - b_0) - where * b_0)
            alpha.log().sum().backward()
        alpha = alpha.detach()
        weight = -0.5 * where.grad / torch.sqrt(alpha * (1 - alpha))
        nodes = [t[i - k] for k in range(order)]
        row = []
        for j in range(order):
            basis = torch.ones_like(taus)
            for k in range(order):
                if k != j:
                    basis = basis * ((taus - nodes[k]) / (nodes[j] - nodes[k]))  # ComfyUI's rounding order
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


# ---------------------------------------------------------------------------------------------
# UniPC (Zhao et al. 2023) as ComfyUI runs it: on variance-preserving coordinates made from sigma


def _log_alpha(sigma: Tensor) -> Tensor:
    """log alpha of the VP process with the same signal-to-noise ratio as level sigma."""
    return 0.5 * torch.log(1 / ((sigma * sigma) + 1))


def _vp_std(sigma: Tensor) -> Tensor:
    return torch.sqrt(1.0 - torch.exp(2.0 * _log_alpha(sigma)))


def _vp_lambda(sigma: Tensor) -> Tensor:
    """Half log signal-to-noise ratio log(alpha / std)."""
    log_alpha = _log_alpha(sigma)
    return log_alpha - 0.5 * torch.log(1.0 - torch.exp(2.0 * log_alpha))


def _unipc_update(data, x, history, times, t, order, use_corrector, variant):
    """One UniPC B(h) step to level t from the last `order` data predictions (newest last): predictor,
    then (when ``use_corrector``) one model call at t and the corrector. Returns (x, prediction at t)."""
    t_0, model_0 = times[-1], history[-1]
    lambda_0, lambda_t = _vp_lambda(t_0), _vp_lambda(t)
    alpha_t = torch.exp(_log_alpha(t))
    h = lambda_t - lambda_0
    rks, d1s = [], []
    for i in range(1, order):
        rk = (_vp_lambda(times[-(i + 1)]) - lambda_0) / h
        rks.append(rk)
        d1s.append((history[-(i + 1)] - model_0) / rk)
    rks.append(1.0)
    rks = torch.tensor(rks)
    hh = -h
    h_phi_1 = torch.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    factorial = 1
    b_h = hh if variant == "bh1" else torch.expm1(hh)
    rows, b = [], []
    for i in range(1, order + 1):
        rows.append(torch.pow(rks, i - 1))
        b.append(h_phi_k * factorial / b_h)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    r = torch.stack(rows)
    b = torch.tensor(b)
    stacked = torch.stack(d1s, dim=1) if d1s else None
    x_base = (_vp_std(t) / _vp_std(t_0)) * x - (alpha_t * h_phi_1) * model_0
    prediction = 0
    if stacked is not None:
        rhos_p = torch.tensor([0.5]) if order == 2 else torch.linalg.solve(r[:-1, :-1], b[:-1])
        prediction = torch.tensordot(stacked, rhos_p, dims=([1], [0]))
    x_t = x_base - (alpha_t * b_h) * prediction
    model_t = None
    if use_corrector:
        rhos_c = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(r, b)
        model_t = data(x_t, t)
        correction = torch.tensordot(stacked, rhos_c[:-1], dims=([1], [0])) if stacked is not None else 0
        x_t = x_base - (alpha_t * b_h) * (correction + rhos_c[-1] * (model_t - model_0))
    return x_t, model_t


def uni_pc(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None,
           noise: NoiseSource | None = None, variant: str = "bh1"):
    """UniPC multistep (order up to 3, lower orders at the start and end, corrector on every step but the
    last). ComfyUI treats sigma as a VP process's noise-to-signal ratio: x is divided by sqrt(1 + sigma^2),
    a final level 0 becomes 0.001, and — because ComfyUI writes that 0.001 into the schedule its caller
    then divides by (1 - sigma_last) — the result is divided by 1 - 0.001 as well."""
    times = sigmas.clone()
    ends_at_zero = bool(times[-1] == 0)
    if ends_at_zero:
        times[-1] = 0.001
    lost = [float(t) for t in times if _vp_std(t) == 0]
    if lost:  # in float32 1 / (sigma^2 + 1) rounds to 1 there: ComfyUI's UniPC then gives a NaN picture
        raise ValueError(f"uni_pc cannot use noise level {lost[0]:.3g}: below about 2.5e-4 its float32 "
                         f"arithmetic loses the level (ComfyUI gives a black picture); use another scheduler "
                         f"(simple, normal, beta, ...) or sampler")
    steps = len(times) - 1
    order = min(3, len(times) - 2)
    x = x / torch.sqrt(1.0 + times[0] ** 2.0)

    def data(x_vp, t):  # the data prediction at VP point x_vp: via ComfyUI's noise prediction
        edm = x_vp * ((t ** 2 + 1.0) ** 0.5)
        eps = (edm - model(edm, t)) / t
        return (x_vp - _vp_std(t) * eps) / torch.exp(_log_alpha(t))

    history, seen = [data(x, times[0])], [times[0]]
    for index in range(steps):
        if index == 0:
            pass
        elif index < order:  # warm-up: the order grows with the history
            t = times[index]
            x, model_x = _unipc_update(data, x, history, seen, t, index, True, variant)
            history.append(model_x if model_x is not None else data(x, t))
            seen.append(t)
        else:
            for step in range(index, index + 1 + (index == steps - 1)):  # the last index also lands on the end
                t = times[step]
                x, model_x = _unipc_update(data, x, history, seen, t, min(order, steps + 1 - step), step != steps,
                                           variant)
                history, seen = history[1:] + history[-1:], seen[1:] + [t]
                if step < steps:
                    history[-1] = model_x if model_x is not None else data(x, t)
        if callback is not None:
            callback(index, steps, x, history[-1])
    x = x / torch.exp(_log_alpha(times[-1]))
    if ends_at_zero:
        x = x / (1.0 - times[-1])
    return x, history[-1]


def uni_pc_bh2(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback = None,
               noise: NoiseSource | None = None):
    return uni_pc(model, x, sigmas, callback, noise, variant="bh2")


SAMPLERS = {"euler": euler, "euler_cfg_pp": cfgpp.euler_cfg_pp, "euler_ancestral": euler_ancestral,
            "euler_ancestral_cfg_pp": cfgpp.euler_ancestral_cfg_pp, "heun": heun, "heunpp2": heunpp2, "dpm_2": dpm_2,
            "dpm_2_ancestral": stochastic.dpm_2_ancestral, "lms": lms, "dpm_fast": dpm_solver.dpm_fast,
            "dpm_adaptive": dpm_solver.dpm_adaptive, "dpmpp_2s_ancestral": stochastic.dpmpp_2s_ancestral,
            "dpmpp_2s_ancestral_cfg_pp": cfgpp.dpmpp_2s_ancestral_cfg_pp, "dpmpp_sde": stochastic.dpmpp_sde,
            "dpmpp_sde_gpu": stochastic.dpmpp_sde_gpu, "dpmpp_2m": dpmpp_2m, "dpmpp_2m_cfg_pp": cfgpp.dpmpp_2m_cfg_pp,
            "dpmpp_2m_sde": stochastic.dpmpp_2m_sde, "dpmpp_2m_sde_gpu": stochastic.dpmpp_2m_sde_gpu,
            "dpmpp_2m_sde_heun": stochastic.dpmpp_2m_sde_heun, "dpmpp_2m_sde_heun_gpu": stochastic.dpmpp_2m_sde_heun_gpu,
            "dpmpp_3m_sde": stochastic.dpmpp_3m_sde, "dpmpp_3m_sde_gpu": stochastic.dpmpp_3m_sde_gpu,
            "ddpm": stochastic.ddpm, "lcm": stochastic.lcm, "ipndm": multistep.ipndm, "ipndm_v": multistep.ipndm_v,
            "deis": deis, "res_multistep": multistep.res_multistep, "res_multistep_cfg_pp": cfgpp.res_multistep_cfg_pp,
            "res_multistep_ancestral": multistep.res_multistep_ancestral,
            "res_multistep_ancestral_cfg_pp": cfgpp.res_multistep_ancestral_cfg_pp,
            "gradient_estimation": multistep.gradient_estimation,
            "gradient_estimation_cfg_pp": cfgpp.gradient_estimation_cfg_pp, "er_sde": stochastic.er_sde,
            "seeds_2": seeds.seeds_2, "seeds_3": seeds.seeds_3, "sa_solver": sa.sa_solver,
            "sa_solver_pece": sa.sa_solver_pece, "ddim": euler, "uni_pc": uni_pc, "uni_pc_bh2": uni_pc_bh2}
assert list(SAMPLERS) == SAMPLER_NAMES
BROWNIAN = frozenset({"dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde"})  # torchsde's noise
BROWNIAN = BROWNIAN | {name + "_gpu" for name in BROWNIAN}  # the _gpu ones: the tree on the latent's device
SA_SOLVERS = frozenset({"sa_solver", "sa_solver_pece"})  # stochastic inside a window of the model's levels
# samplers that add fresh noise while sampling (they get a StepNoise; the Brownian ones take its seed)
ANCESTRAL = frozenset({"euler_ancestral", "euler_ancestral_cfg_pp", "dpm_2_ancestral", "dpmpp_2s_ancestral",
                       "dpmpp_2s_ancestral_cfg_pp", "ddpm", "lcm", "res_multistep_ancestral",
                       "res_multistep_ancestral_cfg_pp", "er_sde", "seeds_2", "seeds_3"}) | BROWNIAN | SA_SOLVERS
# they move a first level 1 to the model's 0.01 % level
SNR_SAMPLERS = frozenset({"er_sde", "seeds_2", "seeds_3"}) | BROWNIAN | SA_SOLVERS
# CFG++ samplers: their model returns (guided, unconditional) denoised estimates (samplers_cfgpp)
CFG_PP = frozenset({"euler_cfg_pp", "euler_ancestral_cfg_pp", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_2m_cfg_pp",
                    "res_multistep_cfg_pp", "res_multistep_ancestral_cfg_pp", "gradient_estimation_cfg_pp"})
RANDOM_INPAINT_NOISE = frozenset({"ddim"})  # ComfyUI holds the unmasked part with noise of seed + 1


def draws_noise(name: str, options: dict | None = None) -> bool:
    """Whether sampler ``name`` with these settings needs the run's step noise: the ancestral ones, and
    dpm_adaptive when a SamplerDPMAdaptative node gives it an eta."""
    return name in ANCESTRAL or (name == "dpm_adaptive" and bool((options or {}).get("eta", 0.0)))


def unsupported_message(name: str) -> str:
    return f"sampler {name!r} is not supported by fluxwire (supported: {', '.join(SAMPLER_NAMES)})"


def run(name: str, model: Denoiser, x: Tensor, sigmas: list[float], callback: Callback = None,
        noise: NoiseSource | None = None, mu: float | None = None,
        options: dict | None = None) -> tuple[Tensor, Tensor]:
    """Run sampler `name` along `sigmas` from x (float32); returns (x, last denoised estimate). ``mu`` is the
    model's ModelSamplingFlux shift (None for schnell's table): the SDE samplers start at its 0.01 % level.
    For the CFG_PP samplers ``model`` returns the pair (guided, unconditional denoised estimate).
    ``options`` are a sampler node's settings (SamplerEulerAncestral's, SamplerSASolver's, ...: see
    nodes/flux/sampler_settings.py), passed to the step rule."""
    if name not in SAMPLERS:
        raise ValueError(unsupported_message(name))
    levels = torch.tensor([float(s) for s in sigmas], dtype=torch.float32)
    options = dict(options or {})
    if name in SNR_SAMPLERS:
        options["snr_start"] = stochastic.snr_start_level(mu)
        if name in SA_SOLVERS:  # ComfyUI's default SDE window: the model's levels at 20 % and 80 %
            options.setdefault("sde_window", (stochastic.percent_level(mu, 0.2), stochastic.percent_level(mu, 0.8)))
        x, denoised = SAMPLERS[name](model, x.float(), levels, callback, noise, **options)
        return x, x if denoised is None else denoised
    return SAMPLERS[name](model, x.float(), levels, callback, noise, **options)
