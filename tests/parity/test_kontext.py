"""FLUX.1 Kontext parity: reference tokens built by fluxwire (flux_core.kontext + our autoencoder) against
diffusers' FluxKontextPipeline on a tiny random model: one transformer call and a few-step run's latents;
several references placed by hand-computed ids (ComfyUI's offset/index/uxo rules)."""
from types import SimpleNamespace

import pytest
import torch
from diffusers import FluxKontextPipeline

from flux_core import kontext, sampling

from .helpers import text_free_pipeline, tiny_flux_params, twin_autoencoder, twin_flux

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)
B, L = 2, 5
HEIGHT, WIDTH = 64, 96  # generated picture
REF_H, REF_W = 48, 80  # the reference picture: another size, so the ids differ from the output's


@pytest.fixture(scope="module")
def setup():
    params = tiny_flux_params(True)
    model, ref_model = twin_flux(params, seed=31)
    ae, ref_vae = twin_autoencoder(seed=32)
    pipe = text_free_pipeline(FluxKontextPipeline, ref_model, ref_vae)
    g = torch.Generator().manual_seed(6)
    return SimpleNamespace(model=model, ref_model=ref_model, ae=ae, pipe=pipe,
                           picture=torch.rand(1, REF_H, REF_W, 3, generator=g),
                           txt=torch.randn(B, L, params.context_in_dim, generator=g),
                           vec=torch.randn(B, params.vec_in_dim, generator=g),
                           noise=torch.randn(B, 4, HEIGHT // 8, WIDTH // 8, generator=g))


def our_velocity(s):
    with torch.no_grad():
        ref = s.ae.encode(s.picture.permute(0, 3, 1, 2) * 2 - 1)
    tokens, ids = kontext.reference_tokens([ref], B, HEIGHT // 8, WIDTH // 8)
    return kontext.KontextVelocity(s.model, tokens, ids), tokens, ids


def test_reference_tokens_and_one_call_match_diffusers(setup):
    velocity, tokens, ids = our_velocity(setup)
    image = setup.pipe.image_processor.preprocess(setup.picture.permute(0, 3, 1, 2), REF_H, REF_W)
    with torch.no_grad():
        latents, image_latents, latent_ids, image_ids = setup.pipe.prepare_latents(
            image, B, 4, HEIGHT, WIDTH, torch.float32, "cpu", None, sampling.pack(setup.noise))
    torch.testing.assert_close(tokens, image_latents, **TOL)
    assert torch.equal(ids[0], image_ids) and (ids[..., 0] == 1).all()
    out_ids = sampling.img_ids(B, HEIGHT // 8, WIDTH // 8)
    with torch.no_grad():
        v = velocity(img=latents, img_ids=out_ids, txt=setup.txt, txt_ids=sampling.txt_ids(B, L), y=setup.vec,
                     timesteps=torch.full((B,), 0.6), guidance=torch.full((B,), 2.5))
        ref = setup.ref_model(hidden_states=torch.cat([latents, image_latents], dim=1), timestep=torch.full((B,), 0.6),
                              guidance=torch.full((B,), 2.5), pooled_projections=setup.vec,
                              encoder_hidden_states=setup.txt, txt_ids=sampling.txt_ids(B, L)[0],
                              img_ids=torch.cat([latent_ids, image_ids]), return_dict=False)[0][:, :latents.shape[1]]
    assert v.shape == latents.shape and v.abs().max() > 0.1
    torch.testing.assert_close(v, ref, **TOL)
    with torch.no_grad():  # the reference really changes the prediction
        plain = setup.model(img=latents, img_ids=out_ids, txt=setup.txt, txt_ids=sampling.txt_ids(B, L), y=setup.vec,
                            timesteps=torch.full((B,), 0.6), guidance=torch.full((B,), 2.5))
    assert (plain - v).abs().max() > 1e-3


def test_few_step_kontext_run_matches_pipeline_latents(setup):
    steps, guidance = 4, 2.5
    with torch.no_grad():
        expected = setup.pipe(image=setup.picture.permute(0, 3, 1, 2), prompt_embeds=setup.txt,
                              pooled_prompt_embeds=setup.vec, latents=sampling.pack(setup.noise), height=HEIGHT,
                              width=WIDTH, num_inference_steps=steps, guidance_scale=guidance, output_type="latent",
                              return_dict=False, _auto_resize=False, max_area=HEIGHT * WIDTH)[0]
        velocity, _, _ = our_velocity(setup)
        img = sampling.pack(setup.noise)
        out = sampling.denoise(velocity, img, sampling.img_ids(B, HEIGHT // 8, WIDTH // 8), setup.txt,
                               sampling.txt_ids(B, L), setup.vec, sampling.get_schedule(steps, img.shape[1]),
                               guidance=guidance)
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(out, expected, **TOL)


def test_several_references_ids_by_hand():
    wide, tall = torch.zeros(1, 4, 4, 8), torch.zeros(1, 4, 8, 4)  # latent cells: 2x4 and 4x2 tokens
    _, ids = kontext.reference_tokens([wide, tall], 1, 8, 8, "offset")
    # first: index 1 at (0, 0); it is wider than tall, so the second goes below it: rows + 4 cells = 2 tokens
    first, second = ids[0, :8], ids[0, 8:]
    assert first[:, 1].max() == 1 and first[:, 2].max() == 3 and (first[:, 0] == 1).all()
    assert second[:, 1].min() == 2 and second[:, 2].min() == 0 and (second[:, 0] == 1).all()
    _, ids = kontext.reference_tokens([wide, tall], 1, 8, 8, "index")
    assert ids[0, :8, 0].unique().tolist() == [1.0] and ids[0, 8:, 0].unique().tolist() == [2.0]
    assert ids[0, 8:, 1].min() == 0
    _, ids = kontext.reference_tokens([wide, tall], 1, 8, 8, "uxo")
    assert (ids[..., 0] == 0).all() and ids[0, 0, 1] == 4 and ids[0, 8, 1] == (8 + 4) // 2
    with pytest.raises(ValueError, match="unknown reference method"):
        kontext.reference_tokens([wide], 1, 8, 8, "stack")


def test_preferred_size():
    assert kontext.preferred_size(1000, 1000) == (1024, 1024)
    assert kontext.preferred_size(1920, 1080) == (1392, 752)
    assert kontext.preferred_size(600, 1400) == (672, 1568)
