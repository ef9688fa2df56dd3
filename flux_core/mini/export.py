"""Write a trained flux-mini as the files real users have: a ComfyUI-style models folder of split files.

    diffusion_models/flux-mini.safetensors        BFL transformer keys (fp16)
    vae/flux-mini-ae.safetensors                  BFL autoencoder keys (fp32)
    text_encoders/flux-mini-t5.safetensors        transformers T5EncoderModel keys (fp32)
    text_encoders/flux-mini-clip.safetensors      transformers CLIPTextModel keys, ``text_model.`` prefix (fp32)
    tokenizers/flux-mini-t5/, tokenizers/flux-mini-clip/

Each file's metadata holds ``fluxwire.config`` (the exact module config, which the loaders use instead of
guessing from shapes), the training config and the script version, so the shipped model goes through the
same loaders as any downloaded FLUX file.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..loading import METADATA_KEY


def _save(path: Path, tensors: dict, config: dict, training: dict, dtype=None) -> None:
    from .train import SCRIPT_VERSION

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().contiguous().clone()
               for k, v in tensors.items()}
    metadata = {METADATA_KEY: json.dumps(config), "fluxwire.training": json.dumps(training),
                "fluxwire.script": f"flux_core.mini.train {SCRIPT_VERSION}"}
    save_file(tensors, str(path), metadata=metadata)


def export(models_dir: Path, cfg, ae, model, text, tokenizers: Path) -> None:
    from .train import CLIP_MAX_LENGTH, T5_MAX_LENGTH

    training = dataclasses.asdict(cfg)
    flux_cfg = dataclasses.asdict(model.params)
    _save(models_dir / "diffusion_models" / "flux-mini.safetensors", model.state_dict(), {"transformer": flux_cfg},
          training, dtype=torch.float16)
    _save(models_dir / "vae" / "flux-mini-ae.safetensors", ae.state_dict(), {"vae": dataclasses.asdict(ae.params)},
          training)
    t5_cfg = text.t5.config
    t5_fields = {k: getattr(t5_cfg, k) for k in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                                                 "feed_forward_proj", "relative_attention_num_buckets",
                                                 "relative_attention_max_distance", "pad_token_id", "eos_token_id")}
    t5_sd = {k: v for k, v in text.t5.state_dict().items() if k != "encoder.embed_tokens.weight"}
    _save(models_dir / "text_encoders" / "flux-mini-t5.safetensors", t5_sd,
          {"t5": {**t5_fields, "max_length": T5_MAX_LENGTH}}, training)
    clip_cfg = text.clip.config
    clip_fields = {k: getattr(clip_cfg, k) for k in ("vocab_size", "hidden_size", "intermediate_size",
                                                     "num_hidden_layers", "num_attention_heads",
                                                     "max_position_embeddings", "bos_token_id", "eos_token_id",
                                                     "pad_token_id", "hidden_act")}
    clip_sd = {("text_model." + k if not k.startswith("text_model.") else k): v
               for k, v in text.clip.state_dict().items()}
    _save(models_dir / "text_encoders" / "flux-mini-clip.safetensors", clip_sd,
          {"clip": {**clip_fields, "max_length": CLIP_MAX_LENGTH}}, training)
    for name in ("flux-mini-t5", "flux-mini-clip"):
        target = models_dir / "tokenizers" / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(tokenizers / name, target)
