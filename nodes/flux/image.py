"""Pixel nodes: decode and encode with the autoencoder, load pictures, save and preview them."""
from __future__ import annotations

import re
from pathlib import Path

from flux_core.files import UnsafeName, check_name, write_numbered
from flux_core.graph.node import Combo, Input, Node, NodeError, Output, String

from .folders import file_stamp, input_image_path, input_images
from .values import Latent, Vae

MAX_IMAGE_PIXELS = 8192 * 8192


def centre_crop_pixels(image):
    """IMAGE [B, H, W, C] -> (pixels [B, 3, H16, W16] in [-1, 1], W16, H16), centre-cropped to multiples of 16."""
    b, h, w, c = image.shape
    h16, w16 = h // 16 * 16, w // 16 * 16
    if h16 == 0 or w16 == 0:
        raise NodeError(f"the picture is {w}x{h}; it must be at least 16x16", input="image")
    top, left = (h - h16) // 2, (w - w16) // 2
    return image[:, top:top + h16, left:left + w16, :3].permute(0, 3, 1, 2) * 2 - 1, w16, h16


class VAEDecode(Node):
    """Turn latents into pictures with the autoencoder."""

    category = "image"
    inputs = [Input("vae", "VAE"), Input("latent", "LATENT")]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, vae, latent):
        from .tiled import decode_latent

        if latent.channels != vae.latent_channels:
            raise NodeError(f"the latent has {latent.channels} channels but the autoencoder {vae.name} decodes "
                            f"{vae.latent_channels}", input="latent")
        x = decode_latent(vae, latent.samples, ctx)  # in tiles when the whole would not fit the device
        return ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).contiguous()


class VAEEncode(Node):
    """Turn pictures into latents (for img2img); sides are centre-cropped to multiples of 16."""

    category = "image"
    inputs = [Input("vae", "VAE"), Input("image", "IMAGE")]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, vae, image):
        from .tiled import encode_pixels

        pixels, w16, h16 = centre_crop_pixels(image)
        return Latent(encode_pixels(vae, pixels, ctx), w16, h16)


def read_input_picture(env, name: str, input: str = "image"):
    """The uploaded picture `name`, upright (EXIF orientation applied) and fully decoded.

    The one place that checks a picture's size before decoding it and turns every decoding failure into an
    error naming the input, for every node that reads an input picture."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = input_image_path(env, name)
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise NodeError(f"{name} is {im.width}x{im.height}, larger than fluxwire accepts", input=input)
            upright = ImageOps.exif_transpose(im)
            upright.load()
            return upright
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise NodeError(f"cannot read {name} as a picture: {e}", input=input) from None


class LoadImage(Node):
    """Load a picture from the input folder (PNG, JPEG, WebP, ...; uploads land there too), optionally
    cropped or resized so both sides are multiples of 16."""

    category = "image"
    inputs = [Combo("image", input_images, "example.png", upload="image"),
              Combo("fit", ["none", "crop", "resize"], description="make the sides multiples of 16")]
    outputs = [Output("image", "IMAGE"),
               Output("mask", "MASK", description="from the alpha channel: transparent = 1 (to paint)")]

    @classmethod
    def fingerprint(cls, env, image, fit):
        return file_stamp(input_image_path(env, image))

    def run(self, ctx, image, fit):
        import numpy as np
        import torch
        from PIL import Image

        im = read_input_picture(ctx.env, image).convert("RGBA")  # alpha becomes the mask output
        w16, h16 = max(16, im.width // 16 * 16), max(16, im.height // 16 * 16)
        if fit == "crop" and (w16, h16) != im.size:
            left, top = (im.width - w16) // 2, (im.height - h16) // 2
            im = im.crop((left, top, left + w16, top + h16)) if im.width >= 16 and im.height >= 16 \
                else im.resize((w16, h16), Image.LANCZOS)
        elif fit == "resize" and (w16, h16) != im.size:
            im = im.resize((w16, h16), Image.LANCZOS)
        arr = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)[None]
        return {"image": arr[..., :3].contiguous(), "mask": 1.0 - arr[..., 3]}


def _to_pil(image):
    from PIL import Image

    from flux_core.picture_ops import to_8bit

    return [Image.fromarray(a) for a in to_8bit(image)]


def _summary(ctx) -> str:
    """Seed, steps, prompt and models of the nodes feeding this one, in readable lines.

    One pass over the links builds who-feeds-whom, so a long chain costs linear time, not quadratic."""
    workflow = ctx.run_info.get("workflow")
    if workflow is None:
        return ""
    sources: dict[str, list[str]] = {}
    for link in workflow.links:
        sources.setdefault(link.target, []).append(link.source)
    upstream, stack = set(), [ctx.node_id]
    while stack:
        for source in sources.get(stack.pop(), ()):
            if source not in upstream:
                upstream.add(source)
                stack.append(source)
    keys = ("text", "clip_text", "seed", "steps", "denoise", "guidance", "width", "height", "model_name",
            "ckpt_name", "t5_name", "clip_name", "vae_name", "folder_name")
    lines = []
    for nid, spec in workflow.nodes.items():
        if nid not in upstream:
            continue
        for key in keys:
            if key in spec.widgets and spec.widgets[key] not in ("", None):
                label = "prompt" if key == "text" else key
                lines.append(f"{label}: {spec.widgets[key]}")
    return "\n".join(lines)


def _write_png(pil, folder: Path, prefix: str, workflow_text: str | None, summary: str) -> Path:
    """Write a PNG whole under the next free ``prefix_NNNNN.png`` inside `folder` (see flux_core.files:
    never overwrites, never follows a link, never leaves a half-written picture under its final name)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if workflow_text is not None:
        info.add_itxt("fluxwire.workflow", workflow_text)
    if summary:
        info.add_itxt("parameters", summary)
    try:
        return write_numbered(folder, prefix, ".png",
                              lambda f: pil.save(f, format="PNG", pnginfo=info, compress_level=4))
    except UnsafeName as e:
        raise NodeError(f"{e}; the output folder is {folder}", input="filename_prefix") from None


def _check_prefix(prefix: str) -> str:
    """A prefix is a file name, optionally under sub-folders of the output folder (``portraits/fox``)."""
    try:
        check_name(prefix, "file name prefix")
    except UnsafeName as e:
        raise NodeError(f"{e}; use a name such as 'fluxwire' or 'portraits/fox' inside the output folder",
                        input="filename_prefix") from None
    return prefix


class SaveImage(Node):
    """Save pictures as PNG files in the output folder. Each file carries the workflow that made it (drop it
    on the canvas to get the workflow back) and its seed, steps and prompt in readable form."""

    category = "image"
    output_node = True
    inputs = [Input("images", "IMAGE"), String("filename_prefix", "fluxwire")]
    outputs = []

    def run(self, ctx, images, filename_prefix):
        from flux_core.graph.workflow import dumps_document

        prefix = _check_prefix(filename_prefix)
        workflow = ctx.run_info.get("workflow")
        expansion = getattr(workflow, "expansion", None)
        if expansion is not None and expansion.document is not None:
            workflow = expansion.document  # the document as written, with its subgraph instances
        text = dumps_document(workflow) if workflow is not None else None
        summary = _summary(ctx)
        paths = [str(_write_png(p, Path(ctx.output_dir), prefix, text, summary)) for p in _to_pil(images)]
        ctx.show(images=paths)
        return {}


class PreviewImage(Node):
    """Show pictures on the canvas without keeping them (written to this server's own temporary folder,
    removed when it stops)."""

    category = "image"
    output_node = True
    inputs = [Input("images", "IMAGE")]
    outputs = []

    def run(self, ctx, images):
        folder = ctx.env.preview_dir
        stem = "preview_" + re.sub(r"[^A-Za-z0-9_-]+", "-", ctx.node_id)[:60]  # ids are free text
        paths = [str(_write_png(p, folder, stem, None, "")) for p in _to_pil(images)]
        ctx.show(images=paths)
        return {}


NODES = [VAEDecode, VAEEncode, LoadImage, SaveImage, PreviewImage]
