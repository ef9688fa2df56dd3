"""Mask math against arrays worked out by hand (flux_core.masks)."""
import pytest
import torch

from flux_core import masks

T = lambda rows: torch.tensor(rows, dtype=torch.float32)[None]  # noqa: E731


def test_invert_threshold_and_alpha():
    m = T([[0.0, 0.25], [0.5, 1.0]])
    assert torch.equal(masks.invert(m), T([[1.0, 0.75], [0.5, 0.0]]))
    assert torch.equal(masks.threshold(m, 0.25), T([[0, 0], [1, 1]]))
    assert torch.equal(masks.from_alpha(torch.tensor([[0.0, 1.0]])), torch.tensor([[1.0, 0.0]]))


def test_grow_square_and_tapered_and_shrink():
    m = torch.zeros(1, 5, 5)
    m[0, 2, 2] = 1
    square = masks.grow(m, 1, tapered_corners=False)
    assert torch.equal(square[0], T([[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0],
                                     [0, 0, 0, 0, 0]])[0])
    plus = masks.grow(m, 1, tapered_corners=True)
    assert torch.equal(plus[0], T([[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0],
                                   [0, 0, 0, 0, 0]])[0])
    twice = masks.grow(m, 2, tapered_corners=True)
    assert twice[0].sum() == 13  # a diamond of radius 2
    assert torch.equal(masks.grow(square, -1, tapered_corners=False), m)
    # shrinking at the picture border: pixels past the edge count as repeated edge pixels
    full = torch.ones(1, 3, 3)
    assert torch.equal(masks.grow(full, -1), full)


def test_feather_edges_linear_ramps():
    m = torch.ones(1, 2, 4)
    out = masks.feather_edges(m, left=2, top=0, right=0, bottom=0)
    assert torch.allclose(out, T([[0.5, 1, 1, 1], [0.5, 1, 1, 1]]))
    # ComfyUI's right ramp: index -k for k = 0..3 -> column 0 x 1/4, column 3 x 2/4, 2 x 3/4, 1 x 4/4
    out = masks.feather_edges(m, left=0, top=1, right=4, bottom=0)
    assert torch.allclose(out, T([[0.25, 1, 0.75, 0.5], [0.25, 1, 0.75, 0.5]]))
    out = masks.feather_edges(torch.ones(1, 3, 1), left=0, top=0, right=0, bottom=2)
    assert torch.allclose(out[0, :, 0], torch.tensor([0.5, 1.0, 1.0]))  # row 0 x 1/2, row -1 x 2/2


def test_blur_keeps_mass_and_softens_edge():
    m = torch.zeros(1, 9, 9)
    m[0, :, 4:] = 1
    out = masks.blur(m, 2)
    row = out[0, 4]
    assert row[0] == pytest.approx(0, abs=1e-6) and row[8] == pytest.approx(1, abs=1e-6)
    assert 0.05 < row[3] < 0.5 < row[4] < 0.95  # the step is now a ramp
    # sigma 1 Gaussian over 5 taps: the value left of the step is the mass of taps 1 and 2
    k = torch.exp(-torch.tensor([4.0, 1.0, 0.0, 1.0, 4.0]) / 2)
    assert row[3].item() == pytest.approx((k[3] + k[4]).item() / k.sum().item(), abs=1e-6)
    assert torch.equal(masks.blur(m, 0), m)


def test_from_colour_exact_and_tolerance():
    img = torch.tensor([[[[1.0, 0.0, 0.0], [254 / 255, 0.0, 0.0], [0.0, 0.0, 1.0]]]])
    assert torch.equal(masks.from_colour(img, (255, 0, 0)), T([[1, 0, 0]]))
    assert torch.equal(masks.from_colour(img, (255, 0, 0), tolerance=1), T([[1, 1, 0]]))


def test_combine_operations():
    a, b = T([[0.2, 0.8]]), T([[0.5, 0.5]])
    assert torch.allclose(masks.combine(a, b, "add"), T([[0.7, 1.0]]))
    assert torch.allclose(masks.combine(a, b, "subtract"), T([[0.0, 0.3]]))
    assert torch.allclose(masks.combine(a, b, "intersect"), T([[0.1, 0.4]]))
    assert torch.allclose(masks.combine(a, b, "union"), T([[0.5, 0.8]]))
    assert torch.allclose(masks.combine(a, b, "difference"), T([[0.3, 0.3]]))
    with pytest.raises(ValueError, match="differ in size"):
        masks.combine(a, torch.zeros(1, 2, 2), "add")
    with pytest.raises(ValueError, match="unknown operation"):
        masks.combine(a, b, "xor")


def test_pad_for_outpaint_without_and_with_feathering():
    img = torch.rand(1, 6, 6, 3)
    out, mask = masks.pad_for_outpaint(img, left=2, top=0, right=0, bottom=1)
    assert out.shape == (1, 7, 8, 3) and mask.shape == (1, 7, 8)
    assert torch.equal(out[:, :6, 2:], img) and (out[:, 6] == 0.5).all() and (out[:, :, :2] == 0.5).all()
    expected = torch.ones(7, 8)
    expected[:6, 2:] = 0
    assert torch.equal(mask[0], expected)
    _, mask = masks.pad_for_outpaint(img, left=2, top=0, right=0, bottom=0, feathering=2)
    # inside the old picture, column j is j pixels from the padded left edge: d=0 -> 1, d=1 -> (1/2)^2
    assert torch.allclose(mask[0, 0], torch.tensor([1, 1, 1, 0.25, 0, 0, 0, 0]))
    assert torch.allclose(mask[0, 5], mask[0, 0])


def test_crop_to_mask_and_stitch_back_only_changes_the_mask():
    img = torch.rand(1, 64, 80, 3)
    m = torch.zeros(1, 64, 80)
    m[0, 30:34, 40:44] = 1
    crop, mcrop, region = masks.crop_to_mask(img, m, context=4, multiple=16)
    # box 40..44 x 30..34 grows by 4 to 36..48 x 26..38 (12 px), then to 16 px centred and kept inside
    assert (region.x, region.y, region.width, region.height) == (34, 24, 16, 16)
    assert torch.equal(crop, img[:, 24:40, 34:50]) and torch.equal(mcrop, m[:, 24:40, 34:50])
    painted = torch.zeros_like(crop)
    out = masks.stitch(region, painted)
    assert torch.equal(out[0, 30:34, 40:44], torch.zeros(4, 4, 3))
    keep = m[0] == 0
    assert torch.equal(out[0][keep], img[0][keep])
    with pytest.raises(ValueError, match="empty"):
        masks.crop_to_mask(img, torch.zeros(1, 64, 80))


def test_crop_near_the_border_stays_inside():
    img = torch.rand(1, 32, 32, 3)
    m = torch.zeros(1, 32, 32)
    m[0, 0:2, 30:32] = 1
    crop, _, region = masks.crop_to_mask(img, m, context=8)
    assert region.x + region.width <= 32 and region.y == 0 and crop.shape[1:3] == (16, 16)
