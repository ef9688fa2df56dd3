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
    side, the same width stacked, keeping its aspect ratio — truncated, as ComfyUI's ImageStitch does."""
    h1, w1 = first.shape[1:3]
    h2, w2 = second.shape[1:3]
    aspect = w2 / h2
    if direction in ("right", "left"):
        return max(1, int(h1 * aspect)), h1
    return w1, max(1, int(w1 / aspect))


def _padded(x: Tensor, size: int, axis: int, value: float) -> Tensor:
    """x grown to ``size`` along ``axis`` (1: height, 2: width), centred: the first half of the missing rows
    (rounded down) before it, the rest after, filled with ``value`` in every channel."""
    missing = size - x.shape[axis]
    if missing == 0:
        return x
    before, after = missing // 2, missing - missing // 2
    # F.pad lists (channels, width, height) pairs from the last dimension
    pad = (0, 0, 0, 0, before, after) if axis == 1 else (0, 0, before, after)
    return F.pad(x, pad, mode="constant", value=value)


def _same_batch(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """The smaller batch made as long as the other by repeating its last picture (ComfyUI's rule)."""
    most = max(a.shape[0], b.shape[0])

    def grown(x):
        return x if x.shape[0] == most else torch.cat([x, x[-1:].repeat(most - x.shape[0], 1, 1, 1)])
    return grown(a), grown(b)


def stitch(first: Tensor, second: Tensor, direction: str = "right", spacing: int = 0,
           spacing_colour: str = "white") -> Tensor:
    """Put ``second`` to the right of / below / left of / above ``first`` (scale it first with
    :func:`matched_size` to line them up), as ComfyUI's ImageStitch does: the smaller one is padded centred
    (the odd row or column after it) with the spacing colour when that is white (1) or black (0), with 0
    for red/green/blue; ``spacing`` pixels of the colour (rounded up to even) go between them; a shorter
    batch repeats its last picture."""
    if direction not in ("right", "down", "left", "up"):
        raise ValueError(f"unknown direction {direction!r}; choose right, down, left or up")
    if spacing_colour not in SPACING_COLOURS:
        raise ValueError(f"unknown spacing colour {spacing_colour!r}")
    a, b = _same_batch(first[..., :3].float(), second[..., :3].float())
    across = direction in ("right", "left")
    axis = 2 if across else 1
    other = 1 if across else 2
    size = max(a.shape[other], b.shape[other])
    pad_value = {"white": 1.0, "black": 0.0}.get(spacing_colour, 0.0)
    a, b = _padded(a, size, other, pad_value), _padded(b, size, other, pad_value)
    parts = [a, b] if direction in ("right", "down") else [b, a]
    if spacing > 0:
        shape = list(a.shape)
        shape[axis] = spacing + spacing % 2
        gap = torch.tensor(SPACING_COLOURS[spacing_colour]).expand(*shape).clone()
        parts = [parts[0], gap, parts[1]]
    return torch.cat(parts, dim=axis)
