"""Cross-check: the product's key maps (flux_core.loading.keymaps) agree with this suite's independent
mapping of flux-spec §5.4 and with diffusers' own VAE converter, tensor by tensor."""
import pytest
import torch

from flux_core.models import AutoEncoder, Flux

from .helpers import (
    bfl_to_diffusers,
    bfl_vae_to_diffusers,
    diffusers_vae_for,
    randomize_,
    tiny_ae_params,
    tiny_flux_params,
)

keymaps = pytest.importorskip("flux_core.loading.keymaps")
lazy = pytest.importorskip("flux_core.loading.tensors")
pytestmark = pytest.mark.parity


def _convert(fn, sd):
    """Run a product key map (it works on lazy tensors) on an in-memory state dict."""
    return lazy.to_tensors(fn(lazy.from_tensors(sd)))


@pytest.mark.parametrize("guidance", [True, False])
def test_transformer_keymaps_agree_with_independent_mapping(guidance):
    sd = randomize_(Flux(tiny_flux_params(guidance)), seed=8).state_dict()
    ours = _convert(keymaps.bfl_to_diffusers_transformer, sd)
    oracle = bfl_to_diffusers(sd)
    assert ours.keys() == oracle.keys()
    assert all(torch.equal(ours[k], oracle[k]) for k in oracle)
    back = _convert(keymaps.diffusers_to_bfl_transformer, oracle)
    assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)


def test_vae_keymaps_agree_with_diffusers_converter():
    ae = randomize_(AutoEncoder(tiny_ae_params(4)), seed=9)
    sd = ae.state_dict()
    oracle = bfl_vae_to_diffusers(sd, diffusers_vae_for(ae.params))
    ours = _convert(keymaps.bfl_to_diffusers_vae, sd)
    assert ours.keys() == oracle.keys()
    assert all(torch.equal(ours[k], oracle[k]) for k in oracle)
    back = _convert(keymaps.diffusers_to_bfl_vae, oracle)
    assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)
