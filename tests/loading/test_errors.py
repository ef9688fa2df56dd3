"""Every way a user can hand over a bad file gives a ModelLoadError naming the file and the offending keys."""
import pickle
import re

import pytest
import torch

from flux_core.loading import (
    ModelLoadError,
    load_checkpoint,
    load_diffusers_folder,
    load_diffusion_model,
    load_text_encoders,
    load_vae,
)
from loading_fixtures import clip_file_dict, prefixed, save, t5_file_dict, tiny_ae, tiny_clip, tiny_flux, tiny_t5


@pytest.fixture
def flux_file(tmp_path):
    path = tmp_path / "flux1-tiny.safetensors"
    save(path, tiny_flux().state_dict())
    return path


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match=r"nothing-here\.safetensors: file not found"):
        load_diffusion_model(tmp_path / "nothing-here.safetensors", device="cpu")


def test_truncated_data_names_file_and_tensors(flux_file):
    data = flux_file.read_bytes()
    flux_file.write_bytes(data[: len(data) - 5000])
    with pytest.raises(ModelLoadError) as err:
        load_diffusion_model(flux_file, device="cpu")
    message = str(err.value)
    assert str(flux_file) in message and "truncated" in message
    assert re.search(r"'(double_blocks|single_blocks|final_layer|txt_in|vector_in)\.[^']+'", message)


def test_truncated_header(flux_file):
    flux_file.write_bytes(flux_file.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match=re.escape(str(flux_file)) + ".*truncated"):
        load_diffusion_model(flux_file, device="cpu")


@pytest.mark.parametrize("head", [b"PK\x03\x04" + b"\0" * 60, b"\x80\x04\x95" + b"\0" * 60, b"garbage!" * 8])
def test_not_safetensors(tmp_path, head):
    path = tmp_path / "model.ckpt"
    path.write_bytes(head)
    with pytest.raises(ModelLoadError, match=re.escape(str(path)) + ".*(pickle|not a safetensors)"):
        load_diffusion_model(path, device="cpu")


def test_wrong_component(tmp_path, flux_file):
    with pytest.raises(ModelLoadError, match=re.escape(str(flux_file)) + ": expected a FLUX autoencoder, found FLUX transformer"):
        load_vae(flux_file, device="cpu")
    save(tmp_path / "ae.safetensors", tiny_ae().state_dict())
    with pytest.raises(ModelLoadError, match="ae.safetensors: expected a FLUX transformer"):
        load_diffusion_model(tmp_path / "ae.safetensors", device="cpu")


def test_not_a_flux_file(tmp_path):
    path = tmp_path / "unet.safetensors"
    save(path, {"input_blocks.0.0.weight": torch.zeros(4, 4), "out.2.bias": torch.zeros(4)})
    with pytest.raises(ModelLoadError, match=r"unet.safetensors: not a FLUX component.*'input_blocks.0.0.weight'"):
        load_diffusion_model(path, device="cpu")


def test_checkpoint_part_that_is_not_flux(tmp_path):
    path = tmp_path / "sdxl.safetensors"
    save(path, {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4)})
    with pytest.raises(ModelLoadError, match=r"sdxl.safetensors: the 'model.diffusion_model.' part is not a FLUX transformer"):
        load_diffusion_model(path, device="cpu")


def test_missing_tensor(tmp_path):
    sd = tiny_flux().state_dict()
    del sd["double_blocks.1.txt_mlp.2.bias"]
    save(tmp_path / "f.safetensors", sd)
    with pytest.raises(ModelLoadError, match=r"f.safetensors: .*1 missing tensor\(s\): 'double_blocks.1.txt_mlp.2.bias'"):
        load_diffusion_model(tmp_path / "f.safetensors", device="cpu")


def test_extra_tensor(tmp_path):
    sd = tiny_flux().state_dict()
    sd["double_blocks.0.img_attn.lora_up.weight"] = torch.zeros(2, 2)
    save(tmp_path / "f.safetensors", sd)
    with pytest.raises(ModelLoadError, match=r"f.safetensors: .*unexpected tensor\(s\): 'double_blocks.0.img_attn.lora_up.weight'"):
        load_diffusion_model(tmp_path / "f.safetensors", device="cpu")


def test_wrong_shape(tmp_path):
    sd = tiny_flux().state_dict()
    sd["single_blocks.1.linear2.weight"] = torch.zeros(64, 10)
    save(tmp_path / "f.safetensors", sd)
    with pytest.raises(ModelLoadError, match=r"f.safetensors: .*wrong shape: 'single_blocks.1.linear2.weight \(file \(64, 10\), model \(64, 320\)\)'"):
        load_diffusion_model(tmp_path / "f.safetensors", device="cpu")


def test_schnell_weights_never_fill_a_dev_model(tmp_path):
    """A dev file with its guidance_in weights missing is detected as schnell; asking dev fields explicitly fails."""
    sd = {k: v for k, v in tiny_flux(True).state_dict().items() if not k.startswith("guidance_in.")}
    save(tmp_path / "f.safetensors", sd, {"guidance_embed": True})
    with pytest.raises(ModelLoadError, match=r"missing tensor\(s\): 'guidance_in.in_layer.bias'"):
        load_diffusion_model(tmp_path / "f.safetensors", device="cpu")


def test_missing_tokenizer_says_what_to_put_where(tmp_path):
    save(tmp_path / "t5.safetensors", t5_file_dict(tiny_t5()))
    save(tmp_path / "clip.safetensors", clip_file_dict(tiny_clip()))
    models = tmp_path / "models"
    with pytest.raises(ModelLoadError) as err:
        load_text_encoders(tmp_path / "t5.safetensors", tmp_path / "clip.safetensors", device="cpu", models_dir=models)
    message = str(err.value)
    assert "t5.safetensors" in message and "google/t5-v1_1-xxl" in message
    assert str(models / "tokenizers" / "t5xxl") in message and "tokenizer.json" in message


def test_text_encoders_need_one_of_each(tmp_path, models_dir):
    save(tmp_path / "a.safetensors", t5_file_dict(tiny_t5()))
    save(tmp_path / "b.safetensors", t5_file_dict(tiny_t5()))
    with pytest.raises(ModelLoadError, match=r"no CLIP text encoder among the given files: .*a.safetensors \(T5 text encoder\)"):
        load_text_encoders(tmp_path / "a.safetensors", tmp_path / "b.safetensors", device="cpu", models_dir=models_dir)


def test_checkpoint_without_text_encoders(tmp_path):
    sd = prefixed(tiny_flux().state_dict(), "model.diffusion_model.")
    sd.update(prefixed(tiny_ae().state_dict(), "vae."))
    save(tmp_path / "c.safetensors", sd)
    with pytest.raises(ModelLoadError, match=r"c.safetensors: expected a T5 text encoder, found FLUX transformer, FLUX autoencoder; a checkpoint must hold"):
        load_checkpoint(tmp_path / "c.safetensors", device="cpu")


def test_incomplete_diffusers_folder(tmp_path):
    (tmp_path / "transformer").mkdir()
    with pytest.raises(ModelLoadError, match=r"missing subfolder\(s\): \['vae'"):
        load_diffusers_folder(tmp_path, device="cpu")


def test_folder_with_pickle_weights_only(tmp_path):
    (tmp_path / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(ModelLoadError, match=r"no .safetensors weights.*diffusion_pytorch_model.bin"):
        load_diffusion_model(tmp_path, device="cpu")


def test_no_pickle_is_ever_used(tmp_path, models_dir, monkeypatch):
    from loading_fixtures import tiny_ae

    sd = prefixed(tiny_flux().state_dict(), "model.diffusion_model.")
    sd.update(prefixed(tiny_ae().state_dict(), "vae."))
    sd.update(prefixed(clip_file_dict(tiny_clip()), "text_encoders.clip_l.transformer."))
    sd.update(prefixed(t5_file_dict(tiny_t5()), "text_encoders.t5xxl.transformer."))
    save(tmp_path / "aio.safetensors", sd)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    model, cond, vae = load_checkpoint(tmp_path / "aio.safetensors", device="cpu", models_dir=models_dir)
    assert cond.encode(["a red circle"], no_grad=True)[1].shape == (1, 64)
