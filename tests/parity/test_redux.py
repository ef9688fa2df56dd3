"""FLUX.1 Redux parity: fluxwire's SigLIP loading (ComfyUI's single-file layout), Redux embedder and
ApplyStyle tokens against diffusers' FluxPriorReduxPipeline on tiny random models, then one transformer
call and a few-step run with those tokens against FluxPipeline."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers import FluxPipeline, FluxPriorReduxPipeline
from diffusers.pipelines.flux.modeling_flux import ReduxImageEncoder
from PIL import Image
from safetensors.torch import save_file
from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

from flux_core import redux, sampling
from flux_core.loading import ModelLoadError

from .helpers import randomize_, text_free_pipeline, tiny_flux_params, twin_flux

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)
L, SIZE, PATCH, WIDTH_V = 5, 32, 4, 24  # 8x8 = 64 image tokens
HEIGHT, WIDTH = 64, 96


def tiny_siglip(head: bool, seed: int):
    cfg = SiglipVisionConfig(hidden_size=WIDTH_V, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                             image_size=SIZE, patch_size=PATCH, vision_use_head=head)
    return randomize_(SiglipVisionModel(cfg), seed=seed, std=0.1).eval()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from tests.nodes.tiny_models import clip, t5

    folder = tmp_path_factory.mktemp("redux")
    params = tiny_flux_params(True)
    vision = tiny_siglip(False, 41)
    # ComfyUI's file: transformers' names under vision_model., no pooling head
    comfy_names = {"vision_model." + k.removeprefix("vision_model."): v.contiguous()
                   for k, v in vision.state_dict().items()}
    save_file(comfy_names, str(folder / "sigclip.safetensors"),
              metadata={"fluxwire.config": '{"num_attention_heads": 2}'})
    embedder = randomize_(ReduxImageEncoder(redux_dim=WIDTH_V, txt_in_features=params.context_in_dim), seed=42).eval()
    save_file({k: v.contiguous() for k, v in embedder.state_dict().items()}, str(folder / "redux.safetensors"))
    prior = FluxPriorReduxPipeline(
        image_encoder=vision, feature_extractor=SiglipImageProcessor(size={"height": SIZE, "width": SIZE}),
        image_embedder=embedder, text_encoder=clip(), tokenizer=None, text_encoder_2=t5(), tokenizer_2=None)
    model, ref_model = twin_flux(params, seed=43)
    pipe = text_free_pipeline(FluxPipeline, ref_model, None)
    g = torch.Generator().manual_seed(6)
    picture = (torch.rand(1, SIZE, SIZE, 3, generator=g) * 255).round() / 255  # an 8-bit picture
    return SimpleNamespace(folder=folder, params=params, vision=vision, embedder=embedder, prior=prior,
                           model=model, pipe=pipe, picture=picture,
                           txt=torch.randn(1, L, params.context_in_dim, generator=g),
                           vec=torch.randn(1, params.vec_in_dim, generator=g))


def ours(s, strength=1.0):
    encoder = redux.load_vision_encoder(s.folder / "sigclip.safetensors")
    features = redux.encode_image(encoder, s.picture, crop=False)
    tokens = redux.style_tokens(redux.load_redux(s.folder / "redux.safetensors"), features, strength)
    return torch.cat((s.txt, tokens), dim=1)


def theirs(s, scale=1.0):
    pil = Image.fromarray((s.picture[0].numpy() * 255).round().astype(np.uint8))
    with torch.no_grad():
        out = s.prior(pil, prompt_embeds=s.txt, pooled_prompt_embeds=s.vec, prompt_embeds_scale=scale,
                      pooled_prompt_embeds_scale=1.0, return_dict=False)
    return out[0], out[1]


def test_vision_encoder_from_comfyui_single_file_equals_transformers(setup):
    encoder = redux.load_vision_encoder(setup.folder / "sigclip.safetensors")
    assert encoder.config.image_size == SIZE and encoder.config.num_hidden_layers == 2
    pixels = redux.vision_pixels(setup.picture, SIZE, crop=True)
    with torch.no_grad():
        torch.testing.assert_close(encoder(pixel_values=pixels).last_hidden_state,
                                   setup.vision(pixel_values=pixels).last_hidden_state, rtol=0, atol=0)


def test_redux_conditioning_matches_prior_redux_pipeline(setup):
    txt, vec = theirs(setup)
    mine = ours(setup)
    assert mine.shape == (1, L + (SIZE // PATCH) ** 2, setup.params.context_in_dim)
    assert mine[:, L:].abs().max() > 0.1
    torch.testing.assert_close(mine, txt, **TOL)
    torch.testing.assert_close(vec, setup.vec)


def test_one_call_and_few_step_run_with_redux_tokens_match_flux_pipeline(setup):
    txt = ours(setup)
    ref_txt, _ = theirs(setup)
    x = torch.randn(1, (HEIGHT // 16) * (WIDTH // 16), setup.params.in_channels,
                    generator=torch.Generator().manual_seed(7))  # packed noise
    ids = sampling.img_ids(1, HEIGHT // 8, WIDTH // 8)
    steps = 3
    with torch.no_grad():
        expected = setup.pipe(prompt_embeds=ref_txt, pooled_prompt_embeds=setup.vec, latents=x, height=HEIGHT,
                              width=WIDTH, num_inference_steps=steps, guidance_scale=2.5, output_type="latent",
                              return_dict=False)[0]
        out = sampling.denoise(setup.model, x, ids, txt, sampling.txt_ids(1, txt.shape[1]), setup.vec,
                               sampling.get_schedule(steps, x.shape[1]), guidance=2.5)
        without = sampling.denoise(setup.model, x, ids, setup.txt, sampling.txt_ids(1, L), setup.vec,
                                   sampling.get_schedule(steps, x.shape[1]), guidance=2.5)
    assert (out - without).abs().max() > 1e-2  # the picture's tokens change the result
    torch.testing.assert_close(out, expected, **TOL)


def test_strength_scales_only_the_image_tokens(setup):
    base, half = ours(setup, 1.0), ours(setup, 0.5)
    torch.testing.assert_close(half[:, :L], base[:, :L])
    torch.testing.assert_close(half[:, L:], base[:, L:] * 0.5)


@pytest.mark.parametrize("mode", redux.DOWNSAMPLING_MODES)
def test_downsampling_shrinks_the_token_grid(setup, mode):
    embedder = redux.load_redux(setup.folder / "redux.safetensors")
    features = torch.randn(2, 64, WIDTH_V, generator=torch.Generator().manual_seed(8))
    full = redux.style_tokens(embedder, features)
    small = redux.style_tokens(embedder, features, downsampling_factor=3, mode=mode)
    assert full.shape == (1, 128, setup.params.context_in_dim) and small.shape == (1, 8, setup.params.context_in_dim)
    if mode == "area":  # 8x8 grid, factor 3 -> 2x2: each new token is the mean of a 4x4 block
        grid = full[:, :64].reshape(8, 8, -1)
        torch.testing.assert_close(small[0, 0], grid[:4, :4].mean(dim=(0, 1)), **TOL)


def test_wrong_files_are_refused_with_their_names(setup, tmp_path):
    with pytest.raises(ModelLoadError, match="redux.safetensors.*SigLIP"):
        redux.load_vision_encoder(setup.folder / "redux.safetensors")
    with pytest.raises(ModelLoadError, match="sigclip.safetensors.*Redux"):
        redux.load_redux(setup.folder / "sigclip.safetensors")
