"""FLUX.1 Canny/Depth parity: the control conditioning built by fluxwire (flux_core.control + our
autoencoder) against diffusers' FluxControlPipeline on a tiny random control model (img_in twice the
latent width): the control tokens, one transformer call, and a few-step run's latents."""
from types import SimpleNamespace

import pytest
import torch
from diffusers import FluxControlPipeline

from flux_core import control, sampling
from flux_core.loading.detect import control_kind, is_control

from .helpers import text_free_pipeline, tiny_flux_params, twin_autoencoder, twin_flux

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)
B, L = 2, 5
HEIGHT, WIDTH = 64, 96
Z = 4  # tiny autoencoder latent channels


@pytest.fixture(scope="module")
def setup():
    params = tiny_flux_params(True, in_channels=2 * 4 * Z, out_channels=4 * Z)
    model, ref_model = twin_flux(params, seed=31)
    ae, ref_vae = twin_autoencoder(seed=32, deterministic_encoder=True)
    pipe = text_free_pipeline(FluxControlPipeline, ref_model, ref_vae)
    g = torch.Generator().manual_seed(5)
    edges = (torch.rand(1, HEIGHT, WIDTH, 1, generator=g) > 0.8).float().expand(-1, -1, -1, 3)
    return SimpleNamespace(params=params, model=model, ref_model=ref_model, ae=ae, pipe=pipe, picture=edges,
                           txt=torch.randn(B, L, params.context_in_dim, generator=g),
                           vec=torch.randn(B, params.vec_in_dim, generator=g),
                           noise=torch.randn(B, Z, HEIGHT // 8, WIDTH // 8, generator=g))


def our_tokens(s):
    with torch.no_grad():
        latent = s.ae.encode(control.control_pixels(s.picture))
    return control.control_tokens(latent, B)


def diffusers_tokens(s):
    # the pipeline's own steps for a tensor control picture already in -1..1 (prepare_image, encode, pack)
    pipe = s.pipe
    image = pipe.prepare_image(s.picture.permute(0, 3, 1, 2) * 2 - 1, WIDTH, HEIGHT, B, 1, "cpu", torch.float32)
    with torch.no_grad():
        z = pipe.vae.encode(image).latent_dist.sample()
    z = (z - pipe.vae.config.shift_factor) * pipe.vae.config.scaling_factor
    return pipe._pack_latents(z, B, Z, z.shape[2], z.shape[3])


def test_control_model_is_detected_by_img_in_width(setup):
    config = vars(setup.params)
    assert is_control(config) and control_kind(config, "flux1-canny-dev.safetensors") == "canny"
    assert control_kind(config, "flux1-depth-dev.safetensors") == "depth"
    assert control_kind(vars(tiny_flux_params(True)), "flux1-canny-dev.safetensors") is None


def test_control_conditioning_and_one_transformer_call_match_diffusers(setup):
    ours, theirs = our_tokens(setup), diffusers_tokens(setup)
    assert ours.shape == (B, (HEIGHT // 16) * (WIDTH // 16), 4 * Z)
    torch.testing.assert_close(ours, theirs, **TOL)
    x = sampling.pack(setup.noise)
    ids = sampling.img_ids(B, HEIGHT // 8, WIDTH // 8)
    with torch.no_grad():
        v = control.ChannelConcatVelocity(setup.model, ours)(
            img=x, img_ids=ids, txt=setup.txt, txt_ids=sampling.txt_ids(B, L), y=setup.vec,
            timesteps=torch.full((B,), 0.7), guidance=torch.full((B,), 30.0))
        ref = setup.ref_model(hidden_states=torch.cat((x, theirs), dim=2), timestep=torch.full((B,), 0.7),
                              guidance=torch.full((B,), 30.0), pooled_projections=setup.vec,
                              encoder_hidden_states=setup.txt, txt_ids=sampling.txt_ids(B, L)[0], img_ids=ids[0],
                              return_dict=False)[0]
        without = setup.model(img=torch.cat((x, torch.zeros_like(ours)), dim=-1), img_ids=ids, txt=setup.txt,
                              txt_ids=sampling.txt_ids(B, L), y=setup.vec, timesteps=torch.full((B,), 0.7),
                              guidance=torch.full((B,), 30.0))
    assert v.abs().max() > 0.1 and (v - without).abs().max() > 0.1  # the control picture matters
    torch.testing.assert_close(v, ref, **TOL)


@pytest.mark.parametrize("guidance", [30.0, 10.0])
def test_few_step_control_run_matches_pipeline_latents(setup, guidance):
    steps = 4
    with torch.no_grad():
        expected = setup.pipe(prompt_embeds=setup.txt, pooled_prompt_embeds=setup.vec,
                              control_image=setup.picture.permute(0, 3, 1, 2)[:1] * 2 - 1,
                              latents=sampling.pack(setup.noise), height=HEIGHT, width=WIDTH,
                              num_inference_steps=steps, guidance_scale=guidance, output_type="latent",
                              return_dict=False)[0]
        velocity = control.ChannelConcatVelocity(setup.model, our_tokens(setup))
        img = sampling.pack(setup.noise)
        out = sampling.denoise(velocity, img, sampling.img_ids(B, HEIGHT // 8, WIDTH // 8), setup.txt,
                               sampling.txt_ids(B, L), setup.vec, sampling.get_schedule(steps, img.shape[1]),
                               guidance=guidance)
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(out, expected, **TOL)


def test_control_tokens_spread_over_the_batch_and_refuse_uneven_batches():
    z = torch.randn(2, Z, 4, 6)
    tokens = control.control_tokens(z, 4)
    assert torch.equal(tokens[1], tokens[0]) and torch.equal(tokens[3], tokens[2])
    assert not torch.equal(tokens[0], tokens[2])
    with pytest.raises(ValueError, match="cannot be spread"):
        control.control_tokens(z, 3)
