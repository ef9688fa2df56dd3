"""FLUX.1 Canny / Depth conditioning: the control picture's latent rides on the conditioning and is
concatenated to the noisy tokens at every step (flux_core.control). ComfyUI's InstructPixToPixConditioning
is the same thing with a positive and a negative."""
from __future__ import annotations

from dataclasses import replace

from flux_core.graph.node import Input, Node, NodeError, Output

from .tiled import encode_pixels
from .values import Conditioning, FluxModel, Latent


def control_velocity(model: FluxModel, conditioning: Conditioning, batch: int, h: int, w: int, device, dtype,
                     input_name: str = "conditioning"):
    """The velocity model one conditioning samples with: the transformer, wrapped to read the control
    latent when it is a Canny/Depth model. Refuses a control model without a control picture, a control
    picture of another size, and a control picture on a model that cannot read it."""
    from flux_core.control import ChannelConcatVelocity, control_tokens

    latent = conditioning.control_latent
    if model.control_kind is None:
        if latent is not None:
            raise NodeError(f"the conditioning carries a control picture but {model.name} is not a FLUX.1 "
                            f"Canny/Depth model (its img_in is {model.params.in_channels} wide, not "
                            f"{2 * model.params.out_channels}); load the control model", input=input_name)
        return model.model
    if latent is None:
        raise NodeError(f"{model.name} is a FLUX.1 Canny/Depth model: it needs a control picture; feed the "
                        f"conditioning through a ControlConditioning node", input=input_name)
    if tuple(latent.shape[-2:]) != (h, w) or latent.shape[1] != model.latent_channels:
        raise NodeError(f"the control picture is {latent.shape[-1] * 8}x{latent.shape[-2] * 8} px "
                        f"({latent.shape[1]} latent channels) but the latent is {w * 8}x{h * 8} px "
                        f"({model.latent_channels} channels)", input=input_name)
    try:
        tokens = control_tokens(latent, batch)
    except ValueError as e:
        raise NodeError(str(e), input=input_name) from None
    return ChannelConcatVelocity(model.model, tokens.to(device, dtype))


def _encode_control(vae, image, ctx, input_name: str = "image"):
    """Control picture [B, H, W, 3] -> its latent, centre-cropped to multiples of 16 (FLUX's patch); the
    autoencoder is borrowed from the memory manager (tiles when the picture would not fit)."""
    from flux_core.control import control_pixels

    b, h, w, _ = image.shape
    h16, w16 = h // 16 * 16, w // 16 * 16
    if h16 == 0 or w16 == 0:
        raise NodeError(f"the control picture is {w}x{h}; it must be at least 16x16", input=input_name)
    top, left = (h - h16) // 2, (w - w16) // 2
    pixels = control_pixels(image[:, top:top + h16, left:left + w16])
    return encode_pixels(vae, pixels, ctx), w16, h16


class ControlConditioning(Node):
    """Follow the edges or depth of a control picture with FLUX.1 Canny/Depth: the picture's latent is
    added to the conditioning (and to the negative, when there is one). Also gives an empty latent of the
    picture's size to sample into. Feed it an edge map (Canny) or a depth map (DepthMap), not the photo."""

    category = "control"
    inputs = [Input("conditioning", "CONDITIONING"), Input("vae", "VAE"), Input("image", "IMAGE"),
              Input("negative", "CONDITIONING", optional=True,
                    description="a negative prompt for classifier-free guidance gets the same control picture")]
    outputs = [Output("conditioning", "CONDITIONING"), Output("latent", "LATENT"),
               Output("negative", "CONDITIONING",
                      description="the negative input with the control picture (the conditioning when none)")]

    def run(self, ctx, conditioning, vae, image, negative=None):
        import torch

        z, w, h = _encode_control(vae, image, ctx)
        positive = replace(conditioning, control_latent=z)
        negative = positive if negative is None else replace(negative, control_latent=z)
        latent = Latent(torch.zeros_like(z), w, h)
        return {"conditioning": positive, "latent": latent, "negative": negative}


class InstructPixToPixConditioning(Node):
    """ComfyUI's name for the control conditioning: positive and negative both get the picture's latent;
    the latent output is empty, of the picture's size."""

    category = "control"
    inputs = [Input("positive", "CONDITIONING"), Input("negative", "CONDITIONING"), Input("vae", "VAE"),
              Input("pixels", "IMAGE")]
    outputs = [Output("positive", "CONDITIONING"), Output("negative", "CONDITIONING"),
               Output("latent", "LATENT")]

    def run(self, ctx, positive, negative, vae, pixels):
        import torch

        z, w, h = _encode_control(vae, pixels, ctx, "pixels")
        return {"positive": replace(positive, control_latent=z), "negative": replace(negative, control_latent=z),
                "latent": Latent(torch.zeros_like(z), w, h)}


NODES = [ControlConditioning, InstructPixToPixConditioning]
