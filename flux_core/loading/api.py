"""Public loading functions: files and folders in, ready-to-run FLUX modules out.

Every function reads safetensors only, checks the file against the model before reading weights,
and raises :class:`ModelLoadError` naming the file and the first offending keys when something does
not fit. ``dtype`` is a torch dtype or a name for ``flux_core.device.parse_dtype`` ("fp32", "bf16",
"fp16", "fp8_e4m3fn", "fp8_e5m2"); an fp8 name means fp8 *storage* of linear weights, computing in
``compute_dtype(device)``. Default: fp8 weights of fp8 files stay fp8, everything else is
``compute_dtype(device)``. ``device`` defaults to ``get_device()``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..device import compute_dtype, get_device, parse_dtype
from .build import load_module
from .detect import (
    COMPONENT_NAMES,
    T5_DEFAULT_MAX_LENGTH,
    dominant_dtype,
    explicit_config,
    infer_config,
    split_components,
    to_bfl_names,
    variant,
)
from .errors import ModelLoadError
from .fp8 import is_fp8
from .keymaps import split_scaled_fp8
from .safetensors_io import open_path
from .text_encoders import load_clip, load_t5
from .tokenizers import find_tokenizer, load_tokenizer_folder

# diffusers config.json fields that shapes cannot tell, mapped to our names
_DIFFUSERS_TRANSFORMER_FIELDS = {"axes_dims_rope": "axes_dim", "num_attention_heads": "num_heads"}
_DIFFUSERS_VAE_FIELDS = {"norm_num_groups": "norm_groups", "scaling_factor": "scale_factor", "shift_factor": "shift_factor"}


def _resolve(dtype, device, compute_device=None) -> tuple[torch.dtype | None, torch.device, torch.dtype]:
    """(storage dtype, where the tensors go, compute dtype). ``compute_device`` (default: ``device``) is
    where the model will compute: the memory manager has models built on the CPU for a CUDA run."""
    device = torch.device(device) if device is not None else get_device()
    compute_on = torch.device(compute_device) if compute_device is not None else device
    if isinstance(dtype, str):
        try:
            dtype = parse_dtype(dtype)
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from None
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise ModelLoadError(f"dtype must be a torch dtype or a name, got {dtype!r}")
    return dtype, device, compute_dtype(compute_on)


class _File:
    """One opened weights file or folder, split into components (prefix-free, still lazy)."""

    def __init__(self, path, config_json: dict | None = None):
        self.path = Path(path)
        self.source = str(self.path)
        tensors, self.metadata = open_path(self.path)
        self.components = split_components(tensors, self.source)
        self.config_json = config_json or {}

    def has(self, component: str) -> bool:
        return component in self.components

    def require(self, component: str, hint: str = "") -> None:
        if component not in self.components:
            found = ", ".join(COMPONENT_NAMES[c] for c in self.components)
            raise ModelLoadError(f"{self.source}: expected a {COMPONENT_NAMES[component]}, found {found}{hint}")

    def prepared(self, component: str):
        """(weights in our names, fp8 scales, config) of one component."""
        sd, layout = self.components[component]
        weights, scales, _ = split_scaled_fp8(to_bfl_names(component, layout, sd))
        explicit = dict(self.config_json)
        explicit.update(explicit_config(self.metadata, component, len(self.components) == 1, self.source))
        return weights, scales, infer_config(component, weights, explicit, self.source)


def _build_error(source: str, what: str, config: dict, exc: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"{source}: cannot build the {what} from config {config}: {exc} "
        "(fields shapes cannot tell can be given in the file's 'fluxwire.config' metadata)"
    )


def _transformer(file: _File, dtype, device, compute):
    from ..models.transformer import Flux, FluxParams

    weights, scales, config = file.prepared("transformer")
    try:
        params = FluxParams(**{**config, "axes_dim": tuple(config["axes_dim"])})
        params.validate()
    except (TypeError, ValueError) as exc:
        raise _build_error(file.source, "FLUX transformer", config, exc) from None
    return load_module(
        lambda: Flux(params), weights, source=file.source, what="FLUX transformer",
        dtype=dtype, device=device, compute=compute, scales=scales,
    )


def _vae(file: _File, dtype, device, compute):
    from ..models.autoencoder import AutoEncoder, AutoEncoderParams

    weights, scales, config = file.prepared("vae")
    try:
        params = AutoEncoderParams(**{**config, "ch_mult": tuple(config["ch_mult"])})
    except TypeError as exc:
        raise _build_error(file.source, "FLUX autoencoder", config, exc) from None
    vae_dtype = dtype
    if dtype is None or is_fp8(dtype):
        # convolutions cannot compute from fp8 storage; the FLUX VAE overflows in fp16 (flux-spec §7.1)
        vae_dtype = torch.float32 if compute == torch.float16 else compute
    try:
        return load_module(
            lambda: AutoEncoder(params), weights, source=file.source, what="FLUX autoencoder",
            dtype=vae_dtype, device=device, compute=compute, scales=scales,
        )
    except ValueError as exc:
        if isinstance(exc, ModelLoadError):
            raise
        raise _build_error(file.source, "FLUX autoencoder", config, exc) from None


def _text_encoder(file: _File, component: str, dtype, device, compute):
    weights, scales, config = file.prepared(component)
    loader = load_t5 if component == "t5" else load_clip
    return loader(weights, scales, config, source=file.source, dtype=dtype, device=device, compute=compute), config


def _read_config_json(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ModelLoadError(f"{path}: invalid JSON: {exc}") from None


def _diffusers_fields(config: dict, mapping: dict) -> dict:
    return {ours: config[theirs] for theirs, ours in mapping.items() if config.get(theirs) is not None}


def _component_folder(path: Path, subfolder: str) -> Path:
    """A diffusers pipeline folder's component subfolder, or the path itself."""
    return path / subfolder if path.is_dir() and (path / subfolder).is_dir() else path


_TRANSFORMERS_BOOKKEEPING = ("architectures", "model_type", "transformers_version", "torch_dtype", "dtype")


def _folder_fields(path: Path) -> dict:
    """Config fields from a model folder's config.json (diffusers or transformers), in our names."""
    if not path.is_dir():
        return {}
    config = _read_config_json(path)
    kind = str(config.get("_class_name", ""))
    if kind == "AutoencoderKL":
        return _diffusers_fields(config, _DIFFUSERS_VAE_FIELDS)
    if kind == "FluxTransformer2DModel":
        return _diffusers_fields(config, _DIFFUSERS_TRANSFORMER_FIELDS)
    if "model_type" in config:
        return {k: v for k, v in config.items() if not k.startswith("_") and k not in _TRANSFORMERS_BOOKKEEPING}
    return {}


def _open(path, subfolder: str | None = None) -> _File:
    path = Path(path)
    if subfolder:
        path = _component_folder(path, subfolder)
    return _File(path, _folder_fields(path))


def load_diffusion_model(path, dtype=None, device=None, compute_device=None):
    """The FLUX transformer from a BFL file, a ComfyUI checkpoint, or a diffusers file/folder -> ``Flux``."""
    dtype, device, compute = _resolve(dtype, device, compute_device)
    file = _open(path, "transformer")
    file.require("transformer")
    return _transformer(file, dtype, device, compute)


def load_vae(path, dtype=None, device=None, compute_device=None):
    """The FLUX autoencoder from ``ae.safetensors``, a ComfyUI checkpoint, or a diffusers vae -> ``AutoEncoder``.

    Convolutions do not compute from fp8, and the FLUX VAE overflows in fp16: by default (and for
    fp8 requests) it is stored in the compute dtype, or fp32 where that is fp16. An explicit
    non-fp8 ``dtype`` is obeyed.
    """
    dtype, device, compute = _resolve(dtype, device, compute_device)
    file = _open(path, "vae")
    file.require("vae")
    return _vae(file, dtype, device, compute)


def _t5_length(explicit: int | None, t5_config: dict, default: int) -> int:
    if explicit is not None:
        return int(explicit)
    return int(t5_config.get("max_length", default))


def load_text_encoders(t5_path, clip_path, dtype=None, device=None, models_dir=None, t5_max_length=None,
                       compute_device=None):
    """T5 + CLIP from two files (told apart by their keys, in either order) -> ``TextConditioner``.

    T5 length: ``t5_max_length``, else the T5 file's ``fluxwire.config`` ``max_length``, else 256.
    """
    from ..models.conditioner import TextConditioner

    dtype, device, compute = _resolve(dtype, device, compute_device)
    files = [_open(t5_path), _open(clip_path)]
    holders = {}
    for component, order in (("t5", files), ("clip", files[::-1])):
        holding = [f for f in order if f.has(component)]  # the file given for it first, else the other one
        if not holding:
            names = ", ".join(f"{f.source} ({', '.join(COMPONENT_NAMES[c] for c in f.components)})" for f in files)
            raise ModelLoadError(f"no {COMPONENT_NAMES[component]} among the given files: {names}")
        holders[component] = holding[0]
    t5, t5_config = _text_encoder(holders["t5"], "t5", dtype, device, compute)
    clip, _ = _text_encoder(holders["clip"], "clip", dtype, device, compute)
    return TextConditioner(
        t5,
        find_tokenizer("t5", holders["t5"].path, models_dir),
        clip,
        find_tokenizer("clip", holders["clip"].path, models_dir),
        _t5_length(t5_max_length, t5_config, T5_DEFAULT_MAX_LENGTH["schnell"]),
    )


def load_checkpoint(path, dtype=None, device=None, models_dir=None, compute_device=None):
    """An all-in-one checkpoint (or a diffusers folder) -> (Flux, TextConditioner, AutoEncoder).

    T5 length 256 for schnell-like models, 512 for dev, unless the file's metadata says otherwise.
    Tokenizers: ``<models_dir>/tokenizers/t5xxl`` and ``clip_l``, then the Hugging Face cache.
    """
    from ..models.conditioner import TextConditioner

    if Path(path).is_dir():
        return load_diffusers_folder(path, dtype=dtype, device=device, compute_device=compute_device)
    dtype, device, compute = _resolve(dtype, device, compute_device)
    file = _File(path)
    hint = (
        "; a checkpoint must hold all four parts (load single files with load_diffusion_model, load_vae, "
        "load_text_encoders)"
    )
    for component in ("transformer", "vae", "t5", "clip"):
        file.require(component, hint)
    model = _transformer(file, dtype, device, compute)
    vae = _vae(file, dtype, device, compute)
    t5, t5_config = _text_encoder(file, "t5", dtype, device, compute)
    clip, _ = _text_encoder(file, "clip", dtype, device, compute)
    length = _t5_length(None, t5_config, T5_DEFAULT_MAX_LENGTH[variant(vars(model.params))])
    conditioner = TextConditioner(
        t5, find_tokenizer("t5", None, models_dir), clip, find_tokenizer("clip", None, models_dir), length
    )
    return model, conditioner, vae


DIFFUSERS_SUBFOLDERS = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2")


def load_diffusers_folder(path, dtype=None, device=None, compute_device=None):
    """A diffusers FLUX pipeline folder (``transformer/``, ``vae/``, ``text_encoder/`` = CLIP,
    ``text_encoder_2/`` = T5, ``tokenizer/``, ``tokenizer_2/``; sharded weights allowed) -> the three models."""
    from ..models.conditioner import TextConditioner

    root = Path(path)
    if not root.is_dir():
        raise ModelLoadError(f"{root}: not a folder (expected a diffusers FLUX folder)")
    missing = [name for name in DIFFUSERS_SUBFOLDERS if not (root / name).is_dir()]
    if missing:
        raise ModelLoadError(f"{root}: not a complete diffusers FLUX folder, missing subfolder(s): {missing}")
    dtype, device, compute = _resolve(dtype, device, compute_device)
    transformer_file = _open(root / "transformer")
    transformer_file.require("transformer")
    model = _transformer(transformer_file, dtype, device, compute)
    vae_file = _open(root / "vae")
    vae_file.require("vae")
    vae = _vae(vae_file, dtype, device, compute)
    clip_file = _open(root / "text_encoder")
    clip_file.require("clip")
    t5_file = _open(root / "text_encoder_2")
    t5_file.require("t5")
    t5, t5_config = _text_encoder(t5_file, "t5", dtype, device, compute)
    clip, _ = _text_encoder(clip_file, "clip", dtype, device, compute)
    length = _t5_length(None, t5_config, T5_DEFAULT_MAX_LENGTH[variant(vars(model.params))])
    conditioner = TextConditioner(
        t5, load_tokenizer_folder(root / "tokenizer_2", "t5"), clip, load_tokenizer_folder(root / "tokenizer", "clip"),
        length,
    )
    return model, conditioner, vae


def describe_file(path) -> dict:
    """What a weights file (or diffusers folder) holds, read from headers only: per component its kind,
    layout, config, dominant dtype and tensor count (for the node catalogue and error messages)."""
    path = Path(path)
    if path.is_dir() and (path / "transformer").is_dir():
        parts = {}
        for sub in DIFFUSERS_SUBFOLDERS:
            if (path / sub).is_dir() and not sub.startswith("tokenizer"):
                parts.update(describe_file(path / sub)["components"])
        return {"path": str(path), "kind": "diffusers folder", "components": parts}
    file = _open(path)
    components = {}
    for component, (sd, layout) in file.components.items():
        weights, scales, config = file.prepared(component)
        info = {
            "kind": COMPONENT_NAMES[component],
            "layout": layout,
            "config": config,
            "dtype": dominant_dtype(sd),
            "tensors": len(sd),
            "scaled_fp8": bool(scales),
        }
        if component == "transformer":
            info["variant"] = variant(config)
        components[component] = info
    return {
        "path": str(file.path),
        "kind": "checkpoint" if len(components) > 1 else next(iter(components)),
        "components": components,
    }
