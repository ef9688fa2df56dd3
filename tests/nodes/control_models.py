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
    """flux1-canny-dev / flux1-depth-dev under diffusion_models/ (the real names), a Depth Anything folder."""
    root = Path(root)
    for name, seed in (("flux1-canny-dev.safetensors", 20), ("flux1-depth-dev.safetensors", 21)):
        _save(root / "diffusion_models" / name, control_flux(seed).state_dict(), {"axes_dim": [4, 6, 6]})
    write_depth_model(root / "depth" / "depth-anything-v2-small")
    return root


def write_depth_model(folder: Path, seed: int = 30) -> Path:
    """A tiny random Depth Anything (DepthAnythingForDepthEstimation, DINOv2 backbone, patch 14) and its
    DPT image processor, saved with save_pretrained as a real one would be."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, fusion_hidden_size=16, neck_hidden_sizes=[8, 16, 32, 32],
                                 reassemble_hidden_size=32, head_hidden_size=8, patch_size=14)
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config).eval()
    model.save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      resample=3, image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(folder)
    return folder


VISION_WIDTH, VISION_SIZE, VISION_PATCH = 24, 56, 14  # 4x4 = 16 image tokens


def vision_encoder(seed: int = 40):
    from transformers import SiglipVisionConfig, SiglipVisionModel

    cfg = SiglipVisionConfig(hidden_size=VISION_WIDTH, intermediate_size=48, num_hidden_layers=2,
                             num_attention_heads=2, image_size=VISION_SIZE, patch_size=VISION_PATCH,
                             vision_use_head=False)
    return _random(SiglipVisionModel(cfg), seed)


def write_redux_models(root: Path) -> Path:
    """clip_vision/sigclip_vision_patch14_384.safetensors (ComfyUI's single-file layout: transformers' names
    under vision_model.) and style_models/flux1-redux-dev.safetensors (redux_up, redux_down into the tiny
    T5 width)."""
    root = Path(root)
    vision = {"vision_model." + k.removeprefix("vision_model."): v for k, v in vision_encoder().state_dict().items()}
    _save(root / "clip_vision" / "sigclip_vision_patch14_384.safetensors", vision, {"num_attention_heads": 2})
    g = torch.Generator().manual_seed(41)
    redux = {"redux_up.weight": 0.2 * torch.randn(3 * TXT_WIDTH, VISION_WIDTH, generator=g),
             "redux_up.bias": 0.1 * torch.randn(3 * TXT_WIDTH, generator=g),
             "redux_down.weight": 0.2 * torch.randn(TXT_WIDTH, 3 * TXT_WIDTH, generator=g),
             "redux_down.bias": 0.1 * torch.randn(TXT_WIDTH, generator=g)}
    _save(root / "style_models" / "flux1-redux-dev.safetensors", redux)
    return root


def write_tools_models(root: Path) -> Path:
    """Everything the FLUX.1 tools workflows (Canny, Depth, Redux) name, under the real names."""
    return write_depth_lora(write_redux_models(write_control_models(root)))


def write_depth_lora(root: Path, seed: int = 42) -> Path:
    """loras/flux1-depth-dev-lora.safetensors: a BFL control LoRA for the tiny dev model (lora_A/B without
    prefix, img_in reading 128 channels: latent + depth latent, a few other layers, norm scales)."""
    from .tiny_models import flux

    dev = flux(True, 10)
    g = torch.Generator().manual_seed(seed)
    sd = {"img_in.lora_A.weight": 0.2 * torch.randn(4, 128, generator=g),
          "img_in.lora_B.weight": 0.2 * torch.randn(dev.img_in.out_features, 4, generator=g)}
    for name in ("double_blocks.0.img_attn.qkv", "single_blocks.0.linear1"):
        w = dev.get_submodule(name).weight
        sd[f"{name}.lora_A.weight"] = 0.2 * torch.randn(4, w.shape[1], generator=g)
        sd[f"{name}.lora_B.weight"] = 0.2 * torch.randn(w.shape[0], 4, generator=g)
    for name, p in dev.named_parameters():
        if name.endswith("norm.scale"):
            sd[name] = 1 + 0.1 * torch.randn(p.shape, generator=g)
    _save(root / "loras" / "flux1-depth-dev-lora.safetensors", sd)
    return root
