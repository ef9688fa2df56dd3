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

        encoders = text_encoder.conditioner  # one encoder on the device at a time: T5-XXL alone is 9.5 GB
        with borrow(encoders.t5, ctx=ctx) as t5, torch.inference_mode():
            ids = encoders.t5_input_ids([text]).to(next(t5.parameters()).device)
            txt = t5(input_ids=ids, attention_mask=None, output_hidden_states=False).last_hidden_state.float().cpu()
        with borrow(encoders.clip, ctx=ctx) as clip, torch.inference_mode():
            ids = encoders.clip_input_ids([clip_text or text]).to(next(clip.parameters()).device)
            vec = clip(input_ids=ids, attention_mask=None, output_hidden_states=False).pooler_output.float().cpu()
        return Conditioning(txt=txt, vec=vec, guidance=None, prompt=text)


class FluxGuidance(Node):
    """Set the distilled guidance strength FLUX dev reads (3.5 is the usual value; schnell has none)."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Float("guidance", 3.5, min=0.0, max=100.0, step=0.1)]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, guidance):
        return conditioning.with_guidance(guidance)


NODES = [TextEncode, FluxGuidance]
