"""Editing nodes for FLUX.1 Kontext: reference pictures on the conditioning, the sizes Kontext was trained
on, and picture stitching/scaling for several references."""
from __future__ import annotations

from dataclasses import replace

from flux_core.graph.node import Boolean, Combo, Input, Int, Node, NodeError, Output

from .image_ops import IMAGE_METHODS, resize
from .tiled import encode_pixels



def _picture_op(fn, input_name: str, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        raise NodeError(str(e), input=input_name) from None


class ReferenceImage(Node):
    """Add a reference picture for Kontext to edit or draw from: encoded, packed and shown to the model
    beside the picture being made (chain several; see KontextReferenceMethod for how they are placed).
    The sides are centre-cropped to multiples of 16."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Input("vae", "VAE"), Input("image", "IMAGE")]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, vae, image):
        b, h, w, _ = image.shape
        h16, w16 = h // 16 * 16, w // 16 * 16
        if h16 == 0 or w16 == 0:
            raise NodeError(f"the picture is {w}x{h}; it must be at least 16x16", input="image")
        top, left = (h - h16) // 2, (w - w16) // 2
        pixels = image[:1, top:top + h16, left:left + w16, :3].permute(0, 3, 1, 2) * 2 - 1
        latent = encode_pixels(vae, pixels, ctx)
        return replace(conditioning, references=(*conditioning.references, latent))


class ReferenceLatent(Node):
    """Add an already encoded latent as a Kontext reference (ComfyUI's ReferenceLatent); without a
    latent the conditioning passes unchanged."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Input("latent", "LATENT", optional=True)]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, latent=None):
        if latent is None:
            return conditioning
        if latent.height % 16 or latent.width % 16:
            raise NodeError(f"the latent is {latent.width}x{latent.height} px; references need multiples of 16",
                            input="latent")
        return replace(conditioning, references=(*conditioning.references, latent.samples[:1]))


class KontextReferenceMethod(Node):
    """How several references are placed: offset (beside each other, ComfyUI's default), index (each its
    own layer) or uxo."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Combo("method", ["offset", "index", "uxo"])]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, method):
        return replace(conditioning, reference_method=method)


class KontextImageScale(Node):
    """Scale a picture to the Kontext training size with the closest aspect ratio (centre-cropped to
    that ratio first, Lanczos), as ComfyUI's FluxKontextImageScale does."""

    category = "image"
    inputs = [Input("image", "IMAGE")]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image):
        from flux_core.kontext import preferred_size

        width, height = preferred_size(image.shape[2], image.shape[1])
        return resize(image.movedim(-1, 1), width, height, "lanczos", "center").movedim(1, -1).contiguous()


class ImageStitch(Node):
    """Put two pictures side by side or stacked (to give Kontext several references as one picture); with
    match_image_size the second is scaled (Lanczos) to line up with the first, else the smaller is padded,
    centred, as ComfyUI does (white or black with those spacing colours, else black)."""

    category = "image"
    inputs = [Input("image1", "IMAGE"), Input("image2", "IMAGE"),
              Combo("direction", ["right", "down", "left", "up"]), Boolean("match_image_size", True),
              Int("spacing_width", 0, min=0, max=1024, step=2),
              Combo("spacing_color", ["white", "black", "red", "green", "blue"])]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image1, image2, direction, match_image_size, spacing_width, spacing_color):
        from flux_core.picture_ops import matched_size, stitch

        if match_image_size:  # always through Lanczos, as in ComfyUI (8-bit even at the same size)
            width, height = matched_size(image1, image2, direction)
            image2 = resize(image2[..., :3].movedim(-1, 1), width, height, "lanczos", "disabled").movedim(1, -1)
        return _picture_op(stitch, "image2", image1, image2, direction, spacing_width, spacing_color)


class ImageScaleToMaxDimension(Node):
    """Resize so the longer side has `largest_size` pixels, keeping the aspect ratio."""

    category = "image"
    inputs = [Input("image", "IMAGE"), Combo("upscale_method", IMAGE_METHODS),
              Int("largest_size", 1024, min=16, max=8192)]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, image, upscale_method, largest_size):
        from flux_core.picture_ops import max_side_size

        width, height = max_side_size(image.shape[2], image.shape[1], largest_size)
        return resize(image.movedim(-1, 1), width, height, upscale_method, "disabled").movedim(1, -1).contiguous()


NODES = [ReferenceImage, ReferenceLatent, KontextReferenceMethod, KontextImageScale, ImageStitch,
         ImageScaleToMaxDimension]
