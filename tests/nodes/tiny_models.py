"""A models folder of tiny random FLUX files with the real names and layouts, written by the tests.

Same key layouts as the real files: BFL transformer and autoencoder keys, transformers' T5/CLIP keys in
ComfyUI's single files, ComfyUI prefixes in the all-in-one checkpoint (its transformer in fp8), and the real
T5/CLIP tokenizers (from shared test data) under tokenizers/. Widths are tiny, so runs take seconds.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

SHARED_TOKENIZERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "tokenizers"
if not SHARED_TOKENIZERS.is_dir():
    SHARED_TOKENIZERS = Path("/work/shared/data/tokenizers")

TXT_WIDTH, VEC_WIDTH = 32, 32


def _random(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1 and ("norm" in name or name.endswith("scale")):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return module.eval()


def flux(guidance: bool, seed: int = 0, in_channels: int = 64):
    from flux_core.models import Flux, FluxParams

    params = FluxParams(in_channels=in_channels, out_channels=64, vec_in_dim=VEC_WIDTH, context_in_dim=TXT_WIDTH,
                        hidden_size=32, mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1,
                        axes_dim=(4, 6, 6), theta=10000, qkv_bias=True, guidance_embed=guidance)
    return _random(Flux(params), seed)


def autoencoder(seed: int = 1):
    from flux_core.models import AutoEncoder, AutoEncoderParams

    params = AutoEncoderParams(resolution=64, in_channels=3, ch=8, out_ch=3, ch_mult=(1, 2, 2, 2),
                               num_res_blocks=1, z_channels=16, scale_factor=0.5, shift_factor=0.1, norm_groups=4)
    return _random(AutoEncoder(params), seed)


def t5(seed: int = 2):
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(vocab_size=32128, d_model=TXT_WIDTH, d_kv=16, d_ff=64, num_layers=1, num_heads=2,
                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=32, is_encoder_decoder=False)
    return _random(T5EncoderModel(cfg), seed)


def clip(seed: int = 3):
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=VEC_WIDTH, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=77, eos_token_id=49407)
    return _random(CLIPTextModel(cfg), seed)


def _save(path: Path, tensors: dict, config: dict | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, str(path), metadata={"fluxwire.config": json.dumps(config)} if config else None)


def _t5_keys(model):
    return {k: v for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}


def _clip_keys(model):
    return {"text_model." + k if not k.startswith("text_model.") else k: v for k, v in model.state_dict().items()}


AE_CONFIG = {"norm_groups": 4, "scale_factor": 0.5, "shift_factor": 0.1}
CLIP_CONFIG = {"num_attention_heads": 2}
T5_CONFIG = {"relative_attention_num_buckets": 32}


def write_models_folder(root: Path) -> Path:
    """Write every file the shipped FLUX workflows name, under their real names."""
    root = Path(root)
    schnell, dev, ae, t5m, clipm = flux(False, 0), flux(True, 10), autoencoder(), t5(), clip()
    _save(root / "diffusion_models" / "flux1-schnell.safetensors", schnell.state_dict(),
          {"axes_dim": [4, 6, 6]})
    _save(root / "diffusion_models" / "flux1-dev.safetensors", dev.state_dict(), {"axes_dim": [4, 6, 6]})
    # FLUX.1 Fill: img_in 384 wide (noisy latent 64 + masked picture 64 + 8x8-packed mask 256), as the real file
    _save(root / "diffusion_models" / "flux1-fill-dev.safetensors", flux(True, 11, in_channels=384).state_dict(),
          {"axes_dim": [4, 6, 6]})
    # FLUX.1 Kontext dev: dev's shapes; its name tells it apart
    _save(root / "diffusion_models" / "flux1-kontext-dev.safetensors", flux(True, 12).state_dict(),
          {"axes_dim": [4, 6, 6]})
    _save(root / "vae" / "ae.safetensors", ae.state_dict(), AE_CONFIG)
    _save(root / "text_encoders" / "t5xxl_fp16.safetensors", _t5_keys(t5m), T5_CONFIG)
    _save(root / "text_encoders" / "clip_l.safetensors", _clip_keys(clipm), CLIP_CONFIG)
    ckpt = {}
    for k, v in schnell.state_dict().items():  # ComfyUI's fp8 checkpoints keep linear weights in fp8
        is_linear_weight = k.endswith(".weight") and v.ndim == 2
        ckpt["model.diffusion_model." + k] = v.to(torch.float8_e4m3fn) if is_linear_weight else v
    ckpt.update({"vae." + k: v for k, v in ae.state_dict().items()})
    ckpt.update({"text_encoders.t5xxl.transformer." + k: v for k, v in _t5_keys(t5m).items()})
    ckpt.update({"text_encoders.clip_l.transformer." + k: v for k, v in _clip_keys(clipm).items()})
    _save(root / "checkpoints" / "flux1-schnell-fp8.safetensors", ckpt,
          {"transformer": {"axes_dim": [4, 6, 6]}, "vae": AE_CONFIG, "clip": CLIP_CONFIG, "t5": T5_CONFIG})
    for name in ("t5xxl", "clip_l"):
        shutil.copytree(SHARED_TOKENIZERS / name, root / "tokenizers" / name, dirs_exist_ok=True)
    return root
