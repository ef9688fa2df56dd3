"""Mask nodes: load, edit and combine MASK values ([B, H, W], 1 = paint), pad a picture for outpainting,
crop a picture to its mask and stitch the painted crop back. The math lives in flux_core.masks."""
from __future__ import annotations

from flux_core.graph.node import Boolean, Combo, Float, Input, Int, Node, NodeError, Output
from flux_core.graph.types import register_type

from .folders import file_stamp, input_image_path, input_images

register_type("INPAINT_REGION", "#ce93d8", "where an inpainting crop was cut from, to stitch it back")


def _checked(fn, input_name: str, *args, **kwargs):
    """Run a flux_core.masks function, turning its ValueError into a NodeError naming the input."""
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        raise NodeError(str(e), input=input_name) from None


class LoadMask(Node):
    """Load a mask from a picture in the input folder: one channel of it, 0..1. The alpha channel is
    inverted like LoadImage's mask (transparent = paint); a picture without the channel gives no mask (0)."""

    category = "mask"
    inputs = [Combo("image", input_images, "example.png", upload="image"),
              Combo("channel", ["alpha", "red", "green", "blue", "grey"])]
    outputs = [Output("mask", "MASK")]

    @classmethod
    def fingerprint(cls, env, image, channel):
        return file_stamp(input_image_path(env, image))

    def run(self, ctx, image, channel):
        import numpy as np
        import torch

        from .image import read_input_picture

        im = read_input_picture(ctx.env, image)
        has_alpha = "A" in im.getbands() or "transparency" in im.info
        if channel == "grey":
            plane = im.convert("L")
        elif channel == "alpha" and not has_alpha:
            return torch.zeros(1, im.height, im.width)
        else:
            plane = im.convert("RGBA").getchannel("RGBA"["rgba".index(channel[0])])
        mask = torch.from_numpy(np.asarray(plane, dtype=np.float32) / 255.0)[None]
        return 1.0 - mask if channel == "alpha" else mask


class InvertMask(Node):
    """Swap painted and kept areas."""

    category = "mask"
    inputs = [Input("mask", "MASK")]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, mask):
        from flux_core.masks import invert

        return invert(mask)


class GrowMask(Node):
    """Grow (positive) or shrink (negative) the painted area by whole pixels; tapered corners round it."""

    category = "mask"
    inputs = [Input("mask", "MASK"), Int("expand", 8, min=-512, max=512),
              Boolean("tapered_corners", True)]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, mask, expand, tapered_corners):
        from flux_core.masks import grow

        return grow(mask, expand, tapered_corners)


class BlurMask(Node):
    """Feather the mask's edge: a Gaussian blur over about `radius` pixels, for soft seams."""

    category = "mask"
    inputs = [Input("mask", "MASK"), Float("radius", 8.0, min=0.0, max=256.0, step=0.5)]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, mask, radius):
        from flux_core.masks import blur

        return blur(mask, radius)


class FeatherMask(Node):
    """Fade the mask towards the picture's borders with linear ramps (ComfyUI's FeatherMask)."""

    category = "mask"
    inputs = [Input("mask", "MASK"), Int("left", 0, min=0, max=8192), Int("top", 0, min=0, max=8192),
              Int("right", 0, min=0, max=8192), Int("bottom", 0, min=0, max=8192)]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, mask, left, top, right, bottom):
        from flux_core.masks import feather_edges

        return feather_edges(mask, left, top, right, bottom)


class ThresholdMask(Node):
    """1 where the mask is above `value`, else 0: a hard mask from a soft one."""

    category = "mask"
    inputs = [Input("mask", "MASK"), Float("value", 0.5, min=0.0, max=1.0, step=0.01)]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, mask, value):
        from flux_core.masks import threshold

        return threshold(mask, value)


class MaskFromColor(Node):
    """Paint where the picture has this colour (0..255 per channel, within `tolerance`)."""

    category = "mask"
    inputs = [Input("image", "IMAGE"), Int("red", 255, min=0, max=255), Int("green", 255, min=0, max=255),
              Int("blue", 255, min=0, max=255), Int("tolerance", 0, min=0, max=255)]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, image, red, green, blue, tolerance):
        from flux_core.masks import from_colour

        return from_colour(image, (red, green, blue), tolerance)


class CombineMasks(Node):
    """Combine two masks of the same size: add, subtract, intersect, union or difference."""

    category = "mask"
    inputs = [Input("mask_a", "MASK"), Input("mask_b", "MASK"),
              Combo("operation", ["add", "subtract", "intersect", "union", "difference"])]
    outputs = [Output("mask", "MASK")]

    def run(self, ctx, mask_a, mask_b, operation):
        from flux_core.masks import combine

        return _checked(combine, "mask_b", mask_a, mask_b, operation)


class PadForOutpaint(Node):
    """Grow the picture with grey borders and give the mask that paints them (feathering also repaints
    that many pixels of the old picture along the seam)."""

    category = "mask"
    inputs = [Input("image", "IMAGE"), Int("left", 0, min=0, max=8192, step=8), Int("top", 0, min=0, max=8192, step=8),
              Int("right", 0, min=0, max=8192, step=8), Int("bottom", 0, min=0, max=8192, step=8),
              Int("feathering", 40, min=0, max=8192)]
    outputs = [Output("image", "IMAGE"), Output("mask", "MASK")]

    def run(self, ctx, image, left, top, right, bottom, feathering):
        from flux_core.masks import pad_for_outpaint

        padded, mask = pad_for_outpaint(image, left, top, right, bottom, feathering)
        return {"image": padded, "mask": mask}


class CropToMask(Node):
    """Cut out the painted area with `context` pixels around it (sides multiples of 16), so only that
    region is inpainted at full resolution; StitchCrop pastes the result back."""

    category = "mask"
    inputs = [Input("image", "IMAGE"), Input("mask", "MASK"), Int("context", 32, min=0, max=4096)]
    outputs = [Output("image", "IMAGE"), Output("mask", "MASK"), Output("region", "INPAINT_REGION")]

    def run(self, ctx, image, mask, context):
        from flux_core.masks import crop_to_mask

        crop, mask_crop, region = _checked(crop_to_mask, "mask", image, mask, context)
        return {"image": crop, "mask": mask_crop, "region": region}


class StitchCrop(Node):
    """Paste an inpainted crop back into the picture it was cut from, only where the mask paints
    (softened by `blend` pixels); every other pixel stays exactly as it was."""

    category = "mask"
    inputs = [Input("region", "INPAINT_REGION"), Input("image", "IMAGE"),
              Float("blend", 0.0, min=0.0, max=256.0, step=0.5)]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, region, image, blend):
        from flux_core.masks import stitch

        return stitch(region, image, blend)


NODES = [LoadMask, InvertMask, GrowMask, BlurMask, FeatherMask, ThresholdMask, MaskFromColor, CombineMasks,
         PadForOutpaint, CropToMask, StitchCrop]
