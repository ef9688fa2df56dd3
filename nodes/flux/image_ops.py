"""Resizing and batching nodes for pictures and latents (ComfyUI's ImageScale, ImageScaleToTotalPixels,
ImageInvert, LatentUpscale, LatentUpscaleBy, RepeatLatentBatch), computed as ComfyUI computes them.

Latents here are in the model's space (scaled and shifted); the resize methods offered are affine-invariant
(weights summing to 1), so resizing them equals resizing ComfyUI's raw latents — all but ``bislerp``, which
runs on the raw latent (see nodes/flux/bislerp.py).
"""
from __future__ import annotations

import math

from flux_core.graph.node import Combo, Float, Input, Int, Node, NodeError, Output

from .values import Latent

IMAGE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
LATENT_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]
CROPS = ["disabled", "center"]
MAX_SIDE = 16384


def resize(samples, width: int, height: int, method: str, crop: str):
    """[B, C, H, W] -> [B, C, height, width]; "center" first crops to the new aspect ratio."""
    import torch

    if crop == "center":
        old_w, old_h = samples.shape[-1], samples.shape[-2]
        old_aspect, new_aspect = old_w / old_h, width / height
        x = y = 0
        if old_aspect > new_aspect:
            x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
        elif old_aspect < new_aspect:
            y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
        samples = samples.narrow(-2, y, old_h - y * 2).narrow(-1, x, old_w - x * 2)
    if method == "bislerp":
        from .bislerp import bislerp

        return bislerp(samples, width, height)
    if method == "lanczos":
        import numpy as np
        from PIL import Image

        out = []
        for pic in samples:
            arr = np.clip(255.0 * pic.movedim(0, -1).numpy(), 0, 255).astype(np.uint8)
            im = Image.fromarray(arr).resize((width, height), resample=Image.Resampling.LANCZOS)
            out.append(torch.from_numpy(np.array(im).astype(np.float32) / 255.0).movedim(-1, 0))
        return torch.stack(out)
    return torch.nn.functional.interpolate(samples, size=(height, width), mode=method)


def _resize_latent(x, width: int, height: int, method: str, crop: str):
    if method == "bislerp":  # not affine-invariant: on ComfyUI's raw latent
        from .bislerp import resize_model_latent

        return resize_model_latent(resize, x, width, height, method, crop)
    return resize(x, width, height, method, crop)


class ImageScale(Node):
    """Resize pictures to width x height (0 keeps the aspect ratio from the other side)."""

    category = "image"
    inputs = [Input("image", "IMAGE"), Combo("upscale_method", IMAGE_METHODS),
              Int("width", 512, min=0, max=MAX_SIDE), Int("height", 512, min=0, max=MAX_SIDE), Combo("crop", CROPS)]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image, upscale_method, width, height, crop):
        if width == 0 and height == 0:
            return image
        samples = image.movedim(-1, 1)
        if width == 0:
            width = max(1, round(samples.shape[3] * height / samples.shape[2]))
        elif height == 0:
            height = max(1, round(samples.shape[2] * width / samples.shape[3]))
        return resize(samples, width, height, upscale_method, crop).movedim(1, -1).contiguous()


class ImageScaleToTotalPixels(Node):
    """Resize pictures to about `megapixels` million pixels (1 = 1024 x 1024), keeping the aspect ratio."""

    category = "image"
    inputs = [Input("image", "IMAGE"), Combo("upscale_method", IMAGE_METHODS),
              Float("megapixels", 1.0, min=0.01, max=16.0, step=0.01)]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image, upscale_method, megapixels):
        samples = image.movedim(-1, 1)
        scale = math.sqrt(int(megapixels * 1024 * 1024) / (samples.shape[3] * samples.shape[2]))
        width, height = round(samples.shape[3] * scale), round(samples.shape[2] * scale)
        return resize(samples, width, height, upscale_method, "disabled").movedim(1, -1).contiguous()


class ImageInvert(Node):
    """The negative of pictures: 1 - value."""

    category = "image"
    inputs = [Input("image", "IMAGE")]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image):
        return 1.0 - image


class LatentUpscale(Node):
    """Resize latents to a pixel size (multiples of 8; 0 keeps the aspect ratio; at least 64)."""

    category = "latent"
    inputs = [Input("samples", "LATENT"), Combo("upscale_method", LATENT_METHODS),
              Int("width", 512, min=0, max=MAX_SIDE, step=8), Int("height", 512, min=0, max=MAX_SIDE, step=8),
              Combo("crop", CROPS)]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, samples, upscale_method, width, height, crop):
        if width == 0 and height == 0:
            return samples
        x = samples.samples
        if width == 0:
            height = max(64, height)
            width = max(64, round(x.shape[-1] * height / x.shape[-2]))
        elif height == 0:
            width = max(64, width)
            height = max(64, round(x.shape[-2] * width / x.shape[-1]))
        else:
            width, height = max(64, width), max(64, height)
        out = _resize_latent(x, width // 8, height // 8, upscale_method, crop)
        # the batch positions and the noise mask carry on (ComfyUI copies the latent dict): a picked picture
        # keeps its noise, and an inpaint latent keeps its mask unresized (the sampler fits it to the latent)
        return Latent(out, out.shape[-1] * 8, out.shape[-2] * 8, samples.noise_mask, samples.batch_index)


class LatentUpscaleBy(Node):
    """Resize latents by a factor: each latent side times `scale_by`, rounded (ComfyUI's LatentUpscaleBy, so a
    hires-fix graph from ComfyUI imports as it is); the batch positions and noise mask carry on as above."""

    category = "latent"
    inputs = [Input("samples", "LATENT"), Combo("upscale_method", LATENT_METHODS),
              Float("scale_by", 1.5, min=0.01, max=8.0, step=0.01)]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, samples, upscale_method, scale_by):
        x = samples.samples
        width, height = round(x.shape[-1] * scale_by), round(x.shape[-2] * scale_by)
        if width < 1 or height < 1:
            raise NodeError(f"{samples.width}x{samples.height} scaled by {scale_by} leaves no pixels", input="scale_by")
        if max(width, height) * 8 > MAX_SIDE:
            raise NodeError(f"{samples.width}x{samples.height} scaled by {scale_by} is larger than {MAX_SIDE} pixels",
                            input="scale_by")
        out = _resize_latent(x, width, height, upscale_method, "disabled")
        return Latent(out, width * 8, height * 8, samples.noise_mask, samples.batch_index)


class RepeatLatentBatch(Node):
    """Repeat a latent batch `amount` times; the noise for the larger batch is drawn in one go, as ComfyUI does."""

    category = "latent"
    inputs = [Input("samples", "LATENT"), Int("amount", 1, min=1, max=64)]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, samples, amount):
        if samples.batch * amount > 4096:
            raise NodeError(f"{samples.batch} x {amount} latents is more than 4096", input="amount")
        index = samples.batch_index
        if index is not None:  # ComfyUI numbers the copies' positions on after the picked ones
            offset = max(index) - min(index) + 1
            index = index + tuple(x + i * offset for i in range(1, amount) for x in index)
        return Latent(samples.samples.repeat(amount, 1, 1, 1), samples.width, samples.height, batch_index=index)


NODES = [ImageScale, ImageScaleToTotalPixels, ImageInvert, LatentUpscale, LatentUpscaleBy, RepeatLatentBatch]
