"""Configs inferred from files equal the configs that built them; explicit metadata wins."""
import dataclasses
import json

import pytest
import torch
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from flux_core.loading import ModelLoadError, describe_file, load_diffusion_model, load_text_encoders, load_vae
from flux_core.loading.detect import infer_ae_params, infer_clip_config, infer_flux_params, infer_t5_config
from flux_core.models import AutoEncoder, AutoEncoderParams, Flux, FluxParams
from loading_fixtures import (
    assert_same,
    clip_file_dict,
    clip_ids,
    flux_inputs,
    image,
    randomize,
    run_flux,
    save,
    t5_file_dict,
    tiny_ae,
    tiny_clip,
    tiny_clip_config,
    tiny_flux,
    tiny_t5,
    tiny_t5_config,
)


def as_config(params) -> dict:
    out = dataclasses.asdict(params)
    for key in ("axes_dim", "ch_mult"):
        if key in out:
            out[key] = list(out[key])
    return out


def meta_shapes(module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("params", [FluxParams.dev(), FluxParams.schnell(), FluxParams(in_channels=384, out_channels=64)])
def test_full_size_transformer_configs_from_shapes(params):
    with torch.device("meta"):
        model = Flux(params)
    assert infer_flux_params(meta_shapes(model)) == as_config(params)


def test_full_size_autoencoder_and_text_encoder_configs_from_shapes():
    with torch.device("meta"):
        ae = AutoEncoder(AutoEncoderParams.flux())
        t5 = T5EncoderModel(T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                                     feed_forward_proj="gated-gelu"))
        clip = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                            num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77))
    assert infer_ae_params(meta_shapes(ae)) == as_config(AutoEncoderParams.flux())
    t5_cfg = infer_t5_config(meta_shapes(t5))
    assert (t5_cfg["d_model"], t5_cfg["d_ff"], t5_cfg["num_layers"], t5_cfg["num_heads"], t5_cfg["d_kv"],
            t5_cfg["vocab_size"], t5_cfg["feed_forward_proj"]) == (4096, 10240, 24, 64, 64, 32128, "gated-gelu")
    clip_cfg = infer_clip_config(meta_shapes(clip))
    assert (clip_cfg["hidden_size"], clip_cfg["intermediate_size"], clip_cfg["num_hidden_layers"],
            clip_cfg["num_attention_heads"], clip_cfg["vocab_size"], clip_cfg["max_position_embeddings"]) == (
        768, 3072, 12, 12, 49408, 77)


def test_describe_written_files_gives_the_written_configs(tmp_path):
    flux, ae, t5, clip = tiny_flux(False), tiny_ae(), tiny_t5(), tiny_clip()
    save(tmp_path / "flux.safetensors", flux.state_dict())
    save(tmp_path / "ae.safetensors", ae.state_dict())
    save(tmp_path / "t5.safetensors", t5_file_dict(t5))
    save(tmp_path / "clip.safetensors", clip_file_dict(clip))
    info = describe_file(tmp_path / "flux.safetensors")
    assert info["kind"] == "transformer" and info["components"]["transformer"]["variant"] == "schnell"
    assert info["components"]["transformer"]["config"] == as_config(flux.params)
    assert info["components"]["transformer"]["tensors"] == len(flux.state_dict())
    assert info["components"]["transformer"]["dtype"] == "float32"
    assert describe_file(tmp_path / "ae.safetensors")["components"]["vae"]["config"] == as_config(ae.params)
    t5_cfg = describe_file(tmp_path / "t5.safetensors")["components"]["t5"]["config"]
    written = tiny_t5_config()
    for field in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads", "relative_attention_num_buckets",
                  "relative_attention_max_distance", "feed_forward_proj", "layer_norm_epsilon"):
        assert t5_cfg[field] == getattr(written, field), field
    clip_cfg = describe_file(tmp_path / "clip.safetensors")["components"]["clip"]["config"]
    written = tiny_clip_config()
    for field in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                  "max_position_embeddings", "hidden_act", "layer_norm_eps"):
        assert clip_cfg[field] == getattr(written, field), field


@pytest.mark.parametrize("nested", [True, False])
def test_metadata_config_wins_over_inference(tmp_path, nested):
    params = dataclasses.replace(tiny_flux(True).params, axes_dim=(8, 12, 12))  # not FLUX's ratio
    source = randomize(Flux(params), 4)
    explicit = {"axes_dim": [8, 12, 12]}
    save(tmp_path / "f.safetensors", source.state_dict(), {"transformer": explicit} if nested else explicit)
    model = load_diffusion_model(tmp_path / "f.safetensors", device="cpu")
    assert model.params.axes_dim == (8, 12, 12)
    inputs = flux_inputs(params)
    assert_same(run_flux(model, inputs), run_flux(source, inputs))
    # without the metadata the inferred split differs, and so does the output: the metadata mattered
    save(tmp_path / "g.safetensors", source.state_dict())
    plain = load_diffusion_model(tmp_path / "g.safetensors", device="cpu")
    assert plain.params.axes_dim == (4, 14, 14)
    assert not torch.allclose(run_flux(plain, inputs), run_flux(source, inputs))


def test_autoencoder_groups_and_scaling_from_metadata(tmp_path):
    params = AutoEncoderParams(ch=16, ch_mult=(1, 2), num_res_blocks=1, z_channels=4, norm_groups=4,
                               scale_factor=0.652, shift_factor=-0.05)
    source = randomize(AutoEncoder(params), 5)
    save(tmp_path / "ae64.safetensors", source.state_dict(),
         {"vae": {"norm_groups": 4, "scale_factor": 0.652, "shift_factor": -0.05}})
    vae = load_vae(tmp_path / "ae64.safetensors", device="cpu")
    assert vae.params == params
    x = image()
    assert_same(vae.encode(x), source.encode(x))
    save(tmp_path / "ae-nometa.safetensors", source.state_dict())
    with pytest.raises(ModelLoadError, match=r"ae-nometa.safetensors.*fluxwire.config"):
        load_vae(tmp_path / "ae-nometa.safetensors", device="cpu")


def test_clip_heads_and_t5_length_from_metadata(tmp_path, models_dir):
    config = tiny_clip_config()
    config.num_attention_heads = 4
    clip = randomize(CLIPTextModel(config), 9)
    t5 = tiny_t5()
    save(tmp_path / "clip.safetensors", clip_file_dict(clip), {"clip": {"num_attention_heads": 4}})
    save(tmp_path / "t5.safetensors", t5_file_dict(t5), json.loads('{"t5": {"max_length": 64}}'))
    cond = load_text_encoders(tmp_path / "t5.safetensors", tmp_path / "clip.safetensors", device="cpu",
                              models_dir=models_dir)
    assert cond.clip.config.num_attention_heads == 4 and cond.t5_max_length == 64
    assert_same(cond.clip(input_ids=clip_ids()).pooler_output, clip(input_ids=clip_ids()).pooler_output)


def test_describe_checkpoint_and_scaled_fp8(tmp_path):
    from loading_fixtures import prefixed

    flux = tiny_flux(True)
    sd = prefixed({k: v.to(torch.float8_e4m3fn) if v.ndim == 2 else v for k, v in flux.state_dict().items()},
                  "model.diffusion_model.")
    sd["model.diffusion_model.scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    sd["model.diffusion_model.img_in.scale_weight"] = torch.tensor(0.5)
    sd.update(prefixed(tiny_ae().state_dict(), "vae."))
    save(tmp_path / "aio.safetensors", sd)
    info = describe_file(tmp_path / "aio.safetensors")
    assert info["kind"] == "checkpoint" and set(info["components"]) == {"transformer", "vae"}
    transformer = info["components"]["transformer"]
    assert transformer["variant"] == "dev" and transformer["scaled_fp8"] is True
    assert transformer["dtype"] == "float8_e4m3fn" and transformer["config"] == as_config(flux.params)
    assert info["components"]["vae"]["scaled_fp8"] is False
