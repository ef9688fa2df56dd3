"""Checkpoint loading: safetensors files and folders -> FLUX modules (see ``api`` for the rules).

Formats: BFL single files, ComfyUI all-in-one checkpoints and single text-encoder files, diffusers
folders (sharded or not), fp8 and ComfyUI scaled-fp8 weights. Never unpickles anything. An optional
``fluxwire.config`` safetensors metadata entry (documented in ``detect``) overrides inferred configs.
"""
from .api import (
    describe_file,
    load_checkpoint,
    load_diffusers_folder,
    load_diffusion_model,
    load_text_encoders,
    load_vae,
)
from .detect import METADATA_KEY
from .errors import ModelLoadError
from .fp8 import CastLinear, expansion_bytes, module_compute_dtype, set_weight_expansion, weight_expansion

__all__ = [
    "METADATA_KEY",
    "CastLinear",
    "ModelLoadError",
    "describe_file",
    "expansion_bytes",
    "load_checkpoint",
    "load_diffusers_folder",
    "load_diffusion_model",
    "load_text_encoders",
    "load_vae",
    "module_compute_dtype",
    "set_weight_expansion",
    "weight_expansion",
]
