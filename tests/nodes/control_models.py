"""Tiny random files for FLUX.1 Canny/Depth and Redux under their real names and layouts: control
transformers (img_in twice the latent width), a Depth Anything model saved with save_pretrained, a
SigLIP vision encoder in ComfyUI's single-file layout, and the Redux embedder (redux_up, redux_down)."""
from __future__ import annotations

from pathlib import Path

import torch

from .tiny_models import TXT_WIDTH, VEC_WIDTH, _random, _save


def control_flux(seed: int):
    from flux_core.models import Flux, FluxParams

    params = FluxParams(in_channels=128, out_channels=64, vec_in_dim=VEC_WIDTH, context_in_dim=TXT_WIDTH,
                        hidden_size=32, mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1,
                        axes_dim=(4, 6, 6), theta=10000, qkv_bias=True, guidance_embed=True)
    return _random(Flux(params), seed)


def write_control_models(root: Path) -> Path:
    """flux1-canny-dev / flux1-depth-dev under diffusion_models/ (the real names)."""
    root = Path(root)
    for name, seed in (("flux1-canny-dev.safetensors", 20), ("flux1-depth-dev.safetensors", 21)):
        _save(root / "diffusion_models" / name, control_flux(seed).state_dict(), {"axes_dim": [4, 6, 6]})
    return root
