"""Picture sizes and stitching for the editing nodes (Kontext references side by side, longest-side scaling).
Pictures are [B, H, W, 3] floats in 0..1."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SPACING_COLOURS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "red": (1.0, 0.0, 0.0),
                   "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


def to_8bit(image: Tensor):
    """Pixels 0..1 ([..., H, W, 3]) -> a uint8 numpy array the way ComfyUI's SaveImage makes them: times 255 in
    float32, clipped, then truncated (not rounded), so the same latents give byte-identical PNGs in both."""
    import numpy as np

    return np.clip(255.0 * image.float().cpu().numpy(), 0, 255).astype(np.uint8)


def max_side_size(width: int, height: int, largest: int) -> tuple[int, int]:
    """(width, height) with the longer side ``largest`` and the aspect ratio kept (ComfyUI
    ImageScaleToMaxDimension's rounding)."""
    if height > width:
        return max(1, round(width / height * largest)), largest
    if width > height:
        return largest, max(1, round(height / width * largest))
    return largest, largest


def matched_size(first: Tensor, second: Tensor, direction: str) -> tuple[int, int]:
    """(width, height) to scale ``second`` to so it lines up with ``first``: the same height side by
    side, the same width stacked, keeping its aspect ratio."""
    h1, w1 = first.shape[1:3]
    h2, w2 = second.shape[1:3]
    if direction in ("right", "left"):
        return max(1, round(w2 * h1 / h2)), h1
    return w1, max(1, round(h2 * w1 / w2))


def stitch(first: Tensor, second: Tensor, direction: str = "right", spacing: int = 0,
           spacing_colour: str = "white") -> Tensor:
    """Put ``second`` to the right of / below / left of / above ``first`` (scale it first with
    :func:`matched_size` to line them up); the smaller one is padded with black at its end. ``spacing``
    pixels of a colour go between them."""
    if direction not in ("right", "down", "left", "up"):
        raise ValueError(f"unknown direction {direction!r}; choose right, down, left or up")
    if spacing_colour not in SPACING_COLOURS:
        raise ValueError(f"unknown spacing colour {spacing_colour!r}")
    a, b = first[..., :3].float(), second[..., :3].float()
    if a.shape[0] != b.shape[0]:
        if b.shape[0] == 1:
            b = b.expand(a.shape[0], -1, -1, -1)
        elif a.shape[0] == 1:
            a = a.expand(b.shape[0], -1, -1, -1)
        else:
            raise ValueError(f"batches of {a.shape[0]} and {b.shape[0]} pictures cannot be stitched")
    across = direction in ("right", "left")
    axis = 2 if across else 1
    other = 1 if across else 2
    size = max(a.shape[other], b.shape[other])

    def padded(x):
        missing = size - x.shape[other]
        if missing == 0:
            return x
        # F.pad lists (channels, width, height) from the last dimension: pad the height side by side
        pad = (0, 0, 0, 0, 0, missing) if across else (0, 0, 0, missing)
        return F.pad(x, pad)

    a, b = padded(a), padded(b)
    parts = [a, b] if direction in ("right", "down") else [b, a]
    if spacing > 0:
        shape = list(a.shape)
        shape[axis] = spacing
        gap = torch.tensor(SPACING_COLOURS[spacing_colour]).expand(*shape).clone()
        parts = [parts[0], gap, parts[1]]
    return torch.cat(parts, dim=axis)
