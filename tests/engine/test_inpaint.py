"""Masked sampling (flux_core.inpaint) against ComfyUI's KSampler-with-noise-mask loop written in its own
terms (clean estimates, k-diffusion Euler), and DifferentialDiffusion's thresholds by hand."""
import pytest
import torch

from flux_core import inpaint, sampling
from flux_core.models import Flux

from tests.parity.helpers import randomize_, tiny_flux_params

B, C, H, W = 1, 4, 8, 12  # latent cells


@pytest.fixture(scope="module")
def setup():
    model = randomize_(Flux(tiny_flux_params(True)), seed=5).eval()
    g = torch.Generator().manual_seed(1)
    return dict(model=model, original=torch.randn(B, C, H, W, generator=g), noise=torch.randn(B, C, H, W, generator=g),
                txt=torch.randn(B, 3, 12, generator=g), vec=torch.randn(B, 8, generator=g))


def kwargs(s):
    return dict(img_ids=sampling.img_ids(B, H, W), txt=s["txt"], txt_ids=sampling.txt_ids(B, 3), y=s["vec"])


def comfy_loop(s, mask_latent, sigmas, mask_fn=None):
    """ComfyUI: KSamplerX0Inpaint around the model's x0 prediction, k-diffusion's Euler on x."""
    orig, noise = s["original"], s["noise"]
    x = sigmas[0] * noise + (1 - sigmas[0]) * orig

    def denoised(x, sigma):
        m = mask_fn(sigma) if mask_fn else mask_latent
        xin = x * m + (sigma * noise + (1 - sigma) * orig) * (1 - m)
        v = s["model"](img=sampling.pack(xin), timesteps=torch.full((B,), sigma), guidance=torch.full((B,), 3.5),
                       **kwargs(s))
        x0 = xin - sigma * sampling.unpack(v, H * 8, W * 8)
        return x0 * m + orig * (1 - m)

    for sigma, nxt in zip(sigmas[:-1], sigmas[1:]):
        d = (x - denoised(x, sigma)) / sigma
        x = x + d * (nxt - sigma)
    return x


def ours(s, pixel_mask, sigmas, differential=0.0):
    wrapped = inpaint.masked_velocity(s["model"], s["original"], s["noise"], pixel_mask, "cpu", torch.float32,
                                      sigmas, differential)
    start = sampling.img2img_start(s["original"], s["noise"], sigmas[0])
    out = sampling.denoise(wrapped, sampling.pack(start), sampling.img_ids(B, H, W), s["txt"], sampling.txt_ids(B, 3),
                           s["vec"], sigmas, guidance=3.5)
    return sampling.unpack(out, H * 8, W * 8)


def test_binary_mask_keeps_the_rest_exactly_and_matches_comfy(setup):
    pixel = torch.zeros(1, H * 8, W * 8)
    pixel[:, 16:48, 32:80] = 1
    sigmas = sampling.get_schedule(4, H * W // 4)
    out = ours(setup, pixel, sigmas)
    m = inpaint.latent_mask(pixel, B, C, H, W)
    assert set(m.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(out * (1 - m), setup["original"] * (1 - m), rtol=0, atol=1e-5)
    assert ((out - setup["original"]) * m).abs().max() > 0.1
    torch.testing.assert_close(out, comfy_loop(setup, m, sigmas), rtol=1e-4, atol=1e-4)


def test_soft_mask_and_img2img_denoise_match_comfy(setup):
    pixel = torch.linspace(0, 1, W * 8).expand(1, H * 8, -1)
    sigmas = sampling.schedule_for_denoise(4, H * W // 4, denoise=0.6)
    m = inpaint.latent_mask(pixel, B, C, H, W)
    torch.testing.assert_close(ours(setup, pixel, sigmas), comfy_loop(setup, m, sigmas), rtol=1e-4, atol=1e-4)


def test_differential_diffusion_matches_comfy(setup):
    pixel = torch.linspace(0, 1, W * 8).expand(1, H * 8, -1)
    sigmas = sampling.get_schedule(5, H * W // 4)
    m = inpaint.latent_mask(pixel, B, C, H, W)
    smin = inpaint.comfy_sigma_min(True)

    def mask_fn(sigma):  # ComfyUI DifferentialDiffusion.forward, strength 1
        end = max(sigmas[-1], smin)
        return (m >= (sigma - end) / (sigmas[0] - end)).float()

    out = ours(setup, pixel, sigmas, differential=1.0)
    torch.testing.assert_close(out, comfy_loop(setup, m, sigmas, mask_fn), rtol=1e-4, atol=1e-4)
    assert (out - ours(setup, pixel, sigmas)).abs().max() > 1e-2  # differs from the plain soft mask


def test_differential_thresholds_by_hand():
    mask = torch.tensor([0.0, 0.3, 0.5, 0.8, 1.0])
    sigmas = [1.0, 0.5, 0.0]
    # end = sigma_min 0.001: at t = 0.5 the threshold is (0.5 - 0.001) / 0.999 = 0.4995
    assert inpaint.differential_mask(mask, 0.5, sigmas, 0.001).tolist() == [0, 0, 1, 1, 1]
    assert inpaint.differential_mask(mask, 1.0, sigmas, 0.001).tolist() == [0, 0, 0, 0, 1]
    half = inpaint.differential_mask(mask, 0.5, sigmas, 0.001, strength=0.5)
    torch.testing.assert_close(half, torch.tensor([0.0, 0.15, 0.75, 0.9, 1.0]))
    assert inpaint.comfy_sigma_min(False) == 1e-3
    assert inpaint.comfy_sigma_min(True) == pytest.approx(3.158 / 10002.158, rel=1e-3)


def test_differential_diffusion_node_strength_zero_acts_as_one_like_comfy():
    from nodes.flux.inpaint import DifferentialDiffusion
    from nodes.flux.values import FluxModel

    model = FluxModel(torch.nn.Linear(1, 1), "m")
    assert DifferentialDiffusion().run(None, model, 0.0).differential == 1.0
    assert DifferentialDiffusion().run(None, model, 0.4).differential == 0.4
    assert model.differential == 0.0  # the input model is left as it was
