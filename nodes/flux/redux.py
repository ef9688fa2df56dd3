"""FLUX.1 Redux nodes: a SigLIP vision encoder sees a picture, the Redux style model turns what it saw into
T5-space tokens, and ApplyStyle appends them to the prompt (flux_core.redux). The picture then steers the
generation like words do: variations of it, or its style mixed with the prompt."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from flux_core.graph.cache import estimate_bytes
from flux_core.graph.node import Combo, Float, Input, Int, ModelFile, Node, NodeError, Output, register_output_check
from flux_core.graph.types import register_type

from .folders import file_stamp, model_path
from .loaders import _adopt, _load, _place

register_type("CLIP_VISION", "#a1887f", "a SigLIP / CLIP vision encoder (sees pictures for Redux)")
register_type("CLIP_VISION_OUTPUT", "#bcaaa4", "what a vision encoder saw in pictures: its last hidden states")
register_type("STYLE_MODEL", "#8d6e63", "the FLUX.1 Redux embedder (vision features -> prompt tokens)")


@dataclass(eq=False)
class VisionEncoder:
    """CLIP_VISION: a transformers SiglipVisionModel and the file it came from."""

    model: torch.nn.Module
    name: str

    def cache_bytes(self) -> int:
        return estimate_bytes(self.model)


@dataclass(eq=False)
class VisionFeatures:
    """CLIP_VISION_OUTPUT: last hidden states [B, tokens, width] of the pictures."""

    last_hidden_state: torch.Tensor

    def cache_bytes(self) -> int:
        return estimate_bytes(self.last_hidden_state)


@dataclass(eq=False)
class StyleModel:
    """STYLE_MODEL: the Redux embedder and its file name."""

    embedder: torch.nn.Module
    name: str

    def cache_bytes(self) -> int:
        return estimate_bytes(self.embedder)


for _type, _cls in (("CLIP_VISION", VisionEncoder), ("CLIP_VISION_OUTPUT", VisionFeatures),
                    ("STYLE_MODEL", StyleModel)):
    register_output_check(_type, lambda v, c=_cls: isinstance(v, c), f"a {_cls.__module__}.{_cls.__name__}")


class LoadVisionEncoder(Node):
    """Load a SigLIP vision encoder from clip_vision/ (for Redux: sigclip_vision_patch14_384.safetensors)."""

    category = "loaders"
    inputs = [ModelFile("clip_name", "clip_vision", "sigclip_vision_patch14_384.safetensors")]
    outputs = [Output("clip_vision", "CLIP_VISION")]

    @classmethod
    def fingerprint(cls, env, clip_name):
        return file_stamp(model_path("clip_vision", clip_name, env, "clip_name"))

    def run(self, ctx, clip_name):
        from flux_core.redux import load_vision_encoder

        path = model_path("clip_vision", clip_name, ctx.env, "clip_name")
        home = _place(ctx, path)["device"]  # the CPU; EncodeImage borrows it onto the device
        model = _load("vision encoder", "clip_name", load_vision_encoder, path, home)
        return VisionEncoder(_adopt(ctx, model, clip_name, lambda: load_vision_encoder(path, home)), clip_name)


class EncodeImage(Node):
    """What the vision encoder sees in pictures. `crop` center keeps the middle square of the picture at the
    encoder's size (ComfyUI's default); none squeezes the whole picture into the square."""

    category = "conditioning"
    inputs = [Input("clip_vision", "CLIP_VISION"), Input("image", "IMAGE"), Combo("crop", ["center", "none"])]
    outputs = [Output("clip_vision_output", "CLIP_VISION_OUTPUT")]

    def run(self, ctx, clip_vision, image, crop):
        from flux_core.memory import borrow
        from flux_core.redux import encode_image

        with borrow(clip_vision.model, ctx=ctx):
            return VisionFeatures(encode_image(clip_vision.model, image, crop == "center"))


class LoadStyleModel(Node):
    """Load the FLUX.1 Redux style model from style_models/ (flux1-redux-dev.safetensors)."""

    category = "loaders"
    inputs = [ModelFile("style_model_name", "style_models", "flux1-redux-dev.safetensors")]
    outputs = [Output("style_model", "STYLE_MODEL")]

    @classmethod
    def fingerprint(cls, env, style_model_name):
        return file_stamp(model_path("style_models", style_model_name, env, "style_model_name"))

    def run(self, ctx, style_model_name):
        from flux_core.redux import load_redux

        path = model_path("style_models", style_model_name, ctx.env, "style_model_name")
        home = _place(ctx, path)["device"]
        embedder = _load("style model", "style_model_name", load_redux, path, home)
        return StyleModel(_adopt(ctx, embedder, style_model_name, lambda: load_redux(path, home)), style_model_name)


class ApplyStyle(Node):
    """Append the picture's Redux tokens to the prompt's T5 tokens. `strength` scales them (ComfyUI's
    StyleModelApply, multiply); `downsampling_factor` > 1 shrinks the 27x27 token grid (729 tokens -> 169
    at 2, 81 at 3) so the prompt has more say, `downsampling_mode` is how the grid is shrunk."""

    category = "conditioning"
    inputs = [Input("conditioning", "CONDITIONING"), Input("style_model", "STYLE_MODEL"),
              Input("clip_vision_output", "CLIP_VISION_OUTPUT"),
              Float("strength", 1.0, min=0.0, max=10.0, step=0.001),
              Int("downsampling_factor", 1, min=1, max=9),
              Combo("downsampling_mode", ["area", "bicubic", "bilinear", "nearest", "nearest-exact"])]
    outputs = [Output("conditioning", "CONDITIONING")]

    def run(self, ctx, conditioning, style_model, clip_vision_output, strength, downsampling_factor,
            downsampling_mode):
        from flux_core.memory import borrow
        from flux_core.redux import style_tokens

        embedder = style_model.embedder
        features = clip_vision_output.last_hidden_state
        if features.shape[-1] != embedder.vision_width:
            raise NodeError(f"the vision features are {features.shape[-1]} wide but {style_model.name} reads "
                            f"{embedder.vision_width}: use the vision encoder made for it", input="clip_vision_output")
        if conditioning.txt.shape[-1] != embedder.txt_width:
            raise NodeError(f"the prompt's T5 tokens are {conditioning.txt.shape[-1]} wide but {style_model.name} "
                            f"makes {embedder.txt_width}-wide tokens", input="conditioning")
        try:
            with borrow(embedder, ctx=ctx):
                tokens = style_tokens(embedder, features, strength, downsampling_factor, downsampling_mode)
        except ValueError as e:
            raise NodeError(str(e), input="downsampling_factor") from None
        txt = conditioning.txt
        tokens = tokens.to(txt.dtype).expand(txt.shape[0], -1, -1)
        return replace(conditioning, txt=torch.cat((txt, tokens), dim=1))


NODES = [LoadVisionEncoder, EncodeImage, LoadStyleModel, ApplyStyle]
