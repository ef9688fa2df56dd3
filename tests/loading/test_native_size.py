"""The native picture size of a model file comes from what the file holds (headers only), not its name."""
from __future__ import annotations

import json
import shutil

from loading_fixtures import randomize, save, tiny_ae, tiny_flux, tiny_flux_params
from safetensors.torch import save_file

from flux_core.model_folders import resolve
from flux_core.models import Flux
from flux_core.native_size import native_size, native_sizes


def save_with_metadata(path, module, metadata):
    save_file({k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, str(path), metadata=metadata)


def test_flux_mini_states_its_own_size():
    shipped = resolve("diffusion_models", "flux-mini.safetensors", None)
    assert native_size(shipped) == {"width": 64, "height": 64, "model": "flux-mini"}


def test_flux1_family_is_one_megapixel_whatever_the_file_is_called(tmp_path):
    dev, schnell = tmp_path / "flux-mini.safetensors", tmp_path / "dev-or-not.safetensors"
    save(dev, tiny_flux(guidance=True).state_dict())
    save(schnell, tiny_flux(guidance=False).state_dict())
    assert native_size(dev) == {"width": 1024, "height": 1024, "model": "FLUX.1 dev"}
    assert native_size(schnell) == {"width": 1024, "height": 1024, "model": "FLUX.1 schnell"}
    p = tiny_flux_params()
    fill = randomize(Flux(type(p)(**{**vars(p), "in_channels": 2 * p.out_channels + 256})))
    save(tmp_path / "x.safetensors", fill.state_dict())
    assert native_size(tmp_path / "x.safetensors")["model"] == "FLUX.1 Fill"
    save_with_metadata(tmp_path / "k.safetensors", tiny_flux(guidance=True), {"fluxwire.model_type": "kontext"})
    assert native_size(tmp_path / "k.safetensors")["model"] == "FLUX.1 Kontext"


def test_a_renamed_flux_mini_keeps_its_size_and_other_files_have_none(tmp_path):
    shutil.copy(resolve("diffusion_models", "flux-mini.safetensors", None), tmp_path / "flux1-dev.safetensors")
    assert native_size(tmp_path / "flux1-dev.safetensors")["width"] == 64
    save(tmp_path / "ae.safetensors", tiny_ae().state_dict())
    assert native_size(tmp_path / "ae.safetensors") is None  # an autoencoder, not a transformer
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    assert native_size(tmp_path / "junk.safetensors") is None
    assert native_size(tmp_path / "missing.safetensors") is None
    # a stated resolution that is not a size is ignored (then the FLUX.1 rule applies)
    save_with_metadata(tmp_path / "odd.safetensors", tiny_flux(), {"fluxwire.training": json.dumps({"resolution": "big"})})
    assert native_size(tmp_path / "odd.safetensors")["width"] == 1024


def test_native_sizes_lists_transformer_files_offered_by_loaders(tmp_path):
    folder = tmp_path / "diffusion_models"
    folder.mkdir()
    save(folder / "mine.safetensors", tiny_flux().state_dict())
    sizes = native_sizes({"diffusion_models": ["mine.safetensors", "flux-mini.safetensors", "gone.safetensors"],
                          "vae": ["flux-mini-ae.safetensors"]}, tmp_path)
    assert sizes == {"diffusion_models/mine.safetensors": {"width": 1024, "height": 1024, "model": "FLUX.1 dev"},
                     "diffusion_models/flux-mini.safetensors": {"width": 64, "height": 64, "model": "flux-mini"}}
