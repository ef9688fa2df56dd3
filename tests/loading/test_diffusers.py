"""diffusers layouts: folders written by diffusers' own save_pretrained load and match diffusers' forward."""
import re
import shutil

import pytest
import torch

from flux_core.loading import load_diffusers_folder, load_diffusion_model, load_vae
from flux_core.loading.keymaps import (
    bfl_to_diffusers_transformer,
    bfl_to_diffusers_vae,
    diffusers_to_bfl_transformer,
    diffusers_to_bfl_vae,
)
from flux_core.loading.tensors import from_tensors, to_tensors
from flux_core.models import Flux, FluxParams
from loading_fixtures import (
    assert_same,
    SHARED_TOKENIZERS,
    clip_ids,
    flux_inputs,
    image,
    randomize,
    t5_ids,
    tiny_ae,
    tiny_clip,
    tiny_flux,
    tiny_flux_params,
    tiny_t5,
)

diffusers = pytest.importorskip("diffusers")
pytestmark = pytest.mark.parity


def tiny_diffusers_transformer(guidance=True, seed=10):
    p = tiny_flux_params(guidance)
    model = diffusers.FluxTransformer2DModel(
        patch_size=1, in_channels=p.in_channels, num_layers=p.depth, num_single_layers=p.depth_single_blocks,
        attention_head_dim=p.hidden_size // p.num_heads, num_attention_heads=p.num_heads,
        joint_attention_dim=p.context_in_dim, pooled_projection_dim=p.vec_in_dim, guidance_embeds=guidance,
        axes_dims_rope=tuple(p.axes_dim),
    )
    return randomize(model, seed)


def tiny_diffusers_vae(seed=11):
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 64), layers_per_block=1,
        latent_channels=4, norm_num_groups=32, use_quant_conv=False, use_post_quant_conv=False,
        mid_block_add_attention=True, scaling_factor=0.3611, shift_factor=0.1159,
    )
    return randomize(vae, seed)


def diffusers_flux_forward(model, inputs):
    return model(
        hidden_states=inputs["img"], encoder_hidden_states=inputs["txt"], pooled_projections=inputs["y"],
        timestep=inputs["timesteps"], img_ids=inputs["img_ids"][0], txt_ids=inputs["txt_ids"][0],
        guidance=inputs["guidance"], return_dict=False,
    )[0]


@pytest.mark.parametrize("guidance", [True, False])
def test_diffusers_transformer_folder_sharded(tmp_path, guidance):
    reference = tiny_diffusers_transformer(guidance)
    reference.save_pretrained(tmp_path / "transformer", max_shard_size="100KB")
    assert list((tmp_path / "transformer").glob("*.safetensors.index.json")), "expected a sharded save"
    model = load_diffusion_model(tmp_path / "transformer", device="cpu")
    assert model.params.guidance_embed is guidance
    inputs = flux_inputs(model.params)
    torch.testing.assert_close(model(**inputs), diffusers_flux_forward(reference, inputs), rtol=1e-4, atol=1e-4)


def test_diffusers_vae_folder(tmp_path):
    reference = tiny_diffusers_vae()
    reference.save_pretrained(tmp_path / "vae")
    vae = load_vae(tmp_path / "vae", device="cpu")
    x = image()
    expected_z = (reference.encode(x).latent_dist.mode() - 0.1159) * 0.3611
    torch.testing.assert_close(vae.encode(x), expected_z, rtol=1e-4, atol=1e-4)
    z = torch.randn(1, 4, 8, 12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(vae.decode(z), reference.decode(z / 0.3611 + 0.1159).sample, rtol=1e-4, atol=1e-4)


def test_diffusers_vae_config_json_fields_win(tmp_path):
    """scaling/shift factors and GroupNorm groups come from the folder's config.json."""
    vae = diffusers.AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=4,
        use_quant_conv=False, use_post_quant_conv=False, scaling_factor=0.652, shift_factor=-0.05,
    )
    randomize(vae, 3).save_pretrained(tmp_path / "vae")
    ours = load_vae(tmp_path / "vae", device="cpu")
    assert (ours.params.norm_groups, ours.scale_factor, ours.shift_factor) == (4, 0.652, -0.05)
    x = image(size=(8, 8))
    torch.testing.assert_close(ours.encode(x), (randomize(vae, 3).encode(x).latent_dist.mode() + 0.05) * 0.652,
                               rtol=1e-4, atol=1e-4)


def test_full_diffusers_pipeline_folder(tmp_path):
    root = tmp_path / "FLUX.1-tiny"
    transformer, vae = tiny_diffusers_transformer(True), tiny_diffusers_vae()
    t5, clip = tiny_t5(), tiny_clip()
    transformer.save_pretrained(root / "transformer")
    vae.save_pretrained(root / "vae")
    clip.save_pretrained(root / "text_encoder")
    t5.save_pretrained(root / "text_encoder_2", max_shard_size="1MB")
    shutil.copytree(SHARED_TOKENIZERS / "clip_l", root / "tokenizer")
    shutil.copytree(SHARED_TOKENIZERS / "t5xxl", root / "tokenizer_2")
    model, cond, ours_vae = load_diffusers_folder(root, device="cpu")
    inputs = flux_inputs(model.params)
    torch.testing.assert_close(model(**inputs), diffusers_flux_forward(transformer, inputs), rtol=1e-4, atol=1e-4)
    z = torch.randn(1, 4, 8, 12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ours_vae.decode(z), vae.decode(z / 0.3611 + 0.1159).sample, rtol=1e-4, atol=1e-4)
    assert_same(cond.t5(input_ids=t5_ids()).last_hidden_state, t5(input_ids=t5_ids()).last_hidden_state)
    assert_same(cond.clip(input_ids=clip_ids()).pooler_output, clip(input_ids=clip_ids()).pooler_output)
    assert cond.t5_max_length == 512  # dev-like transformer
    txt, vec = cond.encode(["a red circle"], no_grad=True)
    assert txt.shape == (1, 512, 32) and vec.shape == (1, 64)
    # the text-encoder subfolders alone find their sibling tokenizer folders
    from flux_core.loading import load_text_encoders

    alone = load_text_encoders(root / "text_encoder_2", root / "text_encoder", device="cpu",
                               models_dir=tmp_path / "empty")
    assert torch.equal(alone.t5_input_ids(["a red circle"]), cond.t5_input_ids(["a red circle"])[:, :256])


# ------------------------------------------------------------------ key maps


def test_transformer_round_trips_are_exact():
    ours = tiny_flux(True).state_dict()
    back = to_tensors(diffusers_to_bfl_transformer(bfl_to_diffusers_transformer(from_tensors(ours))))
    assert back.keys() == ours.keys() and all(torch.equal(back[k], ours[k]) for k in ours)
    theirs = tiny_diffusers_transformer(True).state_dict()
    again = to_tensors(bfl_to_diffusers_transformer(diffusers_to_bfl_transformer(from_tensors(theirs))))
    assert again.keys() == theirs.keys() and all(torch.equal(again[k], theirs[k]) for k in theirs)


def test_bfl_to_diffusers_loads_strictly_and_matches():
    ours = tiny_flux(False)
    converted = to_tensors(bfl_to_diffusers_transformer(from_tensors(ours.state_dict())))
    reference = tiny_diffusers_transformer(False)
    reference.load_state_dict(converted, strict=True)
    inputs = flux_inputs(ours.params)
    torch.testing.assert_close(ours(**inputs), diffusers_flux_forward(reference, inputs), rtol=1e-4, atol=1e-4)


def test_vae_map_agrees_with_diffusers_converter():
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    ours = tiny_ae().state_dict()
    config = dict(tiny_diffusers_vae().config)
    oracle = convert_ldm_vae_checkpoint(dict(ours), config)
    mine = to_tensors(bfl_to_diffusers_vae(from_tensors(ours)))
    assert mine.keys() == oracle.keys()
    assert all(torch.equal(mine[k], oracle[k]) for k in oracle)
    back = to_tensors(diffusers_to_bfl_vae(from_tensors(mine)))
    assert back.keys() == ours.keys() and all(torch.equal(back[k], ours[k]) for k in ours)


@pytest.mark.parametrize("guidance", [True, False])
def test_full_size_key_and_shape_agreement_on_meta(guidance):
    with torch.device("meta"):
        ours = Flux(FluxParams(guidance_embed=guidance))
        theirs = diffusers.FluxTransformer2DModel(guidance_embeds=guidance)
    meta_view = {k: v for k, v in ours.state_dict().items()}
    converted = bfl_to_diffusers_transformer(from_tensors(meta_view))
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected
    assert len(meta_view) == (780 if guidance else 776) and len(expected) == (1160 if guidance else 1156)


def test_single_loaders_and_describe_accept_a_pipeline_folder(tmp_path):
    from flux_core.loading import describe_file, load_checkpoint

    root = tmp_path / "pipe"
    transformer, vae = tiny_diffusers_transformer(False), tiny_diffusers_vae()
    transformer.save_pretrained(root / "transformer")
    vae.save_pretrained(root / "vae")
    tiny_clip().save_pretrained(root / "text_encoder")
    tiny_t5().save_pretrained(root / "text_encoder_2")
    model = load_diffusion_model(root, device="cpu")
    inputs = flux_inputs(model.params)
    torch.testing.assert_close(model(**inputs), diffusers_flux_forward(transformer, inputs), rtol=1e-4, atol=1e-4)
    assert load_vae(root, device="cpu").params.z_channels == 4
    info = describe_file(root)
    assert info["kind"] == "diffusers folder"
    assert set(info["components"]) == {"transformer", "vae", "t5", "clip"}
    assert info["components"]["transformer"]["layout"] == "diffusers"
    assert info["components"]["transformer"]["variant"] == "schnell"
    assert info["components"]["clip"]["config"]["num_attention_heads"] == 1
    # load_checkpoint hands folders to load_diffusers_folder, which wants the tokenizer folders too
    from flux_core.loading import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"missing subfolder\(s\): \['tokenizer', 'tokenizer_2'\]"):
        load_checkpoint(root, device="cpu")


def test_index_naming_a_missing_shard(tmp_path):
    from flux_core.loading import ModelLoadError

    tiny_diffusers_transformer(True).save_pretrained(tmp_path / "transformer", max_shard_size="100KB")
    shards = sorted((tmp_path / "transformer").glob("*.safetensors"))
    shards[-1].unlink()
    with pytest.raises(ModelLoadError, match=re.escape(shards[-1].name) + ": file not found"):
        load_diffusion_model(tmp_path / "transformer", device="cpu")
