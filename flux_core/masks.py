"""Mask math for inpainting and outpainting: pure functions on [B, H, W] float masks in 0..1.

A mask value of 1 means "paint here" (ComfyUI's convention: a transparent pixel of a loaded picture is
1). Pictures are [B, H, W, 3] floats in 0..1, as on the IMAGE socket. Where ComfyUI has a node with the
same job, the numbers follow it (GrowMask, FeatherMask, ThresholdMask, ImageColorToMask,
ImagePadForOutpaint), so imported ComfyUI workflows give the same masks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def as_batch(mask: Tensor) -> Tensor:
    """[H, W] or [B, H, W] (or [B, 1, H, W]) -> float32 [B, H, W]."""
    if mask.ndim == 2:
        mask = mask[None]
    elif mask.ndim == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.ndim != 3:
        raise ValueError(f"a mask is [batch, height, width], got shape {tuple(mask.shape)}")
    return mask.float()


def from_alpha(alpha: Tensor) -> Tensor:
    """Alpha channel in 0..1 -> mask: transparent (alpha 0) is 1, to be painted."""
    return 1.0 - alpha.float()


def invert(mask: Tensor) -> Tensor:
    return 1.0 - as_batch(mask)


def threshold(mask: Tensor, value: float) -> Tensor:
    """1 where the mask is strictly above ``value``, else 0 (ComfyUI ThresholdMask)."""
    return (as_batch(mask) > value).float()


def _dilate_once(m: Tensor, tapered: bool) -> Tensor:
    """One 3x3 grey dilation with the edge pixels repeated past the border; ``tapered`` drops the
    corners of the 3x3 window (a plus shape), so repeated growth rounds off corners."""
    p = F.pad(m[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    h, w = m.shape[-2:]
    out = m.clone()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if (dy, dx) == (0, 0) or (tapered and dy != 0 and dx != 0):
                continue
            out = torch.maximum(out, p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w])
    return out


def grow(mask: Tensor, pixels: int, tapered_corners: bool = True) -> Tensor:
    """Grow (pixels > 0) or shrink (pixels < 0) the painted area by that many pixels (ComfyUI GrowMask)."""
    m = as_batch(mask)
    for _ in range(abs(int(pixels))):
        m = _dilate_once(m, tapered_corners) if pixels > 0 else 1.0 - _dilate_once(1.0 - m, tapered_corners)
    return m


def blur(mask: Tensor, radius: float) -> Tensor:
    """Soften the mask's edge with a Gaussian of sigma ``radius / 2`` over a (2*radius+1) window, so a
    painted area fades out over about ``radius`` pixels (what people mean by feathering an inpaint mask)."""
    m = as_batch(mask)
    r = int(round(radius))
    if r <= 0:
        return m
    sigma = max(radius / 2.0, 1e-6)
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    kernel = torch.exp(-(x * x) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    out = F.pad(m[:, None], (r, r, 0, 0), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1))
    out = F.pad(out, (0, 0, r, r), mode="replicate")
    out = F.conv2d(out, kernel.view(1, 1, -1, 1))
    return out[:, 0].clamp(0, 1)


def feather_edges(mask: Tensor, left: int, top: int, right: int, bottom: int) -> Tensor:
    """Fade the mask towards the picture's borders with linear ramps, with ComfyUI FeatherMask's numbers:
    the pixel k from the left (top) border, k < left, is scaled by (k + 1) / left. ComfyUI counts the
    right (bottom) ramp as index -k for k = 0 .. right-1, so the last column gets 2 / right, the one
    before 3 / right, ..., and column 0 (index -0) is scaled by 1 / right: kept here so imported
    ComfyUI workflows give the same masks."""
    m = as_batch(mask).clone()
    h, w = m.shape[-2:]
    left, top, right, bottom = min(left, w), min(top, h), min(right, w), min(bottom, h)
    for k in range(left):
        m[:, :, k] *= (k + 1) / left
    for k in range(right):
        m[:, :, -k] *= (k + 1) / right
    for k in range(top):
        m[:, k, :] *= (k + 1) / top
    for k in range(bottom):
        m[:, -k, :] *= (k + 1) / bottom
    return m


def from_colour(image: Tensor, rgb: tuple[int, int, int], tolerance: int = 0) -> Tensor:
    """1 where a pixel's 0..255 colour is within ``tolerance`` of ``rgb`` in every channel (tolerance 0 is
    ComfyUI's ImageColorToMask: pixels rounded to 8 bits must equal the colour exactly)."""
    pixels = (image[..., :3].clamp(0, 1) * 255).round()
    target = torch.tensor(rgb, dtype=pixels.dtype)
    return ((pixels - target).abs() <= tolerance).all(dim=-1).float()


COMBINE_OPERATIONS = ("add", "subtract", "intersect", "union", "difference")


def combine(a: Tensor, b: Tensor, operation: str) -> Tensor:
    """Combine two masks of the same size: add/subtract clamp to 0..1, intersect multiplies, union takes
    the larger value, difference the absolute difference. A single mask broadcasts over a batch."""
    a, b = as_batch(a), as_batch(b)
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"the masks differ in size: {a.shape[-1]}x{a.shape[-2]} and {b.shape[-1]}x{b.shape[-2]}")
    if operation == "add":
        return (a + b).clamp(0, 1)
    if operation == "subtract":
        return (a - b).clamp(0, 1)
    if operation == "intersect":
        return a * b
    if operation == "union":
        return torch.maximum(a, b)
    if operation == "difference":
        return (a - b).abs()
    raise ValueError(f"unknown operation {operation!r}; choose one of {', '.join(COMBINE_OPERATIONS)}")


def resize(mask: Tensor, height: int, width: int) -> Tensor:
    """Bilinear resize of a mask (what ComfyUI does to fit a mask to a picture or a latent)."""
    m = as_batch(mask)
    if m.shape[-2:] == (height, width):
        return m
    return F.interpolate(m[:, None], size=(height, width), mode="bilinear")[:, 0]


# ---------------------------------------------------------------------------------------------
# outpainting


def pad_for_outpaint(image: Tensor, left: int, top: int, right: int, bottom: int,
                     feathering: int = 0) -> tuple[Tensor, Tensor]:
    """Grow a picture by grey (0.5) borders and return (picture, mask) with the new borders painted (1)
    (ComfyUI ImagePadForOutpaint). With ``feathering`` > 0 the mask also reaches into the old picture
    along the padded sides: a pixel d < feathering pixels from a padded edge gets ((feathering - d) /
    feathering)^2, so the seam is repainted softly."""
    b, h, w, c = image.shape
    out = torch.full((b, h + top + bottom, w + left + right, c), 0.5, dtype=image.dtype)
    out[:, top:top + h, left:left + w] = image
    mask = torch.ones(h + top + bottom, w + left + right, dtype=torch.float32)
    inner = torch.zeros(h, w, dtype=torch.float32)
    if feathering > 0 and feathering * 2 < h and feathering * 2 < w:
        i = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
        j = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
        far_h, far_w = torch.full_like(i, float(h)), torch.full_like(j, float(w))
        d = torch.minimum(torch.minimum(i if top else far_h, (h - i) if bottom else far_h),
                          torch.minimum(j if left else far_w, (w - j) if right else far_w))
        v = (feathering - d) / feathering
        inner = torch.where(d < feathering, v * v, inner)
    mask[top:top + h, left:left + w] = inner
    return out, mask[None].expand(b, -1, -1).contiguous()


# ---------------------------------------------------------------------------------------------
# crop to the mask and stitch back


@dataclass(frozen=True)
class CropRegion:
    """Where an inpainting crop came from: the box in the original picture and the original itself."""

    x: int
    y: int
    width: int
    height: int
    original: Tensor  # [B, H, W, 3]
    mask: Tensor  # [B, H, W], the mask that decides what is pasted back


def mask_box(mask: Tensor) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), exclusive ends, of the pixels > 0 in any mask of the batch; None if empty."""
    m = as_batch(mask).amax(dim=0) > 0
    rows, cols = torch.nonzero(m.any(dim=1)), torch.nonzero(m.any(dim=0))
    if len(rows) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _span(lo: int, hi: int, size: int, limit: int) -> tuple[int, int]:
    """A span of ``size`` (<= limit) around [lo, hi), moved inside [0, limit)."""
    centre = (lo + hi) / 2
    start = int(round(centre - size / 2))
    start = min(max(start, 0), limit - size)
    return start, start + size


def crop_to_mask(image: Tensor, mask: Tensor, context: int = 32, multiple: int = 16
                 ) -> tuple[Tensor, Tensor, CropRegion]:
    """Cut out the painted area plus ``context`` pixels around it, grown to multiples of ``multiple``
    (FLUX needs 16) where the picture allows. Returns (picture crop, mask crop, region for stitching)."""
    m = as_batch(mask)
    b, h, w, _ = image.shape
    if m.shape[-2:] != (h, w):
        raise ValueError(f"the mask is {m.shape[-1]}x{m.shape[-2]} but the picture is {w}x{h}")
    box = mask_box(m)
    if box is None:
        raise ValueError("the mask is empty: nothing to crop to")
    x0, y0, x1, y1 = box
    x0, y0, x1, y1 = max(0, x0 - context), max(0, y0 - context), min(w, x1 + context), min(h, y1 + context)

    def grown(n: int, limit: int) -> int:
        size = -(-n // multiple) * multiple
        return size if size <= limit else limit // multiple * multiple or limit

    cw, ch = grown(x1 - x0, w), grown(y1 - y0, h)
    cx0, cx1 = _span(x0, x1, cw, w)
    cy0, cy1 = _span(y0, y1, ch, h)
    region = CropRegion(cx0, cy0, cw, ch, image.clone(), m.expand(b, -1, -1).clone())
    return image[:, cy0:cy1, cx0:cx1].clone(), m[:, cy0:cy1, cx0:cx1].clone(), region


def stitch(region: CropRegion, painted: Tensor, blend: float = 0.0) -> Tensor:
    """Paste an inpainted crop back into the original picture where the mask says (softened by
    ``blend`` pixels), leaving every other pixel of the original exactly as it was."""
    b, ch, cw = painted.shape[0], painted.shape[1], painted.shape[2]
    if (ch, cw) != (region.height, region.width):
        painted = F.interpolate(painted.permute(0, 3, 1, 2), size=(region.height, region.width),
                                mode="bilinear").permute(0, 2, 3, 1)
    out = region.original.clone()
    if out.shape[0] != b:
        out = out[:1].expand(b, -1, -1, -1).clone()
    m = region.mask[:, region.y:region.y + region.height, region.x:region.x + region.width]
    if blend > 0:
        m = blur(m, blend)
    m = m[..., None].expand(b, -1, -1, -1) if m.shape[0] == b else m[:1, ..., None].expand(b, -1, -1, -1)
    box = out[:, region.y:region.y + region.height, region.x:region.x + region.width]
    out[:, region.y:region.y + region.height, region.x:region.x + region.width] = \
        painted[..., :3] * m + box * (1 - m)
    return out
