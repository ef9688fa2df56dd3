"""Prompt nodes: encode text with T5 + CLIP, set the distilled guidance of FLUX dev."""
from __future__ import annotations

from flux_core.node import Float, Input, Node, Output, String

from .values import Conditioning


class TextEncode(Node):
    """Encode a prompt with T5 (the token sequence) and CLIP (the pooled vector); `clip_text`, when
    given, is what CLIP reads instead of the prompt."""

    category = "conditioning"
    inputs = [Input("text_encoder", "TEXT_ENCODER"),
              String("text", "", multiline=True, placeholder="a photo of ..."),
              String("clip_text", "", multiline=True, optional=True, placeholder="(same as the prompt)")]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, text_encoder, text, clip_text=""):
        import torch

        from flux_core.memory import borrow

        encoders = text_encoder.conditioner
        with borrow(encoders.t5, encoders.clip, ctx=ctx), torch.inference_mode():
            txt, vec = encoders.encode([text], [clip_text or text], no_grad=True)
        return Conditioning(txt=txt.float().cpu(), vec=vec.float().cpu(), guidance=None, prompt=text)


class FluxGuidance(Node):
    """Set the distilled guidance strength FLUX dev reads (3.5 is the usual value; schnell has none)."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Float("guidance", 3.5, min=0.0, max=100.0, step=0.1)]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, guidance):
        return conditioning.with_guidance(guidance)


NODES = [TextEncode, FluxGuidance]
