"""Each supported file format, written by the test, loads into modules that compute what the writer computed."""
import pytest
import torch

from flux_core.loading import load_checkpoint, load_diffusion_model, load_text_encoders, load_vae
from flux_core.models import AutoEncoder, Flux
from loading_fixtures import (
    assert_same,
    clip_file_dict,
    clip_ids,
    flux_inputs,
    image,
    prefixed,
    run_flux,
    save,
    t5_file_dict,
    t5_ids,
    tiny_ae,
    tiny_clip,
    tiny_flux,
    tiny_t5,
)


def assert_same_flux(loaded, source):
    inputs = flux_inputs(source.params)
    assert_same(run_flux(loaded, inputs), run_flux(source, inputs))


def assert_same_ae(loaded, source):
    x = image()
    z = source.encode(x)
    assert_same(loaded.encode(x), z)
    assert_same(loaded.decode(z), source.decode(z))


@pytest.mark.parametrize("guidance", [True, False])
def test_bfl_transformer_file(tmp_path, guidance):
    source = tiny_flux(guidance)
    path = tmp_path / "flux1-tiny.safetensors"
    save(path, source.state_dict())
    model = load_diffusion_model(path, device="cpu")
    assert isinstance(model, Flux)
    assert model.params.guidance_embed is guidance
    assert_same_flux(model, source)


def test_bfl_ae_file(tmp_path):
    source = tiny_ae()
    path = tmp_path / "ae.safetensors"
    save(path, source.state_dict())
    vae = load_vae(path, device="cpu")
    assert isinstance(vae, AutoEncoder)
    assert_same_ae(vae, source)


def test_bf16_file_loads_in_requested_dtype(tmp_path):
    source = tiny_flux()
    path = tmp_path / "flux-bf16.safetensors"
    save(path, {k: v.to(torch.bfloat16) for k, v in source.state_dict().items()})
    kept = load_diffusion_model(path, dtype="bf16", device="cpu")
    assert {p.dtype for p in kept.parameters()} == {torch.bfloat16}
    upcast = load_diffusion_model(path, device="cpu")  # default on CPU: fp32 compute
    assert {p.dtype for p in upcast.parameters()} == {torch.float32}
    for (name, p), q in zip(kept.named_parameters(), upcast.parameters()):
        assert torch.equal(p.float(), q), name


def text_outputs(t5, clip):
    return t5(input_ids=t5_ids()).last_hidden_state, clip(input_ids=clip_ids()).pooler_output


@pytest.mark.parametrize("text_model_prefix", [True, False])
def test_comfyui_single_text_encoder_files(tmp_path, models_dir, text_model_prefix):
    t5, clip = tiny_t5(), tiny_clip()
    # misleading names: the loader must tell T5 from CLIP by keys
    t5_path, clip_path = tmp_path / "clip_l.safetensors", tmp_path / "t5xxl_fp16.safetensors"
    save(t5_path, t5_file_dict(t5))
    save(clip_path, clip_file_dict(clip, text_model_prefix))
    cond = load_text_encoders(clip_path, t5_path, device="cpu", models_dir=models_dir)
    ref_txt, ref_vec = text_outputs(t5, clip)
    txt, vec = text_outputs(cond.t5, cond.clip)
    assert_same(txt, ref_txt)
    assert_same(vec, ref_vec)
    assert cond.t5_max_length == 256


@pytest.mark.parametrize("keep", ["shared.weight", "encoder.embed_tokens.weight"])
def test_t5_with_either_tied_embedding_name(tmp_path, models_dir, keep):
    t5, clip = tiny_t5(), tiny_clip()
    sd = {k: v for k, v in t5.state_dict().items() if k not in ("shared.weight", "encoder.embed_tokens.weight")}
    sd[keep] = t5.shared.weight
    save(tmp_path / "t5.safetensors", sd)
    save(tmp_path / "clip.safetensors", clip_file_dict(clip))
    cond = load_text_encoders(tmp_path / "t5.safetensors", tmp_path / "clip.safetensors", device="cpu",
                              models_dir=models_dir)
    assert cond.t5.encoder.embed_tokens.weight is cond.t5.shared.weight
    assert_same(cond.t5(input_ids=t5_ids()).last_hidden_state, t5(input_ids=t5_ids()).last_hidden_state)


def write_checkpoint(path, flux, ae, t5, clip, config=None):
    sd = {}
    sd.update(prefixed(flux.state_dict(), "model.diffusion_model."))
    sd.update(prefixed(ae.state_dict(), "vae."))
    sd.update(prefixed(clip_file_dict(clip), "text_encoders.clip_l.transformer."))
    sd.update(prefixed(t5_file_dict(t5), "text_encoders.t5xxl.transformer."))
    sd["text_encoders.clip_l.logit_scale"] = torch.tensor(4.6)  # a harmless extra real files carry
    save(path, sd, config)


@pytest.mark.parametrize("guidance,length", [(True, 512), (False, 256)])
def test_comfyui_all_in_one_checkpoint(tmp_path, models_dir, guidance, length):
    flux, ae, t5, clip = tiny_flux(guidance), tiny_ae(), tiny_t5(), tiny_clip()
    path = tmp_path / "flux1-tiny-aio.safetensors"
    write_checkpoint(path, flux, ae, t5, clip)
    model, cond, vae = load_checkpoint(path, device="cpu", models_dir=models_dir)
    assert_same_flux(model, flux)
    assert_same_ae(vae, ae)
    ref, got = text_outputs(t5, clip), text_outputs(cond.t5, cond.clip)
    assert_same(ref[0], got[0])
    assert_same(ref[1], got[1])
    assert cond.t5_max_length == length
    # the real tokenizers were found and drive the loaded encoders
    txt, vec = cond.encode(["a red circle"], no_grad=True)
    assert txt.shape == (1, length, 32) and vec.shape == (1, 64)
    # the parts of a checkpoint also load one by one
    assert_same_flux(load_diffusion_model(path, device="cpu"), flux)
    assert_same_ae(load_vae(path, device="cpu"), ae)


def test_single_file_tokenizer_next_to_model(tmp_path, models_dir):
    """tokenizers/<file stem>/ wins over tokenizers/t5xxl/ (a model shipping its own tokenizer)."""
    from transformers import AutoTokenizer

    own = models_dir / "tokenizers" / "flux-mini-t5"
    tok = AutoTokenizer.from_pretrained(str(models_dir / "tokenizers" / "t5xxl"))
    tok.model_max_length = 123  # a visible difference
    tok.save_pretrained(str(own))
    t5, clip = tiny_t5(), tiny_clip()
    (models_dir / "text_encoders").mkdir()
    save(models_dir / "text_encoders" / "flux-mini-t5.safetensors", t5_file_dict(t5), {"t5": {"max_length": 16}})
    save(models_dir / "text_encoders" / "clip_l.safetensors", clip_file_dict(clip))
    cond = load_text_encoders(models_dir / "text_encoders" / "flux-mini-t5.safetensors",
                              models_dir / "text_encoders" / "clip_l.safetensors", device="cpu", models_dir=models_dir)
    assert cond.t5_tokenizer.model_max_length == 123
    assert cond.t5_max_length == 16
    assert cond.encode(["a red circle"], no_grad=True)[0].shape == (1, 16, 32)


def test_models_dir_from_environment(tmp_path, models_dir, monkeypatch):
    t5, clip = tiny_t5(), tiny_clip()
    save(tmp_path / "t5.safetensors", t5_file_dict(t5))
    save(tmp_path / "clip.safetensors", clip_file_dict(clip))
    monkeypatch.setenv("FLUXWIRE_MODELS_DIR", str(models_dir))
    cond = load_text_encoders(tmp_path / "t5.safetensors", tmp_path / "clip.safetensors", device="cpu",
                              t5_max_length=300)
    assert cond.t5_max_length == 300
    assert cond.t5_input_ids(["a"]).shape == (1, 300)


def test_clip_file_extras_are_ignored_and_fp16_keeps_t5_wo_in_fp32(tmp_path, models_dir):
    t5, clip = tiny_t5(), tiny_clip()
    clip_sd = clip_file_dict(clip)
    clip_sd["text_model.embeddings.position_ids"] = torch.arange(77)[None]  # transformers-4 buffer in old files
    clip_sd["text_projection.weight"] = torch.zeros(64, 64)
    save(tmp_path / "clip_l.safetensors", clip_sd)
    save(tmp_path / "t5.safetensors", t5_file_dict(t5))
    cond = load_text_encoders(tmp_path / "t5.safetensors", tmp_path / "clip_l.safetensors", dtype="fp16",
                              device="cpu", models_dir=models_dir)
    ff = cond.t5.encoder.block[0].layer[1].DenseReluDense
    assert ff.wi_0.weight.dtype == torch.float16 and ff.wo.weight.dtype == torch.float32
    assert {p.dtype for p in cond.clip.parameters()} == {torch.float16}
    assert torch.equal(cond.clip.embeddings.position_ids, torch.arange(77)[None])
