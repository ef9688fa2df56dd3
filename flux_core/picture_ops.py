"""Picture resizing and stitching for the editing nodes (Kontext scaling, side-by-side references).
Pictures are [B, H, W, 3] floats in 0..1."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

METHODS = ("bicubic", "bilinear", "nearest", "area")
SPACING_COLOURS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "red": (1.0, 0.0, 0.0),
                   "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


def resize(image: Tensor, width: int, height: int, method: str = "bicubic", crop_centre: bool = False) -> Tensor:
    """Resize to width x height (antialiased when shrinking); with ``crop_centre`` first cut the middle
    to the target's aspect ratio so nothing is stretched (ComfyUI's "center" crop)."""
    if method not in METHODS:
        raise ValueError(f"unknown resize method {method!r}; choose one of {', '.join(METHODS)}")
    if width < 1 or height < 1:
        raise ValueError(f"cannot resize to {width}x{height}")
    x = image[..., :3].permute(0, 3, 1, 2).float()
    if crop_centre:
        h, w = x.shape[-2:]
        if w / h > width / height:  # too wide: cut the sides
            keep = round(h * width / height)
            x = x[..., :, (w - keep) // 2:(w - keep) // 2 + keep]
        else:
            keep = round(w * height / width)
            x = x[..., (h - keep) // 2:(h - keep) // 2 + keep, :]
    if tuple(x.shape[-2:]) != (height, width):
        smooth = method in ("bicubic", "bilinear")
        x = F.interpolate(x, size=(height, width), mode=method, antialias=smooth,
                          **({"align_corners": False} if smooth else {}))
    return x.clamp(0, 1).permute(0, 2, 3, 1).contiguous()


def scale_to_max_side(image: Tensor, largest: int, method: str = "bicubic") -> Tensor:
    """Resize so the longer side is ``largest``, keeping the aspect ratio (ComfyUI ImageScaleToMaxDimension)."""
    h, w = image.shape[1:3]
    if h > w:
        w, h = round(w / h * largest), largest
    elif w > h:
        w, h = largest, round(h / w * largest)
    else:
        w = h = largest
    return resize(image, max(w, 1), max(h, 1), method)


def stitch(first: Tensor, second: Tensor, direction: str = "right", match_size: bool = True, spacing: int = 0,
           spacing_colour: str = "white") -> Tensor:
    """Put ``second`` to the right of / below / left of / above ``first``. With ``match_size`` the second is
    scaled to the first's height (side by side) or width (stacked); otherwise the smaller one is padded
    with black at its end. ``spacing`` pixels of a colour go between them."""
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
    if match_size and a.shape[other] != b.shape[other]:
        h, w = b.shape[1:3]
        if across:
            b = resize(b, max(1, round(w * a.shape[1] / h)), a.shape[1])
        else:
            b = resize(b, a.shape[2], max(1, round(h * a.shape[2] / w)))
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
