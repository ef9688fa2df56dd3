"""FLUX.1 Fill parity: conditioning built by fluxwire (flux_core.fill + our autoencoder) against diffusers'
FluxFillPipeline on a tiny random Fill model: one transformer call, and a few-step run's latents."""
from types import SimpleNamespace

import pytest
import torch
from diffusers import FluxFillPipeline

from flux_core import control, fill, sampling

from .helpers import text_free_pipeline, tiny_flux_params, twin_autoencoder, twin_flux

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)
B, L = 2, 5
HEIGHT, WIDTH = 64, 96
Z = 4  # tiny autoencoder latent channels


@pytest.fixture(scope="module")
def setup():
    params = tiny_flux_params(True, in_channels=2 * 4 * Z + 256, out_channels=4 * Z)
    assert fill.is_fill(params.in_channels, params.out_channels)
    model, ref_model = twin_flux(params, seed=21)
    ae, ref_vae = twin_autoencoder(seed=22, deterministic_encoder=True)
    pipe = text_free_pipeline(FluxFillPipeline, ref_model, ref_vae)
    g = torch.Generator().manual_seed(4)
    picture = torch.rand(B, HEIGHT, WIDTH, 3, generator=g)
    mask = torch.zeros(B, HEIGHT, WIDTH)
    mask[0, 8:40, 16:72] = torch.rand(32, 56, generator=g) * 0.6 + 0.3  # soft: binarised at 0.5
    mask[1, 24:64, :48] = 1
    return SimpleNamespace(model=model, ref_model=ref_model, ae=ae, pipe=pipe, picture=picture, mask=mask,
                           txt=torch.randn(B, L, params.context_in_dim, generator=g),
                           vec=torch.randn(B, params.vec_in_dim, generator=g),
                           noise=torch.randn(B, Z, HEIGHT // 8, WIDTH // 8, generator=g))


def our_tokens(s):
    with torch.no_grad():
        masked_latent = s.ae.encode(fill.masked_pixels(s.picture, s.mask))
    return fill.fill_tokens(masked_latent, s.mask, B)


def diffusers_tokens(s):
    pipe = s.pipe
    image = pipe.image_processor.preprocess(s.picture.permute(0, 3, 1, 2), height=HEIGHT, width=WIDTH)
    mask_image = pipe.mask_processor.preprocess(s.mask[:, None], height=HEIGHT, width=WIDTH)
    with torch.no_grad():
        mask, masked = pipe.prepare_mask_latents(mask_image, image * (1 - mask_image), B, Z, 1, HEIGHT, WIDTH,
                                                 torch.float32, "cpu", None)
    return torch.cat((masked, mask), dim=-1)


def test_fill_conditioning_and_one_transformer_call_match_diffusers(setup):
    ours, theirs = our_tokens(setup), diffusers_tokens(setup)
    assert ours.shape == (B, (HEIGHT // 16) * (WIDTH // 16), 4 * Z + 256)
    torch.testing.assert_close(ours, theirs, **TOL)
    mask_part = ours[..., 4 * Z:]
    assert set(mask_part.unique().tolist()) == {0.0, 1.0} and mask_part.mean() > 0.1
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
    assert v.abs().max() > 0.1
    torch.testing.assert_close(v, ref, **TOL)


def test_few_step_fill_run_matches_pipeline_latents(setup):
    steps, guidance = 4, 30.0
    with torch.no_grad():
        expected = setup.pipe(prompt_embeds=setup.txt, pooled_prompt_embeds=setup.vec,
                              image=setup.picture.permute(0, 3, 1, 2), mask_image=setup.mask[:, None],
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


def test_pack_mask_layout_by_hand():
    m = torch.zeros(1, 16, 16)
    m[0, 3, 5] = 1  # latent cell (0, 0), pixel (3, 5) in it -> channel 3*8 + 5 = 29, token 0, feature 29*4
    m[0, 9, 10] = 1  # latent cell (1, 1), pixel (1, 2) -> channel 10, feature 10*4 + 1*2 + 1
    tokens = fill.pack_mask(m)
    assert tokens.shape == (1, 1, 256)
    assert torch.nonzero(tokens[0, 0]).flatten().tolist() == [43, 116]
