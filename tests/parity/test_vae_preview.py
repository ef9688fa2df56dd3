"""The preview projection: a linear latent-to-colour map fitted to the autoencoder itself (issue 13)."""
import torch
import torch.nn.functional as F

from flux_core.models import AutoEncoder, AutoEncoderParams

from .helpers import randomize_


def test_preview_projection_reproduces_a_linear_decoder_exactly():
    """A decoder whose cell colours are linear in the latent is recovered exactly by the fitted map,
    so the preview shows what a decode would show, at a tiny fraction of the cost."""
    ae = randomize_(AutoEncoder(AutoEncoderParams(ch=8, ch_mult=(1, 1), num_res_blocks=1, z_channels=4,
                                                  norm_groups=4)), seed=3).eval()
    mix = torch.tensor([[0.5, -0.2, 0.1], [0.0, 0.3, -0.4], [0.2, 0.2, 0.2], [-0.1, 0.0, 0.6]])
    offset = torch.tensor([0.05, -0.1, 0.0])

    def linear_decode(z):  # nearest-upsampled cells: each 2x2 pixel block has its cell's colour
        cells = torch.einsum("bchw,cd->bdhw", z, mix) + offset.view(1, 3, 1, 1)
        return F.interpolate(cells, scale_factor=ae.downscale, mode="nearest")

    ae.decoder.forward = linear_decode
    z = torch.randn(1, 4, 6, 5, generator=torch.Generator().manual_seed(1))
    preview = ae.preview_decode(z)
    assert preview.shape == (1, 3, 12, 10)
    cells = F.avg_pool2d(ae.decode(z), 2)
    expected = F.interpolate(cells, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(preview, expected, rtol=1e-4, atol=1e-4)
    assert ae.preview_projection() is ae.preview_projection()  # fitted once


def test_previews_run_the_decoder_once_not_per_step():
    """The map is fitted with one probe decode; every preview after that is a small matmul."""
    ae = randomize_(AutoEncoder(AutoEncoderParams(ch=8, ch_mult=(1, 2), num_res_blocks=1, z_channels=4,
                                                  norm_groups=4)), seed=5).eval()
    calls = []
    ae.decoder.register_forward_hook(lambda *_: calls.append(1))
    z = torch.randn(1, 4, 12, 10, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        previews = [ae.preview_decode(z * (1 + step)) for step in range(4)]
    assert len(calls) == 1
    assert all(p.shape == (1, 3, 24, 20) and torch.isfinite(p).all() for p in previews)
    assert not torch.allclose(previews[0], previews[1])  # it does follow the latent
