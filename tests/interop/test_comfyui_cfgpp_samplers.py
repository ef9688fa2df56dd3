"""ComfyUI's CFG++ samplers (euler_cfg_pp, dpmpp_2m_cfg_pp, res_multistep_cfg_pp, gradient_estimation_cfg_pp)
against step rules written here from CFG++'s idea (land on the guided estimate D, carry the unconditional
estimate U's noise direction (x - alpha U) / sigma to the next level; alpha = 1 - sigma for a flow), their
reduction to the plain samplers when U = D and convergence then, and through the guiders end to end: the
negative prompt runs even at cfg 1, and BasicGuider's unconditional estimate is zeros, as in ComfyUI."""
import math

import numpy as np
import pytest
import torch

from flux_core import samplers
from flux_core.schedulers import NoiseLevels, scheduler_levels

from .test_comfyui_more_samplers import flow_error
from .test_comfyui_sampler_math import comfy_step_noises, gaussian_denoiser, toy_denoiser

CFG_PP = ["euler_cfg_pp", "euler_ancestral_cfg_pp", "dpmpp_2m_cfg_pp", "res_multistep_cfg_pp",
          "res_multistep_ancestral_cfg_pp", "gradient_estimation_cfg_pp"]
PLAIN = {"euler_cfg_pp": "euler", "euler_ancestral_cfg_pp": "euler_ancestral", "dpmpp_2m_cfg_pp": "dpmpp_2m",
         "res_multistep_cfg_pp": "res_multistep", "res_multistep_ancestral_cfg_pp": "res_multistep_ancestral",
         "gradient_estimation_cfg_pp": "gradient_estimation"}
SEED = 972054013131368


def toy_uncond(x, sigma):
    lib = np if isinstance(x, np.ndarray) else torch
    return lib.tanh(0.5 * x) * (1 - 0.2 * sigma)


def toy_pair(x, sigma, cfg=2.5):
    u = toy_uncond(x, sigma)
    return u + (toy_denoiser(x, sigma) - u) * cfg, u


def ref_cfgpp(name, x, sigmas, pair=toy_pair, noises=None):
    """CFG++ samplers from their step rules in float64 (``noises``: ComfyUI's per-step draws)."""
    x = np.array(x, dtype=np.float64)
    s = [float(v) for v in sigmas]
    old_u = old_slope = old_down = None
    draws = iter(noises or [])
    for i in range(len(s) - 1):
        sc, sn = s[i], s[i + 1]
        d, u = pair(x, sc)
        slope = (x - (1 - sc) * u) / sc  # the unconditional noise direction (= (x - U) / sigma where it matters)
        if name == "euler_cfg_pp":  # DDIM with CFG++: x_next = alpha_next D + sigma_next eps_U
            x = d if sn == 0 else (1 - sn) * d + sn * slope
        elif name == "euler_ancestral_cfg_pp":  # the same with the VE ancestral split of sigma / alpha
            if sn == 0:
                x = d
            else:
                ratio_to = sn / (1 - sn)  # the VE level sigma / alpha
                up = ratio_to  # from sigma 1 (an infinite ratio) all of the step is noise
                if sc < 1:
                    ratio = sc / (1 - sc)
                    up = min(ratio_to, math.sqrt(ratio_to ** 2 * (ratio ** 2 - ratio_to ** 2) / ratio ** 2))
                down = math.sqrt(ratio_to ** 2 - up ** 2)
                x = (1 - sn) * d + (1 - sn) * down * slope + (1 - sn) * next(draws) * up
        elif name == "res_multistep_ancestral_cfg_pp":  # RES on U, VE ancestral split of sigma, noise unscaled
            up = min(sn, math.sqrt(sn ** 2 * (sc ** 2 - sn ** 2) / sc ** 2))
            down = math.sqrt(sn ** 2 - up ** 2)
            if down == 0 or old_u is None:
                x = d + (x - u) / sc * down
            else:
                h = math.log(sc / down)
                gap = math.log(s[i - 1] / old_down)
                x = math.exp(-h) * (x + d - u) + (1 - math.exp(-h)) * u + (h - 1 + math.exp(-h)) * (u - old_u) / gap
            if sn > 0:
                x = x + next(draws) * up
            old_down = down
        elif name == "dpmpp_2m_cfg_pp":  # D + (sigma_next / sigma)(x - U) + (1 - ratio) (D - U_old) / (2 r)
            ratio = sn / sc
            x_new = d + ratio * (x - u)
            if old_u is not None and sn > 0:
                r = math.log(s[i - 1] / sc) / math.log(sc / sn)
                x_new = x_new + (1 - ratio) * (d - old_u) / (2 * r)
            x = x_new
        elif name == "res_multistep_cfg_pp":  # RES 2nd order on U after moving x by D - U
            if sn == 0 or old_u is None:
                x = d + (x - u) / sc * sn
            else:
                h = math.log(sc / sn)
                lam_step = math.log(s[i - 1] / sc)
                x = math.exp(-h) * (x + d - u) + (1 - math.exp(-h)) * u \
                    + (h - 1 + math.exp(-h)) * (u - old_u) / lam_step
        elif name == "gradient_estimation_cfg_pp":  # D + sigma_next d_U + (sigma_next - sigma)(d_U - d_U_old)
            d_u = (x - u) / sc
            if sn == 0:
                x = d
            else:
                x = d + sn * d_u + ((sn - sc) * (d_u - old_slope) if old_slope is not None else 0)
            old_slope = d_u
        else:
            raise AssertionError(name)
        old_u = u
    return x


@pytest.mark.parametrize("mu", [1.15, None])
@pytest.mark.parametrize("name", CFG_PP)
def test_each_cfgpp_sampler_matches_its_step_rule(name, mu):
    torch.manual_seed(3)
    x = torch.randn(2, 3, 5, 4)
    sigmas = scheduler_levels(NoiseLevels(mu), "simple", 9)
    noise = samplers.StepNoise(SEED, tuple(x.shape)) if name in samplers.ANCESTRAL else None
    got, denoised = samplers.run(name, toy_pair, x, sigmas, noise=noise)
    noises = comfy_step_noises(SEED, tuple(x.shape), len(sigmas)) if name in samplers.ANCESTRAL else None
    want = ref_cfgpp(name, x.double().numpy(), sigmas, noises=noises)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-4, atol=2e-5)
    plain, _ = samplers.run(PLAIN[name], lambda xx, s: toy_pair(xx, s)[0], x, sigmas,
                            noise=samplers.StepNoise(SEED, tuple(x.shape)) if noise is not None else None)
    assert (plain - got).abs().max() > 1e-3  # the unconditional estimate matters


@pytest.mark.parametrize("name", CFG_PP)
def test_with_the_unconditional_estimate_equal_to_the_guided_one_cfgpp_is_the_plain_sampler(name):
    torch.manual_seed(5)
    x = torch.randn(2, 3, 5, 4)
    sigmas = scheduler_levels(NoiseLevels(1.15), "beta", 8)
    noise = samplers.StepNoise(SEED, tuple(x.shape)) if name in samplers.ANCESTRAL else None
    got, _ = samplers.run(name, lambda xx, s: (toy_denoiser(xx, s),) * 2, x, sigmas, noise=noise)
    plain, _ = samplers.run(PLAIN[name], toy_denoiser, x, sigmas,
                            noise=samplers.StepNoise(SEED, tuple(x.shape)) if noise is not None else None)
    if name == "euler_ancestral_cfg_pp":  # its ancestral split is ComfyUI's VE one, not euler_ancestral's flow one
        assert (got - plain).abs().max() > 1e-3
    else:
        assert torch.allclose(got, plain, atol=1e-5)


@pytest.mark.parametrize("name, order, steps", [("euler_cfg_pp", 1, 16), ("dpmpp_2m_cfg_pp", 2, 16),
                                                ("res_multistep_cfg_pp", 2, 16), ("gradient_estimation_cfg_pp", 1, 32)])
def test_cfgpp_samplers_converge_at_their_order(name, order, steps, monkeypatch):
    """On the Gaussian flow with U = D (a perfectly unguided model)."""
    from . import test_comfyui_more_samplers

    monkeypatch.setattr(test_comfyui_more_samplers, "gaussian_denoiser", lambda x, s: (gaussian_denoiser(x, s),) * 2)
    coarse, fine = flow_error(name, steps), flow_error(name, 2 * steps)
    measured = math.log2(coarse / fine)
    assert measured > order - 0.4, (name, coarse, fine, measured)
    if order == 1:
        assert measured < 1.35


# ------------------------------------------------------------------ through the guiders, end to end


def test_cfgpp_through_the_guiders(comfy_models, executor):
    """KSampler at cfg 1 with a negative prompt equal to the positive: the negative runs (ComfyUI switches its
    cfg-1 shortcut off for CFG++), so U = D and euler_cfg_pp gives euler's picture; with BasicGuider the
    unconditional estimate is zeros, as in ComfyUI, and the picture is the hand computation with U = 0."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from nodes.flux.sigmas import flux_shift

    from .conftest import fixture
    from .test_comfyui_sampler_math import ref_schedule
    from .test_comfyui_samplers import reference

    def latent(data):
        result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
        assert result.status == "success", result
        return result

    same = fixture("api_dev_2m_sde_ksampler.json")
    same["7"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": ["5", 0], "guidance": 3.5}}
    outs = {}
    for name in ("euler", "euler_cfg_pp", "res_multistep", "res_multistep_cfg_pp"):
        same["9"]["inputs"]["sampler_name"] = name
        outs[name] = latent(same).outputs["9"]["latent"].samples
    assert torch.allclose(outs["euler"], outs["euler_cfg_pp"], atol=1e-4)
    assert torch.allclose(outs["res_multistep"], outs["res_multistep_cfg_pp"], atol=1e-4)
    assert (outs["euler"] - outs["res_multistep"]).abs().max() > 1e-3

    basic = fixture("api_dev_dpmpp2m_beta.json")
    basic["11"]["inputs"]["sampler_name"] = "euler_cfg_pp"
    got = latent(basic).outputs["16"]["image"]
    sigmas = ref_schedule("beta", flux_shift(1.15, 0.5, 64, 48), 6)
    _, want, calls = reference(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", 42, 64, 48,
                               "euler_cfg_pp", sigmas, guidance=3.5,
                               rule=lambda x, levels, den: ref_cfgpp("euler_cfg_pp", x, levels,
                                                                     pair=lambda xx, s: (den(xx, s), 0 * xx)))
    assert len(calls) == 6 and torch.allclose(got, want, atol=1e-4)
    _, plain, _ = reference(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", 42, 64, 48,
                            "euler", sigmas, guidance=3.5)
    assert (plain - want).abs().max() > 1e-3


def test_cfgpp_with_a_noise_mask_holds_the_unmasked_part(comfy_models, executor):
    """Inpainting (Fill, noise mask, KSampler at cfg 1) with euler_cfg_pp: the part outside the mask lands on
    the original as with euler; inside, the negative prompt's estimate shows."""
    from flux_core import load_workflow
    from flux_core.graph.context import Environment
    from flux_core.inpaint import latent_mask

    from .conftest import fixture

    pictures = {}
    for sampler in ("euler", "euler_cfg_pp"):
        data = fixture("api_fill_inpaint.json")
        data["12"]["inputs"]["sampler_name"] = sampler
        result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
        assert result.status == "success", result
        pictures[sampler] = result.outputs["12"]["latent"].samples
        original = result.outputs["11"]["latent"]
    m = latent_mask(original.noise_mask, 1, 16, *original.samples.shape[-2:])
    for out in pictures.values():
        torch.testing.assert_close(out * (m == 0), original.samples * (m == 0), rtol=0, atol=1e-5)
    assert ((pictures["euler"] - pictures["euler_cfg_pp"]).abs() * (m == 1)).amax() > 1e-4


def test_the_masked_guided_prediction_keeps_the_unconditional_estimate_at_the_masked_input():
    """ComfyUI hands CFG++ samplers the unconditional estimate the model gave at the masked input, before its
    mask is applied to the guided one."""
    from flux_core.inpaint import masked_unpacked, masked_unpacked_guided

    torch.manual_seed(6)
    samples, noise = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    pixel_mask = torch.zeros(1, 48, 48)
    pixel_mask[:, :, :24] = 1.0
    seen = []

    def guided(x_in, sigma):
        seen.append(x_in)
        return torch.tanh(x_in), x_in * 0.5 + 1.0

    sigmas = [1.0, 0.6, 0.0]
    _, uncond = masked_unpacked_guided(guided, samples, noise, pixel_mask, sigmas)(torch.randn(1, 4, 6, 6), 0.6)
    assert torch.equal(uncond, seen[0] * 0.5 + 1.0)  # at the masked input, not masked again
    x = torch.randn(1, 4, 6, 6)
    v, _ = masked_unpacked_guided(guided, samples, noise, pixel_mask, sigmas)(x, 0.6)
    plain = masked_unpacked(lambda x_in, s: torch.tanh(x_in), samples, noise, pixel_mask, sigmas)
    assert torch.equal(v, plain(x, 0.6))  # the guided velocity is masked exactly as the plain one
    assert not torch.equal(seen[-1], x)  # the model saw the masked input
