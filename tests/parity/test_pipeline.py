"""parity-plan rows 10, 11, 14: our sampling loop vs diffusers' FluxPipeline (latents and pixels),
img2img noising vs FluxImg2ImgPipeline's start index and the scheduler's scale_noise."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, FluxImg2ImgPipeline, FluxPipeline

from flux_core import sampling

from .helpers import dev_scheduler, text_free_pipeline, tiny_flux_params, twin_autoencoder, twin_flux

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)
B, L = 2, 5
HEIGHT, WIDTH = 64, 96  # pixels; latent 8x12 with the x8 tiny VAE


@pytest.fixture(scope="module", params=["dev", "schnell"])
def setup(request):
    dev = request.param == "dev"
    params = tiny_flux_params(dev)
    model, ref_model = twin_flux(params, seed=11)
    ae, ref_vae = twin_autoencoder(seed=12)
    scheduler = dev_scheduler() if dev else FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    pipe = text_free_pipeline(FluxPipeline, ref_model, ref_vae, scheduler)
    g = torch.Generator().manual_seed(3)
    cond = dict(
        txt=torch.randn(B, L, params.context_in_dim, generator=g),
        vec=torch.randn(B, params.vec_in_dim, generator=g),
        noise=torch.randn(B, 4, HEIGHT // 8, WIDTH // 8, generator=g),
    )
    return SimpleNamespace(dev=dev, model=model, ae=ae, pipe=pipe, **cond)


def run_ours(s, steps, guidance, callback=None):
    img = sampling.pack(s.noise)
    timesteps = sampling.get_schedule(steps, img.shape[1], shift=s.dev)
    return sampling.denoise(
        s.model, img, sampling.img_ids(B, HEIGHT // 8, WIDTH // 8), s.txt, sampling.txt_ids(B, L), s.vec,
        timesteps, guidance=guidance if s.dev else None, callback=callback,
    )  # fmt: skip


def run_pipeline(s, steps, guidance, output_type, on_step=None):
    kwargs = {}
    if on_step is not None:
        kwargs = dict(callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
    return s.pipe(
        prompt_embeds=s.txt, pooled_prompt_embeds=s.vec, latents=sampling.pack(s.noise),
        height=HEIGHT, width=WIDTH, num_inference_steps=steps, guidance_scale=guidance,
        output_type=output_type, return_dict=False, **kwargs,
    )[0]  # fmt: skip


def test_sampling_loop_matches_pipeline_latents_every_step(setup):
    steps, guidance = 5, 3.5
    ours_steps, ref_steps = [], []

    def on_step(pipe, i, t, kwargs):
        ref_steps.append(kwargs["latents"].clone())
        return {}

    expected = run_pipeline(setup, steps, guidance, "latent", on_step)
    out = run_ours(setup, steps, guidance, callback=lambda i, n, x, x0: ours_steps.append((i, n, x.clone())))
    assert [(i, n) for i, n, _ in ours_steps] == [(i, steps) for i in range(steps)]
    assert len(ref_steps) == steps
    for (i, _, x), ref in zip(ours_steps, ref_steps):
        torch.testing.assert_close(x, ref, **TOL, msg=f"after step {i}")
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(out, expected, **TOL)


def test_end_to_end_pixels_match_pipeline(setup):
    steps, guidance = 4, 3.5
    expected = run_pipeline(setup, steps, guidance, "pt")  # [0, 1] floats, NCHW
    latents = run_ours(setup, steps, guidance)
    pixels = setup.ae.decode(sampling.unpack(latents, HEIGHT, WIDTH))
    ours = (pixels.clamp(-1, 1) + 1) / 2
    assert ours.shape == expected.shape == (B, 3, HEIGHT, WIDTH)
    assert expected.std() > 0.01
    torch.testing.assert_close(ours, expected, **TOL)


def test_guidance_changes_dev_output_only(setup):
    a = run_ours(setup, 2, 3.5)
    b = run_ours(setup, 2, 1.0)
    if setup.dev:
        assert (a - b).abs().max() > 1e-2
    else:
        assert torch.equal(a, b)


def test_callback_sees_pred_x0_and_its_exception_stops_sampling(setup):
    calls = []
    model_calls = []

    def model(**kw):
        model_calls.append(kw["timesteps"][0].item())
        return setup.model(**kw)

    class Interrupt(Exception):
        pass

    def callback(i, n, x, x0):
        calls.append((x, x0))
        raise Interrupt

    img = sampling.pack(setup.noise)
    timesteps = [1.0, 0.6, 0.0]
    with pytest.raises(Interrupt):
        sampling.denoise(
            model, img, sampling.img_ids(B, 8, 12), setup.txt, sampling.txt_ids(B, L), setup.vec, timesteps,
            guidance=3.5 if setup.dev else None, callback=callback,
        )  # fmt: skip
    assert model_calls == [1.0] and len(calls) == 1
    v = setup.model(
        img=img, img_ids=sampling.img_ids(B, 8, 12), txt=setup.txt, txt_ids=sampling.txt_ids(B, L),
        timesteps=torch.full((B,), 1.0), y=setup.vec, guidance=torch.full((B,), 3.5) if setup.dev else None,
    )  # fmt: skip
    x, x0 = calls[0]
    torch.testing.assert_close(x, img - 0.4 * v, **TOL)
    torch.testing.assert_close(x0, img - v, **TOL)  # at t = 1 the clean estimate is x - v


@pytest.mark.parametrize("strength", [0.3, 0.6, 0.8, 1.0])
@pytest.mark.parametrize("steps", [20, 28])
def test_img2img_start_matches_diffusers(strength, steps):
    seq = 24
    sched = dev_scheduler()
    sched.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=sampling.get_lin_function()(seq))
    timesteps, n_run = FluxImg2ImgPipeline.get_timesteps(SimpleNamespace(scheduler=sched), steps, strength, "cpu")
    start = sampling.img2img_start_index(steps, strength)
    assert steps - start == n_run
    schedule = sampling.get_schedule(steps, seq)
    assert schedule[start] == pytest.approx(float(sched.sigmas[start]), abs=1e-6)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, seq, 16, generator=g), torch.randn(2, seq, 16, generator=g)
    expected = sched.scale_noise(x0, timesteps[:1], noise)
    torch.testing.assert_close(sampling.img2img_start(x0, noise, schedule[start]), expected, rtol=0, atol=1e-6)


def test_img2img_strength_bounds():
    assert sampling.img2img_start_index(20, 1.0) == 0
    assert sampling.img2img_start_index(20, 0.0) == 20
    assert sampling.img2img_start_index(20, 0.8) == 4  # BFL's int((1 - 0.8) * 20) would give 3
    with pytest.raises(ValueError, match="strength"):
        sampling.img2img_start_index(20, 1.2)
