"""CLIPVisionEncode's picture preparation as ComfyUI's clip_preprocess does it: unless the picture is already
size x size, antialiased bicubic to the shorter side (crop "center") or to a square (crop "none") and the
centre cut out; then the values clipped and rounded to an 8-bit picture's 256 levels — after the resize —
and normalised with SigLIP's mean and std (0.5). The rounding is restated here in NumPy."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flux_core import redux

SIZE = 32


def ref_pixels(image, size, crop):
    x = image.permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    if (h, w) != (size, size):
        nh, nw = (round(size / min(h, w) * h), round(size / min(h, w) * w)) if crop else (size, size)
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True)
        x = x[..., (nh - size) // 2:(nh - size) // 2 + size, (nw - size) // 2:(nw - size) // 2 + size]
    levels = np.round(np.clip(x.double().numpy() * 255.0, 0, 255))  # half to even, as torch.round
    return (levels / 255.0 - 0.5) / 0.5, levels


@pytest.mark.parametrize("shape, crop", [((2, 45, 60, 3), True), ((1, 60, 45, 3), False), ((1, 32, 32, 3), True),
                                         ((1, 32, 50, 3), True), ((1, 20, 24, 3), True)])
def test_vision_pixels_round_to_8_bit_after_the_resize(shape, crop):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(shape, generator=g) * 1.2 - 0.1  # values outside 0..1 are clipped
    got = redux.vision_pixels(image, SIZE, crop)
    want, levels = ref_pixels(image, SIZE, crop)
    assert got.shape == (shape[0], 3, SIZE, SIZE)
    np.testing.assert_allclose(got.double().numpy(), want, atol=1e-6)
    assert len(np.unique(levels)) > 200  # a real spread of levels, all of them whole 8-bit values
    np.testing.assert_allclose((got.double().numpy() * 0.5 + 0.5) * 255, levels, atol=1e-4)
    unrounded = F.interpolate(image.permute(0, 3, 1, 2), size=(SIZE, SIZE), mode="bicubic", antialias=True)
    if shape[1:3] != (SIZE, SIZE) and not crop:
        assert ((unrounded.clamp(0, 1) - 0.5) / 0.5 - got).abs().max() > 1e-3  # the rounding shows
