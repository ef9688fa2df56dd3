"""Conditioning nodes ComfyUI workflows use: separate CLIP and T5 texts, a zeroed negative, guidance off."""
from __future__ import annotations

from dataclasses import replace

from flux_core.graph.node import Float, Input, Node, Output, String

from .values import Conditioning


class TextEncodeFlux(Node):
    """Encode different texts for CLIP (`clip_l`: the pooled style vector) and T5 (`t5xxl`: the detailed
    prompt) and set the distilled guidance (dev; schnell ignores it in the ComfyUI-style samplers)."""

    category = "conditioning"
    inputs = [Input("text_encoder", "TEXT_ENCODER"), String("clip_l", "", multiline=True),
              String("t5xxl", "", multiline=True), Float("guidance", 3.5, min=0.0, max=100.0, step=0.1)]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, text_encoder, clip_l, t5xxl, guidance):
        from .conditioning import encode_text

        txt, vec = encode_text(ctx, text_encoder.conditioner, t5xxl, clip_l)
        return Conditioning(txt=txt, vec=vec, guidance=guidance, prompt=t5xxl)


class ConditioningZeroOut(Node):
    """All-zero T5 sequence and CLIP vector (same shapes, guidance kept): the usual FLUX "negative"."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING")]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning):
        import torch

        return replace(conditioning, txt=torch.zeros_like(conditioning.txt), vec=torch.zeros_like(conditioning.vec),
                       prompt="")


class FluxDisableGuidance(Node):
    """Run a dev model without its guidance embedding at all (not the same as guidance 0)."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING")]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning):
        return replace(conditioning, guidance=None, guidance_off=True)


NODES = [TextEncodeFlux, ConditioningZeroOut, FluxDisableGuidance]
