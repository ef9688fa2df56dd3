"""parity-plan rows 12-13: our AutoEncoder vs diffusers' AutoencoderKL with the same (converted) weights."""
import pytest
import torch
from diffusers import AutoencoderKL

from flux_core.models import AutoEncoder, AutoEncoderParams

from .helpers import bfl_vae_to_diffusers, diffusers_vae_for, randomize_, tiny_ae_params

pytestmark = pytest.mark.parity

TOL = dict(rtol=1e-4, atol=1e-4)


def build_pair(params: AutoEncoderParams):
    ours = randomize_(AutoEncoder(params), seed=5).eval()
    ref = diffusers_vae_for(params).eval()
    ref.load_state_dict(bfl_vae_to_diffusers(ours.state_dict(), ref), strict=True)
    return ours, ref


CONFIGS = {
    "4-level x8": tiny_ae_params(4),
    "2-level x2": AutoEncoderParams(ch=32, ch_mult=(1, 2), num_res_blocks=1, z_channels=4),
    "4 groups": AutoEncoderParams(ch=8, ch_mult=(1, 2, 2), num_res_blocks=2, z_channels=4, norm_groups=4),
}


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def pair(request):
    return build_pair(CONFIGS[request.param])


def test_encode_is_scaled_posterior_mean(pair):
    ours, ref = pair
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dist = ref.encode(x).latent_dist
    expected = (dist.mode() - 0.1159) * 0.3611
    torch.testing.assert_close(ours.encode(x), expected, **TOL)
    mean, logvar = ours.encode_moments(x)
    torch.testing.assert_close(mean, dist.mean, **TOL)
    torch.testing.assert_close(logvar, dist.logvar, **TOL)


def test_decode_undoes_scaling(pair):
    ours, ref = pair
    f = ours.downscale
    z = torch.randn(2, 4, 32 // f, 48 // f, generator=torch.Generator().manual_seed(1))
    expected = ref.decode(z / 0.3611 + 0.1159).sample
    out = ours.decode(z)
    assert out.shape == (2, 3, 32, 48)
    torch.testing.assert_close(out, expected, **TOL)


def test_full_size_keys_and_shapes_on_meta():
    with torch.device("meta"):
        ours = AutoEncoder(AutoEncoderParams.flux())
        ref = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
            latent_channels=16,
            use_quant_conv=False,
            use_post_quant_conv=False,
        )
    sd = ours.state_dict()
    assert len(sd) == 244
    assert sum(v.numel() for v in sd.values()) == 83_819_683
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes["encoder.conv_out.weight"] == (32, 512, 3, 3)
    assert shapes["decoder.conv_in.weight"] == (512, 16, 3, 3)
    assert shapes["decoder.up.0.block.0.nin_shortcut.weight"] == (128, 256, 1, 1)
    assert shapes["decoder.up.1.block.0.nin_shortcut.weight"] == (256, 512, 1, 1)
    assert shapes["encoder.down.1.block.0.nin_shortcut.weight"] == (256, 128, 1, 1)
    assert "decoder.up.0.upsample.conv.weight" not in shapes and "encoder.down.3.downsample.conv.weight" not in shapes
    assert not any("quant_conv" in k for k in shapes)
    converted = bfl_vae_to_diffusers(sd, ref)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in ref.state_dict().items()}


def test_symmetric_downsample_padding_would_be_caught(monkeypatch):
    """Negative test: the asymmetric (right/bottom) padding of Downsample matters."""
    from flux_core.models import autoencoder

    ours, ref = build_pair(tiny_ae_params(4))
    x = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    expected = (ref.encode(x).latent_dist.mode() - 0.1159) * 0.3611

    def symmetric(self, h):
        return self.conv(torch.nn.functional.pad(h, (1, 0, 1, 0)))

    monkeypatch.setattr(autoencoder.Downsample, "forward", symmetric)
    assert (ours.encode(x) - expected).abs().max() > 1e-2


def test_bad_group_count_is_a_clear_error():
    with pytest.raises(ValueError, match="groups"):
        AutoEncoder(AutoEncoderParams(ch=24, ch_mult=(1,), num_res_blocks=1, z_channels=4, norm_groups=32))


def test_inference_mode_path_matches_diffusers(pair):
    """Without autograd the blocks work in place and in channels-last order; same numbers as diffusers."""
    ours, ref = pair
    f = ours.downscale
    z = torch.randn(1, 4, 40 // f, 24 // f, generator=torch.Generator().manual_seed(4))
    x = torch.rand(1, 3, 40, 24, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.inference_mode():
        decoded, encoded = ours.decode(z), ours.encode(x)
        expected_decoded = ref.decode(z / 0.3611 + 0.1159).sample
        expected_encoded = (ref.encode(x).latent_dist.mode() - 0.1159) * 0.3611
    assert decoded.is_contiguous() and encoded.is_contiguous()
    torch.testing.assert_close(decoded, expected_decoded, **TOL)
    torch.testing.assert_close(encoded, expected_encoded, **TOL)
