"""ImageStitch as ComfyUI computes it, restated here with NumPy and PIL: batch lengths matched by repeating
the last picture; with match_image_size the second picture scaled (truncated size, Lanczos through 8-bit,
even when the size is already right); without it the smaller one padded centred (the odd row or column
after it) with 1.0 for white, 0.0 for black and for the colours; spacing (rounded up to even) between."""
import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from nodes.flux.kontext import ImageStitch

COLOURS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0),
           "blue": (0.0, 0.0, 1.0)}


def lanczos(pictures, width, height):
    out = []
    for pic in pictures:
        im = Image.fromarray(np.clip(255.0 * pic, 0, 255).astype(np.uint8)).resize((width, height), Image.LANCZOS)
        out.append(np.asarray(im).astype(np.float32) / 255.0)
    return np.stack(out)


def ref_stitch(one, two, direction, match, spacing, colour):
    one, two = one.copy(), two.copy()
    most = max(len(one), len(two))
    one = np.concatenate([one] + [one[-1:]] * (most - len(one)))
    two = np.concatenate([two] + [two[-1:]] * (most - len(two)))
    across = direction in ("left", "right")
    if match:
        (h1, w1), (h2, w2) = one.shape[1:3], two.shape[1:3]
        width, height = (int(h1 * (w2 / h2)), h1) if across else (w1, int(w1 / (w2 / h2)))
        two = lanczos(two, width, height)
    else:
        value = {"white": 1.0, "black": 0.0}.get(colour, 0.0)
        axis = 1 if across else 2
        size = max(one.shape[axis], two.shape[axis])

        def pad(x):
            missing = size - x.shape[axis]
            widths = [(0, 0)] * 4
            widths[axis] = (missing // 2, missing - missing // 2)
            return np.pad(x, widths, constant_values=value)
        one, two = pad(one), pad(two)
    parts = [two, one] if direction in ("left", "up") else [one, two]
    concat = 2 if across else 1
    if spacing:
        shape = list(one.shape)
        shape[concat] = spacing + spacing % 2
        parts.insert(1, np.broadcast_to(np.array(COLOURS[colour], np.float32), shape))
    return np.concatenate(parts, axis=concat)


@pytest.mark.parametrize("direction, match", list(itertools.product(["right", "down", "left", "up"], [False, True])))
def test_image_stitch_is_comfyuis(direction, match):
    rng = np.random.default_rng(0)
    one = rng.random((2, 21, 30, 3), dtype=np.float32)
    for shape, spacing, colour in (((1, 16, 25, 3), 0, "white"), ((3, 24, 19, 3), 4, "red"),
                                   ((2, 18, 33, 3), 3, "black"), ((1, 21, 30, 3), 2, "blue")):
        two = rng.random(shape, dtype=np.float32)
        got = ImageStitch().run(None, torch.from_numpy(one), torch.from_numpy(two), direction, match, spacing, colour)
        want = ref_stitch(one, two, direction, match, spacing, colour)
        assert got.shape == want.shape, (direction, match, shape)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6, err_msg=f"{direction} {match} {shape}")


def test_padding_is_centred_in_the_spacing_colour():
    """The plain facts, by hand: 3 missing rows go 1 above and 2 below, white pads with 1, red with 0."""
    one, two = torch.full((1, 5, 2, 3), 0.5), torch.full((1, 2, 2, 3), 0.25)
    out = ImageStitch().run(None, one, two, "right", False, 0, "white")
    assert out[0, :, 2:, 0].tolist() == [[1.0, 1.0], [0.25, 0.25], [0.25, 0.25], [1.0, 1.0], [1.0, 1.0]]
    out = ImageStitch().run(None, one, two, "right", False, 0, "red")
    assert out[0, :, 2:, 0].tolist() == [[0.0, 0.0], [0.25, 0.25], [0.25, 0.25], [0.0, 0.0], [0.0, 0.0]]
