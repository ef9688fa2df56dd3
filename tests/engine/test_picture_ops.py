"""Stitching and size rules for the Kontext helper nodes, by hand."""
import pytest
import torch

from flux_core import picture_ops


def test_stitch_pads_centred_and_puts_spacing_between():
    a = torch.full((1, 2, 3, 3), 0.5)
    b = torch.full((1, 1, 2, 3), 0.25)
    out = picture_ops.stitch(a, b, "right", spacing=2, spacing_colour="red")
    assert out.shape == (1, 2, 7, 3)
    assert (out[0, :, :3] == 0.5).all() and out[0, 0, 3].tolist() == [1.0, 0.0, 0.0]
    assert (out[0, 0, 5:] == 0.25).all() and (out[0, 1, 5:] == 0).all()  # the odd row after it, 0 for red
    out = picture_ops.stitch(a, b, "up")
    assert out.shape == (1, 3, 3, 3) and (out[0, 0, :2] == 0.25).all() and (out[0, 0, 2] == 1).all()  # white
    assert (out[0, 1:] == 0.5).all()
    out = picture_ops.stitch(torch.zeros(3, 2, 2, 3), b, "right")  # a shorter batch repeats its last picture
    assert out.shape == (3, 2, 4, 3) and (out[:, 0, 2:] == 0.25).all()
    with pytest.raises(ValueError, match="direction"):
        picture_ops.stitch(a, b, "diagonal")


def test_sizes():
    assert picture_ops.max_side_size(400, 300, 1024) == (1024, 768)
    assert picture_ops.max_side_size(300, 400, 100) == (75, 100)
    assert picture_ops.max_side_size(50, 50, 64) == (64, 64)
    a, b = torch.zeros(1, 100, 50, 3), torch.zeros(1, 20, 40, 3)
    assert picture_ops.matched_size(a, b, "right") == (200, 100)
    assert picture_ops.matched_size(a, b, "down") == (50, 25)
