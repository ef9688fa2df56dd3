"""Inpainting nodes: a noise mask on a latent (any model), differential diffusion for soft masks, and the
FLUX.1 Fill conditioning (picture + mask + autoencoder)."""
from __future__ import annotations

from dataclasses import replace

from flux_core.graph.node import Boolean, Float, Input, Node, NodeError, Output

from .tiled import encode_pixels
from .values import Latent


def _fit_mask(mask, height: int, width: int, input_name: str = "mask"):
    from flux_core.masks import as_batch, resize

    try:
        return resize(as_batch(mask), height, width)
    except ValueError as e:
        raise NodeError(str(e), input=input_name) from None


class SetLatentNoiseMask(Node):
    """Sample only where the mask paints: the rest of the latent stays the input latent, held at each
    step's noise level and exactly restored at the end (classic masked img2img, any model)."""

    category = "inpaint"
    inputs = [Input("latent", "LATENT"), Input("mask", "MASK")]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, latent, mask):
        m = _fit_mask(mask, latent.height, latent.width)
        if latent.batch % m.shape[0]:
            raise NodeError(f"{m.shape[0]} masks cannot be spread over a batch of {latent.batch} latents",
                            input="mask")
        return replace(latent, noise_mask=m)


class DifferentialDiffusion(Node):
    """Read a soft noise mask as a per-pixel denoise strength: a pixel with mask value v changes only
    during the last v of the schedule (ComfyUI's DifferentialDiffusion; strength between 0 and 1 mixes
    back the soft mask; 0 acts as 1, as in ComfyUI)."""

    category = "inpaint"
    inputs = [Input("model", "MODEL"), Float("strength", 1.0, min=0.0, max=1.0, step=0.01)]
    outputs = [Output("model", "MODEL")]

    def run(self, ctx, model, strength):
        return replace(model, differential=strength or 1.0)  # ComfyUI treats strength 0 like 1 (binary)


class InpaintConditioning(Node):
    """Prepare inpainting or outpainting: FLUX.1 Fill reads the masked picture and the mask at every
    step (they ride on the conditioning); the latent is the encoded picture, with the mask as its noise
    mask when `noise_mask` is on (ComfyUI's InpaintModelConditioning). The mask is binarised at 0.5."""

    category = "inpaint"
    inputs = [Input("conditioning", "CONDITIONING"), Input("vae", "VAE"), Input("image", "IMAGE"),
              Input("mask", "MASK"),
              Boolean("noise_mask", True, description="also keep the unmasked latent (for any model)"),
              Input("negative", "CONDITIONING", optional=True,
                    description="a negative prompt for classifier-free guidance gets the same picture and mask")]
    outputs = [Output("conditioning", "CONDITIONING"), Output("latent", "LATENT"),
               Output("negative", "CONDITIONING",
                      description="the negative input with the picture and mask (the conditioning when none)")]

    def run(self, ctx, conditioning, vae, image, mask, noise_mask, negative=None):
        from flux_core.fill import masked_pixels

        b, h, w, _ = image.shape
        h16, w16 = h // 16 * 16, w // 16 * 16
        if h16 == 0 or w16 == 0:
            raise NodeError(f"the picture is {w}x{h}; it must be at least 16x16", input="image")
        m = _fit_mask(mask, h, w)
        if m.shape[0] not in (1, b):
            raise NodeError(f"{m.shape[0]} masks for {b} pictures", input="mask")
        top, left = (h - h16) // 2, (w - w16) // 2
        image = image[:, top:top + h16, left:left + w16]
        m = m[:, top:top + h16, left:left + w16].expand(b, -1, -1).contiguous()
        fill_latent = encode_pixels(vae, masked_pixels(image, m), ctx)
        picture = encode_pixels(vae, image[..., :3].permute(0, 3, 1, 2) * 2 - 1, ctx)
        binary = (m >= 0.5).float()
        out = {"conditioning": replace(conditioning, fill_latent=fill_latent, fill_mask=binary),
               "latent": Latent(picture, w16, h16, m if noise_mask else None)}
        # without a negative prompt the output repeats the conditioning (a guider at cfg 1 never evaluates it)
        out["negative"] = out["conditioning"] if negative is None else replace(negative, fill_latent=fill_latent,
                                                                                fill_mask=binary)
        return out


NODES = [SetLatentNoiseMask, DifferentialDiffusion, InpaintConditioning]
