"""Prompt nodes: encode text with T5 + CLIP, set the distilled guidance of FLUX dev."""
from __future__ import annotations

from flux_core.graph.node import Float, Input, Node, Output, String

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
        txt, vec = encode_text(ctx, text_encoder.conditioner, text, clip_text or text)
        return Conditioning(txt=txt, vec=vec, guidance=None, prompt=text)


class FluxGuidance(Node):
    """Set the distilled guidance strength FLUX dev reads (3.5 is the usual value; schnell has none)."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Float("guidance", 3.5, min=0.0, max=100.0, step=0.1)]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, guidance):
        return conditioning.with_guidance(guidance)


NODES = [TextEncode, FluxGuidance]


def _refuse_found_embeddings(ctx, *texts: str) -> None:
    """ComfyUI drops an ``embedding:NAME`` it cannot find (so does fluxwire) but splices one it finds in
    models/embeddings into CLIP-L; fluxwire has no textual inversion, so that picture cannot be made."""
    from flux_core.models.comfy_text import found_embeddings
    from flux_core.graph.node import NodeError

    folder = getattr(ctx, "models_dir", None)
    for text in texts if folder is not None else ():
        for name, path in found_embeddings(text, folder / "embeddings"):
            raise NodeError(f"the prompt uses embedding:{name} ({path}); ComfyUI would apply it to CLIP-L, but "
                            "fluxwire has no textual-inversion embeddings: take it out of the prompt (an embedding "
                            "ComfyUI does not find is ignored, by ComfyUI and fluxwire alike)")


def encode_text(ctx, encoders, t5_text: str, clip_text: str):
    """(T5 sequence, CLIP pooled vector) on the CPU, the encoders borrowed from the memory manager: one at a
    time for BFL's tokenization (T5-XXL alone is 9.5 GB), both together for ComfyUI's (one call tokenizes and
    encodes both, with prompt weights and CLIP chunks)."""
    import torch

    from flux_core.memory import borrow

    if encoders.tokenization == "comfyui":
        _refuse_found_embeddings(ctx, t5_text, clip_text)
        with borrow(encoders.t5, encoders.clip, ctx=ctx), torch.inference_mode():
            txt, vec = encoders.encode([t5_text], [clip_text], no_grad=True)
        return txt.float().cpu(), vec.float().cpu()
    with borrow(encoders.t5, ctx=ctx) as t5, torch.inference_mode():
        ids = encoders.t5_input_ids([t5_text]).to(next(t5.parameters()).device)
        txt = t5(input_ids=ids, attention_mask=None, output_hidden_states=False).last_hidden_state.float().cpu()
    with borrow(encoders.clip, ctx=ctx) as clip, torch.inference_mode():
        ids = encoders.clip_input_ids([clip_text]).to(next(clip.parameters()).device)
        vec = clip(input_ids=ids, attention_mask=None, output_hidden_states=False).pooler_output.float().cpu()
    return txt, vec
