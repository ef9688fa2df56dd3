"""parity-plan rows 4-6: timestep embedding and the 3-axis RoPE vs diffusers."""
import pytest
import torch
from diffusers.models.embeddings import apply_rotary_emb, get_timestep_embedding
from diffusers.models.transformers.transformer_flux import FluxPosEmbed

from flux_core import sampling
from flux_core.models.layers import EmbedND, apply_rope, timestep_embedding

pytestmark = pytest.mark.parity


def test_timestep_embedding_matches_diffusers():
    t = torch.tensor([0.0, 0.0625, 0.5, 0.988, 1.0, 3.5])  # 3.5 = a guidance value
    ref = get_timestep_embedding(1000 * t, 256, flip_sin_to_cos=True, downscale_freq_shift=0)
    torch.testing.assert_close(timestep_embedding(t, 256), ref, rtol=0, atol=1e-5)


def test_timestep_embedding_spec_vector():
    emb = timestep_embedding(torch.tensor([1.0]), 256)[0]
    expected = torch.tensor([0.5623791, 0.9942316, 0.8268796, 0.1072541])
    torch.testing.assert_close(emb[[0, 127, 128, 255]], expected, rtol=0, atol=1e-5)


def _ids(n_txt=5, h=8, w=12):
    return torch.cat([sampling.txt_ids(1, n_txt), sampling.img_ids(1, h, w)], dim=1)


def test_rope_tables_match_diffusers():
    ids = _ids()
    cos, sin = EmbedND(16, 10000, (4, 4, 8))(ids)
    ref_cos, ref_sin = FluxPosEmbed(theta=10000, axes_dim=[4, 4, 8])(ids[0])
    assert cos.shape == (1, 1, ids.shape[1], 8) and cos.dtype == torch.float32
    for ref in (ref_cos, ref_sin):  # diffusers repeats every value for both elements of a pair
        assert torch.equal(ref[:, 0::2], ref[:, 1::2])
    torch.testing.assert_close(cos[0, 0], ref_cos[:, 0::2], rtol=0, atol=1e-5)
    torch.testing.assert_close(sin[0, 0], ref_sin[:, 0::2], rtol=0, atol=1e-5)


def test_rope_application_matches_diffusers():
    ids = _ids()
    x = torch.randn(2, 2, ids.shape[1], 16)
    pe = EmbedND(16, 10000, (4, 4, 8))(ids)
    ref = apply_rotary_emb(x, FluxPosEmbed(theta=10000, axes_dim=[4, 4, 8])(ids[0]), sequence_dim=2)
    torch.testing.assert_close(apply_rope(x, pe), ref, rtol=0, atol=1e-5)
    # text tokens have all-zero ids: identity rotation
    torch.testing.assert_close(apply_rope(x, pe)[:, :, :5], x[:, :, :5], rtol=0, atol=0)


def test_embednd_rejects_axes_that_do_not_fill_the_head():
    with pytest.raises(ValueError, match="axes_dim"):
        EmbedND(16, 10000, (4, 4, 4))
