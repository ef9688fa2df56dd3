"""FLUX.1 Redux (flux-spec; BFL ``modules/image_embedders.ReduxImageEncoder``, diffusers
``FluxPriorReduxPipeline``): a SigLIP vision encoder's last hidden states (729 tokens x 1152 for
so400m-patch14-384) go through the Redux embedder, ``redux_down(silu(redux_up(x)))``, into T5 space
(4096) and are appended to the prompt's T5 tokens, so the picture conditions the transformer like words.

The vision encoder is transformers' ``SiglipVisionModel``, read from a single safetensors file in
ComfyUI's layout (``sigclip_vision_patch14_384.safetensors``: transformers' own names under
``vision_model.``; the attention-pooling ``head`` may be absent, and Redux does not use it).
"""
from __future__ import annotations

import json
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .loading.errors import ModelLoadError, first_keys
from .loading.safetensors_io import open_file
from .loading.tensors import to_tensors

SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)  # SigLIP's normalisation (-1..1)
VISION_PREFIX = "vision_model."
CONFIG_KEY = "fluxwire.config"
DOWNSAMPLING_MODES = ["area", "bicubic", "bilinear", "nearest", "nearest-exact"]


# --- the vision encoder -----------------------------------------------------------------------------

def _shape(sd: dict, key: str, source: str) -> tuple[int, ...]:
    if key not in sd:
        raise ModelLoadError(f"{source}: not a SigLIP vision encoder: no {key!r} (found {first_keys(sd)})")
    return tuple(sd[key].shape)


def siglip_config(sd: dict, metadata: dict, source: str) -> dict:
    """SiglipVisionConfig fields from the weights' shapes (so400m: 1152 wide, 27 layers, 16 heads of 72,
    patch 14, 27x27 positions = 384 px), overridden by ``fluxwire.config`` metadata."""
    hidden, _, patch, _ = _shape(sd, VISION_PREFIX + "embeddings.patch_embedding.weight", source)
    positions = _shape(sd, VISION_PREFIX + "embeddings.position_embedding.weight", source)[0]
    side = math.isqrt(positions)
    if side * side != positions:
        raise ModelLoadError(f"{source}: {positions} position embeddings is not a square grid of patches")
    layers = 0
    while f"{VISION_PREFIX}encoder.layers.{layers}.layer_norm1.weight" in sd:
        layers += 1
    config = {
        "hidden_size": hidden,
        "intermediate_size": _shape(sd, VISION_PREFIX + "encoder.layers.0.mlp.fc1.weight", source)[0],
        "num_hidden_layers": layers,
        "num_attention_heads": hidden // 72 if hidden % 72 == 0 else max(1, hidden // 64),
        "patch_size": patch,
        "image_size": side * patch,
        "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-6,
        "vision_use_head": any(k.startswith(VISION_PREFIX + "head.") for k in sd),
    }
    if metadata.get(CONFIG_KEY):
        try:
            config.update(json.loads(metadata[CONFIG_KEY]))
        except (json.JSONDecodeError, TypeError) as e:
            raise ModelLoadError(f"{source}: metadata {CONFIG_KEY!r} is not a JSON object: {e}") from None
    return config


def _vision_names(sd: dict) -> dict:
    """ComfyUI's single file (and transformers 4's save) use ``vision_model.`` names; a bare tower
    (``embeddings.``..., transformers 5's save) gets the prefix, so the rest reads one layout."""
    if any(k.startswith(VISION_PREFIX) for k in sd):
        return {k: v for k, v in sd.items() if k.startswith(VISION_PREFIX)}
    return {VISION_PREFIX + k: v for k, v in sd.items()}


def _model_names(sd: dict, expected: set) -> dict:
    """Our ``vision_model.`` names -> the installed transformers' own (with or without the prefix)."""
    if any(k.startswith(VISION_PREFIX) for k in expected):
        return sd
    return {k[len(VISION_PREFIX):]: v for k, v in sd.items()}


def load_vision_encoder(path, device=None):
    """A SigLIP vision encoder (transformers ``SiglipVisionModel``, eval, float32) from one safetensors file."""
    from transformers import SiglipVisionConfig, SiglipVisionModel

    source = str(path)
    lazy, metadata = open_file(path)
    sd = _vision_names(lazy)
    config = SiglipVisionConfig(**siglip_config(sd, metadata, source))
    with torch.device("meta"):
        model = SiglipVisionModel(config)
    expected = set(model.state_dict())
    sd = _model_names(sd, expected)
    missing, unexpected = expected - set(sd), set(sd) - expected
    if missing or unexpected:
        raise ModelLoadError(f"{source}: does not match a SigLIP vision encoder: missing {first_keys(missing)}"
                             f"; unexpected {first_keys(unexpected)}")
    weights = {k: v.float() for k, v in to_tensors(sd).items()}
    model.load_state_dict(weights, strict=True, assign=True)
    _fill_position_ids(model)
    return model.to(device or "cpu").eval()


def _fill_position_ids(model) -> None:
    """Built on the meta device to skip random init; the one non-weight buffer (patch positions 0..n-1,
    not stored in files) is made here."""
    for name, buf in list(model.named_buffers()):
        if not buf.is_meta:
            continue
        if not name.endswith("position_ids"):
            raise ModelLoadError(f"the vision encoder has an unexpected buffer {name!r}")
        owner = model.get_submodule(name.rsplit(".", 1)[0])
        owner.register_buffer("position_ids", torch.arange(buf.shape[-1]).expand(buf.shape), persistent=False)


def vision_pixels(image: Tensor, size: int, crop: bool) -> Tensor:
    """Pictures [B, H, W, 3] in 0..1 -> SigLIP input [B, 3, size, size] in -1..1, as ComfyUI's CLIPVisionEncode
    makes it: unless already size x size, the shorter side scaled to ``size`` and the centre cut out (``crop``,
    ComfyUI's default) or the whole picture squeezed to a square, bicubic with antialiasing; then clipped and
    rounded to the 256 levels of an 8-bit picture (after the resize, as ComfyUI does), then normalised."""
    x = image[..., :3].permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    if (h, w) != (size, size):
        if crop:
            scale = size / min(h, w)
            nh, nw = round(scale * h), round(scale * w)
        else:
            nh, nw = size, size
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
        top, left = (nh - size) // 2, (nw - size) // 2
        x = x[..., top:top + size, left:left + size]
    x = torch.clip(255.0 * x, 0, 255).round() / 255.0
    mean = torch.tensor(SIGLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(SIGLIP_STD).view(3, 1, 1)
    return (x - mean) / std


def encode_image(model, image: Tensor, crop: bool = True) -> Tensor:
    """SigLIP's last hidden states [B, tokens, width] for pictures [B, H, W, 3] (float32, CPU)."""
    pixels = vision_pixels(image, model.config.image_size, crop)
    param = next(model.parameters())
    with torch.inference_mode():
        out = model(pixel_values=pixels.to(param.device, param.dtype)).last_hidden_state
    return out.float().cpu()


# --- the Redux embedder -----------------------------------------------------------------------------

class ReduxEmbedder(nn.Module):
    """SigLIP features -> T5-space tokens: redux_down(silu(redux_up(x))), up 3x the T5 width."""

    def __init__(self, vision_width: int = 1152, txt_width: int = 4096):
        super().__init__()
        self.redux_up = nn.Linear(vision_width, 3 * txt_width)
        self.redux_down = nn.Linear(3 * txt_width, txt_width)

    @property
    def vision_width(self) -> int:
        return self.redux_up.in_features

    @property
    def txt_width(self) -> int:
        return self.redux_down.out_features

    def forward(self, features: Tensor) -> Tensor:
        return self.redux_down(F.silu(self.redux_up(features)))


def load_redux(path, device=None) -> ReduxEmbedder:
    """The Redux embedder from ``flux1-redux-dev.safetensors`` (redux_up, redux_down)."""
    source = str(path)
    lazy, _ = open_file(path)
    keys = {"redux_up.weight", "redux_up.bias", "redux_down.weight", "redux_down.bias"}
    if set(lazy) != keys:
        raise ModelLoadError(f"{source}: not a FLUX.1 Redux style model: expected {first_keys(keys)}, found "
                             f"{first_keys(lazy)}")
    up, down = lazy["redux_up.weight"].shape, lazy["redux_down.weight"].shape
    if up[0] != down[1] or up[0] != 3 * down[0]:
        raise ModelLoadError(f"{source}: redux_up {tuple(up)} and redux_down {tuple(down)} do not chain as "
                             f"vision width -> 3 x T5 width -> T5 width")
    with torch.device("meta"):
        model = ReduxEmbedder(up[1], down[0])
    model.load_state_dict({k: v.float() for k, v in to_tensors(lazy).items()}, strict=True, assign=True)
    return model.to(device or "cpu").eval()


def style_tokens(embedder: ReduxEmbedder, features: Tensor, strength: float = 1.0, downsampling_factor: int = 1,
                 mode: str = "area") -> Tensor:
    """The tokens appended to the prompt: all pictures' Redux tokens in one sequence [1, n, txt_width]
    (ComfyUI's StyleModelApply), each picture's square token grid first shrunk by ``downsampling_factor``
    (fewer tokens: the prompt weighs more), times ``strength``."""
    param = next(embedder.parameters())
    with torch.inference_mode():
        tokens = embedder(features.to(param.device, param.dtype)).float().cpu()
    if downsampling_factor > 1:
        b, n, d = tokens.shape
        side = math.isqrt(n)
        if side * side != n:
            raise ValueError(f"{n} image tokens are not a square grid; cannot downsample")
        new = max(1, side // downsampling_factor)
        grid = tokens.transpose(1, 2).reshape(b, d, side, side)
        kw = {} if mode in ("area", "nearest", "nearest-exact") else {"align_corners": False}
        grid = F.interpolate(grid, size=(new, new), mode=mode, **kw)
        tokens = grid.reshape(b, d, new * new).transpose(1, 2)
    return tokens.reshape(1, -1, tokens.shape[-1]) * strength
